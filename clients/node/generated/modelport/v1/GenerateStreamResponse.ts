// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { FinishReason as _modelport_v1_FinishReason, FinishReason__Output as _modelport_v1_FinishReason__Output } from '../../modelport/v1/FinishReason.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * One chunk of streamed text.
 */
export interface GenerateStreamResponse {
  /**
   * The model (with its concrete version) that answers; set on every chunk.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Which prompt of the request this chunk continues.
   */
  'index'?: (number);
  /**
   * New text since the previous chunk of this prompt (whole UTF-8 characters).
   */
  'text'?: (string);
  /**
   * Set on the last chunk of a prompt.
   */
  'finishReason'?: (_modelport_v1_FinishReason);
  /**
   * Set on the last chunk of a prompt.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * One chunk of streamed text.
 */
export interface GenerateStreamResponse__Output {
  /**
   * The model (with its concrete version) that answers; set on every chunk.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Which prompt of the request this chunk continues.
   */
  'index': (number);
  /**
   * New text since the previous chunk of this prompt (whole UTF-8 characters).
   */
  'text': (string);
  /**
   * Set on the last chunk of a prompt.
   */
  'finishReason': (_modelport_v1_FinishReason__Output);
  /**
   * Set on the last chunk of a prompt.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
