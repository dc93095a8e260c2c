/**
 * Resilience against the Stability emulator: each fault the provider has on
 * a bad day, with the client's final status and body and the attempts the
 * request log recorded. Timeouts are shortened in the config so the suite
 * stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import sharp from 'sharp';
import { startStabilityEmulator, stabilityError, type StabilityEmulator } from '../emulators/stability.js';
import { assertUpstreamClosesOnDisconnect, attemptsOf, entryOf, eventually, gateway, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'sk-stab-primary-0123456789abcdefSECRET';
const KEY_B = 'sk-stab-backup-0123456789abcdefSECRET';

let pics: Pictures;
let a: StabilityEmulator;
let b: StabilityEmulator;
let t: TestApp;
/** a PNG of noise over Stability's 10 MiB request limit, under its pixel limit */
let huge: Buffer;

before(async () => {
  pics = await pictures();
  const side = 1900;
  huge = await sharp(crypto.randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  a = await startStabilityEmulator({ apiKey: KEY_A });
  b = await startStabilityEmulator({ apiKey: KEY_B });
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 1500 };
  const breaker = { failures: 1000, cooldownMs: 1000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'stability', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: fast, breaker },
        b: { type: 'stability', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, timeouts: fast, breaker },
        // the right host with the other key: Stability refuses it
        'wrong-key': { type: 'stability', baseUrl: a.baseUrl, apiKey: 'env:KEY_B', maxRetries: 1, timeouts: fast, breaker },
      },
      models: {
        'sd-inpaint': { deployments: [{ provider: 'a', model: 'inpaint' }, { provider: 'b', model: 'inpaint' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'inpaint' }] },
        'bad-key-first': { deployments: [{ provider: 'wrong-key', model: 'inpaint' }, { provider: 'b', model: 'inpaint' }] },
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

interface Answer {
  status: number;
  body: any;
  headers: Headers;
  ms: number;
}

function form(model: string, prompt: string, image: Uint8Array): FormData {
  const fd = new FormData();
  fd.append('model', model);
  fd.append('prompt', prompt);
  fd.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'a.png');
  return fd;
}

async function edit(model: string, prompt = 'a red hat', image: Uint8Array = fs.readFileSync(pics.square)): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: form(model, prompt, image) });
  return { status: res.status, body: await res.json(), headers: res.headers, ms: Date.now() - started };
}

const attempts = async (r: Answer) => attemptsOf(await entryOf(t, r.headers.get('x-request-id')));
const reasons = async (r: Answer) => (await entryOf(t, r.headers.get('x-request-id'))).attempts.map((x) => x.reason);

const RATE_LIMIT = (seconds: number) =>
  stabilityError('rate_limit_exceeded', [`You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for ${seconds} seconds.`]);

