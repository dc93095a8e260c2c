/**
 * The shared limits, one suite run on the Redis on 127.0.0.1:6379 (two
 * clients playing two nodes, under a key prefix of their own that is deleted
 * afterwards; never flushed) and on the in-process twins (one node: both
 * "nodes" are the same counters).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createMemoryLimits, openSharedLimits, type BreakerOpened, type SharedLimits } from '../../src/store/limits/index.js';
import { openRedisLimits } from '../../src/store/limits/redis.js';
import { systemClock } from '../../src/clock.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Backend {
  name: string;
  /** two nodes' views of the same shared state */
  open(): Promise<{ a: SharedLimits; b: SharedLimits; c: SharedLimits }>;
  cleanup(): Promise<void>;
  shared: boolean;
}

async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url);
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

const redisPrefix = `imagegate:test-${process.pid}-${crypto.randomBytes(4).toString('hex')}:`;
const opened: SharedLimits[] = [];

const backends: Backend[] = [
  {
    name: 'in process',
    shared: false,
    async open() {
      const one = createMemoryLimits(systemClock);
      return { a: one, b: one, c: one };
    },
    async cleanup() {},
  },
  {
    name: 'redis',
    shared: true,
    async open() {
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => openRedisLimits({ url: TEST_REDIS_URL, keyPrefix: redisPrefix })));
      opened.push(a!, b!, c!);
      return { a: a!, b: b!, c: c! };
    },
    async cleanup() {
      for (const limits of opened.splice(0)) await limits.close();
      await deleteKeys(TEST_REDIS_URL, redisPrefix);
    },
  },
];

const unique = (label: string) => `${label}-${crypto.randomBytes(6).toString('hex')}`;

