// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { TokenClassification as _modelport_v1_TokenClassification, TokenClassification__Output as _modelport_v1_TokenClassification__Output } from '../../modelport/v1/TokenClassification.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * Entities for each input of a ClassifyTokensRequest.
 */
export interface ClassifyTokensResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One result per input, in input order.
   */
  'results'?: (_modelport_v1_TokenClassification)[];
  /**
   * Token usage of the call.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * Entities for each input of a ClassifyTokensRequest.
 */
export interface ClassifyTokensResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One result per input, in input order.
   */
  'results': (_modelport_v1_TokenClassification__Output)[];
  /**
   * Token usage of the call.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
