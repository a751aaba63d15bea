// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelInfo as _modelport_v1_ModelInfo, ModelInfo__Output as _modelport_v1_ModelInfo__Output } from '../../modelport/v1/ModelInfo.js';

/**
 * The state of one model after a change (or at the start of the watch).
 */
export interface ModelEvent {
  /**
   * The model as it is now; no versions means it was removed.
   */
  'model'?: (_modelport_v1_ModelInfo | null);
}

/**
 * The state of one model after a change (or at the start of the watch).
 */
export interface ModelEvent__Output {
  /**
   * The model as it is now; no versions means it was removed.
   */
  'model': (_modelport_v1_ModelInfo__Output | null);
}
