/** Stored first answers of Idempotency-Keys, in the shared database. */
import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import type { IdempotencyTable } from './schema.js';
import type { IdempotencyRecord, IdempotencyStore } from './types.js';

export class SqlIdempotencyStore implements IdempotencyStore {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<IdempotencyRecord | null> {
    const row = await this.db.kysely.selectFrom('idempotency').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async put(r: IdempotencyRecord): Promise<void> {
    const row = { id: r.id, key_id: r.keyId, fingerprint: r.fingerprint, state: r.state, answer: r.answer, created_at: r.createdAt, expires_at: r.expiresAt };
    await this.db.kysely
      .insertInto('idempotency')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ fingerprint: r.fingerprint, state: r.state, answer: r.answer, created_at: r.createdAt, expires_at: r.expiresAt }))
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.kysely.deleteFrom('idempotency').where('id', '=', id).execute();
  }

  async sweep(now: number): Promise<number> {
    const r = await this.db.kysely.deleteFrom('idempotency').where('expires_at', '<', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function toRecord(r: Selectable<IdempotencyTable>): IdempotencyRecord {
  return {
    id: r.id,
    keyId: r.key_id,
    fingerprint: r.fingerprint,
    state: r.state as IdempotencyRecord['state'],
    answer: r.answer,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}
