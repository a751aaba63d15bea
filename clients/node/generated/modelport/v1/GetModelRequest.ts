// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Describes one model.
 */
export interface GetModelRequest {
  /**
   * Model name. Required.
   */
  'name'?: (string);
}

/**
 * Describes one model.
 */
export interface GetModelRequest__Output {
  /**
   * Model name. Required.
   */
  'name': (string);
}
