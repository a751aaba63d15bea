// Original file: ../../protos/modelport/v1/registry.proto


/**
 * Result of a renewal.
 */
export interface RenewLeaseResponse {
  /**
   * Leases the router does not know (expired, or the router restarted): register again.
   */
  'unknownLeaseIds'?: (string)[];
}

/**
 * Result of a renewal.
 */
export interface RenewLeaseResponse__Output {
  /**
   * Leases the router does not know (expired, or the router restarted): register again.
   */
  'unknownLeaseIds': (string)[];
}
