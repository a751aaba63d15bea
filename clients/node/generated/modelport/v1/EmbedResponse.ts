// Original file: ../../protos/modelport/v1/embedding.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Embedding as _modelport_v1_Embedding, Embedding__Output as _modelport_v1_Embedding__Output } from '../../modelport/v1/Embedding.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * The vectors of one EmbedRequest.
 */
export interface EmbedResponse {
  /**
   * The model (with its concrete version) that produced the vectors.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One embedding per input, in input order.
   */
  'embeddings'?: (_modelport_v1_Embedding)[];
  /**
   * Token usage of the call.
   */
  'usage'?: (_modelport_v1_Usage | null);
  /**
   * The request's `request_id`.
   */
  'requestId'?: (string);
}

/**
 * The vectors of one EmbedRequest.
 */
export interface EmbedResponse__Output {
  /**
   * The model (with its concrete version) that produced the vectors.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One embedding per input, in input order.
   */
  'embeddings': (_modelport_v1_Embedding__Output)[];
  /**
   * Token usage of the call.
   */
  'usage': (_modelport_v1_Usage__Output | null);
  /**
   * The request's `request_id`.
   */
  'requestId': (string);
}
