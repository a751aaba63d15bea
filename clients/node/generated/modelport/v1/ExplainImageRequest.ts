// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ExplainMethod as _modelport_v1_ExplainMethod, ExplainMethod__Output as _modelport_v1_ExplainMethod__Output } from '../../modelport/v1/ExplainMethod.js';
import type { Baseline as _modelport_v1_Baseline, Baseline__Output as _modelport_v1_Baseline__Output } from '../../modelport/v1/Baseline.js';

/**
 * One image and the classification to explain.
 */
export interface ExplainImageRequest {
  /**
   * The image-classification model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * An encoded image file (JPEG, PNG, WebP, GIF, BMP). Required.
   */
  'image'?: (Buffer | Uint8Array | string);
  /**
   * The label to explain. Empty: the label the model predicts.
   */
  'targetLabel'?: (string);
  /**
   * How to attribute. Unspecified: integrated gradients.
   */
  'method'?: (_modelport_v1_ExplainMethod);
  /**
   * Integrated gradients: points on the path from the baseline (0: the server's
   * default, 50; at most the server's `explain_max_steps`).
   */
  'steps'?: (number);
  /**
   * The reference image: BASELINE_ZERO (default) or BASELINE_BLACK. Occlusion fills
   * each window with it.
   */
  'baseline'?: (_modelport_v1_Baseline);
  /**
   * Occlusion: side of the square window, in pixels of the model's input (e.g. of its
   * 224x224 crop). 0: 32.
   */
  'window'?: (number);
  /**
   * Occlusion: step between windows, in pixels of the model's input. 0: half the window.
   */
  'stride'?: (number);
  /**
   * Also return the map as a PNG heat map over the image.
   */
  'heatmap'?: (boolean);
}

/**
 * One image and the classification to explain.
 */
export interface ExplainImageRequest__Output {
  /**
   * The image-classification model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * An encoded image file (JPEG, PNG, WebP, GIF, BMP). Required.
   */
  'image': (Buffer);
  /**
   * The label to explain. Empty: the label the model predicts.
   */
  'targetLabel': (string);
  /**
   * How to attribute. Unspecified: integrated gradients.
   */
  'method': (_modelport_v1_ExplainMethod__Output);
  /**
   * Integrated gradients: points on the path from the baseline (0: the server's
   * default, 50; at most the server's `explain_max_steps`).
   */
  'steps': (number);
  /**
   * The reference image: BASELINE_ZERO (default) or BASELINE_BLACK. Occlusion fills
   * each window with it.
   */
  'baseline': (_modelport_v1_Baseline__Output);
  /**
   * Occlusion: side of the square window, in pixels of the model's input (e.g. of its
   * 224x224 crop). 0: 32.
   */
  'window': (number);
  /**
   * Occlusion: step between windows, in pixels of the model's input. 0: half the window.
   */
  'stride': (number);
  /**
   * Also return the map as a PNG heat map over the image.
   */
  'heatmap': (boolean);
}
