/**
 * The ledger on SQLite or PostgreSQL: append-only rows (grant, reserve,
 * release, settle) written in the same transaction as the key's running
 * totals in `key_balances`. The invariant `granted − charged − reserved ≥ 0`
 * is kept by conditional updates (the check and the change are one
 * statement), so it holds under any interleaving on any number of nodes:
 * PostgreSQL re-evaluates the condition on the row it locked, SQLite has one
 * writer at a time. Ledger ids derived from the request make settlement and
 * release exactly-once: a second attempt collides on the primary key.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Db } from './db.js';
import { compileStatement, run, type Unit } from './statements.js';
import { randomBase62 } from './random.js';
import type { DatabaseSchema, LedgerTable } from './schema.js';
import type { Balance, Ledger, LedgerEntry } from './types.js';
import type { Clock } from '../clock.js';

type Q = Kysely<DatabaseSchema> | Transaction<DatabaseSchema>;

const toBalance = (r: { granted: number; charged: number; reserved: number } | undefined): Balance => {
  const granted = Number(r?.granted ?? 0);
  const charged = Number(r?.charged ?? 0);
  const reserved = Number(r?.reserved ?? 0);
  return { granted, charged, reserved, available: granted - charged - reserved };
};

/** A grant inside a caller's transaction (key creation): totals and ledger row together. */
export async function appendGrant(q: Q, keyId: string, amount: number, reason: string, now: number): Promise<void> {
  await q.updateTable('key_balances').set({ granted: sql`granted + ${amount}` }).where('key_id', '=', keyId).execute();
  await q
    .insertInto('ledger')
    .values({ id: `grt_${randomBase62(20)}`, key_id: keyId, kind: 'grant', amount, reservation_id: null, request_id: null, reason, created_at: now })
    .execute();
  await q.updateTable('api_keys').set({ budgeted: 1 }).where('id', '=', keyId).execute();
}

interface Row {
  id: string;
  keyId: string;
  amount: number;
  reservationId: string | null;
  requestId: string | null;
  reason: string | null;
  now: number;
}

/** What every request's hold and settlement run, compiled once for the database's dialect. */
function ledgerStatements(db: Db) {
  const k = db.kysely;
  const ledgerRow = (kind: LedgerEntry['kind']) =>
    compileStatement((p: Row) =>
      k.insertInto('ledger').values({ id: p.id, key_id: p.keyId, kind, amount: p.amount, reservation_id: p.reservationId, request_id: p.requestId, reason: p.reason, created_at: p.now }),
    );
  return {
    reserveRow: ledgerRow('reserve'),
    releaseRow: ledgerRow('release'),
    settleRow: ledgerRow('settle'),
    // the check and the change are one statement: never below zero under any interleaving
    hold: compileStatement((p: { keyId: string; amount: number }) =>
      k
        .updateTable('key_balances')
        .set({ reserved: sql`reserved + ${p.amount}` })
        .where('key_id', '=', p.keyId)
        .where(sql<boolean>`granted - charged - reserved >= ${p.amount}`),
    ),
    openReservation: compileStatement((p: { id: string; keyId: string; amount: number; requestId: string; now: number; expiresAt: number }) =>
      k.insertInto('reservations').values({ id: p.id, key_id: p.keyId, amount: p.amount, state: 'open', request_id: p.requestId, created_at: p.now, expires_at: p.expiresAt, charged: null }),
    ),
    // claim and read in one statement (RETURNING: SQLite ≥ 3.35 and PostgreSQL); the charge
    // written with it is corrected in the rare case the balance caps it
    claim: compileStatement((p: { id: string; state: string; charged: number }) =>
      k.updateTable('reservations').set({ state: p.state, charged: p.charged }).where('id', '=', p.id).where('state', '=', 'open').returning(['amount', 'key_id', 'request_id']),
    ),
    recharge: compileStatement((p: { id: string; charged: number }) => k.updateTable('reservations').set({ charged: p.charged }).where('id', '=', p.id)),
    settledBefore: compileStatement((p: { id: string }) => k.selectFrom('ledger').select('amount').where('id', '=', p.id)),
    // the key's totals, locked for this transaction on PostgreSQL (SQLite has one writer anyway)
    balance: compileStatement((p: { keyId: string }) => {
      const q = k.selectFrom('key_balances').selectAll().where('key_id', '=', p.keyId);
      return db.dialect === 'postgres' ? q.forUpdate() : q;
    }),
    charge: compileStatement((p: { keyId: string; charge: number; held: number }) =>
      k
        .updateTable('key_balances')
        .set({ charged: sql`charged + ${p.charge}`, reserved: sql`reserved - ${p.held}` })
        .where('key_id', '=', p.keyId),
    ),
    unhold: compileStatement((p: { keyId: string; amount: number }) =>
      k.updateTable('key_balances').set({ reserved: sql`reserved - ${p.amount}` }).where('key_id', '=', p.keyId),
    ),
  };
}

