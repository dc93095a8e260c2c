/**
 * Two gateway processes sharing the PostgreSQL on 127.0.0.1:5432 (a schema
 * of their own) and the Redis on 127.0.0.1:6379: a key's rate limit holds
 * across both, its credit is never overspent across both, an Idempotency-Key
 * sent to both at once runs once, and `kill -9` of one node with edits in
 * flight charges nothing for what was not delivered and leaves only
 * reservations that expire.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { sql } from 'kysely';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { startGateway, type GatewayChild } from '../helpers/gateway-process.js';
import { makePng } from '../helpers/images.js';
import { openStores, type OpenedStores } from '../../src/store/index.js';
import { backends } from '../store/backends.js';
import { eventually } from '../providers/helpers.js';

const postgres = backends.find((b) => b.name === 'postgres')!;
const MASTER = `sk-ig-master-${crypto.randomBytes(20).toString('hex')}`;

let up: OpenAiEmulator;
let place: Awaited<ReturnType<typeof postgres.prepare>>;
let a: GatewayChild;
let b: GatewayChild;
let stores: OpenedStores;
let png: Buffer;

const CONFIG = (emu: string) => `
providers:
  up: { type: openai-compatible, baseUrl: "${emu}", apiKey: env:UP_KEY, maxRetries: 0, timeouts: { totalMs: 20000 } }
models:
  flux-kontext-pro:
    deployments: [{ provider: up, model: gpt-image-1 }]
prices:
  flux-kontext-pro: { perImage: { default: "0.04" } }
`;

before(async () => {
  up = await startOpenAiEmulator({ apiKey: 'sk-up-0123456789abcdef', noWork: true });
  place = await postgres.prepare();
  png = await makePng(64, 64);
  const env = {
    UP_KEY: 'sk-up-0123456789abcdef',
    DATABASE_URL: place.databaseUrl!,
    REDIS_URL: 'redis://127.0.0.1:6379',
    IMAGEGATE_MASTER_KEY: MASTER,
    IMAGEGATE_URL_SECRET: crypto.randomBytes(32).toString('hex'),
  };
  // one after the other: the first runs the migrations
  a = await startGateway({ config: CONFIG(up.baseUrl), env });
  b = await startGateway({ config: CONFIG(up.baseUrl), env });
  stores = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir });
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await stores?.close();
  await up.close();
  await place.cleanup();
});

async function newKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await fetch(`${a.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string; key: string };
}

async function edit(node: GatewayChild, key: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string | null; body: Buffer; headers: Headers }> {
  const fd = new FormData();
  fd.append('model', 'flux-kontext-pro');
  fd.append('prompt', 'x');
  fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
  const res = await fetch(`${node.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...headers }, body: fd });
  const body = Buffer.from(await res.arrayBuffer());
  const code = res.status === 200 ? null : (JSON.parse(body.toString()) as { error: { code: string } }).error.code;
  return { status: res.status, code, body, headers: res.headers };
}

const tally = (xs: Array<{ status: number; code: string | null }>) =>
  xs.reduce<Record<string, number>>((m, x) => {
    const k = x.status === 200 ? 'ok' : `${x.status} ${x.code}`;
    return { ...m, [k]: (m[k] ?? 0) + 1 };
  }, {});

describe('two nodes on one PostgreSQL and one Redis', () => {
  test('a key limited to 10 requests per minute gets exactly 10 through across both', async () => {
    const k = await newKey({ name: 'rpm', rpm: 10 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => edit(i % 2 ? a : b, k.key)));
    assert.deepEqual(tally(results), { ok: 10, '429 rate_limit_exceeded': 20 });
  });

  test('credit for 20 edits is never overspent across both under 60 concurrent requests', async () => {
    const k = await newKey({ name: 'credit', creditUsd: '0.80' });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => edit(i % 2 ? a : b, k.key)));
    assert.deepEqual(tally(results), { ok: 20, '429 insufficient_quota': 40 });
    assert.deepEqual(await stores.ledger.balance(k.id), { granted: 800_000, charged: 800_000, reserved: 0, available: 0 });
  });

  test('the same Idempotency-Key sent to both at once: one run, one charge, identical bodies', async () => {
    const k = await newKey({ name: 'idem', creditUsd: '1.00' });
    up.reset();
    up.fault({ kind: 'delay', ms: 700 });
    const [x, y] = await Promise.all([edit(a, k.key, { 'idempotency-key': 'same' }), edit(b, k.key, { 'idempotency-key': 'same' })]);
    assert.deepEqual([x.status, y.status], [200, 200]);
    assert.ok(x.body.equals(y.body));
    assert.equal(up.requests.length, 1);
    assert.equal((await stores.ledger.balance(k.id)).charged, 40_000);
    // and again in a row, to the other node
    const z = await edit(b, k.key, { 'idempotency-key': 'same' });
    assert.ok(z.body.equals(x.body));
    assert.equal(z.headers.get('x-imagegate-idempotent-replay'), 'true');
    assert.equal((await stores.ledger.balance(k.id)).charged, 40_000);
  });

  test('kill -9 of a node with edits in flight: nothing charged for them, their reservations only expire', async () => {
    const k = await newKey({ name: 'killed', creditUsd: '1.00' });
    up.reset();
    up.fault({ kind: 'delay', ms: 15_000 }, { times: 5 });
    const pending = Array.from({ length: 5 }, () => edit(a, k.key).catch(() => null));
    assert.ok(await eventually(() => up.requests.length === 5, 10_000), 'five edits reached the upstream');
    const held = await stores.ledger.balance(k.id);
    assert.equal(held.reserved, 5 * 40_000, 'each holds its reservation');
    await a.kill();
    await Promise.all(pending);
    up.clearFaults();
    const open = await sql<{ expires_at: string; created_at: string }>`select expires_at, created_at from reservations where key_id = ${k.id} and state = 'open'`.execute(stores.db.kysely);
    assert.equal(open.rows.length, 5);
    // they expire after the longest the request could have run (20 s total here) plus a minute
    for (const r of open.rows) {
      const ttl = Number(r.expires_at) - Number(r.created_at);
      assert.ok(ttl <= 20_000 + 60_000 && ttl > 20_000 + 59_000, `ttl ${ttl}`);
    }
    assert.equal((await stores.ledger.balance(k.id)).charged, 0, 'nothing delivered, nothing charged');
    // what the surviving node's sweeper does once they expire
    const at = Math.max(...open.rows.map((r) => Number(r.expires_at))) + 1;
    assert.equal(await stores.ledger.releaseExpired(at), 5);
    assert.deepEqual(await stores.ledger.balance(k.id), { granted: 1_000_000, charged: 0, reserved: 0, available: 1_000_000 });
    // the other node serves on
    assert.equal((await edit(b, k.key)).status, 200);
  });
});
