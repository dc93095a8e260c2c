/**
 * The ledger through the whole gateway, on SQLite and on the PostgreSQL on
 * 127.0.0.1:5432: 200 concurrent edits on a key whose credit covers exactly
 * 50 → exactly 50 are served, 150 get insufficient_quota, the balance ends at
 * exactly zero, and the ledger equals the sum of the charges in the request log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { makePng } from '../helpers/images.js';
import { gateway, type TestApp } from '../providers/helpers.js';
import { backends } from '../store/backends.js';

let up: OpenAiEmulator;
let png: Buffer;

before(async () => {
  up = await startOpenAiEmulator({ apiKey: 'sk-up-0123456789abcdef', noWork: true });
  up.keepRequests = false;
  png = await makePng(64, 64);
});
after(() => up.close());

for (const backend of backends) {
  describe(`200 edits racing for credit that covers 50, on ${backend.name}`, () => {
    let t: TestApp;
    let place: Awaited<ReturnType<typeof backend.prepare>>;
    before(async () => {
      place = await backend.prepare();
      t = await gateway(
        {
          providers: { up: { type: 'openai-compatible', baseUrl: up.baseUrl, apiKey: 'env:UP_KEY' } },
          models: { 'flux-kontext-pro': { deployments: [{ provider: 'up', model: 'gpt-image-1' }] } },
          // per image: the most an edit can cost is what it costs, so exactly 50 fit
          prices: { 'flux-kontext-pro': { perImage: { default: '0.04' } } },
        },
        { env: { UP_KEY: 'sk-up-0123456789abcdef', ...(place.databaseUrl ? { DATABASE_URL: place.databaseUrl } : {}) } },
      );
    });
    after(async () => {
      await t.close();
      await place.cleanup();
    });

    test('exactly 50 served, 150 insufficient_quota, balance exactly zero, ledger = request log', async () => {
      const created = await fetch(`${t.url}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'race', creditUsd: '2.00' }),
      });
      const key = (await created.json()) as { id: string; key: string };
      const one = async () => {
        const fd = new FormData();
        fd.append('model', 'flux-kontext-pro');
        fd.append('prompt', 'x');
        fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
        const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key.key}` }, body: fd });
        const body = (await res.json()) as { error?: { code: string } };
        return res.status === 200 ? 'ok' : `${res.status} ${body.error?.code}`;
      };
      const outcomes = await Promise.all(Array.from({ length: 200 }, one));
      const counts = outcomes.reduce<Record<string, number>>((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {});
      assert.deepEqual(counts, { ok: 50, '429 insufficient_quota': 150 });
      assert.deepEqual(await t.app.stores.ledger.balance(key.id), { granted: 2_000_000, charged: 2_000_000, reserved: 0, available: 0 });
      const k = t.app.stores.db.kysely;
      const ledger = await sql<{ n: string }>`select coalesce(sum(amount), 0) as n from ledger where key_id = ${key.id} and kind = 'settle'`.execute(k);
      const log = await sql<{ n: string; c: string }>`select coalesce(sum(cost_micros), 0) as n, count(*) as c from request_log where key_id = ${key.id} and status = 200`.execute(k);
      assert.equal(Number(ledger.rows[0].n), 2_000_000);
      assert.equal(Number(log.rows[0].n), 2_000_000);
      assert.equal(Number(log.rows[0].c), 50);
      const refused = await sql<{ n: string }>`select coalesce(sum(cost_micros), 0) as n from request_log where key_id = ${key.id} and status = 429`.execute(k);
      assert.equal(Number(refused.rows[0].n), 0);
    });
  });
}
