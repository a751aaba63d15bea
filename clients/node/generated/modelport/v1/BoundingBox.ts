// Original file: ../../protos/modelport/v1/vision.proto


/**
 * An axis-aligned box in pixel coordinates of the original image (after EXIF rotation).
 */
export interface BoundingBox {
  /**
   * Left edge.
   */
  'xMin'?: (number | string);
  /**
   * Top edge.
   */
  'yMin'?: (number | string);
  /**
   * Right edge.
   */
  'xMax'?: (number | string);
  /**
   * Bottom edge.
   */
  'yMax'?: (number | string);
}

/**
 * An axis-aligned box in pixel coordinates of the original image (after EXIF rotation).
 */
export interface BoundingBox__Output {
  /**
   * Left edge.
   */
  'xMin': (number);
  /**
   * Top edge.
   */
  'yMin': (number);
  /**
   * Right edge.
   */
  'xMax': (number);
  /**
   * Bottom edge.
   */
  'yMax': (number);
}
