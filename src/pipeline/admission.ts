/**
 * Whether a key may start another request now: its requests per minute and
 * its requests at once (its own limits, else its group's), counted on Redis
 * when the nodes share one, else in this process. Decided before the upload
 * is stored; a refusal costs nothing. While Redis is away each node falls
 * back to its own counters (a key may then get up to nodes × its limits), as
 * OPERATOR.md says, rather than refusing everything.
 */
import { GatewayError } from '../errors.js';
import { isStoreUnavailable } from '../store/errors.js';
import type { Lease, SharedLimits } from '../store/limits/types.js';

export const RATE_WINDOW_MS = 60_000;
/** a slot's lease; renewed while the request runs, so a dead node's slots come back within this */
export const CONCURRENCY_LEASE_MS = 60_000;

export interface Admitted {
  /** gives the concurrency slot back (idempotent) */
  release(): Promise<void>;
}

export interface AdmissionDeps {
  /** a refusal when this node cannot take another request now (overload, shutdown), checked before anything else */
  nodeBusy(): GatewayError | null;
  shared: SharedLimits;
  /** this node's own counters, used while `shared` (Redis) does not answer */
  local: SharedLimits;
  onFallback(reason: string): void;
}

async function withFallback<T>(deps: AdmissionDeps, op: (l: SharedLimits) => Promise<T>): Promise<T> {
  try {
    return await op(deps.shared);
  } catch (e) {
    if (deps.shared === deps.local || !isStoreUnavailable(e)) throw e;
    deps.onFallback((e as Error).message);
    return op(deps.local);
  }
}

export function rateLimited(limit: number, resetMs: number): GatewayError {
  const seconds = Math.max(1, Math.ceil(resetMs / 1000));
  return new GatewayError({
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: `Rate limit reached: this key may make ${limit} requests per minute. Try again in ${seconds} s.`,
    headers: {
      'retry-after': String(seconds),
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': `${seconds}s`,
    },
  });
}

export function tooManyAtOnce(limit: number): GatewayError {
  return new GatewayError({
    status: 429,
    type: 'requests',
    code: 'concurrency_limit_exceeded',
    message: `Concurrency limit reached: this key may have ${limit} request${limit === 1 ? '' : 's'} in progress at once.`,
    headers: { 'retry-after': '1' },
  });
}

const NOTHING: Admitted = { release: async () => {} };

export async function admit(deps: AdmissionDeps, keyId: string, limits: { rpm: number | null; maxConcurrent: number | null }): Promise<Admitted> {
  const busy = deps.nodeBusy();
  if (busy) throw busy;
  if (limits.rpm !== null) {
    const r = await withFallback(deps, (l) => l.rate.hit(`rpm:${keyId}`, limits.rpm!, RATE_WINDOW_MS));
    if (!r.allowed) throw rateLimited(r.limit, r.resetMs);
  }
  if (limits.maxConcurrent === null) return NOTHING;
  const slot = await withFallback(deps, (l) => l.concurrency.acquire(`conc:${keyId}`, limits.maxConcurrent!, CONCURRENCY_LEASE_MS));
  if (!slot.ok) throw tooManyAtOnce(limits.maxConcurrent);
  const lease: Lease = slot;
  // long image calls outlive a lease: renew it while the request runs
  const renew = setInterval(() => void lease.extend().catch(() => {}), CONCURRENCY_LEASE_MS / 3);
  renew.unref();
  return {
    async release() {
      clearInterval(renew);
      await lease.release().catch(() => {});
    },
  };
}
