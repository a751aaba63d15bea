// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ChatMessage as _modelport_v1_ChatMessage, ChatMessage__Output as _modelport_v1_ChatMessage__Output } from '../../modelport/v1/ChatMessage.js';
import type { FinishReason as _modelport_v1_FinishReason, FinishReason__Output as _modelport_v1_FinishReason__Output } from '../../modelport/v1/FinishReason.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * The answer to a ChatRequest.
 */
export interface ChatResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * The reply, with role "assistant".
   */
  'message'?: (_modelport_v1_ChatMessage | null);
  /**
   * Why generation stopped.
   */
  'finishReason'?: (_modelport_v1_FinishReason);
  /**
   * Tokens of the templated conversation and of the reply.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * The answer to a ChatRequest.
 */
export interface ChatResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * The reply, with role "assistant".
   */
  'message': (_modelport_v1_ChatMessage__Output | null);
  /**
   * Why generation stopped.
   */
  'finishReason': (_modelport_v1_FinishReason__Output);
  /**
   * Tokens of the templated conversation and of the reply.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
