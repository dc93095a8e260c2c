/**
 * The in-process twins: one node's own counters, with the same behaviour as
 * the Redis ones for everything that happens on this node. Used without
 * REDIS_URL, and by callers as the fallback while Redis is away.
 */
import crypto from 'node:crypto';
import type { Clock } from '../../clock.js';
import { checkDuration, checkLimitCall, checkName, pollUntilFree } from './common.js';
import type { AcquireResult, BreakerSync, ConcurrencyLimiter, Locks, RateLimiter, SharedLimits } from './types.js';

// expired entries are dropped every this many writes, so idle keys do not pile up
const PRUNE_EVERY = 512;

/** Prunes a map of things that expire, now and then. */
class Expiring<V> {
  readonly map = new Map<string, V>();
  private writes = 0;

  constructor(private readonly expired: (value: V, now: number) => boolean) {}

  live(key: string, now: number): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    if (!this.expired(value, now)) return value;
    this.map.delete(key);
    return undefined;
  }

  set(key: string, value: V, now: number): void {
    this.map.set(key, value);
    if (++this.writes % PRUNE_EVERY === 0) {
      for (const [k, v] of this.map) if (this.expired(v, now)) this.map.delete(k);
    }
  }
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Expiring<{ count: number; resetAt: number }>((w, now) => w.resetAt <= now);

  constructor(private readonly clock: Clock) {}

  async hit(key: string, limit: number, windowMs: number) {
    checkLimitCall(key, limit, 'windowMs', windowMs);
    const now = this.clock.now();
    let window = this.windows.live(key, now);
    if (window === undefined) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window, now);
    }
    window.count++;
    return {
      allowed: window.count <= limit,
      limit,
      remaining: Math.max(0, limit - window.count),
      resetMs: window.resetAt - now,
    };
  }
}

export class MemoryConcurrencyLimiter implements ConcurrencyLimiter {
  /** key → lease id → expiry (ms epoch) */
  private readonly slots = new Expiring<Map<string, number>>((leases, now) => {
    for (const [id, expiresAt] of leases) if (expiresAt <= now) leases.delete(id);
    return leases.size === 0;
  });

  constructor(private readonly clock: Clock) {}

  async acquire(key: string, limit: number, leaseMs: number): Promise<AcquireResult> {
    checkLimitCall(key, limit, 'leaseMs', leaseMs);
    const now = this.clock.now();
    const leases = this.slots.live(key, now) ?? new Map<string, number>();
    if (leases.size >= limit) return { ok: false };
    const id = crypto.randomUUID();
    leases.set(id, now + leaseMs);
    this.slots.set(key, leases, now);
    return {
      ok: true,
      release: async () => {
        leases.delete(id);
      },
      extend: async (ms = leaseMs) => {
        checkDuration('leaseMs', ms);
        const at = this.clock.now();
        const expiresAt = leases.get(id);
        // a lease that ran out may already be someone else's slot
        if (expiresAt === undefined || expiresAt <= at || this.slots.map.get(key) !== leases) return false;
        leases.set(id, at + ms);
        return true;
      },
    };
  }
}

export class MemoryLocks implements Locks {
  private readonly held = new Expiring<{ token: string; expiresAt: number }>((l, now) => l.expiresAt <= now);

  constructor(private readonly clock: Clock) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    checkName('name', name);
    checkDuration('ttlMs', ttlMs);
    const now = this.clock.now();
    if (this.held.live(name, now) !== undefined) return null;
    const token = crypto.randomUUID();
    this.held.set(name, { token, expiresAt: now + ttlMs }, now);
    return token;
  }

  async release(name: string, token: string): Promise<boolean> {
    const lock = this.held.live(name, this.clock.now());
    if (lock?.token !== token) return false;
    this.held.map.delete(name);
    return true;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    checkDuration('ttlMs', ttlMs);
    const now = this.clock.now();
    const lock = this.held.live(name, now);
    if (lock?.token !== token) return false;
    lock.expiresAt = now + ttlMs;
    return true;
  }

  async waitUntilFree(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    checkName('name', name);
    return pollUntilFree(async () => this.held.live(name, this.clock.now()) === undefined, timeoutMs, signal);
  }
}

/** One node has no one to tell: its own breaker already knows. */
export const noBreakerSync = (): BreakerSync => ({
  announceOpen: async () => {},
  subscribe: () => () => {},
  ready: async () => {},
});

export function createMemoryLimits(clock: Clock): SharedLimits {
  return {
    backend: 'memory',
    rate: new MemoryRateLimiter(clock),
    concurrency: new MemoryConcurrencyLimiter(clock),
    locks: new MemoryLocks(clock),
    breakers: noBreakerSync(),
    ping: async () => {},
    close: async () => {},
  };
}
