/**
 * The ledger on SQLite and PostgreSQL: grants, reservations, settlements and
 * releases with exact micro-USD, exactly-once settlement, expiry, and the
 * invariant under concurrency (200 reservations racing for credit that covers
 * exactly 50: exactly 50 win, and the totals equal the ledger's sums).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ManualClock } from '../../src/clock.js';
import { openStores, type OpenedStores } from '../../src/store/index.js';
import { backends } from './backends.js';

for (const backend of backends) {
  describe(`ledger on ${backend.name}`, () => {
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

    /** the key's totals recomputed from its ledger rows alone */
    async function fromLedger(keyId: string) {
      const rows = await stores.db.kysely.selectFrom('ledger').select(['kind', 'amount']).where('key_id', '=', keyId).execute();
      const sum = (kind: string) => rows.filter((r) => r.kind === kind).reduce((n, r) => n + Number(r.amount), 0);
      return { granted: sum('grant'), charged: sum('settle'), reserved: sum('reserve') - sum('release') };
    }

    test('a key created with credit: its grant, balance and budget', async () => {
      const k = await stores.keys.create({ name: 'budget', creditMicros: 1_500_000 });
      assert.equal(k.budgeted, true);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 1_500_000, charged: 0, reserved: 0, available: 1_500_000 });
      const [grant] = await stores.ledger.entries(k.id);
      assert.equal(grant.kind, 'grant');
      assert.equal(grant.amount, 1_500_000);
      assert.equal(grant.reason, 'initial credit');
      const unlimited = await stores.keys.create({ name: 'unlimited' });
      assert.equal(unlimited.budgeted, false);
      assert.deepEqual(await stores.ledger.balance(unlimited.id), { granted: 0, charged: 0, reserved: 0, available: 0 });
    });

    test('the credit held over every key (what /metrics reports)', async () => {
      const before = await stores.ledger.reservedTotal();
      const k1 = await stores.keys.create({ name: 'held-1', creditMicros: 1_000 });
      const k2 = await stores.keys.create({ name: 'held-2', creditMicros: 1_000 });
      assert.equal(await stores.ledger.reserve({ id: 'res_h1', keyId: k1.id, amount: 100, requestId: 'req_h1', expiresAt: clock.now() + 60_000 }), true);
      assert.equal(await stores.ledger.reserve({ id: 'res_h2', keyId: k2.id, amount: 250, requestId: 'req_h2', expiresAt: clock.now() + 60_000 }), true);
      assert.equal(await stores.ledger.reservedTotal(), before + 350);
      assert.equal(await stores.ledger.settle({ keyId: k1.id, reservationId: 'res_h1', requestId: 'req_h1', amount: 40 }), 40);
      assert.equal(await stores.ledger.release('res_h2', 'failed'), true);
      assert.equal(await stores.ledger.reservedTotal(), before);
    });

    test('reserve, settle what was delivered, the rest released; exactly once', async () => {
      const k = await stores.keys.create({ name: 'settle', creditMicros: 1_000_000 });
      assert.equal(await stores.ledger.reserve({ id: 'res_a', keyId: k.id, amount: 300_000, requestId: 'req_a', expiresAt: clock.now() + 60_000 }), true);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 1_000_000, charged: 0, reserved: 300_000, available: 700_000 });
      assert.equal(await stores.ledger.settle({ keyId: k.id, reservationId: 'res_a', requestId: 'req_a', amount: 209_990 }), 209_990);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 1_000_000, charged: 209_990, reserved: 0, available: 790_010 });
      // again (a retried settlement, an outbox replay): nothing changes
      assert.equal(await stores.ledger.settle({ keyId: k.id, reservationId: 'res_a', requestId: 'req_a', amount: 209_990 }), 209_990);
      assert.equal(await stores.ledger.release('res_a', 'late'), false);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 1_000_000, charged: 209_990, reserved: 0, available: 790_010 });
      assert.deepEqual(await fromLedger(k.id), { granted: 1_000_000, charged: 209_990, reserved: 0 });
    });

    test('a failure releases everything; insufficient credit refuses the reservation', async () => {
      const k = await stores.keys.create({ name: 'release', creditMicros: 100_000 });
      assert.equal(await stores.ledger.reserve({ id: 'res_b', keyId: k.id, amount: 100_000, requestId: 'req_b', expiresAt: clock.now() + 60_000 }), true);
      assert.equal(await stores.ledger.reserve({ id: 'res_c', keyId: k.id, amount: 1, requestId: 'req_c', expiresAt: clock.now() + 60_000 }), false);
      assert.equal(await stores.ledger.release('res_b', 'upstream failed'), true);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 100_000, charged: 0, reserved: 0, available: 100_000 });
      assert.deepEqual(await fromLedger(k.id), { granted: 100_000, charged: 0, reserved: 0 });
    });

    test('taking credit back never goes below zero', async () => {
      const k = await stores.keys.create({ name: 'take-back', creditMicros: 500_000 });
      assert.deepEqual(await stores.ledger.grant(k.id, -200_000, 'refund reversed'), { granted: 300_000, charged: 0, reserved: 0, available: 300_000 });
      assert.equal(await stores.ledger.grant(k.id, -300_001, 'too much'), null);
      assert.equal((await stores.ledger.balance(k.id)).available, 300_000);
    });

    test('an unlimited key is charged once per request, without a reservation', async () => {
      const k = await stores.keys.create({ name: 'free-spender' });
      assert.equal(await stores.ledger.settle({ keyId: k.id, reservationId: null, requestId: 'req_u', amount: 40_000 }), 40_000);
      assert.equal(await stores.ledger.settle({ keyId: k.id, reservationId: null, requestId: 'req_u', amount: 40_000 }), 40_000);
      assert.equal((await stores.ledger.balance(k.id)).charged, 40_000);
    });

    test('a charge above the reservation is capped by the balance (never below zero)', async () => {
      const k = await stores.keys.create({ name: 'cap', creditMicros: 50_000 });
      assert.equal(await stores.ledger.reserve({ id: 'res_d', keyId: k.id, amount: 30_000, requestId: 'req_d', expiresAt: clock.now() + 60_000 }), true);
      assert.equal(await stores.ledger.settle({ keyId: k.id, reservationId: 'res_d', requestId: 'req_d', amount: 80_000 }), 50_000);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 50_000, charged: 50_000, reserved: 0, available: 0 });
    });

    test('reservations of a node that died are released once they expire, by one sweeper', async () => {
      const k = await stores.keys.create({ name: 'dead-node', creditMicros: 90_000 });
      for (const i of [1, 2, 3]) {
        assert.ok(await stores.ledger.reserve({ id: `res_x${i}`, keyId: k.id, amount: 30_000, requestId: `req_x${i}`, expiresAt: clock.now() + i * 1000 }));
      }
      clock.advance(2500);
      const [a, b] = await Promise.all([stores.ledger.releaseExpired(clock.now()), stores.ledger.releaseExpired(clock.now())]);
      assert.equal(a + b, 2, 'two expired, each released once');
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 90_000, charged: 0, reserved: 30_000, available: 60_000 });
      assert.deepEqual(await fromLedger(k.id), { granted: 90_000, charged: 0, reserved: 30_000 });
    });

    test('200 reservations racing for credit that covers exactly 50: exactly 50 win, settled to exactly zero', async () => {
      const price = 41_234;
      const k = await stores.keys.create({ name: 'race', creditMicros: 50 * price });
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const ok = await stores.ledger.reserve({ id: `res_r${i}`, keyId: k.id, amount: price, requestId: `req_r${i}`, expiresAt: clock.now() + 60_000 });
          if (ok) await stores.ledger.settle({ keyId: k.id, reservationId: `res_r${i}`, requestId: `req_r${i}`, amount: price });
          return ok;
        }),
      );
      assert.equal(outcomes.filter(Boolean).length, 50);
      assert.deepEqual(await stores.ledger.balance(k.id), { granted: 50 * price, charged: 50 * price, reserved: 0, available: 0 });
      assert.deepEqual(await fromLedger(k.id), { granted: 50 * price, charged: 50 * price, reserved: 0 });
      const open = await sql<{ n: number }>`select count(*) as n from reservations where key_id = ${k.id} and state = 'open'`.execute(stores.db.kysely);
      assert.equal(Number(open.rows[0].n), 0);
    });
  });
}
