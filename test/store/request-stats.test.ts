/**
 * The console's overview figures, computed in SQL from the request log: the
 * same answers on SQLite and PostgreSQL for a log whose figures are known.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { openStores, type OpenedStores } from '../../src/store/index.js';
import type { RequestAttempt, RequestLogEntry } from '../../src/store/types.js';
import { backends } from './backends.js';

const T0 = Date.UTC(2026, 2, 10, 12, 0, 0);
const MIN = 60_000;

function entry(id: string, createdAt: number, status: number, latencyMs: number, attempts: RequestAttempt[], costMicros = 0): RequestLogEntry {
  return {
    id,
    createdAt,
    keyId: 'key_a',
    method: 'POST',
    path: '/v1/images/edits',
    model: 'gpt-image-1',
    deployment: status === 200 ? attempts.at(-1)?.deployment ?? 'local' : null,
    status,
    errorCode: status === 200 ? null : 'x',
    latencyMs,
    imageCount: 1,
    bytesIn: 10,
    bytesOut: 10,
    inputTokens: null,
    inputTextTokens: null,
    inputImageTokens: null,
    outputTokens: null,
    totalTokens: null,
    user: null,
    stream: false,
    attempts,
    costMicros,
    warnings: [],
  };
}

const ok = (deployment: string, latencyMs: number): RequestAttempt => ({ deployment, status: 200, latencyMs, reason: null });
const fail = (deployment: string, status: number | null, reason: string): RequestAttempt => ({ deployment, status, latencyMs: 5, reason });

for (const backend of backends) {
  describe(`request stats on ${backend.name}`, () => {
    let stores: OpenedStores;
    let place: Awaited<ReturnType<typeof backend.prepare>>;

    before(async () => {
      place = await backend.prepare();
      stores = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir, clock: new ManualClock(T0) });
      // ten served requests with latencies 100..1000 in the first minute, over two deployments
      for (let i = 1; i <= 10; i++) {
        const d = i % 2 === 0 ? 'openai/gpt-image-1' : 'local';
        const attempts = i === 4 ? [fail('openai/gpt-image-1', 503, 'HTTP 503: overloaded'), ok(d, i * 100)] : [ok(d, i * 100)];
        await stores.requestLog.insert(entry(`req_ok${i}`, T0 + i * 1000, 200, i * 100, attempts, 20_000));
      }
      // in the third minute: a refusal (no attempt), a 502 after two failures and a skip, a stream that failed after partials
      await stores.requestLog.insert(entry('req_400', T0 + 2 * MIN + 1, 400, 3, []));
      await stores.requestLog.insert(
        entry('req_502', T0 + 2 * MIN + 2, 502, 50, [
          fail('openai/gpt-image-1', null, 'connection refused'),
          fail('openai/gpt-image-1', 500, 'HTTP 500: the newest failure'),
          fail('bfl/flux-kontext-pro', null, "skipped: the circuit breaker of provider 'bfl' is open after repeated failures"),
        ]),
      );
      await stores.requestLog.insert(entry('req_499', T0 + 2 * MIN + 3, 499, 40, [fail('local', null, 'the client went away')], 300));
      // outside the window
      await stores.requestLog.insert(entry('req_old', T0 - 1, 500, 9999, [fail('local', 500, 'old')], 7));
      await stores.requestLog.insert(entry('req_late', T0 + 10 * MIN, 200, 9999, [ok('local', 1)], 7));
    });

    after(async () => {
      await stores?.close();
      await place?.cleanup();
    });

    test('totals, errors, percentiles and spend of the window', async () => {
      const s = await stores.requestLog.stats({ since: T0, until: T0 + 5 * MIN, bucketMs: MIN });
      assert.equal(s.requests, 13);
      assert.equal(s.errors, 3);
      assert.equal(s.serverErrors, 1);
      // served latencies 100..1000: nearest rank p50 is the 5th, p95 the 10th
      assert.deepEqual(s.latencyMs, { p50: 500, p95: 1000 });
      assert.equal(s.costMicros, 10 * 20_000 + 300);
      assert.equal(await stores.requestLog.spend(T0, T0 + 5 * MIN), 200_300);
      assert.equal(await stores.requestLog.spend(T0 - 1, T0 + 11 * MIN), 200_314);
    });

    test('the series has one point per minute with requests, at the minute', async () => {
      const s = await stores.requestLog.stats({ since: T0, until: T0 + 5 * MIN, bucketMs: MIN });
      assert.deepEqual(s.series, [
        { at: T0, requests: 10, errors: 0 },
        { at: T0 + 2 * MIN, requests: 3, errors: 3 },
      ]);
      const wide = await stores.requestLog.stats({ since: T0, until: T0 + 5 * MIN, bucketMs: 5 * MIN });
      assert.deepEqual(wide.series, [{ at: T0, requests: 13, errors: 3 }]);
    });

    test('per deployment: attempts, successes, failures, skips, mean latency, the newest failure', async () => {
      const s = await stores.requestLog.stats({ since: T0, until: T0 + 5 * MIN, bucketMs: MIN });
      assert.deepEqual(s.deployments, [
        { deployment: 'bfl/flux-kontext-pro', attempts: 1, succeeded: 0, failed: 0, skipped: 1, avgLatencyMs: null, lastFailureAt: null, lastFailure: null },
        { deployment: 'local', attempts: 6, succeeded: 5, failed: 1, skipped: 0, avgLatencyMs: 500, lastFailureAt: T0 + 2 * MIN + 3, lastFailure: 'the client went away' },
        { deployment: 'openai/gpt-image-1', attempts: 8, succeeded: 5, failed: 3, skipped: 0, avgLatencyMs: 600, lastFailureAt: T0 + 2 * MIN + 2, lastFailure: 'HTTP 500: the newest failure' },
      ]);
    });

    test('an empty window', async () => {
      const s = await stores.requestLog.stats({ since: T0 + 60 * MIN, until: T0 + 70 * MIN, bucketMs: MIN });
      assert.deepEqual(s, { requests: 0, errors: 0, serverErrors: 0, latencyMs: { p50: null, p95: null }, costMicros: 0, series: [], deployments: [] });
    });
  });
}
