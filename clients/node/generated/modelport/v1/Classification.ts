// Original file: ../../protos/modelport/v1/common.proto

import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from '../../modelport/v1/LabelScore.js';

/**
 * Labels for one input, best first.
 */
export interface Classification {
  /**
   * The top_k labels, sorted by descending score.
   */
  'labels'?: (_modelport_v1_LabelScore)[];
}

/**
 * Labels for one input, best first.
 */
export interface Classification__Output {
  /**
   * The top_k labels, sorted by descending score.
   */
  'labels': (_modelport_v1_LabelScore__Output)[];
}