for (const backend of backends) {
  describe(`shared limits: ${backend.name}`, () => {
    let a: SharedLimits;
    let b: SharedLimits;
    let c: SharedLimits;
    before(async () => {
      ({ a, b, c } = await backend.open());
    });
    after(() => backend.cleanup());

    describe('RateLimiter', () => {
      test('50 concurrent hits from two nodes on a limit of 10: exactly 10 allowed', async () => {
        const key = unique('rpm');
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).rate.hit(key, 10, 60_000)));
        const allowed = results.filter((r) => r.allowed);
        assert.equal(allowed.length, 10);
        assert.deepEqual(allowed.map((r) => r.remaining).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        for (const r of results) {
          assert.equal(r.limit, 10);
          assert.ok(r.resetMs > 0 && r.resetMs <= 60_000, String(r.resetMs));
          if (!r.allowed) assert.equal(r.remaining, 0);
        }
      });

      test('a window ends after windowMs and the count starts again; keys are independent', async () => {
        const key = unique('window');
        const other = unique('other');
        for (let i = 0; i < 3; i++) assert.equal((await a.rate.hit(key, 3, 500)).allowed, true);
        const refused = await b.rate.hit(key, 3, 500);
        assert.equal(refused.allowed, false);
        assert.ok(refused.resetMs <= 500);
        assert.equal((await b.rate.hit(other, 3, 500)).remaining, 2);
        await sleep(refused.resetMs + 50);
        const fresh = await b.rate.hit(key, 3, 500);
        assert.deepEqual({ allowed: fresh.allowed, remaining: fresh.remaining }, { allowed: true, remaining: 2 });
      });

      test('a limit of 0 lets nothing through; bad arguments are refused', async () => {
        assert.equal((await a.rate.hit(unique('zero'), 0, 1000)).allowed, false);
        await assert.rejects(a.rate.hit('k', -1, 1000), RangeError);
        await assert.rejects(a.rate.hit('k', 1, 0), RangeError);
        await assert.rejects(a.rate.hit('', 1, 1000), RangeError);
        await assert.rejects(a.rate.hit('k', 1.5, 1000), RangeError);
      });
    });

    describe('ConcurrencyLimiter', () => {
      test('50 concurrent acquires from two nodes on 5 slots: exactly 5; a release frees one; release is idempotent', async () => {
        const key = unique('slots');
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).concurrency.acquire(key, 5, 10_000)));
        const held = results.filter((r) => r.ok);
        assert.equal(held.length, 5);
        assert.equal((await a.concurrency.acquire(key, 5, 10_000)).ok, false);
        const first = held[0]!;
        await first.release();
        await first.release();
        const again = await b.concurrency.acquire(key, 5, 10_000);
        assert.equal(again.ok, true, 'the released slot');
        assert.equal((await b.concurrency.acquire(key, 5, 10_000)).ok, false, 'a second release freed nothing more');
        for (const lease of [...held.slice(1), again]) if (lease.ok) await lease.release();
        assert.equal((await a.concurrency.acquire(key, 5, 10_000)).ok, true);
      });

      test('a slot never released (its node killed) comes back when its lease runs out', async () => {
        const key = unique('dead');
        const lost = await a.concurrency.acquire(key, 1, 200);
        assert.equal(lost.ok, true);
        assert.equal((await b.concurrency.acquire(key, 1, 200)).ok, false);
        await sleep(260);
        const taken = await b.concurrency.acquire(key, 1, 5_000);
        assert.equal(taken.ok, true);
        // the late holder cannot revive its lease into a slot that is now someone else's
        assert.ok(lost.ok);
        assert.equal(await lost.extend(), false);
        assert.equal((await c.concurrency.acquire(key, 1, 5_000)).ok, false);
      });

      test('extend keeps a slot past its first lease', async () => {
        const key = unique('extend');
        const lease = await a.concurrency.acquire(key, 1, 400);
        assert.ok(lease.ok);
        await sleep(100);
        assert.equal(await lease.extend(800), true);
        await sleep(400);
        assert.equal((await b.concurrency.acquire(key, 1, 200)).ok, false, 'still held at 500 ms');
        await lease.release();
        assert.equal(await lease.extend(), false, 'released');
        assert.equal((await b.concurrency.acquire(key, 1, 200)).ok, true);
      });

      test('a limit of 0 has no slot', async () => {
        assert.equal((await a.concurrency.acquire(unique('none'), 0, 1000)).ok, false);
        await assert.rejects(a.concurrency.acquire('k', 1, 0), RangeError);
      });
    });

    describe('Locks', () => {
      test('one owner at a time; only the owner releases', async () => {
        const name = unique('idem');
        const token = await a.locks.acquire(name, 10_000);
        assert.ok(token);
        assert.equal(await b.locks.acquire(name, 10_000), null);
        assert.equal(await b.locks.release(name, 'not-the-token'), false);
        assert.equal(await b.locks.extend(name, 'not-the-token', 10_000), false);
        assert.equal(await c.locks.acquire(name, 10_000), null, 'still held after a stranger tried');
        assert.equal(await a.locks.release(name, token), true);
        assert.equal(await a.locks.release(name, token), false);
        const next = await b.locks.acquire(name, 10_000);
        assert.ok(next && next !== token);
        assert.equal(await a.locks.release(name, token), false, "an old token cannot free the new owner's lock");
        assert.equal(await b.locks.release(name, next), true);
      });

      test('a lock expires after its TTL unless extended', async () => {
        const name = unique('ttl');
        const token = await a.locks.acquire(name, 400);
        assert.ok(token);
        await sleep(100);
        assert.equal(await a.locks.extend(name, token, 700), true);
        await sleep(400);
        assert.equal(await b.locks.acquire(name, 200), null, 'extended past its first TTL');
        await sleep(400);
        const other = await b.locks.acquire(name, 200);
        assert.ok(other, 'expired');
        assert.equal(await a.locks.extend(name, token, 300), false);
        assert.equal(await a.locks.release(name, token), false);
      });

      test('the same idempotency key on two nodes at once: one runs, the other waits for it', async () => {
        const name = unique('idem-race');
        const order: string[] = [];
        const node = async (limits: SharedLimits, label: string) => {
          const token = await limits.locks.acquire(name, 5_000);
          if (token) {
            order.push(`${label} runs`);
            await sleep(150);
            order.push(`${label} done`);
            await limits.locks.release(name, token);
            return 'ran';
          }
          const freed = await limits.locks.waitUntilFree(name, 5_000);
          order.push(`${label} sees it free`);
          return freed ? 'waited' : 'timed out';
        };
        const outcomes = await Promise.all([node(a, 'A'), node(b, 'B')]);
        assert.deepEqual([...outcomes].sort(), ['ran', 'waited']);
        const runner = outcomes[0] === 'ran' ? 'A' : 'B';
        const waiter = runner === 'A' ? 'B' : 'A';
        assert.deepEqual(order, [`${runner} runs`, `${runner} done`, `${waiter} sees it free`]);
      });

      test('waitUntilFree: at once when free, soon after a release, false on timeout, rejects on abort', async () => {
        const name = unique('wait');
        assert.equal(await b.locks.waitUntilFree(name, 1_000), true);
        const token = (await a.locks.acquire(name, 10_000))!;
        let started = Date.now();
        assert.equal(await b.locks.waitUntilFree(name, 300), false);
        assert.ok(Date.now() - started >= 290 && Date.now() - started < 1_500);

        const waiting = b.locks.waitUntilFree(name, 5_000);
        await sleep(200);
        const releasedAt = Date.now();
        await a.locks.release(name, token);
        assert.equal(await waiting, true);
        // polls at most 200 ms apart
        assert.ok(Date.now() - releasedAt < 1_000, `noticed after ${Date.now() - releasedAt} ms`);

        const again = (await a.locks.acquire(name, 10_000))!;
        const controller = new AbortController();
        started = Date.now();
        const aborted = b.locks.waitUntilFree(name, 5_000, controller.signal);
        setTimeout(() => controller.abort(new Error('client went away')), 100);
        await assert.rejects(aborted, /client went away/);
        assert.ok(Date.now() - started < 1_000);
        await a.locks.release(name, again);
      });

      test('a lock whose holder died frees itself, and a waiter sees it', async () => {
        const name = unique('dead-holder');
        assert.ok(await a.locks.acquire(name, 250));
        const started = Date.now();
        assert.equal(await b.locks.waitUntilFree(name, 3_000), true);
        assert.ok(Date.now() - started < 1_000);
      });
    });

    describe('BreakerSync', () => {
      if (backend.shared) {
        test("an announcement reaches every other node's subscribers, not the announcer's", async () => {
          const provider = unique('openai-main');
          const seen: Record<string, BreakerOpened[]> = { a: [], b: [], c: [] };
          const offs = [a, b, c].map((node, i) => node.breakers.subscribe((e) => {
            if (e.provider === provider) seen['abc'[i]!]!.push(e);
          }));
          await Promise.all([a, b, c].map((node) => node.breakers.ready()));
          const until = Date.now() + 30_000;
          await a.breakers.announceOpen(provider, until);
          const deadline = Date.now() + 2_000;
          while ((seen.b!.length === 0 || seen.c!.length === 0) && Date.now() < deadline) await sleep(10);
          assert.equal(seen.b!.length, 1);
          assert.equal(seen.c!.length, 1);
          for (const e of [...seen.b!, ...seen.c!]) assert.ok(Math.abs(e.until - until) < 1_000, `until off by ${e.until - until} ms`);
          assert.equal(seen.a!.length, 0);

          offs[1]!();
          await a.breakers.announceOpen(provider, until);
          await sleep(200);
          assert.equal(seen.b!.length, 1, 'unsubscribed');
          assert.equal(seen.c!.length, 2);
          for (const off of offs) off();
        });
      } else {
        test('in process it is a no-op bus', async () => {
          const seen: BreakerOpened[] = [];
          const off = b.breakers.subscribe((e) => seen.push(e));
          await b.breakers.ready();
          await a.breakers.announceOpen('p', Date.now() + 1000);
          await sleep(20);
          assert.deepEqual(seen, []);
          off();
        });
      }
    });

    test('ping answers', async () => {
      await a.ping();
    });
  });
}

test('the Redis suite left no key behind', async () => {
  assert.equal(await deleteKeys(TEST_REDIS_URL, redisPrefix), 0);
});

test('openSharedLimits: in process without REDIS_URL, Redis with it', async () => {
  const memory = await openSharedLimits({ redisUrl: null });
  assert.equal(memory.backend, 'memory');
  await memory.close();
  const redis = await openSharedLimits({ redisUrl: TEST_REDIS_URL, keyPrefix: redisPrefix });
  try {
    assert.equal(redis.backend, 'redis');
    assert.equal((await redis.rate.hit(unique('factory'), 1, 1_000)).allowed, true);
  } finally {
    await redis.close();
    await deleteKeys(TEST_REDIS_URL, redisPrefix);
  }
});
