// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from '../../modelport/v1/Classification.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * Labels for each input of a ClassifyRequest.
 */
export interface ClassifyResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One result per input, in input order.
   */
  'results'?: (_modelport_v1_Classification)[];
  /**
   * Token usage of the call.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * Labels for each input of a ClassifyRequest.
 */
export interface ClassifyResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One result per input, in input order.
   */
  'results': (_modelport_v1_Classification__Output)[];
  /**
   * Token usage of the call.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
