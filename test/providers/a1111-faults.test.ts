/**
 * Resilience against the AUTOMATIC1111 emulator: each fault an A1111 server
 * (or the proxy in front of it) has on a bad day, with the client's final
 * status and body and the attempts the request log recorded. A1111 has no
 * moderation; its deterministic refusals (an input it cannot decode, a body
 * its model refuses) take that test's place: 400, no retry, no fallback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startA1111Emulator, type A1111Emulator } from '../emulators/a1111.js';
import { makePng } from '../helpers/images.js';
import { assertClosesWhenClientLeaves, assertNoSecrets, attemptsOf, entryOf, eventually, gateway, postEdit, type TestApp } from './helpers.js';

const AUTH_A = 'gate:a-pass-0123456789SECRET';
const AUTH_B = 'gate:b-pass-0123456789SECRET';

let small: Buffer;
let a: A1111Emulator;
let b: A1111Emulator;
let t: TestApp;

before(async () => {
  small = await makePng(128, 96);
  a = await startA1111Emulator({ auth: AUTH_A });
  b = await startA1111Emulator({ auth: AUTH_B });
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 1500 };
  const breaker = { failures: 1000, cooldownMs: 1000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'a1111', baseUrl: a.baseUrl, apiKey: 'env:AUTH_A', maxRetries: 1, timeouts: fast, breaker },
        b: { type: 'a1111', baseUrl: b.baseUrl, apiKey: 'env:AUTH_B', maxRetries: 0, timeouts: fast, breaker },
        // params the server's model refuses: a string where it wants an integer
        bad: { type: 'a1111', baseUrl: a.baseUrl, apiKey: 'env:AUTH_A', maxRetries: 1, timeouts: fast, breaker, params: { steps: 'many' } },
      },
      models: {
        sd: { deployments: [{ provider: 'a', model: 'default' }, { provider: 'b', model: 'default' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'default' }] },
        'bad-params': { deployments: [{ provider: 'bad', model: 'default' }, { provider: 'b', model: 'default' }] },
      },
    },
    { env: { AUTH_A, AUTH_B }, logs: true },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close()]);
});

function reset() {
  a.reset();
  b.reset();
}

const edit = (model: string, signal?: AbortSignal) => postEdit(t, { model, image: small }, signal);

const entry = (r: { headers: Headers }) => entryOf(t, r.headers.get('x-request-id'));
const middleware = (status: number, error: string, detail: string, errors = `${status}: ${detail}`) => ({ kind: 'status' as const, status, body: { error, detail, body: '', errors } });

describe('faults, a1111 emulator', () => {
  test('429 with Retry-After: 1 (a proxy in front), then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: 'Too Many Requests' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/default', 429], ['a/default', 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Too Many Requests');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('CUDA out of memory (500) until the second deployment serves it', async () => {
    reset();
    a.fault(middleware(500, 'OutOfMemoryError', '', 'CUDA out of memory. Tried to allocate 2.00 GiB'), { times: Infinity });
    const r = await edit('sd');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/default');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/default', 500], ['a/default', 500], ['b/default', 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 500: CUDA out of memory. Tried to allocate 2.00 GiB');
  });

  test('a hung img2img hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.match(r.body.error.message, /^The deployment of model 'only-a' timed out: a\/default: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(attemptsOf(await entry(r)), [['a/default', null], ['a/default', null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/default', null], ['a/default', 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"images": ["iVBOR' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entry(r);
    assert.deepEqual(attemptsOf(e), [['a/default', 200], ['a/default', 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('an image A1111 cannot decode (500 "Invalid encoded image"): 400 with its words, no retry, no fallback', async () => {
    reset();
    a.fault(middleware(500, 'HTTPException', 'Invalid encoded image'));
    const r = await edit('sd');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(r.body.error.message, 'Deployment a/default refused the request: HTTP 500: Invalid encoded image');
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(attemptsOf(await entry(r)), [['a/default', 500]]);
  });

  test('a body its model refuses (FastAPI 422): 400 naming the field, no retry, no fallback', async () => {
    reset();
    const r = await edit('bad-params');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.message, 'Deployment bad/default refused the request: HTTP 422: steps: value is not a valid integer');
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
  });

  test('every deployment failing: 502 listing each, never a credential', async () => {
    reset();
    a.fault(middleware(500, 'RuntimeError', `auth was ${AUTH_A}`, `auth was ${AUTH_A}`), { times: Infinity });
    b.fault(middleware(401, 'HTTPException', `Incorrect username or password for ${AUTH_B}`), { times: Infinity });
    const r = await edit('sd');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(r.body.error.message, "All 2 deployments of model 'sd' failed: a/default: HTTP 500: RuntimeError: auth was [redacted] (2 attempts); b/default: HTTP 401: Incorrect username or password for [redacted].");
    const e = await entry(r);
    assertNoSecrets([JSON.stringify(r.body), JSON.stringify(e), ...t.logs], [AUTH_A, AUTH_B]);
    assert.ok(t.logs.length > 0);
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    a.fault({ kind: 'hang' });
    await assertClosesWhenClientLeaves(a, (signal) => edit('only-a', signal), () => true);
  });
});
