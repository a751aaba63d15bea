// Original file: ../../protos/modelport/v1/vision.proto

import type { BoundingBox as _modelport_v1_BoundingBox, BoundingBox__Output as _modelport_v1_BoundingBox__Output } from '../../modelport/v1/BoundingBox.js';

/**
 * One detected object.
 */
export interface Detection {
  /**
   * Class name ("text" for a text line found by an OCR model).
   */
  'label'?: (string);
  /**
   * Confidence (for a text line: of the text read).
   */
  'score'?: (number | string);
  /**
   * Where the object is.
   */
  'box'?: (_modelport_v1_BoundingBox | null);
  /**
   * The text read in the box (OCR models); empty for other detectors.
   */
  'text'?: (string);
}

/**
 * One detected object.
 */
export interface Detection__Output {
  /**
   * Class name ("text" for a text line found by an OCR model).
   */
  'label': (string);
  /**
   * Confidence (for a text line: of the text read).
   */
  'score': (number);
  /**
   * Where the object is.
   */
  'box': (_modelport_v1_BoundingBox__Output | null);
  /**
   * The text read in the box (OCR models); empty for other detectors.
   */
  'text': (string);
}
