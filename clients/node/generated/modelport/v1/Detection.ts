// Original file: ../../protos/modelport/v1/vision.proto

import type { BoundingBox as _modelport_v1_BoundingBox, BoundingBox__Output as _modelport_v1_BoundingBox__Output } from '../../modelport/v1/BoundingBox.js';

/**
 * One detected object.
 */
export interface Detection {
  /**
   * Class name.
   */
  'label'?: (string);
  /**
   * Confidence.
   */
  'score'?: (number | string);
  /**
   * Where the object is.
   */
  'box'?: (_modelport_v1_BoundingBox | null);
}

/**
 * One detected object.
 */
export interface Detection__Output {
  /**
   * Class name.
   */
  'label': (string);
  /**
   * Confidence.
   */
  'score': (number);
  /**
   * Where the object is.
   */
  'box': (_modelport_v1_BoundingBox__Output | null);
}
