// Original file: ../../protos/modelport/v1/nlp.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Decoding parameters. Unset fields take the model's defaults; greedy decoding unless
 * `do_sample` is set.
 */
export interface GenerationParameters {
  /**
   * Maximum tokens to generate per prompt. 0 means the server's default; above the
   * server's cap is INVALID_ARGUMENT.
   */
  'maxNewTokens'?: (number);
  /**
   * Sample instead of greedy decoding.
   */
  'doSample'?: (boolean);
  /**
   * Sampling temperature (> 0). Only with do_sample.
   */
  'temperature'?: (number | string);
  /**
   * Nucleus sampling probability mass, in (0, 1]. Only with do_sample.
   */
  'topP'?: (number | string);
  /**
   * Sample among the k most likely tokens. Only with do_sample.
   */
  'topK'?: (number);
  /**
   * Penalty (> 0, 1 = none) for tokens already present.
   */
  'repetitionPenalty'?: (number | string);
  /**
   * Seed for sampling, for reproducible output.
   */
  'seed'?: (number | string | Long);
  /**
   * Stop when any of these strings is produced; the stop string is not returned.
   */
  'stop'?: (string)[];
  '_temperature'?: "temperature";
  '_topP'?: "topP";
  '_topK'?: "topK";
  '_repetitionPenalty'?: "repetitionPenalty";
  '_seed'?: "seed";
}

/**
 * Decoding parameters. Unset fields take the model's defaults; greedy decoding unless
 * `do_sample` is set.
 */
export interface GenerationParameters__Output {
  /**
   * Maximum tokens to generate per prompt. 0 means the server's default; above the
   * server's cap is INVALID_ARGUMENT.
   */
  'maxNewTokens': (number);
  /**
   * Sample instead of greedy decoding.
   */
  'doSample': (boolean);
  /**
   * Sampling temperature (> 0). Only with do_sample.
   */
  'temperature'?: (number);
  /**
   * Nucleus sampling probability mass, in (0, 1]. Only with do_sample.
   */
  'topP'?: (number);
  /**
   * Sample among the k most likely tokens. Only with do_sample.
   */
  'topK'?: (number);
  /**
   * Penalty (> 0, 1 = none) for tokens already present.
   */
  'repetitionPenalty'?: (number);
  /**
   * Seed for sampling, for reproducible output.
   */
  'seed'?: (string);
  /**
   * Stop when any of these strings is produced; the stop string is not returned.
   */
  'stop': (string)[];
  '_temperature'?: "temperature";
  '_topP'?: "topP";
  '_topK'?: "topK";
  '_repetitionPenalty'?: "repetitionPenalty";
  '_seed'?: "seed";
}
