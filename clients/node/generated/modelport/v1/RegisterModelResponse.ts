// Original file: ../../protos/modelport/v1/registry.proto

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration.js';

/**
 * The lease of a registration.
 */
export interface RegisterModelResponse {
  /**
   * Id to renew; empty for persistent registrations.
   */
  'leaseId'?: (string);
  /**
   * Lease length granted; renew well before it ends (a third of it is a good period).
   */
  'leaseTtl'?: (_google_protobuf_Duration | null);
}

/**
 * The lease of a registration.
 */
export interface RegisterModelResponse__Output {
  /**
   * Id to renew; empty for persistent registrations.
   */
  'leaseId': (string);
  /**
   * Lease length granted; renew well before it ends (a third of it is a good period).
   */
  'leaseTtl': (_google_protobuf_Duration__Output | null);
}
