// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ExplainMethod as _modelport_v1_ExplainMethod, ExplainMethod__Output as _modelport_v1_ExplainMethod__Output } from '../../modelport/v1/ExplainMethod.js';
import type { Baseline as _modelport_v1_Baseline, Baseline__Output as _modelport_v1_Baseline__Output } from '../../modelport/v1/Baseline.js';
import type { Truncation as _modelport_v1_Truncation, Truncation__Output as _modelport_v1_Truncation__Output } from '../../modelport/v1/Truncation.js';

/**
 * One text and the classification to explain.
 */
export interface ExplainTextRequest {
  /**
   * The text-classification model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * The text (UTF-8, non-empty).
   */
  'input'?: (string);
  /**
   * The label to explain. Empty: the label the model predicts.
   */
  'targetLabel'?: (string);
  /**
   * How to attribute. Unspecified: the model's default (integrated gradients where the
   * model has gradients, occlusion otherwise).
   */
  'method'?: (_modelport_v1_ExplainMethod);
  /**
   * Integrated gradients: points on the path from the baseline (0: the server's
   * default, 50; at most the server's `explain_max_steps`).
   */
  'steps'?: (number);
  /**
   * Integrated gradients: the reference text (BASELINE_PAD or BASELINE_ZERO).
   */
  'baseline'?: (_modelport_v1_Baseline);
  /**
   * What to do with inputs longer than the model reads.
   */
  'truncation'?: (_modelport_v1_Truncation);
}

/**
 * One text and the classification to explain.
 */
export interface ExplainTextRequest__Output {
  /**
   * The text-classification model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * The text (UTF-8, non-empty).
   */
  'input': (string);
  /**
   * The label to explain. Empty: the label the model predicts.
   */
  'targetLabel': (string);
  /**
   * How to attribute. Unspecified: the model's default (integrated gradients where the
   * model has gradients, occlusion otherwise).
   */
  'method': (_modelport_v1_ExplainMethod__Output);
  /**
   * Integrated gradients: points on the path from the baseline (0: the server's
   * default, 50; at most the server's `explain_max_steps`).
   */
  'steps': (number);
  /**
   * Integrated gradients: the reference text (BASELINE_PAD or BASELINE_ZERO).
   */
  'baseline': (_modelport_v1_Baseline__Output);
  /**
   * What to do with inputs longer than the model reads.
   */
  'truncation': (_modelport_v1_Truncation__Output);
}
