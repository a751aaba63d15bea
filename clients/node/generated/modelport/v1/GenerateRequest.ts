// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { GenerationParameters as _modelport_v1_GenerationParameters, GenerationParameters__Output as _modelport_v1_GenerationParameters__Output } from '../../modelport/v1/GenerationParameters.js';

/**
 * Prompts to complete with one generation model.
 */
export interface GenerateRequest {
  /**
   * The generation model (causal or text-to-text). Required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * Prompts (UTF-8, non-empty). At least one.
   */
  'prompts'?: (string)[];
  /**
   * Decoding parameters shared by all prompts.
   */
  'parameters'?: (_modelport_v1_GenerationParameters | null);
}

/**
 * Prompts to complete with one generation model.
 */
export interface GenerateRequest__Output {
  /**
   * The generation model (causal or text-to-text). Required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * Prompts (UTF-8, non-empty). At least one.
   */
  'prompts': (string)[];
  /**
   * Decoding parameters shared by all prompts.
   */
  'parameters': (_modelport_v1_GenerationParameters__Output | null);
}
