// Original file: ../../protos/modelport/v1/nlp.proto

import type { FinishReason as _modelport_v1_FinishReason, FinishReason__Output as _modelport_v1_FinishReason__Output } from '../../modelport/v1/FinishReason.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * The completion of one prompt.
 */
export interface Generation {
  /**
   * Generated text (without the prompt).
   */
  'text'?: (string);
  /**
   * Why generation stopped.
   */
  'finishReason'?: (_modelport_v1_FinishReason);
  /**
   * Tokens of this prompt and of its completion.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * The completion of one prompt.
 */
export interface Generation__Output {
  /**
   * Generated text (without the prompt).
   */
  'text': (string);
  /**
   * Why generation stopped.
   */
  'finishReason': (_modelport_v1_FinishReason__Output);
  /**
   * Tokens of this prompt and of its completion.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
