// Original file: ../../protos/modelport/v1/vision.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { ImageText as _modelport_v1_ImageText, ImageText__Output as _modelport_v1_ImageText__Output } from '../../modelport/v1/ImageText.js';

/**
 * Text for each image of a ReadTextRequest.
 */
export interface ReadTextResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One result per image, in request order.
   */
  'results'?: (_modelport_v1_ImageText)[];
}

/**
 * Text for each image of a ReadTextRequest.
 */
export interface ReadTextResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One result per image, in request order.
   */
  'results': (_modelport_v1_ImageText__Output)[];
}