describe('faults, stability emulator', () => {
  test('429 with Retry-After: 1, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: RATE_LIMIT(60) });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(a.requests.length, 2);
    assert.deepEqual(await attempts(r), [['a/inpaint', 429], ['a/inpaint', 200]]);
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('429 as Stability sends it (no header): the "timed out for N seconds" text is the hint', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, body: RATE_LIMIT(1) });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [['a/inpaint', 429], ['a/inpaint', 200]]);
    assert.equal(
      (await reasons(r))[0],
      'HTTP 429: rate_limit_exceeded: You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 1 seconds.',
    );
  });

  test('429 "timed out for 60 seconds": not waited for; the next deployment serves, or a 503 with Retry-After: 60', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, body: RATE_LIMIT(60) });
    const r = await edit('sd-inpaint');
    assert.equal(r.status, 200);
    assert.ok(r.ms < 1000, `answered in ${r.ms} ms`);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/inpaint');
    assert.deepEqual(await attempts(r), [['a/inpaint', 429], ['b/inpaint', 200]]);

    reset();
    a.fault({ kind: 'status', status: 429, body: RATE_LIMIT(60) });
    const alone = await edit('only-a');
    assert.equal(alone.status, 503);
    assert.equal(alone.body.error.code, 'upstream_unavailable');
    assert.equal(alone.headers.get('retry-after'), '60');
    assert.equal(a.requests.length, 1);
  });

  test('500 until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: stabilityError('internal_error', ['An unexpected server error has occurred, please try again later.']) }, { times: Infinity });
    const r = await edit('sd-inpaint');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/inpaint');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(await attempts(r), [['a/inpaint', 500], ['a/inpaint', 500], ['b/inpaint', 200]]);
  });

  test('a hung upstream hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.equal(r.body.error.message, "The deployment of model 'only-a' timed out: a/inpaint: no response within 400 ms (first-byte timeout) (2 attempts).");
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [['a/inpaint', null], ['a/inpaint', null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000), 'the hung connections were closed');
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.deepEqual(await attempts(r), [['a/inpaint', null], ['a/inpaint', 200]]);
    assert.match((await reasons(r))[0]!, /^connection error/);
  });

  test('a 200 that is not the provider\'s answer (broken JSON, bytes that are no image) is retried', async () => {
    reset();
    a.fault({ kind: 'malformed' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.deepEqual(await attempts(r), [['a/inpaint', 200], ['a/inpaint', 200]]);
    assert.equal((await reasons(r))[0], 'malformed response: HTTP 200 with a body that is not JSON (application/json)');

    reset();
    a.fault({ kind: 'malformed', contentType: 'image/png', body: 'these bytes are not a PNG' });
    const r2 = await edit('only-a');
    assert.equal(r2.status, 200);
    // the pipeline found it out after the adapter's part was done: no status to report
    assert.deepEqual(await attempts(r2), [['a/inpaint', null], ['a/inpaint', 200]]);
    assert.match((await reasons(r2))[0]!, /^malformed response: the provider's image is not an image/);
  });

  test('a moderation refusal (403 content_moderation): 400 with the provider\'s reason, no retry, no fallback', async () => {
    reset();
    const r = await edit('sd-inpaint', 'a forbidden thing');
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.equal(
      r.body.error.message,
      'Your request was rejected by the safety system of deployment a/inpaint: Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
    );
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [['a/inpaint', 403]]);
  });

  test('a blurred answer (200, finish-reason CONTENT_FILTERED) is a moderation refusal, never the client\'s image', async () => {
    reset();
    const r = await edit('sd-inpaint', 'blur-me please');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.match(r.body.error.message, /^Your request was rejected by the safety system of deployment a\/inpaint: the output was blurred by the provider's content filter \(finish-reason: CONTENT_FILTERED\)$/);
    assert.equal(a.emitted.length, 1, 'the provider did answer an image');
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [['a/inpaint', 200]]);
  });

  test('422: public_figure is a moderation refusal; invalid_language a refusal with the provider\'s words; neither retried', async () => {
    reset();
    const figure = await edit('sd-inpaint', 'a public-figure on stage');
    assert.equal(figure.status, 400);
    assert.equal(figure.body.error.code, 'moderation_blocked');
    const lang = await edit('sd-inpaint', 'красная шляпа');
    assert.equal(lang.status, 400);
    assert.equal(lang.body.error.code, 'upstream_rejected');
    assert.equal(lang.body.error.message, 'Deployment a/inpaint refused the request: HTTP 422: invalid_language: English is the only supported language for this service.');
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 0);
  });

  test('a request over 10 MiB: the provider\'s 413, answered 400 with its reason, not retried', async () => {
    reset();
    assert.ok(huge.length > 10 * 1024 * 1024, `${huge.length} bytes`);
    const r = await edit('sd-inpaint', 'a red hat', huge);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(r.body.error.message, 'Deployment a/inpaint refused the request: HTTP 413: payload_too_large: body: payloads cannot be larger than 10MiB in size');
    assert.deepEqual(await attempts(r), [['a/inpaint', 413]]);
  });

  test('a refused key (401): not retried, the next deployment serves at once', async () => {
    reset();
    const r = await edit('bad-key-first');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/inpaint');
    assert.deepEqual(await attempts(r), [['wrong-key/inpaint', 401], ['b/inpaint', 200]]);
    assert.equal((await reasons(r))[0], 'HTTP 401: unauthorized: authorization: invalid API key');
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: stabilityError('internal_error', [`internal error for key ${KEY_A}`]) }, { times: Infinity });
    b.fault({ kind: 'status', status: 502, body: stabilityError('bad_gateway', [`upstream said Bearer ${KEY_B}`]) }, { times: Infinity });
    const r = await edit('sd-inpaint');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'upstream_error');
    assert.equal(
      r.body.error.message,
      "All 2 deployments of model 'sd-inpaint' failed: a/inpaint: HTTP 500: internal_error: internal error for key [redacted] (2 attempts); b/inpaint: HTTP 502: bad_gateway: upstream said Bearer [redacted].",
    );
    const e = await entryOf(t, r.headers.get('x-request-id'));
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    await assertUpstreamClosesOnDisconnect(t, a, 'only-a', pics.square);
  });
});
