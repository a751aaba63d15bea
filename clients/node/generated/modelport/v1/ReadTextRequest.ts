// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';

/**
 * A batch of images to read text from with one OCR model.
 */
export interface ReadTextRequest {
  /**
   * The OCR model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images'?: (Buffer | Uint8Array | string)[];
  /**
   * Lines read with a confidence below this are dropped. 0 means the server default (0.5).
   */
  'minConfidence'?: (number | string);
}

/**
 * A batch of images to read text from with one OCR model.
 */
export interface ReadTextRequest__Output {
  /**
   * The OCR model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images': (Buffer)[];
  /**
   * Lines read with a confidence below this are dropped. 0 means the server default (0.5).
   */
  'minConfidence': (number);
}
