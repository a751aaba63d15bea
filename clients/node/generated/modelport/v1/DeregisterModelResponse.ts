// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Empty on success.
 */
export interface DeregisterModelResponse {
}

/**
 * Empty on success.
 */
export interface DeregisterModelResponse__Output {
}
