/**
 * Redis going away and coming back, on a redis-server of the test's own: every
 * operation fails fast with StoreUnavailableError (never a hang, a crash or an
 * unhandled rejection), and the same client works again by itself once Redis
 * is back, breaker announcements included.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { BreakerOpened, SharedLimits } from '../../src/store/limits/index.js';
import { openRedisLimits } from '../../src/store/limits/redis.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

/** runs `op`, which must fail with StoreUnavailableError('redis') within 2 s, quoting nothing of the URL */
async function failsFast(label: string, op: () => Promise<unknown>, url: string, port: number): Promise<StoreUnavailableError> {
  const started = Date.now();
  let caught: unknown = null;
  try {
    await op();
  } catch (err) {
    caught = err;
  }
  const ms = Date.now() - started;
  assert.ok(caught instanceof StoreUnavailableError, `${label}: ${String(caught)}`);
  assert.equal(caught.store, 'redis');
  assert.equal(caught.status, 503);
  assert.ok(ms < 2_000, `${label} took ${ms} ms`);
  const text = `${caught.message} ${JSON.stringify(caught)}`;
  assert.ok(!text.includes(url) && !text.includes(String(port)), `${label}: ${text}`);
  return caught;
}

/** retries `op` until it succeeds; how long that took */
async function recovers(op: () => Promise<unknown>, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await op();
      return Date.now() - started;
    } catch (err) {
      assert.ok(err instanceof StoreUnavailableError, String(err));
      if (Date.now() - started > withinMs) throw new Error(`not recovered after ${withinMs} ms: ${err.message}`);
      await sleep(100);
    }
  }
}

describe('Redis outage and return', () => {
  let redis: TestRedis;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const opened: SharedLimits[] = [];

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startTestRedis();
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const limits of opened) await limits.close();
    await redis.close();
  });

  test('down: every operation is a StoreUnavailableError within 2 s; back: the client recovers by itself within 10 s', async () => {
    const nodeA = await openRedisLimits({ url: redis.url });
    const nodeB = await openRedisLimits({ url: redis.url });
    opened.push(nodeA, nodeB);
    const heard: BreakerOpened[] = [];
    nodeB.breakers.subscribe((e) => heard.push(e));
    await nodeB.breakers.ready();

    assert.equal((await nodeA.rate.hit('k', 5, 60_000)).allowed, true);
    const lease = await nodeA.concurrency.acquire('k', 2, 60_000);
    assert.ok(lease.ok);
    const token = await nodeA.locks.acquire('idem', 60_000);
    assert.ok(token);

    await redis.stop();
    // at once, and again once the client is between reconnection attempts
    for (const pause of [0, 1_500]) {
      await sleep(pause);
      const ops: [string, () => Promise<unknown>][] = [
        ['rate.hit', () => nodeA.rate.hit('k', 5, 60_000)],
        ['concurrency.acquire', () => nodeA.concurrency.acquire('k', 2, 60_000)],
        ['lease.release', () => lease.release()],
        ['lease.extend', () => lease.extend()],
        ['locks.acquire', () => nodeB.locks.acquire('idem', 60_000)],
        ['locks.release', () => nodeA.locks.release('idem', token)],
        ['locks.extend', () => nodeA.locks.extend('idem', token, 60_000)],
        ['locks.waitUntilFree', () => nodeB.locks.waitUntilFree('idem', 5_000)],
        ['breakers.announceOpen', () => nodeA.breakers.announceOpen('p', Date.now() + 30_000)],
        ['ping', () => nodeA.ping()],
      ];
      const errors = await Promise.all(ops.map(([label, op]) => failsFast(label, op, redis.url, redis.port)));
      for (const err of errors) assert.match(err.message, /^The shared state store \(Redis\) is unavailable \(/);
    }

    await redis.start();
    const tookMs = await recovers(() => nodeA.rate.hit('after', 5, 60_000), 10_000);
    assert.ok(tookMs < 10_000);
    await recovers(() => nodeB.locks.acquire('fresh', 1_000), 10_000);
    // the lease taken before the outage died with Redis's memory; releasing it is harmless
    await lease.release();

    // the subscriber connection subscribed again by itself
    await recovers(async () => {
      await nodeA.breakers.announceOpen('openai-main', Date.now() + 30_000);
      await sleep(100);
      if (!heard.some((e) => e.provider === 'openai-main')) throw new StoreUnavailableError('redis', 'not heard yet');
    }, 10_000);
    assert.deepEqual(unhandled, []);
  });

  test('down at start: opening returns within 2 s, calls fail fast, and it connects once Redis is up', async () => {
    await redis.stop();
    const started = Date.now();
    const limits = await openRedisLimits({ url: redis.url });
    opened.push(limits);
    assert.ok(Date.now() - started < 2_000);
    await failsFast('rate.hit', () => limits.rate.hit('k', 1, 1_000), redis.url, redis.port);
    await redis.start();
    await recovers(() => limits.ping(), 10_000);
    assert.equal((await limits.rate.hit('late', 1, 1_000)).allowed, true);
    assert.deepEqual(unhandled, []);
  });

  test('a server that accepts connections and never answers: failures within 2 s, not a hang', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const url = `redis://:pw-never-shown@127.0.0.1:${port}`;
    try {
      const limits = await openRedisLimits({ url });
      opened.push(limits);
      for (const [label, op] of [
        ['rate.hit', () => limits.rate.hit('k', 1, 1_000)],
        ['locks.acquire', () => limits.locks.acquire('k', 1_000)],
        ['ping', () => limits.ping()],
      ] as const) {
        const err = await failsFast(label, op, url, port);
        assert.ok(!err.message.includes('pw-never-shown'));
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
