// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelVersion as _modelport_v1_ModelVersion, ModelVersion__Output as _modelport_v1_ModelVersion__Output } from '../../modelport/v1/ModelVersion.js';

/**
 * A model with all its versions.
 */
export interface ModelInfo {
  /**
   * Model name.
   */
  'name'?: (string);
  /**
   * Versions, newest first.
   */
  'versions'?: (_modelport_v1_ModelVersion)[];
}

/**
 * A model with all its versions.
 */
export interface ModelInfo__Output {
  /**
   * Model name.
   */
  'name': (string);
  /**
   * Versions, newest first.
   */
  'versions': (_modelport_v1_ModelVersion__Output)[];
}
