// Original file: ../../protos/modelport/v1/nlp.proto

/**
 * How sub-word predictions are merged into entities.
 */
export const Aggregation = {
  /**
   * Server default: AGGREGATION_SIMPLE.
   */
  AGGREGATION_UNSPECIFIED: 'AGGREGATION_UNSPECIFIED',
  /**
   * One entity per token, no merging.
   */
  AGGREGATION_NONE: 'AGGREGATION_NONE',
  /**
   * Merge adjacent tokens with the same entity type (B-/I- tags).
   */
  AGGREGATION_SIMPLE: 'AGGREGATION_SIMPLE',
  /**
   * Merge into whole words; a word takes the label of its first token.
   */
  AGGREGATION_FIRST: 'AGGREGATION_FIRST',
  /**
   * Merge into whole words; a word takes the label with the highest average score.
   */
  AGGREGATION_AVERAGE: 'AGGREGATION_AVERAGE',
} as const;

/**
 * How sub-word predictions are merged into entities.
 */
export type Aggregation =
  /**
   * Server default: AGGREGATION_SIMPLE.
   */
  | 'AGGREGATION_UNSPECIFIED'
  | 0
  /**
   * One entity per token, no merging.
   */
  | 'AGGREGATION_NONE'
  | 1
  /**
   * Merge adjacent tokens with the same entity type (B-/I- tags).
   */
  | 'AGGREGATION_SIMPLE'
  | 2
  /**
   * Merge into whole words; a word takes the label of its first token.
   */
  | 'AGGREGATION_FIRST'
  | 3
  /**
   * Merge into whole words; a word takes the label with the highest average score.
   */
  | 'AGGREGATION_AVERAGE'
  | 4

/**
 * How sub-word predictions are merged into entities.
 */
export type Aggregation__Output = typeof Aggregation[keyof typeof Aggregation]
