// Original file: ../../protos/modelport/v1/registry.proto

import type { Task as _modelport_v1_Task, Task__Output as _modelport_v1_Task__Output } from '../../modelport/v1/Task.js';
import type { ModelState as _modelport_v1_ModelState, ModelState__Output as _modelport_v1_ModelState__Output } from '../../modelport/v1/ModelState.js';
import type { Replica as _modelport_v1_Replica, Replica__Output as _modelport_v1_Replica__Output } from '../../modelport/v1/Replica.js';

/**
 * One version of a model.
 */
export interface ModelVersion {
  /**
   * Version string.
   */
  'version'?: (string);
  /**
   * What the model does.
   */
  'task'?: (_modelport_v1_Task);
  /**
   * READY if any replica is READY, else the most advanced replica state.
   */
  'state'?: (_modelport_v1_ModelState);
  /**
   * The replicas serving it.
   */
  'replicas'?: (_modelport_v1_Replica)[];
  /**
   * Free-form metadata from the registration.
   */
  'metadata'?: ({[key: string]: string});
  /**
   * Share of unpinned traffic (SetTrafficSplit); 0 when no split is set.
   */
  'trafficWeight'?: (number);
}

/**
 * One version of a model.
 */
export interface ModelVersion__Output {
  /**
   * Version string.
   */
  'version': (string);
  /**
   * What the model does.
   */
  'task': (_modelport_v1_Task__Output);
  /**
   * READY if any replica is READY, else the most advanced replica state.
   */
  'state': (_modelport_v1_ModelState__Output);
  /**
   * The replicas serving it.
   */
  'replicas': (_modelport_v1_Replica__Output)[];
  /**
   * Free-form metadata from the registration.
   */
  'metadata': ({[key: string]: string});
  /**
   * Share of unpinned traffic (SetTrafficSplit); 0 when no split is set.
   */
  'trafficWeight': (number);
}
