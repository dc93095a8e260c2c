import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { GroupCommit, keptStatements } from '../../src/store/sqlite-commit.js';
import { bind, compileStatement, run, type Unit } from '../../src/store/statements.js';
import { tempDir } from './backends.js';

interface Schema {
  accounts: { id: string; balance: number };
  notes: { id: string; body: string };
}

function open(dir: string, name = 'g.db') {
  const raw = new Database(path.join(dir, name));
  raw.pragma('journal_mode = WAL');
  raw.exec('create table accounts (id text primary key, balance integer not null check (balance >= 0)); create table notes (id text primary key, body text not null)');
  raw.prepare("insert into accounts values ('a', 5)").run();
  const statements = keptStatements(raw);
  const kysely = new Kysely<Schema>({ dialect: new SqliteDialect({ database: { prepare: (q) => statements.prepare(q), close: () => raw.close() } }) });
  const commits = new GroupCommit(raw, statements, kysely);
  const S = {
    take: compileStatement((p: { id: string; amount: number }) =>
      kysely.updateTable('accounts').set({ balance: sql`balance - ${p.amount}` }).where('id', '=', p.id).where('balance', '>=', p.amount),
    ),
    note: compileStatement((p: { id: string; body: string }) => kysely.insertInto('notes').values({ id: p.id, body: p.body })),
  };
  const notes = () => (raw.prepare('select id from notes order by id').all() as { id: string }[]).map((r) => r.id);
  const balance = () => (raw.prepare("select balance from accounts where id = 'a'").get() as { balance: number }).balance;
  return { raw, kysely, commits, S, notes, balance };
}

describe('compileStatement', () => {
  const kysely = new Kysely<Schema>({ dialect: new SqliteDialect({ database: { prepare: () => { throw new Error('never run'); }, close: () => {} } }) });

  test('names each placeholder in order and keeps the constants it sends', () => {
    const s = compileStatement((p: { id: string; amount: number }) =>
      kysely.updateTable('accounts').set({ balance: sql`balance - ${p.amount}` }).where('id', '=', p.id).where('balance', '>=', 0),
    );
    assert.equal(s.sql, 'update "accounts" set "balance" = balance - ? where "id" = ? and "balance" >= ?');
    assert.deepEqual(bind(s, { id: 'a', amount: 7 }), [7, 'a', 0]);
    assert.throws(() => bind(s, { id: 'a' }), /'amount' is missing/);
  });

  test('refuses a placeholder used as SQL text rather than a value', () => {
    assert.throws(() => compileStatement((p: { table: string }) => kysely.selectFrom(sql.raw(p.table).as('t')).selectAll()), /inlined/);
  });
});

