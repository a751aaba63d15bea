// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Empty on success.
 */
export interface SetTrafficSplitResponse {
}

/**
 * Empty on success.
 */
export interface SetTrafficSplitResponse__Output {
}
