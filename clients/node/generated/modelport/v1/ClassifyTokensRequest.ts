// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Aggregation as _modelport_v1_Aggregation, Aggregation__Output as _modelport_v1_Aggregation__Output } from '../../modelport/v1/Aggregation.js';

/**
 * A batch of texts to tag with one token-classification model.
 */
export interface ClassifyTokensRequest {
  /**
   * The token-classification model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Texts to tag (UTF-8, non-empty). At least one.
   */
  'inputs'?: (string)[];
  /**
   * How tokens are merged into entities.
   */
  'aggregation'?: (_modelport_v1_Aggregation);
  /**
   * Entities scoring below this are dropped. 0 keeps all.
   */
  'minScore'?: (number | string);
}

/**
 * A batch of texts to tag with one token-classification model.
 */
export interface ClassifyTokensRequest__Output {
  /**
   * The token-classification model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Texts to tag (UTF-8, non-empty). At least one.
   */
  'inputs': (string)[];
  /**
   * How tokens are merged into entities.
   */
  'aggregation': (_modelport_v1_Aggregation__Output);
  /**
   * Entities scoring below this are dropped. 0 keeps all.
   */
  'minScore': (number);
}
