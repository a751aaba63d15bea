// Original file: ../../protos/modelport/v1/nlp.proto


/**
 * One message of a conversation.
 */
export interface ChatMessage {
  /**
   * "system", "user" or "assistant" (as the model's chat template knows them). Required.
   */
  'role'?: (string);
  /**
   * The message text (UTF-8). Required, except that an assistant message may be empty.
   */
  'content'?: (string);
}

/**
 * One message of a conversation.
 */
export interface ChatMessage__Output {
  /**
   * "system", "user" or "assistant" (as the model's chat template knows them). Required.
   */
  'role': (string);
  /**
   * The message text (UTF-8). Required, except that an assistant message may be empty.
   */
  'content': (string);
}
