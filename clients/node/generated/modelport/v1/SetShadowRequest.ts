// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Starts, changes or stops a model's shadow traffic.
 */
export interface SetShadowRequest {
  /**
   * Model name. Required.
   */
  'name'?: (string);
  /**
   * The version the copies go to. Required unless `fraction` is 0.
   */
  'version'?: (string);
  /**
   * Share of the model's unpinned calls copied, 0 to 1; 0 stops the shadow.
   */
  'fraction'?: (number | string);
  /**
   * Why (written to the audit log).
   */
  'reason'?: (string);
}

/**
 * Starts, changes or stops a model's shadow traffic.
 */
export interface SetShadowRequest__Output {
  /**
   * Model name. Required.
   */
  'name': (string);
  /**
   * The version the copies go to. Required unless `fraction` is 0.
   */
  'version': (string);
  /**
   * Share of the model's unpinned calls copied, 0 to 1; 0 stops the shadow.
   */
  'fraction': (number);
  /**
   * Why (written to the audit log).
   */
  'reason': (string);
}
