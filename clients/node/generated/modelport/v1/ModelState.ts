// Original file: ../../protos/modelport/v1/common.proto

/**
 * Lifecycle state of a model (on a backend) or of a replica (in the router's registry).
 */
export const ModelState = {
  /**
   * Not set.
   */
  MODEL_STATE_UNSPECIFIED: 'MODEL_STATE_UNSPECIFIED',
  /**
   * Weights are being loaded or warmed up; not serving yet.
   */
  MODEL_STATE_LOADING: 'MODEL_STATE_LOADING',
  /**
   * Serving requests.
   */
  MODEL_STATE_READY: 'MODEL_STATE_READY',
  /**
   * Loading failed; `reason` says why.
   */
  MODEL_STATE_FAILED: 'MODEL_STATE_FAILED',
  /**
   * Being unloaded; finishes in-flight work, takes no new requests.
   */
  MODEL_STATE_UNLOADING: 'MODEL_STATE_UNLOADING',
  /**
   * The replica is shutting down; finishes in-flight work, takes no new requests.
   */
  MODEL_STATE_DRAINING: 'MODEL_STATE_DRAINING',
  /**
   * In the backend's catalogue (`load: on_demand`) but not loaded: a call loads it.
   */
  MODEL_STATE_NOT_LOADED: 'MODEL_STATE_NOT_LOADED',
  /**
   * Was loaded, then evicted to make room for another model; a call loads it again.
   */
  MODEL_STATE_EVICTED: 'MODEL_STATE_EVICTED',
} as const;

/**
 * Lifecycle state of a model (on a backend) or of a replica (in the router's registry).
 */
export type ModelState =
  /**
   * Not set.
   */
  | 'MODEL_STATE_UNSPECIFIED'
  | 0
  /**
   * Weights are being loaded or warmed up; not serving yet.
   */
  | 'MODEL_STATE_LOADING'
  | 1
  /**
   * Serving requests.
   */
  | 'MODEL_STATE_READY'
  | 2
  /**
   * Loading failed; `reason` says why.
   */
  | 'MODEL_STATE_FAILED'
  | 3
  /**
   * Being unloaded; finishes in-flight work, takes no new requests.
   */
  | 'MODEL_STATE_UNLOADING'
  | 4
  /**
   * The replica is shutting down; finishes in-flight work, takes no new requests.
   */
  | 'MODEL_STATE_DRAINING'
  | 5
  /**
   * In the backend's catalogue (`load: on_demand`) but not loaded: a call loads it.
   */
  | 'MODEL_STATE_NOT_LOADED'
  | 6
  /**
   * Was loaded, then evicted to make room for another model; a call loads it again.
   */
  | 'MODEL_STATE_EVICTED'
  | 7

/**
 * Lifecycle state of a model (on a backend) or of a replica (in the router's registry).
 */
export type ModelState__Output = typeof ModelState[keyof typeof ModelState]
