// Original file: ../../protos/modelport/v1/registry.proto

import type { ModelState as _modelport_v1_ModelState, ModelState__Output as _modelport_v1_ModelState__Output } from '../../modelport/v1/ModelState.js';

/**
 * Renews leases; one call can carry every lease of a process.
 */
export interface RenewLeaseRequest {
  /**
   * Leases to renew.
   */
  'leaseIds'?: (string)[];
  /**
   * New state of each lease's model, same order as lease_ids; empty keeps the states.
   */
  'states'?: (_modelport_v1_ModelState)[];
}

/**
 * Renews leases; one call can carry every lease of a process.
 */
export interface RenewLeaseRequest__Output {
  /**
   * Leases to renew.
   */
  'leaseIds': (string)[];
  /**
   * New state of each lease's model, same order as lease_ids; empty keeps the states.
   */
  'states': (_modelport_v1_ModelState__Output)[];
}
