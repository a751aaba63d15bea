// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ChatMessage as _modelport_v1_ChatMessage, ChatMessage__Output as _modelport_v1_ChatMessage__Output } from '../../modelport/v1/ChatMessage.js';
import type { GenerationParameters as _modelport_v1_GenerationParameters, GenerationParameters__Output as _modelport_v1_GenerationParameters__Output } from '../../modelport/v1/GenerationParameters.js';

/**
 * One conversation to answer with a chat model (a generation model with a chat template).
 */
export interface ChatRequest {
  /**
   * The chat model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * The conversation so far, oldest first; the last message is usually the user's. At
   * least one.
   */
  'messages'?: (_modelport_v1_ChatMessage)[];
  /**
   * Decoding parameters.
   */
  'parameters'?: (_modelport_v1_GenerationParameters | null);
}

/**
 * One conversation to answer with a chat model (a generation model with a chat template).
 */
export interface ChatRequest__Output {
  /**
   * The chat model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * The conversation so far, oldest first; the last message is usually the user's. At
   * least one.
   */
  'messages': (_modelport_v1_ChatMessage__Output)[];
  /**
   * Decoding parameters.
   */
  'parameters': (_modelport_v1_GenerationParameters__Output | null);
}
