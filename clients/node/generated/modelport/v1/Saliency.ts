// Original file: ../../protos/modelport/v1/vision.proto


/**
 * A saliency map: one FP32 value per pixel of the image as sent (after EXIF rotation).
 */
export interface Saliency {
  /**
   * Rows (the image's height).
   */
  'height'?: (number);
  /**
   * Columns (the image's width).
   */
  'width'?: (number);
  /**
   * height x width little-endian float32 values, row-major. Attribution per pixel of the
   * model's input (summed over colour channels), resampled to the image; 0 where the
   * model's crop left the image out. Positive: the pixels raise the target's score.
   */
  'data'?: (Buffer | Uint8Array | string);
}

/**
 * A saliency map: one FP32 value per pixel of the image as sent (after EXIF rotation).
 */
export interface Saliency__Output {
  /**
   * Rows (the image's height).
   */
  'height': (number);
  /**
   * Columns (the image's width).
   */
  'width': (number);
  /**
   * height x width little-endian float32 values, row-major. Attribution per pixel of the
   * model's input (summed over colour channels), resampled to the image; 0 where the
   * model's crop left the image out. Positive: the pixels raise the target's score.
   */
  'data': (Buffer);
}
