import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ManualClock } from '../../src/clock.js';
import { openStores, type OpenedStores } from '../../src/store/index.js';
import { LAST_USED_RESOLUTION_MS } from '../../src/store/keys.js';
import type { RequestLogEntry } from '../../src/store/types.js';
import { migrations } from '../../src/store/migrations.js';
import { backends } from './backends.js';

function entry(overrides: Partial<RequestLogEntry> & { id: string; createdAt: number }): RequestLogEntry {
  return {
    keyId: 'key_a',
    method: 'POST',
    path: '/v1/images/edits',
    model: 'gpt-image-1',
    deployment: 'local',
    status: 200,
    errorCode: null,
    latencyMs: 1234,
    imageCount: 2,
    bytesIn: 5_000_000_000, // above 2^32: must survive as a number
    bytesOut: 123_456,
    inputTokens: 400,
    inputTextTokens: 12,
    inputImageTokens: 388,
    outputTokens: 4160,
    totalTokens: 4560,
    user: 'user-42',
    stream: false,
    attempts: [],
    costMicros: 0,
    warnings: [],
    ...overrides,
  };
}

for (const backend of backends) {
  describe(`SQL stores on ${backend.name}`, () => {
    let stores: OpenedStores;
    let place: Awaited<ReturnType<typeof backend.prepare>>;
    const clock = new ManualClock(Date.UTC(2026, 0, 1));

    before(async () => {
      place = await backend.prepare();
      stores = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir, clock });
    });

    after(async () => {
      await stores?.close();
      await place?.cleanup();
    });

    test('reports its dialect', () => {
      assert.equal(stores.dialect, backend.name);
    });

    test('create returns the key once, with the documented shape', async () => {
      const created = await stores.keys.create({ name: 'ci' });
      assert.match(created.key, /^sk-ig-[A-Za-z0-9]{40}$/);
      assert.match(created.id, /^key_[A-Za-z0-9]{16}$/);
      assert.equal(created.prefix, created.key.slice(0, 10));
      assert.equal(created.name, 'ci');
      assert.equal(created.createdAt, clock.now());
      assert.equal(created.revokedAt, null);
      assert.equal(created.lastUsedAt, null);
      const got = await stores.keys.get(created.id);
      assert.deepEqual(got, {
        id: created.id,
        name: 'ci',
        prefix: created.prefix,
        createdAt: created.createdAt,
        revokedAt: null,
        lastUsedAt: null,
        group: 'default',
        models: null,
        rpm: null,
        maxConcurrent: null,
        expiresAt: null,
        enabled: true,
        budgeted: false,
      });
      assert.equal(typeof got?.createdAt, 'number');
    });

    test('the key is never stored in plain text', async () => {
      const created = await stores.keys.create({ name: 'secret-check' });
      const rows = await stores.db.kysely.selectFrom('api_keys').selectAll().execute();
      const raw = JSON.stringify(rows);
      assert.ok(!raw.includes(created.key), 'full key found in api_keys');
      assert.ok(!raw.includes(created.key.slice(10)), 'secret part of the key found in api_keys');
      const row = rows.find((r) => r.id === created.id);
      assert.match(row?.key_hash ?? '', /^[0-9a-f]{64}$/);
    });

    test('list shows every key without secrets, newest first', async () => {
      clock.advance(1000);
      const a = await stores.keys.create({ name: 'list-a' });
      clock.advance(1000);
      const b = await stores.keys.create({ name: 'list-b' });
      const listed = await stores.keys.list();
      const ids = listed.map((k) => k.id);
      assert.ok(ids.indexOf(b.id) < ids.indexOf(a.id));
      for (const k of listed) {
        assert.equal((k as { key?: unknown }).key, undefined);
        assert.equal(typeof k.createdAt, 'number');
      }
    });

    test('verify accepts a live key and refuses wrong or malformed ones', async () => {
      const created = await stores.keys.create({ name: 'verify' });
      const ok = await stores.keys.verify(created.key);
      assert.equal(ok?.id, created.id);
      const last = created.key.at(-1) === 'A' ? 'B' : 'A';
      assert.equal(await stores.keys.verify(created.key.slice(0, -1) + last), null);
      assert.equal(await stores.keys.verify(''), null);
      assert.equal(await stores.keys.verify(created.key + ' '), null);
      assert.equal(await stores.keys.verify(created.prefix), null);
      assert.equal(await stores.keys.verify("sk-ig-' or 1=1 --"), null);
    });

    test('revoke: the key stops working; a second revoke or unknown id is false', async () => {
      const created = await stores.keys.create({ name: 'revoke' });
      assert.ok(await stores.keys.verify(created.key));
      clock.advance(5);
      assert.equal(await stores.keys.revoke(created.id), true);
      assert.equal(await stores.keys.verify(created.key), null);
      assert.equal(await stores.keys.revoke(created.id), false);
      assert.equal(await stores.keys.revoke('key_doesnotexist0000'), false);
      const info = await stores.keys.get(created.id);
      assert.equal(info?.revokedAt, clock.now());
      assert.equal(await stores.keys.get('key_doesnotexist0000'), null);
    });

    test('last_used_at is written on use, at most once a minute', async () => {
      const created = await stores.keys.create({ name: 'last-used' });
      const t0 = clock.now();
      assert.equal((await stores.keys.verify(created.key))?.lastUsedAt, t0);
      assert.equal((await stores.keys.get(created.id))?.lastUsedAt, t0);

      clock.advance(LAST_USED_RESOLUTION_MS - 1);
      assert.equal((await stores.keys.verify(created.key))?.lastUsedAt, t0);
      assert.equal((await stores.keys.get(created.id))?.lastUsedAt, t0);

      clock.advance(1);
      const t1 = clock.now();
      assert.equal((await stores.keys.verify(created.key))?.lastUsedAt, t1);
      const stored = await stores.keys.get(created.id);
      assert.equal(stored?.lastUsedAt, t1);
      assert.equal(typeof stored?.lastUsedAt, 'number');
    });

    test('request log: insert and get round-trip every field with numbers as numbers', async () => {
      const e = entry({
        id: 'req_roundtrip',
        createdAt: clock.now(),
        stream: true,
        attempts: [
          { deployment: 'openai-main/gpt-image-1', status: 429, latencyMs: 12, reason: 'HTTP 429: slow down' },
          { deployment: 'openai-main/gpt-image-1', status: 200, latencyMs: 3456, reason: null },
        ],
      });
      await stores.requestLog.insert(e);
      const got = await stores.requestLog.get('req_roundtrip');
      assert.deepEqual(got, e);
      for (const field of ['createdAt', 'latencyMs', 'bytesIn', 'bytesOut', 'totalTokens', 'status'] as const) {
        assert.equal(typeof got?.[field], 'number', field);
      }
      assert.equal(got?.stream, true);
      assert.equal(await stores.requestLog.get('req_missing'), null);

      const nulls = entry({
        id: 'req_nulls',
        createdAt: clock.now(),
        keyId: null,
        model: null,
        deployment: null,
        status: 401,
        errorCode: 'invalid_api_key',
        inputTokens: null,
        inputTextTokens: null,
        inputImageTokens: null,
        outputTokens: null,
        totalTokens: null,
        user: null,
      });
      await stores.requestLog.insert(nulls);
      assert.deepEqual(await stores.requestLog.get('req_nulls'), nulls);
    });

    test('request log: list is newest first, limited, filtered by key', async () => {
      const base = clock.now() + 10_000_000;
      const entries = [
        entry({ id: 'req_l1', createdAt: base + 1, keyId: 'key_list1' }),
        entry({ id: 'req_l3', createdAt: base + 3, keyId: 'key_list1' }),
        entry({ id: 'req_l2', createdAt: base + 2, keyId: 'key_list2' }),
        entry({ id: 'req_l4', createdAt: base + 4, keyId: 'key_list2' }),
      ];
      for (const e of entries) await stores.requestLog.insert(e);

      const top = await stores.requestLog.list({ limit: 4 });
      assert.deepEqual(top.map((e) => e.id), ['req_l4', 'req_l3', 'req_l2', 'req_l1']);
      assert.deepEqual((await stores.requestLog.list({ limit: 2 })).map((e) => e.id), ['req_l4', 'req_l3']);
      assert.deepEqual(
        (await stores.requestLog.list({ keyId: 'key_list1' })).map((e) => e.id),
        ['req_l3', 'req_l1'],
      );
      assert.deepEqual((await stores.requestLog.list({ keyId: 'key_nobody' })), []);
      const all = await stores.requestLog.list();
      assert.ok(all.length >= 6);
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.createdAt >= all[i]!.createdAt);
    });

    test('migrations are idempotent: opening again keeps the data', async () => {
      const again = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir, clock });
      try {
        assert.ok(await again.requestLog.get('req_roundtrip'));
        const created = await again.keys.create({ name: 'second-open' });
        assert.ok(await stores.keys.verify(created.key));
        const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(again.db.kysely);
        assert.deepEqual(applied.rows.map((r) => r.name), Object.keys(migrations).sort());
      } finally {
        await again.close();
      }
    });
  });
}
