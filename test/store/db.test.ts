import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { compileStatement, run, type Unit } from '../../src/store/statements.js';
import pg from 'pg';
import { openDatabase, parsePostgresUrl } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations.js';
import { TEST_PG_URL, dropSchema, tempDir, withSchema } from './backends.js';

describe('parsePostgresUrl', () => {
  test('passes a plain URL through', () => {
    assert.deepEqual(parsePostgresUrl('postgres://u:p@db:5432/app'), {
      connectionString: 'postgres://u:p@db:5432/app',
      schema: null,
    });
    assert.equal(parsePostgresUrl('postgresql://db/app').schema, null);
  });

  test('takes ?schema= out of the URL', () => {
    const t = parsePostgresUrl('postgres://u:p@db:5432/app?schema=tenant_1&sslmode=require');
    assert.equal(t.schema, 'tenant_1');
    assert.equal(t.connectionString, 'postgres://u:p@db:5432/app?sslmode=require');
  });

  test('passes libpq options (search_path) through untouched', () => {
    const url = 'postgres://db/app?options=-c%20search_path%3Dother';
    assert.deepEqual(parsePostgresUrl(url), { connectionString: url, schema: null });
  });

  test('refuses bad schemas, both ways at once, and other schemes without echoing secrets', () => {
    assert.throws(() => parsePostgresUrl('postgres://db/app?schema=Bad'), /schema must match/);
    assert.throws(() => parsePostgresUrl('postgres://db/app?schema=a;drop'), /schema must match/);
    assert.throws(() => parsePostgresUrl('postgres://db/app?schema=a&options=-c%20x%3D1'), /not both/);
    assert.throws(
      () => parsePostgresUrl('mysql://root:hunter2@db/app'),
      (err: Error) => /postgres:\/\//.test(err.message) && !err.message.includes('hunter2'),
    );
  });
});

describe('openDatabase on SQLite', () => {
  const dir = path.join(tempDir('db'), 'nested', 'data');
  after(() => fs.rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true }));

  test('creates the data dir and imagegate.db in WAL mode with foreign keys on', async () => {
    const db = await openDatabase({ databaseUrl: null, dataDir: dir });
    try {
      assert.equal(db.dialect, 'sqlite');
      assert.ok(fs.existsSync(path.join(dir, 'imagegate.db')));
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db.kysely);
      assert.equal(mode.rows[0]?.journal_mode, 'wal');
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db.kysely);
      assert.equal(fk.rows[0]?.foreign_keys, 1);
      const busy = await sql<{ timeout: number }>`pragma busy_timeout`.execute(db.kysely);
      assert.ok((busy.rows[0]?.timeout ?? 0) > 0);
    } finally {
      await db.close();
      await db.close(); // twice is harmless
    }
  });
});

