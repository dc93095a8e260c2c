/**
 * The shared implementations on Redis. Each decision is one Lua script, so it
 * is atomic across every node; expiries are computed from Redis's own clock
 * (TIME), so node clocks that disagree change nothing.
 *
 * The client fails fast instead of queueing: no offline queue, no resending
 * of commands caught by a dropped connection (a lock taken late, after its
 * caller gave up, would block everyone until its TTL), a connect timeout and a
 * command timeout of about a second. It reconnects by itself, at most a
 * second apart, for as long as it lives.
 */
import crypto from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError, safeReason } from '../errors.js';
import { checkDuration, checkLimitCall, checkName, pollUntilFree } from './common.js';
import type {
  AcquireResult,
  BreakerOpened,
  BreakerSync,
  ConcurrencyLimiter,
  Locks,
  RateLimiter,
  RateLimitResult,
  SharedLimits,
} from './types.js';

export const DEFAULT_KEY_PREFIX = 'imagegate:';

export interface RedisLimitsOptions {
  url: string;
  /** every key and channel starts with this; default "imagegate:" */
  keyPrefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** how long `openRedisLimits` waits for a first connection before it returns anyway */
  startupWaitMs?: number;
  /** connection trouble, for the log (messages hold no URL); the client keeps reconnecting */
  onError?: (reason: string) => void;
  /** now, for breaker announcements (ms epoch) */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 1_000;
// a cooldown longer than this in an announcement is not believed
const MAX_ANNOUNCED_COOLDOWN_MS = 24 * 3_600_000;

/** Redis's error codes (the first word of a reply error) and ioredis's own failures, as a reason safe to show. */
function redisReason(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/timed out/i.test(message)) return 'timeout';
  if (/writeable|connection is closed|not connected|MaxRetriesPerRequest/i.test(message) || (err as Error | null)?.name === 'MaxRetriesPerRequestError') {
    return 'not connected';
  }
  const code = /^([A-Z]{2,20})\b/.exec(message);
  if (code && (err as Error).name === 'ReplyError') return code[1]!;
  return safeReason(err, 'error');
}

const unavailable = (err: unknown): StoreUnavailableError =>
  err instanceof StoreUnavailableError ? err : new StoreUnavailableError('redis', redisReason(err));

async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw unavailable(err);
  }
}

/** A Lua script run by its digest, sent in full only when Redis does not know it (after a restart). */
class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = crypto.createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    return guarded(async () => {
      try {
        return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
    });
  }
}

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// Count, then set the window's expiry if it has none: PEXPIRE NX in effect,
// written so that it also runs on Redis 6, which has no NX for PEXPIRE.
const RATE_HIT = new Script(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`);

// KEYS[1]: sorted set of lease ids scored by expiry. ARGV: limit, lease ms, lease id.
const SLOT_ACQUIRE = new Script(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

// ARGV: lease id, lease ms. A lease already past its expiry is not revived: its slot may be someone else's.
const SLOT_EXTEND = new Script(`${NOW_MS}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not expires) or tonumber(expires) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

const LOCK_RELEASE = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

const LOCK_EXTEND = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

class RedisRateLimiter implements RateLimiter {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    checkLimitCall(key, limit, 'windowMs', windowMs);
    const [count, ttl] = (await RATE_HIT.run(this.redis, [`${this.prefix}rate:${key}`], [windowMs])) as [number, number];
    return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs: ttl };
  }
}

class RedisConcurrencyLimiter implements ConcurrencyLimiter {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async acquire(key: string, limit: number, leaseMs: number): Promise<AcquireResult> {
    checkLimitCall(key, limit, 'leaseMs', leaseMs);
    const slots = `${this.prefix}slots:${key}`;
    const id = crypto.randomUUID();
    const taken = await SLOT_ACQUIRE.run(this.redis, [slots], [limit, leaseMs, id]);
    if (taken !== 1) return { ok: false };
    let released = false;
    return {
      ok: true,
      release: async () => {
        if (released) return;
        await guarded(() => this.redis.zrem(slots, id));
        released = true;
      },
      extend: async (ms = leaseMs) => {
        checkDuration('leaseMs', ms);
        if (released) return false;
        return (await SLOT_EXTEND.run(this.redis, [slots], [id, ms])) === 1;
      },
    };
  }
}

class RedisLocks implements Locks {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async acquire(name: string, ttlMs: number): Promise<string | null> {
    checkName('name', name);
    checkDuration('ttlMs', ttlMs);
    const token = crypto.randomUUID();
    const answer = await guarded(() => this.redis.set(this.key(name), token, 'PX', ttlMs, 'NX'));
    return answer === 'OK' ? token : null;
  }

  async release(name: string, token: string): Promise<boolean> {
    checkName('name', name);
    return (await LOCK_RELEASE.run(this.redis, [this.key(name)], [token])) === 1;
  }

