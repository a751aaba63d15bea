// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from '../../modelport/v1/Classification.js';

/**
 * Labels for each image of a ClassifyImageRequest.
 */
export interface ClassifyImageResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One result per image, in request order.
   */
  'results'?: (_modelport_v1_Classification)[];
}

/**
 * Labels for each image of a ClassifyImageRequest.
 */
export interface ClassifyImageResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One result per image, in request order.
   */
  'results': (_modelport_v1_Classification__Output)[];
}
