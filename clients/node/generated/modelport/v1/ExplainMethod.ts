// Original file: ../../protos/modelport/v1/common.proto

/**
 * How an explanation attributes a prediction to the parts of its input.
 */
export const ExplainMethod = {
  /**
   * The model's default: integrated gradients where the model has gradients (torch
   * models), occlusion otherwise (spaCy pipelines).
   */
  EXPLAIN_METHOD_UNSPECIFIED: 'EXPLAIN_METHOD_UNSPECIFIED',
  /**
   * Integrated gradients (Sundararajan et al., 2017): the gradient of the target score
   * averaged along the straight path from a baseline to the input, times (input -
   * baseline), on the word embeddings (text) or the pixels (images). The attributions sum
   * to score(input) - score(baseline) up to the reported convergence delta.
   */
  EXPLAIN_METHOD_INTEGRATED_GRADIENTS: 'EXPLAIN_METHOD_INTEGRATED_GRADIENTS',
  /**
   * Occlusion: how much the target score drops when a part of the input is taken away
   * (a token removed from attention, spaCy: from the text; a window of pixels set to the
   * baseline). Needs only forward passes, so it works for every classifier.
   */
  EXPLAIN_METHOD_OCCLUSION: 'EXPLAIN_METHOD_OCCLUSION',
} as const;

/**
 * How an explanation attributes a prediction to the parts of its input.
 */
export type ExplainMethod =
  /**
   * The model's default: integrated gradients where the model has gradients (torch
   * models), occlusion otherwise (spaCy pipelines).
   */
  | 'EXPLAIN_METHOD_UNSPECIFIED'
  | 0
  /**
   * Integrated gradients (Sundararajan et al., 2017): the gradient of the target score
   * averaged along the straight path from a baseline to the input, times (input -
   * baseline), on the word embeddings (text) or the pixels (images). The attributions sum
   * to score(input) - score(baseline) up to the reported convergence delta.
   */
  | 'EXPLAIN_METHOD_INTEGRATED_GRADIENTS'
  | 1
  /**
   * Occlusion: how much the target score drops when a part of the input is taken away
   * (a token removed from attention, spaCy: from the text; a window of pixels set to the
   * baseline). Needs only forward passes, so it works for every classifier.
   */
  | 'EXPLAIN_METHOD_OCCLUSION'
  | 2

/**
 * How an explanation attributes a prediction to the parts of its input.
 */
export type ExplainMethod__Output = typeof ExplainMethod[keyof typeof ExplainMethod]
