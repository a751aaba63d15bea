// Original file: ../../protos/modelport/v1/common.proto


/**
 * One label with its score.
 */
export interface LabelScore {
  /**
   * Label name, e.g. "positive" or an ImageNet class name.
   */
  'label'?: (string);
  /**
   * Probability or similarity score; higher is more likely.
   */
  'score'?: (number | string);
}

/**
 * One label with its score.
 */
export interface LabelScore__Output {
  /**
   * Label name, e.g. "positive" or an ImageNet class name.
   */
  'label': (string);
  /**
   * Probability or similarity score; higher is more likely.
   */
  'score': (number);
}