type LedgerStatements = ReturnType<typeof ledgerStatements>;

type Claimed = { amount: number; key_id: string; request_id: string | null };

/** Holds `amount` of the key's credit; false when its balance cannot cover it. */
function* reserveUnit(S: LedgerStatements, r: { id: string; keyId: string; amount: number; requestId: string; expiresAt: number }, now: number): Unit<boolean> {
  const held = yield* run(S.hold, { keyId: r.keyId, amount: r.amount });
  if (held.changes === 0) return false;
  yield* run(S.openReservation, { id: r.id, keyId: r.keyId, amount: r.amount, requestId: r.requestId, now, expiresAt: r.expiresAt });
  yield* run(S.reserveRow, { id: `rsv_${r.id}`, keyId: r.keyId, amount: r.amount, reservationId: r.id, requestId: r.requestId, reason: null, now });
  return true;
}

/** Charges what was delivered and releases the hold, exactly once; returns the charge. */
function* settleUnit(S: LedgerStatements, s: { keyId: string; reservationId: string | null; requestId: string; amount: number }, now: number): Unit<number> {
  const settleId = `set_${s.requestId}`;
  const settledBefore = function* (): Unit<number | null> {
    const done = yield* run<{ id: string }, { amount: number }>(S.settledBefore, { id: settleId });
    return done.rows.length > 0 ? Number(done.rows[0].amount) : null;
  };
  let held = 0;
  let charge = s.amount;
  if (s.reservationId) {
    // an open reservation was never settled (settling closes it in the same transaction)
    const claimed = yield* run<{ id: string; state: string; charged: number }, Claimed>(S.claim, { id: s.reservationId, state: 'settled', charged: s.amount });
    if (claimed.rows.length === 0) {
      // settled before (exactly once), or it expired and was released: then the charge still stands, within the balance
      const before = yield* settledBefore();
      if (before !== null) return before;
    } else {
      held = Number(claimed.rows[0].amount);
      yield* run(S.releaseRow, { id: `rel_${s.reservationId}`, keyId: s.keyId, amount: held, reservationId: s.reservationId, requestId: s.requestId, reason: 'settled', now });
    }
    // never below zero: at most what the reservation and the balance can cover
    if (charge > held) {
      const row = toBalance((yield* run<{ keyId: string }, { granted: number; charged: number; reserved: number }>(S.balance, { keyId: s.keyId })).rows[0]);
      charge = Math.max(0, Math.min(charge, row.available + held));
    }
    // the claim wrote the charge asked; an expired reservation gets the charge that stands
    if (claimed.rows.length === 0 || charge !== s.amount) yield* run(S.recharge, { id: s.reservationId, charged: charge });
  } else {
    const before = yield* settledBefore();
    if (before !== null) return before;
  }
  yield* run(S.charge, { keyId: s.keyId, charge, held });
  yield* run(S.settleRow, { id: settleId, keyId: s.keyId, amount: charge, reservationId: s.reservationId, requestId: s.requestId, reason: null, now });
  return charge;
}

