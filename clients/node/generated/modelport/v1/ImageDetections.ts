// Original file: ../../protos/modelport/v1/vision.proto

import type { Detection as _modelport_v1_Detection, Detection__Output as _modelport_v1_Detection__Output } from '../../modelport/v1/Detection.js';

/**
 * The detections of one image.
 */
export interface ImageDetections {
  /**
   * Detections, best first.
   */
  'detections'?: (_modelport_v1_Detection)[];
}

/**
 * The detections of one image.
 */
export interface ImageDetections__Output {
  /**
   * Detections, best first.
   */
  'detections': (_modelport_v1_Detection__Output)[];
}
