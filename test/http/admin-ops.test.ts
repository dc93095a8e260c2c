/**
 * The admin routes behind the web console, on a gateway whose one upstream is
 * the OpenAI emulator: the overview (rate, errors, latency, spend,
 * per-deployment health and breaker state), the running config with no secret
 * in it, groups, usage, the ping table, the request log's new filters and
 * hosted outputs, and a virtual key's own log. Every admin route refuses a
 * virtual key: the server enforces it, not the console.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { makePng } from '../helpers/images.js';
import { gateway, type TestApp } from '../providers/helpers.js';
import { bucketFor } from '../../src/http/routes/admin-ops.js';
import { logEntryJson } from '../../src/http/routes/admin.js';

const UPSTREAM_KEY = 'sk-upstream-0123456789abcdefSECRET';
// shorter than the scrubber's minimum: still never shown
const ORG = 'org-7';

let emu: OpenAiEmulator;
let t: TestApp;
let png: Buffer;
let userKey: { id: string; key: string };
let otherKey: { id: string; key: string };

async function edit(key: string, fields: Record<string, string>, withImage = true): Promise<Response> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  if (withImage) fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: fd });
  await res.arrayBuffer();
  return res;
}

async function call(path: string, key = t.masterKey, init: RequestInit = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${t.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

before(async () => {
  png = await makePng(64, 64);
  emu = await startOpenAiEmulator({ apiKey: UPSTREAM_KEY });
  t = await gateway(
    {
      providers: {
        up: {
          type: 'openai',
          baseUrl: emu.baseUrl,
          apiKey: 'env:UPSTREAM_KEY',
          organization: 'env:ORG',
          maxRetries: 0,
          timeouts: { connectMs: 1000, firstByteMs: 2000, totalMs: 5000 },
          breaker: { failures: 2, cooldownMs: 600_000 },
        },
      },
      models: {
        'gpt-image-1': { deployments: [{ provider: 'local' }] },
        'up-model': { deployments: [{ provider: 'up', model: 'gpt-image-1' }, { provider: 'local' }] },
      },
      prices: { 'gpt-image-1': { perImage: { default: '0.04' } } },
      groups: { partners: { priceMultiplier: '0.8', rpm: 600 } },
    },
    { env: { UPSTREAM_KEY, ORG } },
  );
  const created = await t.app.stores.keys.create({ name: 'team-a', group: 'partners' });
  userKey = { id: created.id, key: created.key };
  const other = await t.app.stores.keys.create({ name: 'team-b' });
  otherKey = { id: other.id, key: other.key };

  // two served by the built-in engine (one by the user key, hosted as url), one refused
  assert.equal((await edit(t.masterKey, { prompt: 'make it black and white' })).status, 200);
  assert.equal((await edit(userKey.key, { prompt: 'make it black and white', response_format: 'url', n: '2' })).status, 200);
  assert.equal((await edit(otherKey.key, { prompt: 'x' }, false)).status, 400);
  // the upstream fails twice: its breaker opens, and the local fallback serves both
  emu.fault({ kind: 'status', status: 500, body: { error: { message: 'boom' } } }, { times: 2 });
  assert.equal((await edit(t.masterKey, { model: 'up-model', prompt: 'make it warmer' })).status, 200);
  assert.equal((await edit(t.masterKey, { model: 'up-model', prompt: 'make it warmer' })).status, 200);
});

after(async () => {
  await t.close();
  await emu.close();
});

test('every admin route refuses a virtual key (403) and a missing key (401)', async () => {
  for (const [method, path] of [
    ['GET', '/admin/stats'],
    ['GET', '/admin/config'],
    ['GET', '/admin/groups'],
    ['GET', '/admin/usage'],
    ['POST', '/admin/providers/ping'],
    ['GET', '/admin/requests'],
    ['GET', '/admin/keys'],
  ]) {
    const refused = await call(path, userKey.key, { method });
    assert.equal(refused.status, 403, path);
    assert.equal(refused.body.error.code, 'master_key_required', path);
    const res = await fetch(`${t.url}${path}`, { method });
    assert.equal(res.status, 401, path);
  }
});

test('stats: requests, errors, latency, spend and per-deployment health with breaker state', async () => {
  const { status, body } = await call('/admin/stats');
  assert.equal(status, 200);
  assert.equal(body.requests, 5);
  assert.equal(body.errors, 1);
  assert.equal(body.serverErrors, 0);
  assert.equal(body.errorRate, 0.2);
  assert.equal(body.bucketSeconds, 60);
  assert.equal(body.requestsPerMinute, 0.08);
  assert.ok(body.latencyMs.p50 > 0 && body.latencyMs.p95 >= body.latencyMs.p50);
  assert.equal(body.series.reduce((n: number, p: any) => n + p.requests, 0), 5);
  // the user key's two images at $0.04 × 0.8, the master key's one at $0.04; up-model has no price
  assert.equal(body.costUsd, '0.104000');
  assert.equal(body.costUsd, body.spendUsd.today);
  assert.equal(body.spendUsd.today, body.spendUsd.month);
  const up = body.deployments.find((d: any) => d.deployment === 'up/gpt-image-1');
  assert.deepEqual(
    { provider: up.provider, type: up.type, configured: up.configured, breaker: up.breaker, attempts: up.attempts, failed: up.failed, succeeded: up.succeeded },
    { provider: 'up', type: 'openai', configured: true, breaker: 'open', attempts: 2, failed: 2, succeeded: 0 },
  );
  assert.match(up.lastFailure, /500/);
  const local = body.deployments.find((d: any) => d.deployment === 'local');
  assert.equal(local.breaker, 'closed');
  assert.equal(local.succeeded, 4);
  assert.equal(body.breakers.up, 'open');
});

test('stats: the window is checked, and the series widens with it', async () => {
  assert.equal((await call('/admin/stats?since=yesterday')).status, 400);
  assert.equal((await call('/admin/stats?since=2000&until=1000')).body.error.param, 'since');
  assert.equal((await call('/admin/stats?since=0')).body.error.param, 'since');
  assert.equal((await call('/admin/stats?window=1')).body.error.param, 'window');
  const day = await call(`/admin/stats?since=${Math.floor(Date.now() / 1000) - 86400}`);
  assert.equal(day.body.bucketSeconds, 15 * 60);
  assert.equal(day.body.requests, 5);
  const future = await call(`/admin/stats?since=${Math.floor(Date.now() / 1000) + 60}&until=${Math.floor(Date.now() / 1000) + 120}`);
  assert.equal(future.body.requests, 0);
  assert.deepEqual(future.body.latencyMs, { p50: null, p95: null });
  assert.equal(bucketFor(60 * 60_000), 60_000);
  assert.equal(bucketFor(7 * 86_400_000), 60 * 60_000);
  assert.equal(bucketFor(90 * 86_400_000), 1440 * 60_000);
});

test('config: providers, models, prices and groups as they run, with no secret in it', async () => {
  const { status, body, text } = await call('/admin/config');
  assert.equal(status, 200);
  for (const secret of [UPSTREAM_KEY, t.masterKey, ORG]) assert.ok(!text.includes(secret), `a secret leaked: ${secret}`);
  const up = body.providers.find((p: any) => p.name === 'up');
  assert.equal(up.type, 'openai');
  assert.equal(up.baseUrl, emu.baseUrl);
  assert.equal(up.apiKey, '••••••');
  assert.equal(up.options.organization, '••••••');
  assert.deepEqual(up.breaker, { failures: 2, cooldownMs: 600_000 });
  assert.deepEqual(body.models.find((m: any) => m.id === 'up-model'), { id: 'up-model', configured: true, deployments: ['up/gpt-image-1', 'local'] });
  assert.deepEqual(body.prices, { 'gpt-image-1': { perImage: { default: '0.04' } } });
  assert.deepEqual(body.groups, [
    { name: 'default', priceMultiplier: '1', rpm: null, maxConcurrent: null },
    { name: 'partners', priceMultiplier: '0.8', rpm: 600, maxConcurrent: null },
  ]);
  assert.equal(body.server.database, 'sqlite');
  assert.equal(body.server.redis, false);
});

test('groups, with their live keys', async () => {
  const { body } = await call('/admin/groups');
  assert.deepEqual(body.data, [
    { name: 'default', priceMultiplier: '1', rpm: null, maxConcurrent: null, keys: 1 },
    { name: 'partners', priceMultiplier: '0.8', rpm: 600, maxConcurrent: null, keys: 1 },
  ]);
});

test('usage by key, model and day', async () => {
  const { body } = await call(`/admin/usage?keyId=${userKey.id}`);
  assert.equal(body.data.length, 1);
  assert.equal(body.data[0].keyId, userKey.id);
  assert.equal(body.data[0].requests, 1);
  assert.equal(body.data[0].images, 1); // input images
  assert.equal(body.data[0].costUsd, '0.064000');
  assert.equal((await call('/admin/usage?key=x')).body.error.param, 'key');
});

test('ping: a row per provider, the key accepted or refused, never shown', async () => {
  const { status, body, text } = await call('/admin/providers/ping', t.masterKey, { method: 'POST' });
  assert.equal(status, 200);
  assert.ok(!text.includes(UPSTREAM_KEY));
  assert.deepEqual(body.data.map((r: any) => [r.provider, r.type, r.reachable, r.authOk]), [['up', 'openai', true, true]]);
  assert.ok(typeof body.data[0].latencyMs === 'number');
});

test('request log: deployment, until and a status class filter', async () => {
  const all = (await call('/admin/requests')).body.data;
  assert.equal(all.length, 5);
  const byDeployment = (await call('/admin/requests?deployment=local')).body.data;
  assert.equal(byDeployment.length, 4);
  assert.deepEqual((await call('/admin/requests?status=4xx')).body.data.map((e: any) => e.status), [400]);
  assert.equal((await call('/admin/requests?status=2xx')).body.data.length, 4);
  const oldest = all.at(-1);
  const until = (await call(`/admin/requests?until=${encodeURIComponent(all.at(-2).createdAt)}`)).body.data;
  assert.ok(until.every((e: any) => e.createdAt < all.at(-2).createdAt));
  assert.ok(until.some((e: any) => e.id === oldest.id));
  assert.equal((await call('/admin/requests?until=soon')).body.error.param, 'until');
  assert.equal((await call('/admin/requests?status=6xx')).body.error.param, 'status');
});

test('request log: a url answer links its hosted outputs while they live', async () => {
  const entry = (await call(`/admin/requests?keyId=${userKey.id}`)).body.data[0];
  assert.equal(entry.outputs.length, 2);
  for (const o of entry.outputs) {
    const img = await fetch(o.url);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/png');
    assert.ok(Date.parse(o.expiresAt) > Date.now());
  }
  const b64 = (await call('/admin/requests?keyId=master&model=gpt-image-1')).body.data;
  assert.equal(b64.length, 1);
  assert.ok(b64.every((e: any) => e.outputs.length === 0));
  // once the links expired, the entry no longer offers them
  const stored = (await t.app.stores.requestLog.get(entry.id))!;
  assert.equal(logEntryJson(stored, Date.now()).outputs.length, 2);
  assert.equal(logEntryJson(stored, Date.parse(entry.outputs[0].expiresAt) + 1).outputs.length, 0);
});

test("a virtual key reads its own request log, and only its own", async () => {
  const mine = await call('/v1/account/requests', userKey.key);
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.data.map((e: any) => e.keyId), [userKey.id]);
  const other = await call('/v1/account/requests?status=4xx', otherKey.key);
  assert.deepEqual(other.body.data.map((e: any) => [e.keyId, e.status]), [[otherKey.id, 400]]);
  const steal = await call(`/v1/account/requests?keyId=${userKey.id}`, otherKey.key);
  assert.equal(steal.status, 400);
  assert.equal(steal.body.error.param, 'keyId');
  assert.equal((await fetch(`${t.url}/v1/account/requests`)).status, 401);
});
