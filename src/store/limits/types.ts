/**
 * State that every node of a scale-out must agree on: request rates,
 * concurrent requests, idempotency locks and circuit-breaker announcements.
 * Two implementations with the same behaviour: Redis (REDIS_URL, shared by
 * all nodes) and in process (one node's own view, the embedded default and the
 * fallback while Redis is away).
 *
 * Redis-backed operations reject with StoreUnavailableError('redis') when
 * Redis does not answer within about a second; they never hang.
 */

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  /** hits left in this window after this one (0 when refused) */
  remaining: number;
  /** ms until this window ends and counting starts again (a duration: node clocks may disagree) */
  resetMs: number;
}

export interface RateLimiter {
  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts with
   * the window's first hit; the first `limit` hits of a window are allowed,
   * exactly, however many nodes count at once.
   */
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

export interface Lease {
  ok: true;
  /** gives the slot back; a second call does nothing */
  release(): Promise<void>;
  /** keeps the slot for `leaseMs` more (default: the lease's own length); false when it had already expired */
  extend(leaseMs?: number): Promise<boolean>;
}

export type AcquireResult = Lease | { ok: false };

export interface ConcurrencyLimiter {
  /**
   * Takes one of `limit` slots of `key` for at most `leaseMs`. A slot whose
   * holder never releases it (a node killed mid-request) is free again once
   * its lease runs out: long work must `extend` its lease.
   */
  acquire(key: string, limit: number, leaseMs: number): Promise<AcquireResult>;
}

export interface Locks {
  /** a token when `name` was free (held for `ttlMs` at most), null when someone holds it */
  acquire(name: string, ttlMs: number): Promise<string | null>;
  /** frees `name` if `token` still holds it; true when it did */
  release(name: string, token: string): Promise<boolean>;
  /** holds `name` for `ttlMs` more if `token` still holds it; true when it did */
  extend(name: string, token: string, ttlMs: number): Promise<boolean>;
  /**
   * Resolves true once `name` is free (released or expired), false when
   * `timeoutMs` passes first; rejects with the signal's reason when aborted.
   */
  waitUntilFree(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
}

export interface BreakerOpened {
  provider: string;
  /** when the announcing node's cooldown ends, in this node's clock (ms epoch) */
  until: number;
}

export interface BreakerSync {
  /** tells the other nodes that `provider`'s circuit opened here until `until` (ms epoch, this node's clock) */
  announceOpen(provider: string, until: number): Promise<void>;
  /** calls `listener` for every other node's announcement; returns the unsubscribe */
  subscribe(listener: (event: BreakerOpened) => void): () => void;
  /** resolves once other nodes' announcements are being received */
  ready(): Promise<void>;
}

export interface SharedLimits {
  backend: 'redis' | 'memory';
  rate: RateLimiter;
  concurrency: ConcurrencyLimiter;
  locks: Locks;
  breakers: BreakerSync;
  /** resolves when the store answers within `timeoutMs` (readiness); StoreUnavailableError otherwise */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}
