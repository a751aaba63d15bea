// Original file: ../../protos/modelport/v1/nlp.proto


/**
 * How much one token of the input counts for the target label.
 */
export interface TokenAttribution {
  /**
   * The token as the model's tokenizer spells it (e.g. "##ing", "[CLS]").
   */
  'token'?: (string);
  /**
   * The characters of the input it covers, exactly `input[start:end]` (empty for
   * special tokens).
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
  /**
   * Index of the word the token belongs to (the tokenizer's pre-tokenisation); -1 for
   * special tokens.
   */
  'wordIndex'?: (number);
  /**
   * A special token of the model's template ([CLS], [SEP], <s> ...), not of the input.
   */
  'special'?: (boolean);
  /**
   * Positive: the token raises the target label's score; negative: it lowers it. In
   * units of the score (a probability).
   */
  'attribution'?: (number | string);
}

/**
 * How much one token of the input counts for the target label.
 */
export interface TokenAttribution__Output {
  /**
   * The token as the model's tokenizer spells it (e.g. "##ing", "[CLS]").
   */
  'token': (string);
  /**
   * The characters of the input it covers, exactly `input[start:end]` (empty for
   * special tokens).
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
  /**
   * Index of the word the token belongs to (the tokenizer's pre-tokenisation); -1 for
   * special tokens.
   */
  'wordIndex': (number);
  /**
   * A special token of the model's template ([CLS], [SEP], <s> ...), not of the input.
   */
  'special': (boolean);
  /**
   * Positive: the token raises the target label's score; negative: it lowers it. In
   * units of the score (a probability).
   */
  'attribution': (number);
}
