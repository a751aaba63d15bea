// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelState as _modelport_v1_ModelState, ModelState__Output as _modelport_v1_ModelState__Output } from '../../modelport/v1/ModelState.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One replica of a model version.
 */
export interface Replica {
  /**
   * gRPC address, "host:port".
   */
  'endpoint'?: (string);
  /**
   * State on that replica.
   */
  'state'?: (_modelport_v1_ModelState);
  /**
   * Why it is in that state.
   */
  'reason'?: (string);
  /**
   * Calls in flight from the router to this replica.
   */
  'outstanding'?: (number);
  /**
   * Where the registration came from: "lease", "persistent", "static", "kubernetes", "local".
   */
  'source'?: (string);
  /**
   * When the lease ends (leased registrations only).
   */
  'leaseExpiresAt'?: (_google_protobuf_Timestamp | null);
  /**
   * The router stopped sending to it after consecutive failures.
   */
  'ejected'?: (boolean);
  /**
   * Memory the model takes on that replica: measured once loaded, else the estimate.
   */
  'sizeBytes'?: (number | string | Long);
  /**
   * When a call last used the model there (unset: never).
   */
  'lastUsed'?: (_google_protobuf_Timestamp | null);
  /**
   * Never evicted to make room for another model.
   */
  'pinned'?: (boolean);
  /**
   * The replica's memory budget on the model's device (0: no budget).
   */
  'capacityBytes'?: (number | string | Long);
  /**
   * Memory its loaded models take on that device.
   */
  'usedBytes'?: (number | string | Long);
}

/**
 * One replica of a model version.
 */
export interface Replica__Output {
  /**
   * gRPC address, "host:port".
   */
  'endpoint': (string);
  /**
   * State on that replica.
   */
  'state': (_modelport_v1_ModelState__Output);
  /**
   * Why it is in that state.
   */
  'reason': (string);
  /**
   * Calls in flight from the router to this replica.
   */
  'outstanding': (number);
  /**
   * Where the registration came from: "lease", "persistent", "static", "kubernetes", "local".
   */
  'source': (string);
  /**
   * When the lease ends (leased registrations only).
   */
  'leaseExpiresAt': (_google_protobuf_Timestamp__Output | null);
  /**
   * The router stopped sending to it after consecutive failures.
   */
  'ejected': (boolean);
  /**
   * Memory the model takes on that replica: measured once loaded, else the estimate.
   */
  'sizeBytes': (string);
  /**
   * When a call last used the model there (unset: never).
   */
  'lastUsed': (_google_protobuf_Timestamp__Output | null);
  /**
   * Never evicted to make room for another model.
   */
  'pinned': (boolean);
  /**
   * The replica's memory budget on the model's device (0: no budget).
   */
  'capacityBytes': (string);
  /**
   * Memory its loaded models take on that device.
   */
  'usedBytes': (string);
}
