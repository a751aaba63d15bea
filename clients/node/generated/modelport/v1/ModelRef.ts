// Original file: ../../protos/modelport/v1/common.proto


/**
 * Names the model (and optionally the version) a request is for.
 */
export interface ModelRef {
  /**
   * Model name as registered, e.g. "all-MiniLM-L6-v2". Required.
   */
  'name'?: (string);
  /**
   * Model version. Empty means the newest version that is READY.
   */
  'version'?: (string);
}

/**
 * Names the model (and optionally the version) a request is for.
 */
export interface ModelRef__Output {
  /**
   * Model name as registered, e.g. "all-MiniLM-L6-v2". Required.
   */
  'name': (string);
  /**
   * Model version. Empty means the newest version that is READY.
   */
  'version': (string);
}
