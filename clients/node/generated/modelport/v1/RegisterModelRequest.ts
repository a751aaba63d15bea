// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from '../../modelport/v1/ModelRef.js';
import type { Task as _modelport_v1_Task, Task__Output as _modelport_v1_Task__Output } from '../../modelport/v1/Task.js';
import type { ModelState as _modelport_v1_ModelState, ModelState__Output as _modelport_v1_ModelState__Output } from '../../modelport/v1/ModelState.js';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One replica's registration of one model version.
 */
export interface RegisterModelRequest {
  /**
   * Model name and version served. Version required.
   */
  'model'?: (_modelport_v1_ModelRef | null);
  /**
   * What the model does.
   */
  'task'?: (_modelport_v1_Task);
  /**
   * gRPC address of the replica, "host:port".
   */
  'endpoint'?: (string);
  /**
   * Current state of the model on that replica.
   */
  'state'?: (_modelport_v1_ModelState);
  /**
   * Why the model is in its state (FAILED reasons, say).
   */
  'reason'?: (string);
  /**
   * Free-form metadata (dimensions, max sequence length, labels ...).
   */
  'metadata'?: ({[key: string]: string});
  /**
   * Lease length. Unset: the router's default. Ignored when `persistent`.
   */
  'leaseTtl'?: (_google_protobuf_Duration | null);
  /**
   * Admin registration without a lease, stored so it survives a router restart.
   */
  'persistent'?: (boolean);
  /**
   * Memory the model takes on that replica (measured once loaded, else estimated).
   */
  'sizeBytes'?: (number | string | Long);
  /**
   * The replica never evicts it to make room for another model.
   */
  'pinned'?: (boolean);
}

/**
 * One replica's registration of one model version.
 */
export interface RegisterModelRequest__Output {
  /**
   * Model name and version served. Version required.
   */
  'model': (_modelport_v1_ModelRef__Output | null);
  /**
   * What the model does.
   */
  'task': (_modelport_v1_Task__Output);
  /**
   * gRPC address of the replica, "host:port".
   */
  'endpoint': (string);
  /**
   * Current state of the model on that replica.
   */
  'state': (_modelport_v1_ModelState__Output);
  /**
   * Why the model is in its state (FAILED reasons, say).
   */
  'reason': (string);
  /**
   * Free-form metadata (dimensions, max sequence length, labels ...).
   */
  'metadata': ({[key: string]: string});
  /**
   * Lease length. Unset: the router's default. Ignored when `persistent`.
   */
  'leaseTtl': (_google_protobuf_Duration__Output | null);
  /**
   * Admin registration without a lease, stored so it survives a router restart.
   */
  'persistent': (boolean);
  /**
   * Memory the model takes on that replica (measured once loaded, else estimated).
   */
  'sizeBytes': (string);
  /**
   * The replica never evicts it to make room for another model.
   */
  'pinned': (boolean);
}
