/**
 * Rate limits, concurrency slots, locks and breaker announcements: on Redis
 * when REDIS_URL is set (shared by every node), else in this process.
 */
import { systemClock, type Clock } from '../../clock.js';
import { createMemoryLimits } from './memory.js';
import type { SharedLimits } from './types.js';

export interface OpenSharedLimitsOptions {
  /** null: in process */
  redisUrl: string | null;
  clock?: Clock;
  /** Redis keys and channels start with this; default "imagegate:" */
  keyPrefix?: string;
  /** Redis connection trouble, for the log (never holds the URL) */
  onError?: (reason: string) => void;
}

export async function openSharedLimits(options: OpenSharedLimitsOptions): Promise<SharedLimits> {
  const clock = options.clock ?? systemClock;
  if (options.redisUrl === null) return createMemoryLimits(clock);
  // ioredis is loaded only when there is a Redis to talk to
  const { openRedisLimits } = await import('./redis.js');
  return openRedisLimits({ url: options.redisUrl, keyPrefix: options.keyPrefix, onError: options.onError, now: () => clock.now() });
}

export { createMemoryLimits, MemoryConcurrencyLimiter, MemoryLocks, MemoryRateLimiter, noBreakerSync } from './memory.js';
export type { RedisLimitsOptions } from './redis.js';
export type * from './types.js';
