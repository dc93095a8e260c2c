/**
 * Resilience against the Gemini emulator: each fault the Gemini API has on a
 * bad day, with the client's final status and body and the attempts the
 * request log recorded. Gemini sends no Retry-After: its hint is RetryInfo's
 * retryDelay in the error body. Gemini answers synchronously with inline
 * bytes, so there is no job to fail and no result URL to follow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { googleError, quotaExceeded, retryInfo, startGeminiEmulator, type GeminiEmulator } from '../emulators/gemini.js';
import { assertUpstreamClosesOnDisconnect, attemptsOf, entryOf, eventually, gateway, pictures, postEdit, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'AIzaSy-primary-0123456789abcdefSECRET';
const KEY_B = 'AIzaSy-backup-0123456789abcdefSECRET';
const MODEL = 'gemini-2.5-flash-image';

let pics: Pictures;
let a: GeminiEmulator;
let b: GeminiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  a = await startGeminiEmulator({ apiKey: KEY_A });
  b = await startGeminiEmulator({ apiKey: KEY_B });
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 1500 };
  const breaker = { failures: 1000, cooldownMs: 1000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'gemini', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, timeouts: fast, breaker },
        b: { type: 'gemini', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, timeouts: fast, breaker },
        // a's host with a key that is not a's
        stale: { type: 'gemini', baseUrl: a.baseUrl, apiKey: 'env:KEY_B', maxRetries: 1, timeouts: fast, breaker },
      },
      models: {
        nano: { deployments: [{ provider: 'a', model: MODEL }, { provider: 'b', model: MODEL }] },
        'only-a': { deployments: [{ provider: 'a', model: MODEL }] },
        'stale-first': { deployments: [{ provider: 'stale', model: MODEL }, { provider: 'b', model: MODEL }] },
        'renamed-first': { deployments: [{ provider: 'a', model: 'gemini-1.0-pro-vision' }, { provider: 'b', model: MODEL }] },
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

const edit = (model: string, prompt = 'make it warmer') => postEdit(t, { model, prompt, image: pics.square });

const attempts = async (r: { headers: Headers }) => attemptsOf(await entryOf(t, r.headers.get('x-request-id')));

describe('faults, gemini emulator', () => {
  test('429 RESOURCE_EXHAUSTED with RetryInfo 1s, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, body: quotaExceeded('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '1s') });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(a.requests.length, 2);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[`a/${MODEL}`, 429], [`a/${MODEL}`, 200]]);
    assert.match(e.attempts[0].reason!, /^HTTP 429: RESOURCE_EXHAUSTED: You exceeded your current quota/);
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(a.emitted.at(-1)!));
  });

  test('a daily quota spent: no wait, the next deployment at once', async () => {
    reset();
    a.fault({ kind: 'status', status: 429, body: quotaExceeded('GenerateRequestsPerDayPerProjectPerModel-FreeTier', '40s') }, { times: Infinity });
    const r = await edit('nano');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.ok(r.ms < 5000, `answered in ${r.ms} ms, without waiting 40 s`);
    assert.equal(r.headers.get('x-imagegate-deployment'), `b/${MODEL}`);
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, 429], [`b/${MODEL}`, 200]]);
  });

  test('500 INTERNAL until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: googleError(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting') }, { times: Infinity });
    const r = await edit('nano');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), `b/${MODEL}`);
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, 500], [`a/${MODEL}`, 500], [`b/${MODEL}`, 200]]);
  });

  test('503 UNAVAILABLE with a RetryInfo hint is waited for', async () => {
    reset();
    a.fault({ kind: 'status', status: 503, body: googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.', [retryInfo('0.6s')]) });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 600, `waited ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, 503], [`a/${MODEL}`, 200]]);
  });

  test('a wrong key (400 API_KEY_INVALID): not retried, the next deployment at once', async () => {
    reset();
    const r = await edit('stale-first');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), `b/${MODEL}`);
    assert.equal(a.requests.length, 1);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[`stale/${MODEL}`, 400], [`b/${MODEL}`, 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 400: INVALID_ARGUMENT: API key not valid. Please pass a valid API key.');
  });

  test('an unknown model (404 NOT_FOUND): the next deployment at once', async () => {
    reset();
    const r = await edit('renamed-first');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [['a/gemini-1.0-pro-vision', 404], [`b/${MODEL}`, 200]]);
    assert.match(e.attempts[0].reason!, /^HTTP 404: NOT_FOUND: models\/gemini-1\.0-pro-vision is not found for API version v1beta/);
  });

  test('a hung upstream hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.match(r.body.error.message, /^The deployment of model 'only-a' timed out: a\/gemini-2\.5-flash-image: no response within 400 ms \(first-byte timeout\) \(2 attempts\)\.$/);
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, null], [`a/${MODEL}`, null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a connection reset in the middle of the body is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[`a/${MODEL}`, null], [`a/${MODEL}`, 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON is retried, then answered', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"candidates": [{"content": {"parts": [' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [[`a/${MODEL}`, 200], [`a/${MODEL}`, 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
  });

  test('a 200 that is JSON but not Gemini\'s answer is retried', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"created": 1, "data": []}' });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.equal(e.attempts[0].reason, 'malformed response: the generateContent answer has neither candidates nor a block reason');
  });

  test('a blocked prompt (promptFeedback.blockReason): 400 with Gemini\'s reason, no retry, no fallback', async () => {
    reset();
    const r = await edit('nano', 'a blocked-prompt thing');
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.equal(r.body.error.message, `Your request was rejected by the safety system of deployment a/${MODEL}: Gemini blocked the prompt (PROHIBITED_CONTENT)`);
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, 200]]);
  });

  test('a withheld image (finishReason IMAGE_SAFETY): 400 with the reason, no retry, no fallback', async () => {
    reset();
    const r = await edit('nano', 'an unsafe-image thing');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.message, `Your request was rejected by the safety system of deployment a/${MODEL}: Gemini withheld the image (IMAGE_SAFETY)`);
    assert.equal(a.requests.length + b.requests.length, 1);
  });

  test('no image (finishReason NO_IMAGE, only words): retried, then the next deployment, then 502 with the model\'s words', async () => {
    reset();
    const r = await edit('nano', 'no-image please');
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'upstream_error');
    const why = "the model answered without an image (NO_IMAGE): I can't make that edit: the picture does not show what the request refers to";
    assert.equal(r.body.error.message, `All 2 deployments of model 'nano' failed: a/${MODEL}: ${why}. (2 attempts); b/${MODEL}: ${why}.`);
    assert.deepEqual(await attempts(r), [[`a/${MODEL}`, 200], [`a/${MODEL}`, 200], [`b/${MODEL}`, 200]]);
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: googleError(500, 'INTERNAL', `internal error for key ${KEY_A}`) }, { times: Infinity });
    b.fault({ kind: 'status', status: 403, body: googleError(403, 'PERMISSION_DENIED', `Permission denied for key ${KEY_B}.`) }, { times: Infinity });
    const r = await edit('nano');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(
      r.body.error.message,
      `All 2 deployments of model 'nano' failed: a/${MODEL}: HTTP 500: INTERNAL: internal error for key [redacted] (2 attempts); b/${MODEL}: HTTP 403: PERMISSION_DENIED: Permission denied for key [redacted].`,
    );
    const e = await entryOf(t, r.headers.get('x-request-id'));
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
    // the key went in a header, never in a URL that a log line could carry
    assert.ok([...a.requests, ...b.requests].every((q) => !q.url.includes('key=')));
  });

  test('a client that disconnects: the upstream connection closes within 2 s', async () => {
    reset();
    await assertUpstreamClosesOnDisconnect(t, a, 'only-a', pics.square);
    assert.equal(b.requests.length, 0);
  });
});
