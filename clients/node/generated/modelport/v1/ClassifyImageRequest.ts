// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';

/**
 * A batch of images to classify with one model.
 */
export interface ClassifyImageRequest {
  /**
   * The image-classification model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images'?: (Buffer | Uint8Array | string)[];
  /**
   * How many labels to return per image, best first. 0 means 5.
   */
  'topK'?: (number);
}

/**
 * A batch of images to classify with one model.
 */
export interface ClassifyImageRequest__Output {
  /**
   * The image-classification model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images': (Buffer)[];
  /**
   * How many labels to return per image, best first. 0 means 5.
   */
  'topK': (number);
}