describe('GroupCommit on SQLite', () => {
  const dir = tempDir('group-commit');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('units arriving together share one commit, and each sees the ones before it', async () => {
    const g = open(dir, 'share.db');
    // ten holds of 1 on a balance of 5, all queued before any runs: exactly five succeed
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        g.commits.run(function* (): Unit<boolean> {
          const r = yield* run(g.S.take, { id: 'a', amount: 1 });
          if (r.changes === 0) return false;
          yield* run(g.S.note, { id: `n${i}`, body: 'held' });
          return true;
        }),
      ),
    );
    assert.deepEqual(results, [true, true, true, true, true, false, false, false, false, false]);
    assert.equal(g.balance(), 0);
    assert.deepEqual(g.notes(), ['n0', 'n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(g.commits.counts, { commits: 1, units: 10 });
    await g.kysely.destroy();
  });

  test('a unit that throws undoes only its own writes and rejects alone; the others run again on their own', async () => {
    const g = open(dir, 'throw.db');
    const ok1 = g.commits.run(function* () {
      yield* run(g.S.note, { id: 'before', body: 'x' });
    });
    const bad = g.commits.run(function* (): Unit<void> {
      yield* run(g.S.take, { id: 'a', amount: 2 });
      yield* run(g.S.note, { id: 'half', body: 'x' });
      throw new Error('the unit changed its mind');
    });
    const dup = g.commits.run(function* () {
      // a constraint failure inside SQLite: the same id twice
      yield* run(g.S.note, { id: 'dup', body: 'x' });
      yield* run(g.S.note, { id: 'dup', body: 'y' });
    });
    const ok2 = g.commits.run(function* () {
      yield* run(g.S.note, { id: 'after', body: 'x' });
    });
    await ok1;
    await ok2;
    await assert.rejects(bad, /changed its mind/);
    await assert.rejects(dup, { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    assert.deepEqual(g.notes(), ['after', 'before']);
    assert.equal(g.balance(), 5);
    // the batch was rolled back; the two good units were committed one by one
    assert.deepEqual(g.commits.counts, { commits: 2, units: 2 });
    await g.kysely.destroy();
  });

  test('a lone unit that throws is rolled back', async () => {
    const g = open(dir, 'alone.db');
    await assert.rejects(
      g.commits.run(function* (): Unit<void> {
        yield* run(g.S.take, { id: 'a', amount: 5 });
        throw new Error('no');
      }),
      /no/,
    );
    assert.equal(g.balance(), 5);
    assert.equal(g.raw.inTransaction, false);
    await g.kysely.destroy();
  });

  test('units wait for a transaction Kysely holds open across awaits, and do not join it', async () => {
    const g = open(dir, 'kysely.db');
    let queued: Promise<void> | null = null;
    await assert.rejects(
      g.kysely.transaction().execute(async (trx) => {
        await trx.insertInto('notes').values({ id: 'kysely', body: 'x' }).execute();
        queued = g.commits.run(function* () {
          yield* run(g.S.note, { id: 'unit', body: 'x' });
        });
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await queued;
    assert.deepEqual(g.notes(), ['unit']);
    await g.kysely.destroy();
  });

  test('when the transaction itself is lost, no unit of the batch claims to be written', async () => {
    const g = open(dir, 'full.db');
    // the file may not grow: a large write fails with SQLITE_FULL
    const pages = (g.raw.pragma('page_count', { simple: true }) as number) + 1;
    g.raw.pragma(`max_page_count = ${pages}`);
    const small = g.commits.run(function* () {
      yield* run(g.S.note, { id: 'small', body: 'x' });
    });
    const big = g.commits.run(function* () {
      yield* run(g.S.note, { id: 'big', body: 'x'.repeat(1_000_000) });
    });
    const [s, b] = await Promise.allSettled([small, big]);
    assert.equal(b.status, 'rejected');
    assert.equal((b as PromiseRejectedResult).reason.code, 'SQLITE_FULL');
    // the batch failed as a whole; on its own the small one fits
    assert.equal(s.status, 'fulfilled');
    assert.deepEqual(g.notes(), ['small']);
    assert.equal(g.raw.inTransaction, false);
    await g.kysely.destroy();
  });

  test('a database locked by another connection fails the batch at once, without trying each unit again', async () => {
    const g = open(dir, 'busy.db');
    g.raw.pragma('busy_timeout = 300');
    const other = new Database(path.join(dir, 'busy.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      const results = await Promise.allSettled(
        ['x', 'y', 'z'].map((id) =>
          g.commits.run(function* () {
            yield* run(g.S.note, { id, body: 'x' });
          }),
        ),
      );
      const waited = performance.now() - started;
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.equal((r as PromiseRejectedResult).reason.code, 'SQLITE_BUSY');
      }
      // one wait of busy_timeout (300 ms), not one per unit (900 ms or more)
      assert.ok(waited < 800, `waited ${waited.toFixed(0)} ms`);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.deepEqual(g.notes(), []);
    // the lock gone, the next batch writes
    await g.commits.run(function* () {
      yield* run(g.S.note, { id: 'later', body: 'x' });
    });
    assert.deepEqual(g.notes(), ['later']);
    await g.kysely.destroy();
  });

  test('drain() waits for what is queued', async () => {
    const g = open(dir, 'drain.db');
    const p = g.commits.run(function* () {
      yield* run(g.S.note, { id: 'late', body: 'x' });
    });
    await g.commits.drain();
    assert.deepEqual(g.notes(), ['late']);
    await p;
    await g.kysely.destroy();
  });
});
