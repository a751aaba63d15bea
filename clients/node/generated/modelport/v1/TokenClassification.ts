// Original file: ../../protos/modelport/v1/nlp.proto

import type { Entity as _modelport_v1_Entity, Entity__Output as _modelport_v1_Entity__Output } from '../../modelport/v1/Entity.js';

/**
 * The entities of one input.
 */
export interface TokenClassification {
  /**
   * Entities in order of appearance.
   */
  'entities'?: (_modelport_v1_Entity)[];
}

/**
 * The entities of one input.
 */
export interface TokenClassification__Output {
  /**
   * Entities in order of appearance.
   */
  'entities': (_modelport_v1_Entity__Output)[];
}
