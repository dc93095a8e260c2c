/**
 * Resilience against the Replicate emulator: each fault a provider has on a
 * bad day, with the client's final status and body and the attempts the
 * request log recorded. Deployments a and b wait for the prediction
 * (`Prefer: wait=1`, a first-byte timeout of 2 s); `h`, on a's emulator with a
 * first-byte timeout of 400 ms, is too short to wait, so it polls, and hangs
 * end quickly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startReplicateEmulator, type ReplicateEmulator } from '../emulators/replicate.js';
import { assertUpstreamClosesOnDisconnect, attemptsOf, entryOf, eventually, gateway, pictures, postEdit, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'r8_primary_0123456789abcdefSECRET';
const KEY_B = 'r8_backup_0123456789abcdefSECRET';
const MODEL = 'black-forest-labs/flux-kontext-pro';
const A = `a/${MODEL}`;
const B = `b/${MODEL}`;
const H = `h/${MODEL}`;

let pics: Pictures;
let a: ReplicateEmulator;
let b: ReplicateEmulator;
let foreign: ReplicateEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  a = await startReplicateEmulator({ apiKey: KEY_A });
  b = await startReplicateEmulator({ apiKey: KEY_B });
  foreign = await startReplicateEmulator({ apiKey: KEY_A });
  const fast = { connectMs: 1000, firstByteMs: 2000, totalMs: 3000 };
  const hasty = { connectMs: 1000, firstByteMs: 400, totalMs: 3000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'replicate', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
        b: { type: 'replicate', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, timeouts: fast, breaker: { failures: 1000, cooldownMs: 1000 } },
        h: { type: 'replicate', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: hasty, breaker: { failures: 1000, cooldownMs: 1000 } },
      },
      models: {
        kontext: { deployments: [{ provider: 'a', model: MODEL }, { provider: 'b', model: MODEL }] },
        'only-a': { deployments: [{ provider: 'a', model: MODEL }] },
        polled: { deployments: [{ provider: 'h', model: MODEL }] },
      },
    },
    { env: { KEY_A, KEY_B }, logs: true },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close(), foreign.close()]);
  pics.cleanup();
});

function reset() {
  a.reset();
  b.reset();
  foreign.reset();
}

const isCreate = (r: { method: string; path: string }) => r.method === 'POST' && r.path.endsWith('/predictions');
const creates = (e: ReplicateEmulator) => e.requests.filter(isCreate);

const edit = (model: string, extra: { prompt?: string; signal?: AbortSignal } = {}) =>
  postEdit(t, { model, prompt: extra.prompt ?? 'make it warmer', image: pics.square }, extra.signal);

const attempts = async (r: { headers: Headers }) => attemptsOf(await entryOf(t, r.headers.get('x-request-id')));

describe('faults, replicate emulator', () => {
  test('429 with Retry-After: 1, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { detail: 'Request was throttled. Your rate limit resets in ~1s.' } }, { match: isCreate });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(creates(a).length, 2);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, 429], [A, 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Request was throttled. Your rate limit resets in ~1s.');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('500 until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { title: 'Internal Server Error', status: 500, detail: 'Something went wrong' } }, { times: Infinity, match: isCreate });
    const r = await edit('kontext');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), B);
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(await attempts(r), [[A, 500], [A, 500], [B, 200]]);
  });

  test('a hung upstream hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('polled');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.match(r.body.error.message, /^The deployment of model 'polled' timed out: h\/black-forest-labs\/flux-kontext-pro: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [[H, null], [H, null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' }, { match: isCreate });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, null], [A, 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"id": "x", "status": "start' }, { match: isCreate });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[A, 200], [A, 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('a polling answer that fails once does not cost a second prediction', async () => {
    reset();
    a.fault({ kind: 'status', status: 503, body: { detail: 'Service Unavailable' } }, { match: (r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/') });
    const r = await edit('polled');
    assert.equal(r.status, 200);
    assert.equal(creates(a).length, 1);
    assert.ok(a.requests.filter((q) => q.method === 'GET' && q.path.startsWith('/v1/predictions/')).length >= 2, 'polled again after the 503');
    assert.deepEqual(await attempts(r), [[H, 200]]);
  });

  test('a moderation refusal: 400 with the provider\'s reason, no retry, no fallback', async () => {
    reset();
    a.script.push({ kind: 'failed', error: 'Prediction failed: Flagged as sensitive. Please try again with different inputs. (E005)' });
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.equal(
      r.body.error.message,
      `Your request was rejected by the safety system of deployment ${A}: Prediction failed: Flagged as sensitive. Please try again with different inputs. (E005)`,
    );
    assert.equal(creates(a).length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [[A, null]]);
  });

  test('an input the provider refuses (422): 400 with its reason, no retry, no fallback', async () => {
    reset();
    const problem = {
      title: 'Input validation failed',
      status: 422,
      detail: '- input.prompt: String length must be less than or equal to 2000\n',
      invalid_fields: [{ type: 'string_lte', field: 'input.prompt', description: 'String length must be less than or equal to 2000' }],
    };
    a.fault({ kind: 'status', status: 422, body: problem }, { match: isCreate });
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(r.body.error.message, `Deployment ${A} refused the request: HTTP 422: Input validation failed: input.prompt: String length must be less than or equal to 2000`);
    assert.equal(b.requests.length, 0);
  });

  test('an async job that errors is tried again (seen by polling, or in the answer to Prefer: wait); canceled too', async () => {
    reset();
    a.options.processingMs = 50;
    a.script.push({ kind: 'failed', error: 'CUDA error: out of memory' });
    try {
      const r = await edit('polled');
      assert.equal(r.status, 200);
      const e = await entryOf(t, r.headers.get('x-request-id'));
      assert.deepEqual(attemptsOf(e), [[H, null], [H, 200]]);
      assert.equal(e.attempts[0].reason, 'the prediction failed: CUDA error: out of memory');
      assert.ok(a.requests.some((q) => q.method === 'GET' && q.path.startsWith('/v1/predictions/')), 'the failure was seen by polling');

      a.reset();
      a.script.push({ kind: 'canceled' }, { kind: 'failed', error: 'Director: unexpected error handling prediction' });
      const r2 = await edit('kontext');
      assert.equal(r2.status, 200);
      assert.equal(r2.headers.get('x-imagegate-deployment'), B, 'after the retries on a, b served it');
      const e2 = await entryOf(t, r2.headers.get('x-request-id'));
      assert.deepEqual(attemptsOf(e2), [[A, null], [A, null], [B, 200]]);
      assert.match(e2.attempts[0].reason!, /^the prediction \w+ was canceled$/);
      assert.equal(e2.attempts[1].reason, 'the prediction failed: Director: unexpected error handling prediction');
    } finally {
      a.options.processingMs = undefined;
    }
  });

  test('a polling URL on a foreign host is refused without a connection', async () => {
    reset();
    a.options.apiOrigin = foreign.url;
    try {
      const r = await edit('polled');
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'upstream_unavailable');
      assert.equal(
        r.body.error.message,
        `The deployment of model 'polled' could not serve the request now: ${H}: refused to follow a URL on 127.0.0.1:${foreign.port}, which is neither the provider's host nor in its trustedHosts.`,
      );
      assert.equal(foreign.requests.length, 0, 'the foreign host saw nothing');
      assert.equal(foreign.connections.length, 0, 'not even a connection');
      assert.deepEqual(await attempts(r), [[H, null]]);
    } finally {
      a.options.apiOrigin = undefined;
    }
  });

  test('a result URL on a foreign host is refused without a connection', async () => {
    reset();
    a.options.deliveryOrigin = foreign.url;
    try {
      const r = await edit('only-a');
      assert.equal(r.status, 503);
      assert.match(r.body.error.message, new RegExp(`refused to follow a URL on 127\\.0\\.0\\.1:${foreign.port}`));
      assert.equal(foreign.connections.length, 0);
    } finally {
      a.options.deliveryOrigin = undefined;
    }
  });

  test('an output URL that has expired: the call is tried again, then 502', async () => {
    reset();
    a.fileTtlMs = -1;
    try {
      const r = await edit('only-a');
      assert.equal(r.status, 502);
      assert.equal(r.body.error.code, 'upstream_error');
      assert.equal(r.body.error.message, `The deployment of model 'only-a' failed: ${A}: downloading the result from 127.0.0.1:${a.port} answered HTTP 404 (2 attempts).`);
      assert.equal(creates(a).length, 2);
    } finally {
      a.fileTtlMs = 60_000;
    }
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { detail: `internal error for token ${KEY_A}` } }, { times: Infinity });
    b.fault({ kind: 'status', status: 401, body: { title: 'Unauthenticated', detail: `Invalid token ${KEY_B}`, status: 401 } }, { times: Infinity });
    const r = await edit('kontext');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(
      r.body.error.message,
      `All 2 deployments of model 'kontext' failed: ${A}: HTTP 500: internal error for token [redacted] (2 attempts); ${B}: HTTP 401: Unauthenticated: Invalid token [redacted].`,
    );
    const e = await entryOf(t, r.headers.get('x-request-id'));
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    await assertUpstreamClosesOnDisconnect(t, a, 'polled', pics.square);
  });
});
