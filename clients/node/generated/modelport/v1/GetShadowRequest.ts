// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Asks for a model's shadow counts.
 */
export interface GetShadowRequest {
  /**
   * Model name. Required.
   */
  'name'?: (string);
}

/**
 * Asks for a model's shadow counts.
 */
export interface GetShadowRequest__Output {
  /**
   * Model name. Required.
   */
  'name': (string);
}
