// Original file: ../../protos/modelport/v1/common.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Token accounting for one call.
 */
export interface Usage {
  /**
   * Tokens read from the inputs (after truncation).
   */
  'inputTokens'?: (number | string | Long);
  /**
   * Tokens produced by the model (generation only).
   */
  'outputTokens'?: (number | string | Long);
  /**
   * input_tokens + output_tokens.
   */
  'totalTokens'?: (number | string | Long);
}

/**
 * Token accounting for one call.
 */
export interface Usage__Output {
  /**
   * Tokens read from the inputs (after truncation).
   */
  'inputTokens': (string);
  /**
   * Tokens produced by the model (generation only).
   */
  'outputTokens': (string);
  /**
   * input_tokens + output_tokens.
   */
  'totalTokens': (string);
}
