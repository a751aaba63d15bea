// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Watches the registry.
 */
export interface WatchModelsRequest {
  /**
   * Only this model. Empty: all.
   */
  'name'?: (string);
}

/**
 * Watches the registry.
 */
export interface WatchModelsRequest__Output {
  /**
   * Only this model. Empty: all.
   */
  'name': (string);
}
