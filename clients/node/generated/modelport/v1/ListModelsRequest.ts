// Original file: ../../protos/modelport/v1/registry.proto

import type { Task as _modelport_v1_Task, Task__Output as _modelport_v1_Task__Output } from '../../modelport/v1/Task.js';

/**
 * Lists models.
 */
export interface ListModelsRequest {
  /**
   * Only models with this task. Unset: all.
   */
  'task'?: (_modelport_v1_Task);
  /**
   * Only versions with at least one READY replica.
   */
  'readyOnly'?: (boolean);
}

/**
 * Lists models.
 */
export interface ListModelsRequest__Output {
  /**
   * Only models with this task. Unset: all.
   */
  'task': (_modelport_v1_Task__Output);
  /**
   * Only versions with at least one READY replica.
   */
  'readyOnly': (boolean);
}
