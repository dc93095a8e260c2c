/**
 * Resilience against the BFL emulator: each fault a polled provider has on a
 * bad day — at submit, while polling, at the download — with the client's
 * final status and body and the attempts the request log recorded. The
 * emulators answer Ready at the first poll and the timeouts are short, so
 * the file stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { EmulatorBase, sendJson } from '../emulators/base.js';
import { startBflEmulator, type BflEmulator } from '../emulators/bfl.js';
import { attemptsOf, entryOf, eventually, gateway, lastEntry, pictures, type Pictures, type TestApp } from './helpers.js';

const KEY_A = 'bfl-primary-0123456789abcdefSECRET';
const KEY_B = 'bfl-backup-0123456789abcdefSECRET';

let pics: Pictures;
let a: BflEmulator;
let b: BflEmulator;
/** a host no config trusts: it must never see a connection */
let foreign: EmulatorBase;
let t: TestApp;

before(async () => {
  pics = await pictures();
  a = await startBflEmulator({ apiKey: KEY_A, pendingPolls: 0 });
  b = await startBflEmulator({ apiKey: KEY_B, pendingPolls: 0 });
  foreign = await new EmulatorBase((_req, res) => sendJson(res, 200, { id: 'x', status: 'Ready', result: { sample: 'http://127.0.0.1:1/x.png' } })).start();
  const fast = { connectMs: 1000, firstByteMs: 400, totalMs: 2500 };
  const breaker = { failures: 1000, cooldownMs: 1000 };
  const provider = (emu: BflEmulator, key: string, extra: object) => ({ type: 'bfl', baseUrl: emu.baseUrl, apiKey: `env:${key}`, trustedHosts: [emu.deliveryHost], timeouts: fast, breaker, ...extra });
  t = await gateway(
    {
      providers: {
        a: provider(a, 'KEY_A', { maxRetries: 1 }),
        b: provider(b, 'KEY_B', { maxRetries: 0 }),
        // a short total timeout, for a job that never ends
        brief: provider(a, 'KEY_A', { maxRetries: 0, timeouts: { ...fast, totalMs: 1000 } }),
      },
      models: {
        kontext: { deployments: [{ provider: 'a', model: 'flux-kontext-pro' }, { provider: 'b', model: 'flux-kontext-pro' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'flux-kontext-pro' }] },
        brief: { deployments: [{ provider: 'brief', model: 'flux-kontext-pro' }] },
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

const isSubmit = (r: { method: string }) => r.method === 'POST';
const isPoll = (r: { path: string }) => r.path === '/v1/get_result';

async function edit(model: string, extra: { prompt?: string; signal?: AbortSignal } = {}): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const fd = new FormData();
  fd.append('model', model);
  fd.append('prompt', extra.prompt ?? 'make it warmer');
  fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
  const started = Date.now();
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd, signal: extra.signal });
  return { status: res.status, body: await res.json(), headers: res.headers, ms: Date.now() - started };
}

describe('faults, bfl emulator', () => {
  test('429 (too many active tasks) with Retry-After: 1, then success: one retry, after at least 1 s', async () => {
    reset();
    a.fault(
      { kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { error: 'rate_limit_exceeded', message: 'Too many concurrent requests', retry_after: 1 } },
      { match: isSubmit },
    );
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    assert.ok(r.ms >= 1000, `waited ${r.ms} ms`);
    assert.equal(a.requests.filter(isSubmit).length, 2);
    const e = await entryOf(t, r.headers.get('x-request-id'));
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', 429], ['a/flux-kontext-pro', 200]]);
    assert.equal(e.attempts[0].reason, 'HTTP 429: Too many concurrent requests');
    assert.equal(r.headers.get('x-imagegate-deployment'), 'a/flux-kontext-pro');
  });

  test('500 until the second deployment serves it', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { detail: 'Internal Server Error' } }, { times: Infinity, match: isSubmit });
    const r = await edit('kontext');
    a.clearFaults();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/flux-kontext-pro');
    assert.ok(Buffer.from(r.body.data[0].b64_json, 'base64').equals(b.emitted.at(-1)!));
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/flux-kontext-pro', 500], ['a/flux-kontext-pro', 500], ['b/flux-kontext-pro', 200]]);
  });

  test('a hung submit hits the timeout: 504, not a hang', async () => {
    reset();
    a.fault({ kind: 'hang' }, { times: 2 });
    const r = await edit('only-a');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.code, 'upstream_timeout');
    assert.equal(r.body.error.message, "The deployment of model 'only-a' timed out: a/flux-kontext-pro: no response within 400 ms (first-byte timeout) (2 attempts).");
    assert.ok(r.ms < 4000, `answered in ${r.ms} ms`);
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/flux-kontext-pro', null], ['a/flux-kontext-pro', null]]);
    const used = new Set(a.requests.map((q) => q.connection));
    assert.ok(await eventually(() => a.connections.filter((c) => used.has(c.id)).every((c) => c.closedAt !== null), 2000));
  });

  test('a job that stays Pending ends at the total timeout: 504', async () => {
    reset();
    a.plans.push('slow');
    const r = await edit('brief');
    assert.equal(r.status, 504);
    assert.equal(r.body.error.message, "The deployment of model 'brief' timed out: brief/flux-kontext-pro: no complete answer within 1000 ms (total timeout).");
    assert.ok(a.polls.length >= 2, 'it was polled meanwhile');
  });

  test('a connection reset in the middle of the submit\'s answer is retried', async () => {
    reset();
    a.fault({ kind: 'reset-mid-body' }, { match: isSubmit });
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', null], ['a/flux-kontext-pro', 200]]);
    assert.match(e.attempts[0].reason!, /^connection error/);
  });

  test('malformed JSON, at submit then at a poll, is retried, then the next deployment serves', async () => {
    reset();
    a.fault({ kind: 'malformed', body: '{"id": "abc", "polling_u' }, { match: isSubmit });
    a.delivery.fault({ kind: 'malformed', body: '<html>502 Bad Gateway</html>', contentType: 'text/html' }, { match: isPoll });
    const r = await edit('kontext');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/flux-kontext-pro');
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', 200], ['a/flux-kontext-pro', 200], ['b/flux-kontext-pro', 200]]);
    assert.equal(e.attempts[0].reason, 'malformed response: HTTP 200 with a body that is not JSON (application/json)');
    assert.equal(e.attempts[1].reason, 'malformed response: HTTP 200 with a body that is not JSON (text/html)');
  });

  test('Request Moderated and Content Moderated: 400 with BFL\'s reasons, no retry, no fallback', async () => {
    reset();
    const r = await edit('kontext', { prompt: 'a forbidden thing' });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.body.error.code, 'moderation_blocked');
    assert.equal(r.body.error.type, 'image_generation_user_error');
    assert.equal(r.body.error.message, 'Your request was rejected by the safety system of deployment a/flux-kontext-pro: Request Moderated: Derivative Works Filter');
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/flux-kontext-pro', null]]);
    const c = await edit('kontext', { prompt: 'something indecent' });
    assert.equal(c.status, 400);
    assert.match(c.body.error.message, /: Content Moderated: NSFW$/);
    assert.equal(a.requests.filter(isSubmit).length, 2);
    assert.equal(b.requests.length, 0);
  });

  test('a job that ends in Error is tried again', async () => {
    reset();
    a.plans.push('error');
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', null], ['a/flux-kontext-pro', 200]]);
    assert.equal(e.attempts[0].reason, 'the task ended with status Error: Internal error during generation');
  });

  test('"Task not found" that persists fails the attempt, which is tried again', async () => {
    reset();
    a.plans.push('lost');
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', null], ['a/flux-kontext-pro', 200]]);
    assert.match(e.attempts[0].reason!, /^task [\w-]+ was not found \(3 polls\)$/);
    assert.equal(a.requests.filter(isSubmit).length, 2);
  });

  test('a polling URL on a host that is not trusted is refused without a connection', async () => {
    reset();
    a.pollingBase = foreign.url;
    const r = await edit('only-a');
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'upstream_unavailable');
    assert.match(r.body.error.message, new RegExp(`refused to follow a URL on ${foreign.url.replace('http://', '').replace(/\./g, '\\.')}, which is neither the provider's host nor in its trustedHosts`));
    assert.equal(foreign.connections.length, 0, 'the foreign host saw no connection');
    assert.equal(a.requests.filter(isSubmit).length, 1, 'not retried: the deployment cannot serve');
    assert.deepEqual(attemptsOf(await lastEntry(t)), [['a/flux-kontext-pro', null]]);
  });

  test('a sample URL on a host that is not trusted is refused without a connection; the fallback serves', async () => {
    reset();
    a.sampleBase = foreign.url;
    const r = await edit('kontext');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-imagegate-deployment'), 'b/flux-kontext-pro');
    assert.equal(foreign.connections.length, 0, 'the foreign host saw no connection');
    assert.equal(a.polls.length, 1);
    assert.equal(a.downloads.length, 0);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', null], ['b/flux-kontext-pro', 200]]);
    assert.match(e.attempts[0].reason!, /^refused to follow a URL on /);
  });

  test('an expired sample URL fails the attempt; the retry makes a new task', async () => {
    reset();
    a.plans.push('expired');
    const r = await edit('only-a');
    assert.equal(r.status, 200);
    const e = await lastEntry(t);
    assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', 403], ['a/flux-kontext-pro', 200]]);
    assert.equal(e.attempts[0].reason, `downloading the result from ${a.deliveryHost} answered HTTP 403`);
  });

  test('402 (no credits): not retried, the next deployment serves at once', async () => {
    reset();
    a.credits = 0;
    try {
      const r = await edit('kontext');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-imagegate-deployment'), 'b/flux-kontext-pro');
      const e = await lastEntry(t);
      assert.deepEqual(attemptsOf(e), [['a/flux-kontext-pro', 402], ['b/flux-kontext-pro', 200]]);
      assert.equal(e.attempts[0].reason, 'HTTP 402: Insufficient credits');
    } finally {
      a.credits = 1_000_000;
    }
  });

  test('422 from BFL: 400 with its words, no retry, no fallback', async () => {
    reset();
    a.fault(
      { kind: 'status', status: 422, body: { detail: [{ type: 'value_error', loc: ['body', 'aspect_ratio'], msg: 'Value error, Aspect ratio must be between 21:9 and 9:21', input: '1:9' }] } },
      { match: isSubmit },
    );
    const r = await edit('kontext');
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'upstream_rejected');
    assert.equal(r.body.error.message, 'Deployment a/flux-kontext-pro refused the request: HTTP 422: aspect_ratio: Value error, Aspect ratio must be between 21:9 and 9:21');
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 0);
  });

  test('every deployment failing: 502 listing each one and its reason, never a key', async () => {
    reset();
    a.fault({ kind: 'status', status: 500, body: { detail: `internal error for key ${KEY_A}` } }, { times: Infinity });
    b.fault({ kind: 'status', status: 401, body: { detail: `Invalid API key: ${KEY_B}` } }, { times: Infinity });
    const r = await edit('kontext');
    a.clearFaults();
    b.clearFaults();
    assert.equal(r.status, 502);
    assert.equal(
      r.body.error.message,
      "All 2 deployments of model 'kontext' failed: a/flux-kontext-pro: HTTP 500: internal error for key [redacted] (2 attempts); b/flux-kontext-pro: HTTP 401: Invalid API key: [redacted].",
    );
    const e = await lastEntry(t);
    for (const text of [JSON.stringify(r.body), JSON.stringify(e), ...t.logs]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), `a secret leaked: ${text.slice(0, 200)}`);
    }
    assert.ok(t.logs.length > 0, 'the logs were captured');
  });

  test('a client that disconnects while the job is polled: the poll\'s connection closes within 2 s, and polling stops', async () => {
    reset();
    a.delivery.fault({ kind: 'hang' }, { match: isPoll });
    const ac = new AbortController();
    const pending = edit('only-a', { signal: ac.signal }).catch(() => null);
    assert.ok(await eventually(() => a.polls.length === 1, 3000), 'the job is being polled');
    const upstream = a.delivery.connections.find((c) => c.id === a.polls[0].connection)!;
    assert.equal(upstream.closedAt, null);
    ac.abort();
    await pending;
    const left = Date.now();
    assert.ok(await eventually(() => upstream.closedAt !== null, 2000), 'the poll connection closed');
    assert.ok(upstream.closedAt! - left < 2000);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(a.polls.length, 1, 'no poll after the client left');
    assert.equal(a.requests.filter(isSubmit).length, 1, 'no new task either');
    // the 499 is logged once the gateway has seen the client go: wait for it rather than race it
    let status = 0;
    for (const until = Date.now() + 2000; status !== 499 && Date.now() < until; await new Promise((r) => setTimeout(r, 20))) status = (await lastEntry(t)).status;
    assert.equal(status, 499);
  });
});