/** Gives a hold back, charging nothing, exactly once; false when it was already closed. */
function* releaseUnit(S: LedgerStatements, reservationId: string, reason: string, now: number): Unit<boolean> {
  const claimed = yield* run<{ id: string; state: string; charged: number }, Claimed>(S.claim, { id: reservationId, state: 'released', charged: 0 });
  if (claimed.rows.length === 0) return false;
  const res = claimed.rows[0];
  const amount = Number(res.amount);
  yield* run(S.unhold, { keyId: res.key_id, amount });
  yield* run(S.releaseRow, { id: `rel_${reservationId}`, keyId: res.key_id, amount, reservationId, requestId: res.request_id, reason, now });
  return true;
}

export class SqlLedger implements Ledger {
  private readonly S: LedgerStatements;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.S = ledgerStatements(db);
  }

  private get k(): Kysely<DatabaseSchema> {
    return this.db.kysely;
  }

  async balance(keyId: string): Promise<Balance> {
    return toBalance(await this.k.selectFrom('key_balances').selectAll().where('key_id', '=', keyId).executeTakeFirst());
  }

  async grant(keyId: string, amount: number, reason: string): Promise<Balance | null> {
    return this.k.transaction().execute(async (trx) => {
      if (amount < 0) {
        // taking credit back never takes the balance below zero
        const r = await trx
          .updateTable('key_balances')
          .set({ granted: sql`granted + ${amount}` })
          .where('key_id', '=', keyId)
          .where(sql<boolean>`granted - charged - reserved >= ${-amount}`)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) return null;
        await trx
          .insertInto('ledger')
          .values({ id: `grt_${randomBase62(20)}`, key_id: keyId, kind: 'grant', amount, reservation_id: null, request_id: null, reason, created_at: this.clock.now() })
          .execute();
        await trx.updateTable('api_keys').set({ budgeted: 1 }).where('id', '=', keyId).execute();
      } else {
        await appendGrant(trx, keyId, amount, reason, this.clock.now());
      }
      return toBalance(await trx.selectFrom('key_balances').selectAll().where('key_id', '=', keyId).executeTakeFirst());
    });
  }

  reserve(r: { id: string; keyId: string; amount: number; requestId: string; expiresAt: number }): Promise<boolean> {
    return this.db.transact(() => reserveUnit(this.S, r, this.clock.now()));
  }

  settle(s: { keyId: string; reservationId: string | null; requestId: string; amount: number }): Promise<number> {
    return this.db.transact(() => settleUnit(this.S, s, this.clock.now()));
  }

  release(reservationId: string, reason: string): Promise<boolean> {
    return this.db.transact(() => releaseUnit(this.S, reservationId, reason, this.clock.now()));
  }

  async releaseExpired(now: number, limit = 100): Promise<number> {
    const due = await this.k
      .selectFrom('reservations')
      .select('id')
      .where('state', '=', 'open')
      .where('expires_at', '<', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    let released = 0;
    // each one claimed on its own: another node sweeping at the same time releases the others
    for (const { id } of due) if (await this.release(id, 'expired: the request never settled')) released++;
    return released;
  }

  async reservedTotal(): Promise<number> {
    // the running totals, not the reservations table: one row per key, kept in step with every hold
    const r = await this.k.selectFrom('key_balances').select((eb) => eb.fn.sum<number | string | null>('reserved').as('total')).executeTakeFirst();
    return Number(r?.total ?? 0);
  }

  async entries(keyId: string, limit = 100): Promise<LedgerEntry[]> {
    const rows = await this.k.selectFrom('ledger').selectAll().where('key_id', '=', keyId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toEntry);
  }
}

function toEntry(r: Selectable<LedgerTable>): LedgerEntry {
  return {
    id: r.id,
    keyId: r.key_id,
    kind: r.kind as LedgerEntry['kind'],
    amount: Number(r.amount),
    reservationId: r.reservation_id,
    requestId: r.request_id,
    reason: r.reason,
    createdAt: Number(r.created_at),
  };
}
