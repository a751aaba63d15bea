// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';

/**
 * A batch of images to run object detection on.
 */
export interface DetectObjectsRequest {
  /**
   * The object-detection model. Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images'?: (Buffer | Uint8Array | string)[];
  /**
   * Detections scoring below this are dropped. 0 means the server default (0.5).
   */
  'threshold'?: (number | string);
  /**
   * At most this many detections per image, best first. 0 means no limit.
   */
  'maxDetections'?: (number);
}

/**
 * A batch of images to run object detection on.
 */
export interface DetectObjectsRequest__Output {
  /**
   * The object-detection model. Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Encoded image files (JPEG, PNG, WebP, GIF, BMP). At least one.
   */
  'images': (Buffer)[];
  /**
   * Detections scoring below this are dropped. 0 means the server default (0.5).
   */
  'threshold': (number);
  /**
   * At most this many detections per image, best first. 0 means no limit.
   */
  'maxDetections': (number);
}
