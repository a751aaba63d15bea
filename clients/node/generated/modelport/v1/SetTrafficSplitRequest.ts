// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Canary weights between versions of one model.
 */
export interface SetTrafficSplitRequest {
  /**
   * Model name. Required.
   */
  'name'?: (string);
  /**
   * version → relative weight. Empty removes the split (newest READY takes all).
   */
  'weights'?: ({[key: string]: number});
  /**
   * Why (written to the audit log): `modelport rollout` names its step, or its rollback
   * and the gate that failed.
   */
  'reason'?: (string);
}

/**
 * Canary weights between versions of one model.
 */
export interface SetTrafficSplitRequest__Output {
  /**
   * Model name. Required.
   */
  'name': (string);
  /**
   * version → relative weight. Empty removes the split (newest READY takes all).
   */
  'weights': ({[key: string]: number});
  /**
   * Why (written to the audit log): `modelport rollout` names its step, or its rollback
   * and the gate that failed.
   */
  'reason': (string);
}
