/**
 * API keys: `sk-ig-` + 40 base62 characters. Only the SHA-256 of a key is stored
 * (a key has ~238 bits of entropy, so a fast hash is enough; no salt needed),
 * plus its first characters to help people tell keys apart.
 */
import crypto from 'node:crypto';
import type { Selectable } from 'kysely';
import { systemClock, type Clock } from '../clock.js';
import type { Db } from './db.js';
import { compileStatement, run } from './statements.js';
import { randomBase62 } from './random.js';
import type { ApiKeysTable } from './schema.js';
import { appendGrant } from './ledger.js';
import type { ApiKeyInfo, CreatedApiKey, KeyPatch, KeyStore, NewKey } from './types.js';

export const API_KEY_PREFIX = 'sk-ig-';
export const API_KEY_RANDOM_LENGTH = 40;
export const API_KEY_SHOWN_PREFIX_LENGTH = 10;
const API_KEY_PATTERN = /^sk-ig-[A-Za-z0-9]{40}$/;

/** last_used_at is written at most this often per key */
export const LAST_USED_RESOLUTION_MS = 60_000;

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBase62(API_KEY_RANDOM_LENGTH);
}

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** true when `value` has the shape of a (non-master) API key */
export function looksLikeApiKey(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

export class SqlKeyStore implements KeyStore {
  /** what every request runs: the key by its hash, and now and then its last use */
  private readonly S;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    const k = db.kysely;
    this.S = {
      byHash: compileStatement((p: { hash: string }) => k.selectFrom('api_keys').selectAll().where('key_hash', '=', p.hash)),
      // the condition is repeated in SQL so that concurrent requests (or nodes) write once
      used: compileStatement((p: { id: string; now: number; before: number }) =>
        k
          .updateTable('api_keys')
          .set({ last_used_at: p.now })
          .where('id', '=', p.id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', p.before)])),
      ),
    };
  }

  async create(input: NewKey): Promise<CreatedApiKey> {
    const key = generateApiKey();
    const now = this.clock.now();
    const row: Selectable<ApiKeysTable> = {
      id: 'key_' + randomBase62(16),
      name: input.name,
      prefix: key.slice(0, API_KEY_SHOWN_PREFIX_LENGTH),
      key_hash: hashApiKey(key),
      created_at: now,
      revoked_at: null,
      last_used_at: null,
      group_name: input.group ?? 'default',
      models: input.models ? JSON.stringify(input.models) : null,
      rpm: input.rpm ?? null,
      max_concurrent: input.maxConcurrent ?? null,
      expires_at: input.expiresAt ?? null,
      enabled: 1,
      budgeted: input.creditMicros !== undefined ? 1 : 0,
    };
    // the key, its totals and its first grant appear together or not at all
    await this.db.kysely.transaction().execute(async (trx) => {
      await trx.insertInto('api_keys').values(row).execute();
      await trx.insertInto('key_balances').values({ key_id: row.id, granted: 0, charged: 0, reserved: 0 }).execute();
      if (input.creditMicros !== undefined && input.creditMicros !== 0) {
        await appendGrant(trx, row.id, input.creditMicros, 'initial credit', now);
      }
    });
    return { ...toInfo(row), key };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.db.kysely
      .selectFrom('api_keys')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toInfo);
  }

  async get(id: string): Promise<ApiKeyInfo | null> {
    const row = await this.db.kysely.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : toInfo(row);
  }

  async update(id: string, patch: KeyPatch): Promise<ApiKeyInfo | null> {
    const set: Partial<Selectable<ApiKeysTable>> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.group !== undefined) set.group_name = patch.group;
    if (patch.models !== undefined) set.models = patch.models === null ? null : JSON.stringify(patch.models);
    if (patch.rpm !== undefined) set.rpm = patch.rpm;
    if (patch.maxConcurrent !== undefined) set.max_concurrent = patch.maxConcurrent;
    if (patch.expiresAt !== undefined) set.expires_at = patch.expiresAt;
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
    if (Object.keys(set).length > 0) await this.db.kysely.updateTable('api_keys').set(set).where('id', '=', id).execute();
    return this.get(id);
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.db.kysely
      .updateTable('api_keys')
      .set({ revoked_at: this.clock.now() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async verify(presented: string): Promise<ApiKeyInfo | null> {
    // malformed input never reaches the database
    if (!looksLikeApiKey(presented)) return null;
    const hash = hashApiKey(presented);
    const row = (await this.db.query<Selectable<ApiKeysTable>>(this.S.byHash, { hash })).rows[0];
    if (row === undefined) return null;
    // Defence in depth: the decision itself is a constant-time comparison, not the
    // database's string equality.
    const stored = Buffer.from(row.key_hash, 'hex');
    const given = Buffer.from(hash, 'hex');
    if (stored.length !== given.length || !crypto.timingSafeEqual(stored, given)) return null;
    if (row.revoked_at !== null) return null;

    const now = this.clock.now();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      await this.db.transact(() => run(this.S.used, { id: row.id, now, before: now - LAST_USED_RESOLUTION_MS }));
      row.last_used_at = now;
    }
    return toInfo(row);
  }
}

function toInfo(row: Selectable<ApiKeysTable>): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    group: row.group_name,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rpm: row.rpm,
    maxConcurrent: row.max_concurrent,
    expiresAt: row.expires_at,
    enabled: row.enabled !== 0,
    budgeted: row.budgeted !== 0,
  };
}
