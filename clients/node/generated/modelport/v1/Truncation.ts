// Original file: ../../protos/modelport/v1/common.proto

/**
 * What to do with inputs longer than the model's maximum sequence length.
 */
export const Truncation = {
  /**
   * Server default: TRUNCATION_END.
   */
  TRUNCATION_UNSPECIFIED: 'TRUNCATION_UNSPECIFIED',
  /**
   * Reject over-long inputs with INVALID_ARGUMENT naming the input and the limit.
   */
  TRUNCATION_NONE: 'TRUNCATION_NONE',
  /**
   * Keep the beginning of the input, drop tokens from the end.
   */
  TRUNCATION_END: 'TRUNCATION_END',
  /**
   * Keep the end of the input, drop tokens from the beginning.
   */
  TRUNCATION_START: 'TRUNCATION_START',
} as const;

/**
 * What to do with inputs longer than the model's maximum sequence length.
 */
export type Truncation =
  /**
   * Server default: TRUNCATION_END.
   */
  | 'TRUNCATION_UNSPECIFIED'
  | 0
  /**
   * Reject over-long inputs with INVALID_ARGUMENT naming the input and the limit.
   */
  | 'TRUNCATION_NONE'
  | 1
  /**
   * Keep the beginning of the input, drop tokens from the end.
   */
  | 'TRUNCATION_END'
  | 2
  /**
   * Keep the end of the input, drop tokens from the beginning.
   */
  | 'TRUNCATION_START'
  | 3

/**
 * What to do with inputs longer than the model's maximum sequence length.
 */
export type Truncation__Output = typeof Truncation[keyof typeof Truncation]
