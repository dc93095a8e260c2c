/**
 * GET /metrics after a mixed load: successes on the built-in engine and on
 * an upstream, a 400, a 404 model, an upstream 429 retried into a success, a
 * fallback to the second deployment, a stream, an upstream failure that
 * opens a breaker, refusals (rate, concurrency, credit, the engine's queue
 * full), and scrapes while an upstream and the engine work. The scrape is
 * parsed and every counter must equal what the load did, worked out by
 * hand. Then who may scrape: the master key, or anyone when the config
 * makes the metrics public.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { makeMask, makePng } from '../helpers/images.js';
import { eventually, gateway, startTestApp, type TestApp } from '../providers/helpers.js';
import { isRefusal, LATENCY_BUCKETS_SECONDS, upstreamFlow } from '../../src/metrics/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createEngine } from '../../src/engine/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const KEY_A = 'sk-a-0123456789abcdefSECRET';
const KEY_B = 'sk-b-0123456789abcdefSECRET';
const EDITS = '/v1/images/edits';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text format, parsed: one sample per line that is not a comment. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples of one metric as `label=value,…` → value, labels in the given order. */
function series(samples: Sample[], name: string, labelOrder: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === name)) {
    const extra = Object.keys(s.labels).filter((k) => !labelOrder.includes(k) && k !== 'le');
    assert.deepEqual(extra, [], `${name} has only the labels ${labelOrder.join(', ')}`);
    out[labelOrder.map((k) => s.labels[k]).join(' ')] = s.value;
  }
  return out;
}

const single = (samples: Sample[], name: string): number => {
  const found = samples.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one sample of ${name}`);
  return found[0].value;
};

let a: OpenAiEmulator;
let b: OpenAiEmulator;
let t: TestApp;
let png: Buffer;

before(async () => {
  png = await makePng(256, 256);
  a = await startOpenAiEmulator({ apiKey: KEY_A });
  b = await startOpenAiEmulator({ apiKey: KEY_B });
  const never = { failures: 1000, cooldownMs: 1000 };
  t = await gateway(
    {
      providers: {
        a: { type: 'openai', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 1, breaker: never },
        b: { type: 'openai', baseUrl: b.baseUrl, apiKey: 'env:KEY_B', maxRetries: 0, breaker: never },
        // opens after one failure and stays open for the rest of the test
        brk: { type: 'openai', baseUrl: a.baseUrl, apiKey: 'env:KEY_A', maxRetries: 0, breaker: { failures: 1, cooldownMs: 600_000 } },
      },
      models: {
        'gpt-image-1.5': { deployments: [{ provider: 'local' }] },
        'only-a': { deployments: [{ provider: 'a', model: 'gpt-image-1' }] },
        'gpt-image-1': { deployments: [{ provider: 'a', model: 'gpt-image-1' }, { provider: 'b', model: 'gpt-image-1' }] },
        'with-breaker': { deployments: [{ provider: 'brk', model: 'gpt-image-1' }] },
      },
      strictModels: true,
      prices: {
        'only-a': { perImage: { default: '0.04' } },
        'gpt-image-1': { perImage: { default: '0.02' } },
      },
    },
    // no queue: a second job for the built-in engine while one runs is refused (503 service_unavailable)
    { env: { KEY_A, KEY_B, IMAGEGATE_ENGINE_MAX_QUEUE: '0' } },
  );
});

after(async () => {
  await t.close();
  await Promise.all([a.close(), b.close()]);
});

/** A multipart edit whose exact body we know (its length is what the gateway takes in). */
async function edit(
  key: string,
  fields: Record<string, string>,
  files: { image: Buffer; mask?: Buffer } = { image: png },
): Promise<{ status: number; body: string; bytes: number; headers: Headers }> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('image', new Blob([files.image], { type: 'image/png' }), 'a.png');
  if (files.mask) fd.append('mask', new Blob([files.mask], { type: 'image/png' }), 'mask.png');
  const encoded = new Request('http://x/', { method: 'POST', body: fd });
  const bytes = Buffer.from(await encoded.arrayBuffer());
  const res = await fetch(`${t.url}${EDITS}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': encoded.headers.get('content-type')! },
    body: bytes,
  });
  return { status: res.status, body: await res.text(), bytes: bytes.length, headers: res.headers };
}

async function scrape(key: string | null = t.masterKey, url = t.url): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function newKey(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${t.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { key: string }).key;
}

