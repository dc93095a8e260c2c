/**
 * PostgreSQL going away under a connection the gateway holds (inside a
 * transaction, between two statements) must fail that transaction, never
 * the process: pg emits 'error' on a checked-out client that has no query
 * running, and the pool listens only on idle ones.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type Db } from '../../src/store/db.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { tempDir } from './backends.js';

let pg: TestPostgres;
let db: Db;
before(async () => {
  pg = await startTestPostgres();
  db = await openDatabase({ databaseUrl: pg.url, dataDir: tempDir('pg-outage') });
});
after(async () => {
  await db?.close();
  await pg?.close();
});

test('the server stopping while a transaction holds its connection rejects the transaction; nothing is uncaught', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.prependListener('uncaughtException', onUncaught);
  try {
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const trx = db.kysely.transaction().execute(async (t) => {
      await sql`select 1`.execute(t);
      held();
      // the connection is checked out and idle here while the server stops
      await new Promise((r) => setTimeout(r, 1500));
      await sql`select 2`.execute(t);
    });
    await holding;
    await pg.stop();
    await assert.rejects(trx);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(uncaught.map(String), []);

    // and the pool serves again once the server is back
    await pg.start();
    let answered = false;
    for (let i = 0; i < 50 && !answered; i++) {
      answered = await sql`select 1`.execute(db.kysely).then(() => true, () => false);
      if (!answered) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(answered, 'served again after the restart');
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
});
