/**
 * Resilience against the OpenAI emulator: each fault a provider has on a bad
 * day, with the client's final status and body and the attempts the request
 * log recorded. Timeouts are shortened in the config so the suite stays fast.
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { assertDisconnectClosesUpstream, attemptsOf, entryOf, eventually, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'sk-primary-0123456789abcdefSECRET';
const KEY_B = 'sk-backup-0123456789abcdefSECRET';

let pics: Pictures;
let a: OpenAiEmulator;
let b: OpenAiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  a = await startOpenAiEmulator({ apiKey: KEY_A });
  b = await startOpenAiEmulator({ apiKey: KEY_B });
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 1500 };
  t = await gateway(
    {
      providers: {
        a: { type: 'openai', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
        b: { type: 'openai', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
        // its own breaker: opens after 2 consecutive failures, probes again after 30 s
        brk: { type: 'openai', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 0, timeouts: fast, breaker: { failures: 2, cooldownMs: 30_000 } },
      },
      models: {
        'gpt-image-1': { deployments: [{ provider: 'a', model: 'gpt-image-1' }, { provider: 'b', model: 'gpt-image-1' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'gpt-image-1' }] },
        'with-breaker': { deployments: [{ provider: 'brk', model: 'gpt-image-1' }, { provider: 'b', model: 'gpt-image-1' }] },
      },
    },
    { env: { KEY_A, KEY_B }, logs: true },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close()]);
  pics.cleanup();
});

function reset() {
  a.reset();
  b.reset();
}

async function edit(model: string, extra: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const fd = new FormData();
  fd.append('model', model);
  fd.append('prompt', extra.prompt ?? 'make it warmer');
  fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
  const started = Date.now();
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
  return { status: res.status, body: await res.json(), headers: res.headers, ms: Date.now() - started };
}

describe('faults, openai emulator', () => {
  test('429 with Retry-After: 1, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit reached for gpt-image-1', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(a.requests.length, 2);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/gpt-image-1', 429], ['a/gpt-image-1', 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Rate limit reached for gpt-image-1');
    assert.equal(r.headers.get('x-imagegate-deployment'), 'a/gpt-image-1');
  });

  test('500 until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { error: { message: 'The server had an error', type: 'server_error', param: null, code: null } } }, { times: Infinity });
    const r = await edit('gpt-image-1');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/gpt-image-1');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/gpt-image-1', 500], ['a/gpt-image-1', 500], ['b/gpt-image-1', 200]]);
  });

  test('a hung upstream hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.equal(r.body.error.type, 'server_error');
    assert.match(r.body.error.message, /^The deployment of model 'only-a' timed out: a\/gpt-image-1: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/gpt-image-1', null], ['a/gpt-image-1', null]]);
    // the hung connections were given up, not left open
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/gpt-image-1', null], ['a/gpt-image-1', 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/gpt-image-1', 200], ['a/gpt-image-1', 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('a moderation refusal: 400 with the provider\'s reason, no retry, no fallback', async () => {
    reset();
    const r = await edit('gpt-image-1', { prompt: 'a forbidden thing' });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.match(r.body.error.message, /^Your request was rejected by the safety system of deployment a\/gpt-image-1: Your request was rejected by the safety system\./);
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/gpt-image-1', 400]]);
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { error: { message: `internal error for key ${KEY_A}` } } }, { times: Infinity });
    b.fault({ kind: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY_B}.`, type: 'invalid_request_error', code: 'invalid_api_key' } } }, { times: Infinity });
    const r = await edit('gpt-image-1');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'upstream_error');
    assert.equal(
      r.body.error.message,
      "All 2 deployments of model 'gpt-image-1' failed: a/gpt-image-1: HTTP 500: internal error for key [redacted] (2 attempts); b/gpt-image-1: HTTP 401: Incorrect API key provided: [redacted].",
    );
    const e = await lastEntry(t);
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    a.fault({ kind: 'hang' });
    const fd = new FormData();
    fd.append('model', 'only-a');
    fd.append('prompt', 'x');
    fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
    await assertDisconnectClosesUpstream(t, a, fd);
  });

  test('circuit breaker: after 2 failures the deployment is skipped until the cooldown ends (fake clock)', async () => {
    reset();
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      a.fault({ kind: 'status', status: 503, body: { error: { message: 'overloaded' } } }, { times: 2 });
      for (let i = 0; i < 2; i++) assert.equal((await edit('with-breaker')).status, 200);
      assert.equal(a.requests.length, 2, 'two failures reached the provider');
      // open: the provider is not called, the fallback serves
      const skipped = await edit('with-breaker');
      assert.equal(skipped.status, 200);
      assert.equal(a.requests.length, 2);
      assert.deepEqual(attemptsOf(await entryOf(t, skipped.headers.get('x-request-id'))), [['b/gpt-image-1', 200]]);
      assert.equal(t.app.resilience.states().brk, 'open');
      // 29 s later: still open
      mock.timers.tick(29_000);
      await edit('with-breaker');
      assert.equal(a.requests.length, 2);
      // after the cooldown: one probe goes through, succeeds, and the breaker closes
      mock.timers.tick(2_000);
      const probe = await edit('with-breaker');
      assert.equal(probe.headers.get('x-imagegate-deployment'), 'brk/gpt-image-1');
      assert.equal(a.requests.length, 3);
      assert.equal(t.app.resilience.states().brk, 'closed');
    } finally {
      mock.timers.reset();
    }
  });
});
