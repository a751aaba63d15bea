// Original file: ../../protos/modelport/v1/embedding.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Truncation as _modelport_v1_Truncation, Truncation__Output as _modelport_v1_Truncation__Output } from '../../modelport/v1/Truncation.js';

/**
 * A batch of texts to embed with one model.
 */
export interface EmbedRequest {
  /**
   * The embedding model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Texts to embed (UTF-8, non-empty). At least one; at most the server's
   * `max_inputs_per_request`.
   */
  'inputs'?: (string)[];
  /**
   * L2-normalise the vectors. Unset: as the model's own configuration says.
   */
  'normalize'?: (boolean);
  /**
   * Keep only the first `dimensions` components (Matryoshka truncation), then
   * normalise if normalisation is on. 0 keeps the model's full dimension.
   */
  'dimensions'?: (number);
  /**
   * What to do with inputs longer than the model's maximum sequence length.
   */
  'truncation'?: (_modelport_v1_Truncation);
  /**
   * Caller-chosen id echoed in the response, for correlation in logs.
   */
  'requestId'?: (string);
  '_normalize'?: "normalize";
}

/**
 * A batch of texts to embed with one model.
 */
export interface EmbedRequest__Output {
  /**
   * The embedding model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Texts to embed (UTF-8, non-empty). At least one; at most the server's
   * `max_inputs_per_request`.
   */
  'inputs': (string)[];
  /**
   * L2-normalise the vectors. Unset: as the model's own configuration says.
   */
  'normalize'?: (boolean);
  /**
   * Keep only the first `dimensions` components (Matryoshka truncation), then
   * normalise if normalisation is on. 0 keeps the model's full dimension.
   */
  'dimensions': (number);
  /**
   * What to do with inputs longer than the model's maximum sequence length.
   */
  'truncation': (_modelport_v1_Truncation__Output);
  /**
   * Caller-chosen id echoed in the response, for correlation in logs.
   */
  'requestId': (string);
  '_normalize'?: "normalize";
}
