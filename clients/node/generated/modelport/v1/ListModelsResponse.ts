// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelInfo as _modelport_v1_ModelInfo, ModelInfo__Output as _modelport_v1_ModelInfo__Output } from '../../modelport/v1/ModelInfo.js';

/**
 * The models known.
 */
export interface ListModelsResponse {
  /**
   * Models sorted by name.
   */
  'models'?: (_modelport_v1_ModelInfo)[];
}

/**
 * The models known.
 */
export interface ListModelsResponse__Output {
  /**
   * Models sorted by name.
   */
  'models': (_modelport_v1_ModelInfo__Output)[];
}
