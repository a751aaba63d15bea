// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ExplainMethod as _modelport_v1_ExplainMethod, ExplainMethod__Output as _modelport_v1_ExplainMethod__Output } from '../../modelport/v1/ExplainMethod.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from '../../modelport/v1/LabelScore.js';
import type { TokenAttribution as _modelport_v1_TokenAttribution, TokenAttribution__Output as _modelport_v1_TokenAttribution__Output } from '../../modelport/v1/TokenAttribution.js';
import type { Baseline as _modelport_v1_Baseline, Baseline__Output as _modelport_v1_Baseline__Output } from '../../modelport/v1/Baseline.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * The explanation of an ExplainTextRequest.
 */
export interface ExplainTextResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * The method used.
   */
  'method'?: (_modelport_v1_ExplainMethod);
  /**
   * The label explained.
   */
  'targetLabel'?: (string);
  /**
   * The model's score of `target_label` for the input.
   */
  'targetScore'?: (number | string);
  /**
   * Every label's score for the input, best first.
   */
  'prediction'?: (_modelport_v1_LabelScore)[];
  /**
   * The tokens the model read, in order, with their attributions.
   */
  'tokens'?: (_modelport_v1_TokenAttribution)[];
  /**
   * Integrated gradients: sum of the attributions minus (score(input) -
   * score(baseline)); near 0 when `steps` were enough.
   */
  'convergenceDelta'?: (number | string);
  /**
   * Integrated gradients: the steps used.
   */
  'steps'?: (number);
  /**
   * Integrated gradients: the baseline used.
   */
  'baseline'?: (_modelport_v1_Baseline);
  /**
   * Forward passes the explanation cost (a gradient step counts one).
   */
  'forwardPasses'?: (number);
  /**
   * Tokens of the input (after truncation).
   */
  'usage'?: (_modelport_v1_Usage | null);
  '_convergenceDelta'?: "convergenceDelta";
}

/**
 * The explanation of an ExplainTextRequest.
 */
export interface ExplainTextResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * The method used.
   */
  'method': (_modelport_v1_ExplainMethod__Output);
  /**
   * The label explained.
   */
  'targetLabel': (string);
  /**
   * The model's score of `target_label` for the input.
   */
  'targetScore': (number);
  /**
   * Every label's score for the input, best first.
   */
  'prediction': (_modelport_v1_LabelScore__Output)[];
  /**
   * The tokens the model read, in order, with their attributions.
   */
  'tokens': (_modelport_v1_TokenAttribution__Output)[];
  /**
   * Integrated gradients: sum of the attributions minus (score(input) -
   * score(baseline)); near 0 when `steps` were enough.
   */
  'convergenceDelta'?: (number);
  /**
   * Integrated gradients: the steps used.
   */
  'steps': (number);
  /**
   * Integrated gradients: the baseline used.
   */
  'baseline': (_modelport_v1_Baseline__Output);
  /**
   * Forward passes the explanation cost (a gradient step counts one).
   */
  'forwardPasses': (number);
  /**
   * Tokens of the input (after truncation).
   */
  'usage': (_modelport_v1_Usage__Output | null);
  '_convergenceDelta'?: "convergenceDelta";
}
