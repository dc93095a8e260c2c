/**
 * One node and its own PostgreSQL (started and stopped by the test, never the
 * shared one): readiness, a database that stops answering (503 naming it,
 * within 5 s, no secret), a settlement kept in the outbox while the database
 * is away and written exactly once when it comes back, and the database used
 * again without a restart. Also: draining on shutdown, a grace that runs
 * out, and overload.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sql } from 'kysely';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { makePng } from '../helpers/images.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { eventually, gateway, type TestApp } from '../providers/helpers.js';

let up: OpenAiEmulator;
let png: Buffer;

const CONFIG = (emu: string) => ({
  providers: { up: { type: 'openai-compatible', baseUrl: emu, apiKey: 'env:UP_KEY', maxRetries: 0 } },
  models: { 'flux-kontext-pro': { deployments: [{ provider: 'up', model: 'gpt-image-1' }] } },
  prices: { 'flux-kontext-pro': { perImage: { default: '0.04' } } },
});

before(async () => {
  up = await startOpenAiEmulator({ apiKey: 'sk-up-0123456789abcdef', noWork: true });
  png = await makePng(64, 64);
});
after(() => up.close());

function edit(t: TestApp, key: string, extra: { signal?: AbortSignal; idempotencyKey?: string } = {}) {
  const fd = new FormData();
  fd.append('model', 'flux-kontext-pro');
  fd.append('prompt', 'x');
  fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (extra.idempotencyKey) headers['idempotency-key'] = extra.idempotencyKey;
  return fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers, body: fd, signal: extra.signal });
}

async function newKey(t: TestApp, credit: string): Promise<{ id: string; key: string }> {
  const res = await fetch(`${t.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'k', creditUsd: credit }) });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; key: string };
}

/** the node's /metrics text (it answers while the database is away) */
async function scrape(t: TestApp): Promise<string> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.masterKey}` } });
  assert.equal(res.status, 200);
  return res.text();
}

describe('the database stops and comes back', () => {
  let pg: TestPostgres;
  let t: TestApp;
  before(async () => {
    pg = await startTestPostgres();
    t = await gateway(CONFIG(up.baseUrl), { env: { UP_KEY: 'sk-up-0123456789abcdef', DATABASE_URL: pg.url } });
  });
  after(async () => {
    await t?.close();
    await pg?.close();
  });

  test('ready while it answers: every configured store checked', async () => {
    const res = await fetch(`${t.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true, draining: false, checks: { database: 'ok', storage: 'ok' } });
  });

  test('while it is away: 503 service_unavailable naming it within 5 s, readiness 503; then served again without a restart', async () => {
    const k = await newKey(t, '1.00');
    await pg.stop();
    const started = Date.now();
    const res = await edit(t, k.key);
    const took = Date.now() - started;
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.equal(res.status, 503);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(body.error.code, 'service_unavailable');
    assert.equal(body.error.type, 'server_error');
    assert.match(String(body.error.message), /^The database is unavailable \(/);
    assert.ok(!String(body.error.message).includes(pg.url) && !String(body.error.message).includes(String(pg.port)));
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.ok(took < 5000, `answered in ${took} ms`);
    // readiness is cached for a second: it turns within two
    let ready = await fetch(`${t.url}/readyz`);
    for (let i = 0; i < 20 && ready.status !== 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`${t.url}/readyz`);
    }
    assert.equal(ready.status, 503);
    const readyBody = (await ready.json()) as { ready: boolean; checks: { database: string } };
    assert.equal(readyBody.ready, false);
    assert.match(readyBody.checks.database, /^down: /);
    await pg.start();
    let status = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && status !== 200) {
      status = (await edit(t, k.key)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 200, 'used again within 10 s of coming back');
  });

  test('gone after the engine answered: the client gets its images, the charge waits in the outbox and is written once', async () => {
    const k = await newKey(t, '1.00');
    // the upstream takes a moment; the database goes away meanwhile
    up.fault({ kind: 'delay', ms: 1500 });
    const pending = edit(t, k.key);
    await new Promise((r) => setTimeout(r, 700));
    await pg.stop();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-imagegate-cost-usd'), '0.040000');
    const requestId = res.headers.get('x-request-id')!;
    assert.ok(((await res.json()) as { data: unknown[] }).data.length === 1);
    const stats = await t.app.outbox.stats();
    assert.equal(stats.pending, 2, 'the settlement and the log entry wait');
    assert.match(await scrape(t), /^imagegate_outbox_pending 2$/m);
    await pg.start();
    const until = Date.now() + 15_000;
    while (Date.now() < until && (await t.app.outbox.stats()).pending > 0) await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await t.app.outbox.stats(), { pending: 0, settled: 1, logged: 1, answers: 0 });
    const after = await scrape(t);
    assert.match(after, /^imagegate_outbox_pending 0$/m);
    assert.match(after, /^imagegate_outbox_written_total\{kind="settlement"\} 1$/m);
    assert.match(after, /^imagegate_outbox_written_total\{kind="log"\} 1$/m);
    assert.deepEqual(await t.app.stores.ledger.balance(k.id), { granted: 1_000_000, charged: 40_000, reserved: 0, available: 960_000 });
    assert.equal((await t.app.stores.requestLog.get(requestId))?.costMicros, 40_000);
    // written again (a restart replaying an old file) changes nothing
    await t.app.stores.ledger.settle({ keyId: k.id, reservationId: null, requestId, amount: 40_000 });
    assert.equal((await t.app.stores.ledger.balance(k.id)).charged, 40_000);
    const n = await sql<{ n: string }>`select count(*) as n from ledger where request_id = ${requestId} and kind = 'settle'`.execute(t.app.stores.db.kysely);
    assert.equal(Number(n.rows[0].n), 1);
  });

  test('an Idempotency-Key edit the database left after the engine answered: served and charged once, its answer replayed after', async () => {
    const k = await newKey(t, '1.00');
    up.reset();
    up.fault({ kind: 'delay', ms: 1500 });
    const pending = edit(t, k.key, { idempotencyKey: 'order-lost' });
    await new Promise((r) => setTimeout(r, 700));
    await pg.stop();
    const res = await pending;
    const body = Buffer.from(await res.arrayBuffer());
    // served: its images, not a 503 for an answer whose charge is kept
    assert.equal(res.status, 200, body.toString().slice(0, 300));
    assert.equal(res.headers.get('x-imagegate-cost-usd'), '0.040000');
    assert.equal((await t.app.outbox.stats()).pending, 3, 'the settlement, the log entry and the answer wait');
    await pg.start();
    const until = Date.now() + 15_000;
    while (Date.now() < until && (await t.app.outbox.stats()).pending > 0) await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await t.app.outbox.stats(), { pending: 0, settled: 2, logged: 2, answers: 1 });
    assert.match(await scrape(t), /^imagegate_outbox_written_total\{kind="answer"\} 1$/m);
    // a resend gets the same answer and costs nothing more; the upstream ran once
    const again = await edit(t, k.key, { idempotencyKey: 'order-lost' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-imagegate-idempotent-replay'), 'true');
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(body));
    assert.equal(up.requests.length, 1);
    assert.deepEqual(await t.app.stores.ledger.balance(k.id), { granted: 1_000_000, charged: 40_000, reserved: 0, available: 960_000 });
  });
});

