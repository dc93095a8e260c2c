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

export class SqlLedger implements Ledger {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

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

  async reserve(r: { id: string; keyId: string; amount: number; requestId: string; expiresAt: number }): Promise<boolean> {
    return this.k.transaction().execute(async (trx) => {
      const held = await trx
        .updateTable('key_balances')
        .set({ reserved: sql`reserved + ${r.amount}` })
        .where('key_id', '=', r.keyId)
        .where(sql<boolean>`granted - charged - reserved >= ${r.amount}`)
        .executeTakeFirst();
      if (Number(held.numUpdatedRows) === 0) return false;
      const now = this.clock.now();
      await trx
        .insertInto('reservations')
        .values({ id: r.id, key_id: r.keyId, amount: r.amount, state: 'open', request_id: r.requestId, created_at: now, expires_at: r.expiresAt, charged: null })
        .execute();
      await trx
        .insertInto('ledger')
        .values({ id: `rsv_${r.id}`, key_id: r.keyId, kind: 'reserve', amount: r.amount, reservation_id: r.id, request_id: r.requestId, reason: null, created_at: now })
        .execute();
      return true;
    });
  }

  async settle(s: { keyId: string; reservationId: string | null; requestId: string; amount: number }): Promise<number> {
    return this.k.transaction().execute(async (trx) => {
      const settleId = `set_${s.requestId}`;
      const settledBefore = async (): Promise<number | null> => {
        const done = await trx.selectFrom('ledger').select('amount').where('id', '=', settleId).executeTakeFirst();
        return done ? Number(done.amount) : null;
      };
      const now = this.clock.now();
      let held = 0;
      if (s.reservationId) {
        // claim and read in one statement (RETURNING: SQLite ≥ 3.35 and PostgreSQL); an open
        // reservation was never settled (settling closes it in the same transaction)
        const claimed = await trx
          .updateTable('reservations')
          .set({ state: 'settled' })
          .where('id', '=', s.reservationId)
          .where('state', '=', 'open')
          .returning('amount')
          .executeTakeFirst();
        if (claimed) {
          held = Number(claimed.amount);
          await trx
            .insertInto('ledger')
            .values({ id: `rel_${s.reservationId}`, key_id: s.keyId, kind: 'release', amount: held, reservation_id: s.reservationId, request_id: s.requestId, reason: 'settled', created_at: now })
            .execute();
        } else {
          // settled before (exactly once), or it expired and was released: then the charge still stands, within the balance
          const before = await settledBefore();
          if (before !== null) return before;
        }
      } else {
        const before = await settledBefore();
        if (before !== null) return before;
      }
      const budgeted = s.reservationId !== null;
      let charge = s.amount;
      if (budgeted) {
        // never below zero: at most what the reservation and the balance can cover
        const row = await this.lockedBalance(trx, s.keyId);
        charge = Math.max(0, Math.min(charge, row.available + held));
      }
      await trx
        .updateTable('key_balances')
        .set({ charged: sql`charged + ${charge}`, reserved: sql`reserved - ${held}` })
        .where('key_id', '=', s.keyId)
        .execute();
      if (s.reservationId) await trx.updateTable('reservations').set({ charged: charge }).where('id', '=', s.reservationId).execute();
      await trx
        .insertInto('ledger')
        .values({ id: settleId, key_id: s.keyId, kind: 'settle', amount: charge, reservation_id: s.reservationId, request_id: s.requestId, reason: null, created_at: now })
        .execute();
      return charge;
    });
  }

  /** the key's totals, locked for this transaction on PostgreSQL (SQLite has one writer anyway) */
  private async lockedBalance(trx: Transaction<DatabaseSchema>, keyId: string): Promise<Balance> {
    let q = trx.selectFrom('key_balances').selectAll().where('key_id', '=', keyId);
    if (this.db.dialect === 'postgres') q = q.forUpdate();
    return toBalance(await q.executeTakeFirst());
  }

  async release(reservationId: string, reason: string): Promise<boolean> {
    return this.k.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('reservations')
        .set({ state: 'released', charged: 0 })
        .where('id', '=', reservationId)
        .where('state', '=', 'open')
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) return false;
      const res = await trx.selectFrom('reservations').selectAll().where('id', '=', reservationId).executeTakeFirstOrThrow();
      await trx.updateTable('key_balances').set({ reserved: sql`reserved - ${res.amount}` }).where('key_id', '=', res.key_id).execute();
      await trx
        .insertInto('ledger')
        .values({ id: `rel_${reservationId}`, key_id: res.key_id, kind: 'release', amount: Number(res.amount), reservation_id: reservationId, request_id: res.request_id, reason, created_at: this.clock.now() })
        .execute();
      return true;
    });
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
