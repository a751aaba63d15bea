// Original file: ../../protos/modelport/v1/common.proto

/**
 * The reference input an explanation compares the input with.
 */
export const Baseline = {
  /**
   * The default: BASELINE_PAD for text, BASELINE_ZERO for images.
   */
  BASELINE_UNSPECIFIED: 'BASELINE_UNSPECIFIED',
  /**
   * Text: every text token replaced by the pad token (special tokens kept).
   */
  BASELINE_PAD: 'BASELINE_PAD',
  /**
   * Text: all-zero word embeddings at the text tokens (special tokens kept). Images:
   * an all-zero model input (the mean colour of the model's normalisation).
   */
  BASELINE_ZERO: 'BASELINE_ZERO',
  /**
   * Images: a black image.
   */
  BASELINE_BLACK: 'BASELINE_BLACK',
} as const;

/**
 * The reference input an explanation compares the input with.
 */
export type Baseline =
  /**
   * The default: BASELINE_PAD for text, BASELINE_ZERO for images.
   */
  | 'BASELINE_UNSPECIFIED'
  | 0
  /**
   * Text: every text token replaced by the pad token (special tokens kept).
   */
  | 'BASELINE_PAD'
  | 1
  /**
   * Text: all-zero word embeddings at the text tokens (special tokens kept). Images:
   * an all-zero model input (the mean colour of the model's normalisation).
   */
  | 'BASELINE_ZERO'
  | 2
  /**
   * Images: a black image.
   */
  | 'BASELINE_BLACK'
  | 3

/**
 * The reference input an explanation compares the input with.
 */
export type Baseline__Output = typeof Baseline[keyof typeof Baseline]