describe('shutdown and overload', () => {
  test('draining: readiness 503 at once, a new request on a kept-alive connection 503 with Connection: close, the one in flight finishes', async () => {
    const t = await gateway(CONFIG(up.baseUrl), { env: { UP_KEY: 'sk-up-0123456789abcdef' } });
    // two kept-alive connections, made before the drain: after it, each carries one more answer
    const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];
    const get = (path: string, agent = agents[0]) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        http.get(`${t.url}${path}`, { agent, headers: { authorization: `Bearer ${t.masterKey}` } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        }).on('error', reject);
      });
    assert.equal((await get('/v1/models')).status, 200);
    assert.equal((await get('/v1/models', agents[1])).status, 200);
    up.fault({ kind: 'delay', ms: 1200 });
    const inFlight = edit(t, t.masterKey);
    await new Promise((r) => setTimeout(r, 300));
    const closing = t.app.close(10_000, 2_000);
    assert.equal(t.app.lifecycle.draining, true);
    const ready = await get('/readyz', agents[1]);
    assert.equal(ready.status, 503);
    assert.deepEqual(JSON.parse(ready.body), { ready: false, draining: true, checks: { database: 'ok', storage: 'ok' } });
    const again = await get('/v1/models');
    assert.equal(again.status, 503);
    assert.equal(again.headers.connection, 'close');
    assert.equal(JSON.parse(again.body).error.code, 'service_unavailable');
    const done = await inFlight;
    assert.equal(done.status, 200);
    await closing;
    for (const a of agents) a.destroy();
    await t.close();
  });

  test('a grace that runs out: the request is aborted, its client told 503, its reservation released', async () => {
    const t = await gateway(CONFIG(up.baseUrl), { env: { UP_KEY: 'sk-up-0123456789abcdef' } });
    const k = await newKey(t, '1.00');
    up.fault({ kind: 'delay', ms: 5000 });
    const inFlight = edit(t, k.key);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await t.app.stores.ledger.balance(k.id)).reserved, 40_000);
    const ledger = t.app.stores.ledger;
    const closed = t.app.close(300);
    const res = await inFlight;
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'service_unavailable');
    await closed;
    // the stores are closed: look through a fresh handle
    void ledger;
    const { openStores } = await import('../../src/store/index.js');
    const s = await openStores({ databaseUrl: null, dataDir: t.dataDir });
    assert.deepEqual(await s.ledger.balance(k.id), { granted: 1_000_000, charged: 0, reserved: 0, available: 1_000_000 });
    await s.close();
    await t.close();
  });

  test('overload: beyond maxInFlight a 503 service_unavailable with Retry-After at once', async () => {
    const t = await gateway({ ...CONFIG(up.baseUrl), maxInFlight: 1 }, { env: { UP_KEY: 'sk-up-0123456789abcdef' } });
    up.fault({ kind: 'delay', ms: 1000 });
    const first = edit(t, t.masterKey);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const second = await edit(t, t.masterKey);
    assert.equal(second.status, 503);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'service_unavailable');
    assert.equal(second.headers.get('retry-after'), '1');
    assert.ok(Date.now() - started < 500, 'at once');
    assert.equal((await first).status, 200);
    await t.close();
  });
});
