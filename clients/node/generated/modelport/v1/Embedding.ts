// Original file: ../../protos/modelport/v1/embedding.proto


/**
 * One vector.
 */
export interface Embedding {
  /**
   * The vector's components.
   */
  'values'?: (number | string)[];
}

/**
 * One vector.
 */
export interface Embedding__Output {
  /**
   * The vector's components.
   */
  'values': (number)[];
}
