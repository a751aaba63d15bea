// Original file: ../../protos/modelport/v1/registry.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A shadow's settings and what it compared since it was set. Calls answered by the
 * shadow version itself (a traffic split sends some there) are not copied.
 */
export interface ShadowStatus {
  /**
   * Model name.
   */
  'name'?: (string);
  /**
   * The version the copies go to; empty when the shadow is stopped.
   */
  'version'?: (string);
  /**
   * Share of unpinned calls copied.
   */
  'fraction'?: (number | string);
  /**
   * Copies sent.
   */
  'mirrored'?: (number | string | Long);
  /**
   * Copies not sent because `shadow_max_inflight` copies were in flight.
   */
  'dropped'?: (number | string | Long);
  /**
   * Copies that failed (their status is counted in the router's metrics).
   */
  'errors'?: (number | string | Long);
  /**
   * Inputs whose labels were compared (classifiers: the top label; token classifiers:
   * the whole set of entities).
   */
  'compared'?: (number | string | Long);
  /**
   * Of those, inputs whose shadow answer agreed with the caller's.
   */
  'agreed'?: (number | string | Long);
  /**
   * Vectors compared (embedding models).
   */
  'vectors'?: (number | string | Long);
  /**
   * Mean cosine similarity of the shadow's vectors to the caller's.
   */
  'meanCosine'?: (number | string);
}

/**
 * A shadow's settings and what it compared since it was set. Calls answered by the
 * shadow version itself (a traffic split sends some there) are not copied.
 */
export interface ShadowStatus__Output {
  /**
   * Model name.
   */
  'name': (string);
  /**
   * The version the copies go to; empty when the shadow is stopped.
   */
  'version': (string);
  /**
   * Share of unpinned calls copied.
   */
  'fraction': (number);
  /**
   * Copies sent.
   */
  'mirrored': (string);
  /**
   * Copies not sent because `shadow_max_inflight` copies were in flight.
   */
  'dropped': (string);
  /**
   * Copies that failed (their status is counted in the router's metrics).
   */
  'errors': (string);
  /**
   * Inputs whose labels were compared (classifiers: the top label; token classifiers:
   * the whole set of entities).
   */
  'compared': (string);
  /**
   * Of those, inputs whose shadow answer agreed with the caller's.
   */
  'agreed': (string);
  /**
   * Vectors compared (embedding models).
   */
  'vectors': (string);
  /**
   * Mean cosine similarity of the shadow's vectors to the caller's.
   */
  'meanCosine': (number);
}