describe('GET /metrics after a mixed load', () => {
  test('every counter equals what the load did', async () => {
    const master = t.masterKey;
    const sent: number[] = [];
    const expectStatus = async (p: ReturnType<typeof edit>, status: number) => {
      const r = await p;
      assert.equal(r.status, status, r.body.slice(0, 300));
      sent.push(r.bytes);
      return r;
    };

    // 1. the built-in engine
    await expectStatus(edit(master, { model: 'gpt-image-1.5', prompt: 'make it black and white' }), 200);
    // 2. an upstream
    await expectStatus(edit(master, { model: 'only-a', prompt: 'make it warmer' }), 200);
    // 3. a 400: no prompt (refused before the model is taken: no model label)
    await expectStatus(edit(master, { model: 'only-a' }), 400);
    // 4. a model nobody serves
    await expectStatus(edit(master, { model: 'nope', prompt: 'x' }), 404);
    // 5. the upstream says 429, then serves the retry
    a.fault({ kind: 'status', status: 429, headers: { 'retry-after-ms': '10' }, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
    await expectStatus(edit(master, { model: 'only-a', prompt: 'x' }), 200);
    // 6. a fails twice (a try and its retry), b serves it
    a.fault({ kind: 'status', status: 500, body: { error: { message: 'boom', type: 'server_error', param: null, code: null } } }, { times: 2 });
    const fell = await expectStatus(edit(master, { model: 'gpt-image-1', prompt: 'x' }), 200);
    assert.equal(fell.headers.get('x-imagegate-deployment'), 'b/gpt-image-1');
    // 7. a stream with one partial image
    const streamed = await expectStatus(edit(master, { model: 'only-a', prompt: 'x', stream: 'true', partial_images: '1' }), 200);
    assert.equal(streamed.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    // 8. an upstream failure that opens brk's breaker
    a.fault({ kind: 'status', status: 500, body: { error: { message: 'boom', type: 'server_error', param: null, code: null } } });
    await expectStatus(edit(master, { model: 'with-breaker', prompt: 'x' }), 502);
    // 9, 10. a key allowed one request a minute: served, then refused
    const slow = await newKey({ name: 'one-a-minute', rpm: 1 });
    await expectStatus(edit(slow, { model: 'only-a', prompt: 'x' }), 200);
    await expectStatus(edit(slow, { model: 'only-a', prompt: 'x' }), 429);
    // 11. a budgeted key allowed one request at once, scraped while the upstream works on its request;
    // 12. meanwhile its second request is refused
    const budget = await newKey({ name: 'budget', creditUsd: '1.00', maxConcurrent: 1 });
    a.fault({ kind: 'delay', ms: 1500 });
    const before = a.requests.length;
    const pending = expectStatus(edit(budget, { model: 'only-a', prompt: 'x' }), 200);
    assert.ok(await eventually(() => a.requests.length > before, 5000), 'the upstream has the request');
    const during = parseExposition((await scrape()).text);
    // the most it can cost (one image at $0.04) is held, and its upload is on disk
    assert.equal(single(during, 'imagegate_credit_reserved_microusd'), 40_000);
    assert.equal(single(during, 'imagegate_spool_bytes'), png.length);
    await expectStatus(edit(budget, { model: 'only-a', prompt: 'x' }), 429);
    await pending;
    // 13. a key whose credit cannot cover the most a request can cost
    const poor = await newKey({ name: 'poor', creditUsd: '0.01' });
    await expectStatus(edit(poor, { model: 'only-a', prompt: 'x' }), 429);
    // 14. a long fill on the built-in engine's one thread, scraped while it runs;
    // 15. meanwhile another job for the engine is refused
    const big = await makePng(1024, 1024);
    const hole = await makeMask(1024, 1024, { left: 256, top: 256, width: 512, height: 512 });
    const fill = expectStatus(edit(master, { model: 'gpt-image-1.5', prompt: 'remove this' }, { image: big, mask: hole }), 200);
    assert.ok(await eventually(() => t.app.engine.load().running === 1, 10_000), 'the fill runs');
    const busy = parseExposition((await scrape()).text);
    assert.equal(single(busy, 'imagegate_engine_threads_busy'), 1);
    assert.equal(single(busy, 'imagegate_engine_queue_depth'), 0);
    const refused = await expectStatus(edit(master, { model: 'gpt-image-1.5', prompt: 'x' }), 503);
    assert.equal(JSON.parse(refused.body).error.code, 'service_unavailable');
    assert.equal(t.app.engine.load().running, 1, 'the fill was still running when the second job was refused');
    await fill;

    const r = await scrape();
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    const s = parseExposition(r.text);

    assert.deepEqual(series(s, 'imagegate_requests_total', ['route', 'model', 'deployment', 'status']), {
      [`${EDITS} gpt-image-1.5 local 200`]: 2, // 1, 14
      [`${EDITS} only-a a/gpt-image-1 200`]: 5, // 2, 5, 7, 9, 11
      [`${EDITS} none none 400`]: 1,
      [`${EDITS} none none 404`]: 1,
      [`${EDITS} gpt-image-1 b/gpt-image-1 200`]: 1,
      [`${EDITS} with-breaker none 502`]: 1,
      [`${EDITS} none none 429`]: 2, // 10, 12: refused before the body was read
      [`${EDITS} only-a none 429`]: 1, // 13: refused once the model was known
      [`${EDITS} gpt-image-1.5 none 503`]: 1, // 15
    });
    // every request observed once in the histogram, in its own series
    const counts = series(s, 'imagegate_request_duration_seconds_count', ['route', 'model', 'deployment', 'status']);
    assert.deepEqual(counts, series(s, 'imagegate_requests_total', ['route', 'model', 'deployment', 'status']));
    const les = s.filter((x) => x.name === 'imagegate_request_duration_seconds_bucket' && x.labels.status === '404').map((x) => x.labels.le);
    assert.deepEqual(les, [...LATENCY_BUCKETS_SECONDS.map(String), '+Inf']);

    assert.deepEqual(series(s, 'imagegate_upstream_attempts_total', ['deployment', 'outcome', 'status']), {
      'local success 200': 2, // 1, 14
      'local failure none': 1, // 15: the engine refused the job
      'a/gpt-image-1 success 200': 5, // 2, 5 (its retry), 7, 9, 11
      'a/gpt-image-1 failure 429': 1, // 5
      'a/gpt-image-1 failure 500': 2, // 6
      'b/gpt-image-1 success 200': 1, // 6
      'brk/gpt-image-1 failure 500': 1, // 8
    });
    assert.deepEqual(series(s, 'imagegate_upstream_retries_total', ['deployment']), { 'a/gpt-image-1': 2 }); // 5 and 6
    assert.deepEqual(series(s, 'imagegate_upstream_fallbacks_total', ['from', 'to']), { 'a/gpt-image-1 b/gpt-image-1': 1 });

    assert.deepEqual(series(s, 'imagegate_refusals_total', ['route', 'code']), {
      [`${EDITS} rate_limit_exceeded`]: 1, // 10
      [`${EDITS} concurrency_limit_exceeded`]: 1, // 12
      [`${EDITS} insufficient_quota`]: 1, // 13
      [`${EDITS} service_unavailable`]: 1, // 15
    });
    assert.deepEqual(series(s, 'imagegate_upload_bytes_total', ['route']), { [EDITS]: sent.reduce((x, y) => x + y, 0) });
    assert.deepEqual(series(s, 'imagegate_credit_charged_microusd_total', ['route', 'model']), {
      [`${EDITS} gpt-image-1.5`]: 0,
      [`${EDITS} only-a`]: 5 * 40_000, // 13 was refused: nothing
      [`${EDITS} none`]: 0,
      [`${EDITS} gpt-image-1`]: 20_000,
      [`${EDITS} with-breaker`]: 0,
    });

    assert.deepEqual(series(s, 'imagegate_circuit_breaker_state', ['provider', 'state']), {
      'a closed': 1,
      'a half-open': 0,
      'a open': 0,
      'b closed': 1,
      'b half-open': 0,
      'b open': 0,
      'brk closed': 0,
      'brk half-open': 0,
      'brk open': 1,
      'local closed': 1,
      'local half-open': 0,
      'local open': 0,
    });
    assert.equal(single(s, 'imagegate_engine_queue_depth'), 0);
    assert.equal(single(s, 'imagegate_engine_threads_busy'), 0);
    assert.equal(single(s, 'imagegate_engine_threads'), 1);
    assert.equal(single(s, 'imagegate_spool_bytes'), 0);
    assert.equal(single(s, 'imagegate_credit_reserved_microusd'), 0);
    // the process's own figures are there too
    assert.ok(s.some((x) => x.name === 'process_cpu_user_seconds_total'));

    // the request log says the same
    const entries = await t.app.stores.requestLog.list({ limit: 100 });
    assert.equal(entries.length, 15);
    assert.equal(entries.reduce((n, e) => n + e.bytesIn, 0), sent.reduce((x, y) => x + y, 0));
    assert.equal(entries.reduce((n, e) => n + e.costMicros, 0), 5 * 40_000 + 20_000);
  });

  test('without the master key: 401; with a virtual key: 403', async () => {
    const none = await scrape(null);
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.text).error.code, 'missing_api_key');
    const key = await newKey({ name: 'not-admin' });
    const other = await scrape(key);
    assert.equal(other.status, 403);
    assert.equal(JSON.parse(other.text).error.code, 'master_key_required');
  });
});

describe('public metrics', () => {
  test('IMAGEGATE_METRICS_PUBLIC=true: anyone may scrape', async () => {
    const pub = await startTestApp({ env: { IMAGEGATE_METRICS_PUBLIC: 'true' } });
    try {
      const r = await scrape(null, pub.url);
      assert.equal(r.status, 200);
      const s = parseExposition(r.text);
      // a registry of its own: nothing of the other app's load
      assert.deepEqual(series(s, 'imagegate_requests_total', ['route', 'model', 'deployment', 'status']), {});
      assert.equal(single(s, 'imagegate_engine_threads'), 1);
    } finally {
      await pub.close();
    }
  });

  test('the config file says it as metrics.public', async () => {
    const pub = await startTestApp({ config: { metrics: { public: true } } });
    try {
      assert.equal((await scrape(null, pub.url)).status, 200);
    } finally {
      await pub.close();
    }
    assert.equal(loadConfig({}).metrics.public, false);
    assert.equal(loadConfig({ IMAGEGATE_METRICS_PUBLIC: 'false' }).metrics.public, false);
  });
});

describe('what the counters are derived from', () => {
  const at = (deployment: string, status: number | null, reason: string | null = status === 200 ? null : 'x') => ({ deployment, status, latencyMs: 1, reason });
  const flow = (attempts: ReturnType<typeof at>[]) => {
    const f = upstreamFlow(attempts);
    return { retries: Object.fromEntries(f.retries), fallbacks: f.fallbacks };
  };

  test('retries and fallbacks from the attempts', () => {
    assert.deepEqual(flow([]), { retries: {}, fallbacks: [] });
    assert.deepEqual(flow([at('a', 200)]), { retries: {}, fallbacks: [] });
    assert.deepEqual(flow([at('a', 429), at('a', 200)]), { retries: { a: 1 }, fallbacks: [] });
    assert.deepEqual(flow([at('a', 500), at('a', 500), at('b', 200)]), { retries: { a: 1 }, fallbacks: [['a', 'b']] });
    assert.deepEqual(flow([at('a', null), at('b', 500), at('c', 200)]), { retries: {}, fallbacks: [['a', 'b'], ['b', 'c']] });
    // n split into parallel calls: two successes are two calls, not a retry
    assert.deepEqual(flow([at('a', 200), at('a', 200)]), { retries: {}, fallbacks: [] });
    assert.deepEqual(flow([at('a', 200), at('a', 503), at('a', 200)]), { retries: { a: 1 }, fallbacks: [] });
    // a deployment skipped at planning was never called
    assert.deepEqual(flow([at('a', null, 'skipped: a does not support masks'), at('b', 200)]), { retries: {}, fallbacks: [] });
  });

  test('refusals are the gateway\'s own 429 and 503', () => {
    assert.equal(isRefusal({ status: 429, errorCode: 'rate_limit_exceeded' }), true);
    assert.equal(isRefusal({ status: 429, errorCode: 'insufficient_quota' }), true);
    assert.equal(isRefusal({ status: 503, errorCode: 'service_unavailable' }), true);
    assert.equal(isRefusal({ status: 503, errorCode: 'service_unavailable' }), true);
    assert.equal(isRefusal({ status: 503, errorCode: 'upstream_unavailable' }), false);
    assert.equal(isRefusal({ status: 502, errorCode: 'upstream_error' }), false);
    assert.equal(isRefusal({ status: 200, errorCode: null }), false);
  });
});

test('the engine\'s load, as /metrics reads it: one job on the thread, the next waiting', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-load-'));
  const file = path.join(dir, 'in.png');
  fs.writeFileSync(file, await makePng(64, 64));
  const engine = createEngine({ threads: 1 });
  try {
    const job = { prompt: 'make it black and white', images: [{ path: file }], mask: null, maskFromAlpha: false, n: 1, size: { width: 64, height: 64 }, background: 'auto' as const, outputFormat: 'png' as const, outputCompression: null, partialImages: 0 };
    assert.deepEqual(engine.load(), { threads: 1, running: 0, queued: 0, maxQueue: Infinity });
    const jobs = [engine.run(job), engine.run(job)];
    assert.deepEqual(engine.load(), { threads: 1, running: 1, queued: 1, maxQueue: Infinity });
    await Promise.all(jobs);
    assert.deepEqual(engine.load(), { threads: 1, running: 0, queued: 0, maxQueue: Infinity });
  } finally {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
