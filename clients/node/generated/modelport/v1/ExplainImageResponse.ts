// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ExplainMethod as _modelport_v1_ExplainMethod, ExplainMethod__Output as _modelport_v1_ExplainMethod__Output } from '../../modelport/v1/ExplainMethod.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from '../../modelport/v1/LabelScore.js';
import type { Saliency as _modelport_v1_Saliency, Saliency__Output as _modelport_v1_Saliency__Output } from '../../modelport/v1/Saliency.js';
import type { Baseline as _modelport_v1_Baseline, Baseline__Output as _modelport_v1_Baseline__Output } from '../../modelport/v1/Baseline.js';

/**
 * The explanation of an ExplainImageRequest.
 */
export interface ExplainImageResponse {
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
   * The model's score of `target_label` for the image.
   */
  'targetScore'?: (number | string);
  /**
   * The model's five best labels for the image.
   */
  'prediction'?: (_modelport_v1_LabelScore)[];
  /**
   * The saliency map at the image's resolution.
   */
  'saliency'?: (_modelport_v1_Saliency | null);
  /**
   * Integrated gradients: sum of the attributions minus (score(image) -
   * score(baseline)); near 0 when `steps` were enough.
   */
  'convergenceDelta'?: (number | string);
  /**
   * Integrated gradients: the steps used.
   */
  'steps'?: (number);
  /**
   * The baseline used.
   */
  'baseline'?: (_modelport_v1_Baseline);
  /**
   * Occlusion: the window and stride used (pixels of the model's input).
   */
  'window'?: (number);
  /**
   * Occlusion: the stride used.
   */
  'stride'?: (number);
  /**
   * Forward passes the explanation cost (a gradient step counts one).
   */
  'forwardPasses'?: (number);
  /**
   * A PNG heat map of the positive attributions over the image, when asked for.
   */
  'heatmapPng'?: (Buffer | Uint8Array | string);
  '_convergenceDelta'?: "convergenceDelta";
}

/**
 * The explanation of an ExplainImageRequest.
 */
export interface ExplainImageResponse__Output {
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
   * The model's score of `target_label` for the image.
   */
  'targetScore': (number);
  /**
   * The model's five best labels for the image.
   */
  'prediction': (_modelport_v1_LabelScore__Output)[];
  /**
   * The saliency map at the image's resolution.
   */
  'saliency': (_modelport_v1_Saliency__Output | null);
  /**
   * Integrated gradients: sum of the attributions minus (score(image) -
   * score(baseline)); near 0 when `steps` were enough.
   */
  'convergenceDelta'?: (number);
  /**
   * Integrated gradients: the steps used.
   */
  'steps': (number);
  /**
   * The baseline used.
   */
  'baseline': (_modelport_v1_Baseline__Output);
  /**
   * Occlusion: the window and stride used (pixels of the model's input).
   */
  'window': (number);
  /**
   * Occlusion: the stride used.
   */
  'stride': (number);
  /**
   * Forward passes the explanation cost (a gradient step counts one).
   */
  'forwardPasses': (number);
  /**
   * A PNG heat map of the positive attributions over the image, when asked for.
   */
  'heatmapPng': (Buffer);
  '_convergenceDelta'?: "convergenceDelta";
}
