// Original file: ../../protos/modelport/v1/nlp.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Generation as _modelport_v1_Generation, Generation__Output as _modelport_v1_Generation__Output } from '../../modelport/v1/Generation.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from '../../modelport/v1/Usage.js';

/**
 * Completions of a GenerateRequest.
 */
export interface GenerateResponse {
  /**
   * The model (with its concrete version) that answered.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * One completion per prompt, in prompt order.
   */
  'generations'?: (_modelport_v1_Generation)[];
  /**
   * Token usage of the whole call.
   */
  'usage'?: (_modelport_v1_Usage | null);
}

/**
 * Completions of a GenerateRequest.
 */
export interface GenerateResponse__Output {
  /**
   * The model (with its concrete version) that answered.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * One completion per prompt, in prompt order.
   */
  'generations': (_modelport_v1_Generation__Output)[];
  /**
   * Token usage of the whole call.
   */
  'usage': (_modelport_v1_Usage__Output | null);
}
