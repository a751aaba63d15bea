// Original file: ../../protos/modelport/v1/nlp.proto

/**
 * Why generation stopped.
 */
export const FinishReason = {
  /**
   * Not finished (intermediate stream chunks).
   */
  FINISH_REASON_UNSPECIFIED: 'FINISH_REASON_UNSPECIFIED',
  /**
   * max_new_tokens was reached.
   */
  FINISH_REASON_LENGTH: 'FINISH_REASON_LENGTH',
  /**
   * The model produced its end-of-sequence token.
   */
  FINISH_REASON_EOS: 'FINISH_REASON_EOS',
  /**
   * A stop sequence was produced.
   */
  FINISH_REASON_STOP_SEQUENCE: 'FINISH_REASON_STOP_SEQUENCE',
} as const;

/**
 * Why generation stopped.
 */
export type FinishReason =
  /**
   * Not finished (intermediate stream chunks).
   */
  | 'FINISH_REASON_UNSPECIFIED'
  | 0
  /**
   * max_new_tokens was reached.
   */
  | 'FINISH_REASON_LENGTH'
  | 1
  /**
   * The model produced its end-of-sequence token.
   */
  | 'FINISH_REASON_EOS'
  | 2
  /**
   * A stop sequence was produced.
   */
  | 'FINISH_REASON_STOP_SEQUENCE'
  | 3

/**
 * Why generation stopped.
 */
export type FinishReason__Output = typeof FinishReason[keyof typeof FinishReason]
