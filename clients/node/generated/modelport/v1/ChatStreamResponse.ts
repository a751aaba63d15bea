// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { FinishReason as _modelport_v1_FinishReason, FinishReason__Output as _modelport_v1_FinishReason__Output } from '../../modelport/v1/FinishReason.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * One chunk of a streamed chat reply.
 */
export interface ChatStreamResponse {
  /**
   * The model (with its concrete version) that answers; set on every chunk.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * "assistant" on the first chunk, empty on the others.
   */
  'role'?: (string);
  /**
   * New text since the previous chunk (whole UTF-8 characters).
   */
  'text'?: (string);
  /**
   * Set on the last chunk.
   */
  'finishReason'?: (_modelport_v1_FinishReason);
  /**
   * Set on the last chunk.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * One chunk of a streamed chat reply.
 */
export interface ChatStreamResponse__Output {
  /**
   * The model (with its concrete version) that answers; set on every chunk.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * "assistant" on the first chunk, empty on the others.
   */
  'role': (string);
  /**
   * New text since the previous chunk (whole UTF-8 characters).
   */
  'text': (string);
  /**
   * Set on the last chunk.
   */
  'finishReason': (_modelport_v1_FinishReason__Output);
  /**
   * Set on the last chunk.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
