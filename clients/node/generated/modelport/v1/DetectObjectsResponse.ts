// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ImageDetections as _modelport_v1_ImageDetections, ImageDetections__Output as _modelport_v1_ImageDetections__Output } from '../../modelport/v1/ImageDetections.js';

/**
 * Detections for each image of a DetectObjectsRequest.
 */
export interface DetectObjectsResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One result per image, in request order.
   */
  'results'?: (_modelport_v1_ImageDetections)[];
}

/**
 * Detections for each image of a DetectObjectsRequest.
 */
export interface DetectObjectsResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One result per image, in request order.
   */
  'results': (_modelport_v1_ImageDetections__Output)[];
}
