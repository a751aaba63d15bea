// Original file: ../../protos/modelport/v1/nlp.proto


/**
 * One labelled span of an input.
 */
export interface Entity {
  /**
   * Entity type, e.g. "PER", "LOC".
   */
  'label'?: (string);
  /**
   * Model confidence.
   */
  'score'?: (number | string);
  /**
   * The span's text, exactly `input[start:end]`.
   */
  'text'?: (string);
  /**
   * Start offset in Unicode code points into the input.
   */
  'start'?: (number);
  /**
   * End offset (exclusive) in Unicode code points into the input.
   */
  'end'?: (number);
}

/**
 * One labelled span of an input.
 */
export interface Entity__Output {
  /**
   * Entity type, e.g. "PER", "LOC".
   */
  'label': (string);
  /**
   * Model confidence.
   */
  'score': (number);
  /**
   * The span's text, exactly `input[start:end]`.
   */
  'text': (string);
  /**
   * Start offset in Unicode code points into the input.
   */
  'start': (number);
  /**
   * End offset (exclusive) in Unicode code points into the input.
   */
  'end': (number);
}
