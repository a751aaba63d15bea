// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';

/**
 * Removes a registration.
 */
export interface DeregisterModelRequest {
  /**
   * Model name and version. Version required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * The replica's endpoint, "host:port".
   */
  'endpoint'?: (string);
}

/**
 * Removes a registration.
 */
export interface DeregisterModelRequest__Output {
  /**
   * Model name and version. Version required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * The replica's endpoint, "host:port".
   */
  'endpoint': (string);
}
