/**
 * The provider specification: what every adapter declares and implements.
 * Adapters are small: capabilities, translation to and from their wire
 * format, and the little I/O they need. They never import http/ or contract/.
 */
import type { CallOptions, EditRequest, EditResult } from '../types.js';

export interface ProviderCapabilities {
  /** input images per request */
  maxImages: number;
  mask: boolean;
  /** real partial images while working */
  partialImages: boolean;
  /** n > 1 in one call ('native') or by repeated calls ('repeat') */
  n: 'native' | 'repeat';
}

export interface Preflight {
  /** things the client should know before the work starts (x-imagegate-warning) */
  warnings: string[];
}

export interface Provider {
  /** the adapter's kind, e.g. 'local', 'openai' */
  readonly kind: string;
  readonly capabilities: ProviderCapabilities;
  /** cheap, synchronous look at a request before it runs (no I/O) */
  preflight?(req: EditRequest): Preflight;
  edit(req: EditRequest, options: CallOptions): Promise<EditResult>;
  close?(): Promise<void>;
}

/** A named, configured use of a provider that a model routes to. */
export interface Deployment {
  name: string;
  provider: Provider;
}