  async extend(name: string, token: string, ttlMs: number): Promise<boolean> {
    checkName('name', name);
    checkDuration('ttlMs', ttlMs);
    return (await LOCK_EXTEND.run(this.redis, [this.key(name)], [token, ttlMs])) === 1;
  }

  async waitUntilFree(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    checkName('name', name);
    const key = this.key(name);
    return pollUntilFree(async () => (await guarded(() => this.redis.exists(key))) === 0, timeoutMs, signal);
  }

  private key(name: string): string {
    return `${this.prefix}lock:${name}`;
  }
}

interface Announcement {
  v: 1;
  provider: string;
  /** how long the cooldown still ran when announced: a duration, so the receiver's clock places it */
  remainingMs: number;
  origin: string;
}

class RedisBreakerSync implements BreakerSync {
  private readonly origin = crypto.randomBytes(8).toString('hex');
  private readonly listeners = new Set<(event: BreakerOpened) => void>();
  private subscriber: Redis | null = null;
  private subscribed: Promise<unknown> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly now: () => number,
    private readonly timeoutMs: number,
  ) {}

  async announceOpen(provider: string, until: number): Promise<void> {
    checkName('provider', provider);
    const message: Announcement = { v: 1, provider, remainingMs: Math.max(0, Math.round(until - this.now())), origin: this.origin };
    await guarded(() => this.redis.publish(this.channel, JSON.stringify(message)));
  }

  subscribe(listener: (event: BreakerOpened) => void): () => void {
    this.listeners.add(listener);
    this.listen();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async ready(): Promise<void> {
    const subscribed = this.listen();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError('redis', 'timeout')), this.timeoutMs);
    });
    try {
      await Promise.race([subscribed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  /**
   * One subscriber connection per node, opened on first use. It keeps its
   * queue (a SUBSCRIBE sent while Redis is away goes out when it is back) and
   * subscribes again by itself after every reconnect.
   */
  private listen(): Promise<unknown> {
    if (this.subscribed) return this.subscribed;
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, autoResubscribe: true });
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) this.deliver(text);
    });
    this.subscriber = subscriber;
    this.subscribed = subscriber.subscribe(this.channel).catch((err: unknown) => {
      // the next listen() starts over with a fresh connection
      subscriber.disconnect();
      if (this.subscriber === subscriber) this.subscriber = null;
      this.subscribed = null;
      throw unavailable(err);
    });
    this.subscribed.catch(() => {});
    return this.subscribed;
  }

  private deliver(text: string): void {
    let message: Partial<Announcement>;
    try {
      message = JSON.parse(text) as Partial<Announcement>;
    } catch {
      return;
    }
    if (message.v !== 1 || message.origin === this.origin || typeof message.provider !== 'string') return;
    const remaining = message.remainingMs;
    if (typeof remaining !== 'number' || !Number.isFinite(remaining) || remaining < 0 || remaining > MAX_ANNOUNCED_COOLDOWN_MS) return;
    const event: BreakerOpened = { provider: message.provider, until: this.now() + remaining };
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // one listener's bug must not keep the announcement from the others
      }
    }
  }
}

/** An ioredis client that fails fast and reconnects by itself (see the top of this file). */
export function createRedisClient(url: string, options: Pick<RedisLimitsOptions, 'connectTimeoutMs' | 'commandTimeoutMs' | 'onError'> = {}): Redis {
  const settings: RedisOptions = {
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), MAX_RECONNECT_DELAY_MS),
    connectionName: 'imagegate',
  };
  const redis = new Redis(url, settings);
  // without a listener ioredis prints every failed reconnect; the reason is enough
  redis.on('error', (err: unknown) => options.onError?.(redisReason(err)));
  return redis;
}

/** The shared limits on Redis. Returns even when Redis is down (calls then fail fast until it is back). */
export async function openRedisLimits(options: RedisLimitsOptions): Promise<SharedLimits> {
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const timeoutMs = options.commandTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const redis = createRedisClient(options.url, options);
  await waitForReady(redis, options.startupWaitMs ?? (options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS) + 500);
  const breakers = new RedisBreakerSync(redis, `${prefix}breaker`, options.now ?? Date.now, timeoutMs);
  return {
    backend: 'redis',
    rate: new RedisRateLimiter(redis, prefix),
    concurrency: new RedisConcurrencyLimiter(redis, prefix),
    locks: new RedisLocks(redis, prefix),
    breakers,
    async ping(pingTimeoutMs = timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StoreUnavailableError('redis', 'timeout')), pingTimeoutMs);
      });
      try {
        await Promise.race([guarded(() => redis.ping()), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await breakers.close();
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

async function waitForReady(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.on('ready', done);
  });
}
