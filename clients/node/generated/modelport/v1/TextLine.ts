// Original file: ../../protos/modelport/v1/vision.proto

import type { BoundingBox as _modelport_v1_BoundingBox, BoundingBox__Output as _modelport_v1_BoundingBox__Output } from '../../modelport/v1/BoundingBox.js';

/**
 * One line of text read in an image.
 */
export interface TextLine {
  /**
   * The text read.
   */
  'text'?: (string);
  /**
   * Confidence of the recognition, 0 to 1.
   */
  'confidence'?: (number | string);
  /**
   * Where the line is.
   */
  'box'?: (_modelport_v1_BoundingBox | null);
}

/**
 * One line of text read in an image.
 */
export interface TextLine__Output {
  /**
   * The text read.
   */
  'text': (string);
  /**
   * Confidence of the recognition, 0 to 1.
   */
  'confidence': (number);
  /**
   * Where the line is.
   */
  'box': (_modelport_v1_BoundingBox__Output | null);
}
