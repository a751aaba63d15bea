// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Truncation as _modelport_v1_Truncation, Truncation__Output as _modelport_v1_Truncation__Output } from '../../modelport/v1/Truncation.js';

/**
 * A batch of texts to classify with one model.
 */
export interface ClassifyRequest {
  /**
   * The classification model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Texts to classify (UTF-8, non-empty). At least one.
   */
  'inputs'?: (string)[];
  /**
   * How many labels to return per input, best first. 0 returns every label.
   */
  'topK'?: (number);
  /**
   * What to do with inputs longer than the model's maximum sequence length.
   */
  'truncation'?: (_modelport_v1_Truncation);
}

/**
 * A batch of texts to classify with one model.
 */
export interface ClassifyRequest__Output {
  /**
   * The classification model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Texts to classify (UTF-8, non-empty). At least one.
   */
  'inputs': (string)[];
  /**
   * How many labels to return per input, best first. 0 returns every label.
   */
  'topK': (number);
  /**
   * What to do with inputs longer than the model's maximum sequence length.
   */
  'truncation': (_modelport_v1_Truncation__Output);
}