describe('openDatabase on PostgreSQL', () => {
  const schema = `ig_test_db_${process.pid}_${Date.now().toString(36)}`;
  const unused = tempDir('pg-data'); // PostgreSQL does not use the data dir
  after(async () => {
    await dropSchema(schema);
    fs.rmSync(unused, { recursive: true, force: true });
  });

  test('units run as transactions of named statements: prepared once per connection, rolled back on a throw', async () => {
    const db = await openDatabase({ databaseUrl: withSchema(TEST_PG_URL, `${schema}_units`), dataDir: unused });
    try {
      const k = db.kysely as unknown as Kysely<any>;
      const put = compileStatement((p: { name: string; value: string }) => k.insertInto('settings').values({ name: p.name, value: p.value }));
      const prepared = compileStatement((p: { text: string }) => k.selectFrom('pg_prepared_statements').select('name').where('statement', '=', p.text));
      const names = await db.transact(function* () {
        yield* run(put, { name: 'a', value: '1' });
        // the same session: the insert above is a server-side prepared statement now
        return (yield* run<{ text: string }, { name: string }>(prepared, { text: put.sql })).rows.map((r) => r.name);
      });
      assert.equal(names.length, 1);
      assert.match(names[0], /^imagegate_\d+$/);
      await assert.rejects(
        db.transact(function* (): Unit<void> {
          yield* run(put, { name: 'b', value: '2' });
          throw new Error('changed its mind');
        }),
        /changed its mind/,
      );
      // the throw rolled 'b' back, and the connection went back to the pool in working order
      for (let i = 0; i < 12; i++) {
        await db.transact(function* () {
          yield* run(put, { name: `c${i}`, value: 'x' });
        });
      }
      const rows = await sql<{ name: string }>`select name from settings order by name`.execute(db.kysely);
      assert.deepEqual(rows.rows.map((r) => r.name).filter((n) => /^(a|b|c\d+)$/.test(n)), ['a', ...Array.from({ length: 12 }, (_, i) => `c${i}`)].sort());
    } finally {
      await db.close();
      await dropSchema(`${schema}_units`);
    }
  });

  test('statements a pooler lost (26000: prepared statement does not exist): the unit runs again unnamed', async () => {
    // one connection, whose prepared statements are dropped behind the driver's back, as a
    // pooler in transaction mode does when it hands the next transaction another server connection
    const db = await openDatabase({ databaseUrl: withSchema(TEST_PG_URL, `${schema}_lost`), dataDir: unused, poolSize: 1 });
    try {
      const k = db.kysely as unknown as Kysely<any>;
      const put = compileStatement((p: { name: string; value: string }) => k.insertInto('settings').values({ name: p.name, value: p.value }));
      await db.transact(function* () {
        yield* run(put, { name: 'first', value: '1' });
      });
      await sql`deallocate all`.execute(db.kysely);
      await db.transact(function* () {
        yield* run(put, { name: 'second', value: '2' });
      });
      const rows = await sql<{ name: string }>`select name from settings where name in ('first', 'second') order by name`.execute(db.kysely);
      assert.deepEqual(rows.rows.map((r) => r.name), ['first', 'second']);
    } finally {
      await db.close();
      await dropSchema(`${schema}_lost`);
    }
  });

  test('?schema= creates the schema and keeps every table in it', async () => {
    const url = withSchema(TEST_PG_URL, schema);
    const db = await openDatabase({ databaseUrl: url, dataDir: unused });
    const again = await openDatabase({ databaseUrl: url, dataDir: unused });
    try {
      assert.equal(db.dialect, 'postgres');
      assert.equal(db.schema, schema);
      const tables = await sql<{ table_schema: string; table_name: string }>`
        select table_schema, table_name from information_schema.tables
        where table_name in ('api_keys', 'request_log', 'kysely_migration')
          and table_schema = ${schema}
        order by table_name`.execute(db.kysely);
      assert.deepEqual(
        tables.rows.map((r) => r.table_name),
        ['api_keys', 'kysely_migration', 'request_log'],
      );
      const big = await sql<{ n: number }>`select 9007199254740991::bigint as n`.execute(db.kysely);
      assert.equal(big.rows[0]?.n, Number.MAX_SAFE_INTEGER);
      await assert.rejects(sql`select 9007199254740993::bigint as n`.execute(db.kysely), /does not fit/);
    } finally {
      await db.close();
      await again.close();
    }
  });

  test('several nodes opening a fresh schema at once agree on one migration', async () => {
    const url = withSchema(TEST_PG_URL, `${schema}_race`);
    try {
      const dbs = await Promise.all([1, 2, 3].map(() => openDatabase({ databaseUrl: url, dataDir: unused })));
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(dbs[0]!.kysely);
      // each migration applied exactly once, whoever won the race
      assert.deepEqual(applied.rows.map((r) => r.name).sort(), Object.keys(migrations).sort());
      await Promise.all(dbs.map((db) => db.close()));
    } finally {
      await dropSchema(`${schema}_race`);
    }
  });

  test('the options=-c search_path way works with an existing schema', async () => {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    const other = `${schema}_opt`;
    try {
      await admin.query(`create schema "${other}"`);
      const u = new URL(TEST_PG_URL);
      u.searchParams.set('options', `-c search_path=${other}`);
      const db = await openDatabase({ databaseUrl: u.toString(), dataDir: unused });
      await db.close();
      const found = await admin.query(
        `select count(*)::int as n from information_schema.tables where table_schema = $1 and table_name = 'api_keys'`,
        [other],
      );
      assert.equal(found.rows[0].n, 1);
    } finally {
      await admin.query(`drop schema if exists "${other}" cascade`);
      await admin.end();
    }
  });
});
