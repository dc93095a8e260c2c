/** The one polling loop: waits, growth, and transient failures of a look tolerated only when asked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../src/providers/poll.js';
import { httpFailure, UpstreamError } from '../../src/providers/errors.js';
import type { ProviderIO } from '../../src/providers/types.js';

function fakeIo(): { io: ProviderIO; waits: number[] } {
  const waits: number[] = [];
  const io = {
    signal: new AbortController().signal,
    sleep: async (ms: number) => void waits.push(ms),
  } as unknown as ProviderIO;
  return { io, waits };
}

test('waits grow by half up to the cap; the provider\'s delay wins', async () => {
  const { io, waits } = fakeIo();
  const value = await pollUntil(io, {
    intervalMs: 1000,
    maxIntervalMs: 2000,
    check: async (round) => (round === 2 ? { done: false, delayMs: 50 } : round === 4 ? { done: true, value: 'ok' } : { done: false }),
  });
  assert.equal(value, 'ok');
  assert.deepEqual(waits, [1000, 1500, 2000, 50, 75]);
});

test('a transient failure of a look is tolerated as asked, waiting its Retry-After', async () => {
  const { io, waits } = fakeIo();
  let calls = 0;
  const value = await pollUntil(io, {
    intervalMs: 100,
    tolerateTransient: 2,
    check: async () => {
      calls++;
      if (calls === 1) throw httpFailure(429, 'slow down', { 'retry-after': '3' });
      if (calls === 2) throw httpFailure(503, 'busy');
      return { done: true, value: calls };
    },
  });
  assert.equal(value, 3);
  assert.deepEqual(waits, [100, 3000, 4500]);
});

test('more transient failures in a row than tolerated, or any other failure, end the poll', async () => {
  const { io } = fakeIo();
  await assert.rejects(
    pollUntil(io, { intervalMs: 1, tolerateTransient: 1, check: async () => Promise.reject(httpFailure(500, 'down')) }),
    (e: UpstreamError) => e.status === 500,
  );
  let calls = 0;
  await assert.rejects(
    pollUntil(io, {
      intervalMs: 1,
      tolerateTransient: 5,
      check: async () => {
        calls++;
        throw httpFailure(401, 'bad key');
      },
    }),
    (e: UpstreamError) => e.kind === 'unavailable',
  );
  assert.equal(calls, 1);
  // without the option, the first failure ends it, as before
  await assert.rejects(pollUntil(io, { intervalMs: 1, check: async () => Promise.reject(httpFailure(503, 'x')) }));
});
