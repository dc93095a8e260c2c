/**
 * API keys: `sk-ig-` + 40 base62 characters. Only the SHA-256 of a key is stored
 * (a key has ~238 bits of entropy, so a fast hash is enough; no salt needed),
 * plus its first characters to help people tell keys apart.
 */
import crypto from 'node:crypto';
import type { Selectable } from 'kysely';
import { systemClock, type Clock } from '../clock.js';
import type { Db } from './db.js';
import { randomBase62 } from './random.js';
import type { ApiKeysTable } from './schema.js';
import type { ApiKeyInfo, CreatedApiKey, KeyStore } from './types.js';

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
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  async create(name: string): Promise<CreatedApiKey> {
    const key = generateApiKey();
    const row: Selectable<ApiKeysTable> = {
      id: 'key_' + randomBase62(16),
      name,
      prefix: key.slice(0, API_KEY_SHOWN_PREFIX_LENGTH),
      key_hash: hashApiKey(key),
      created_at: this.clock.now(),
      revoked_at: null,
      last_used_at: null,
    };
    await this.db.kysely.insertInto('api_keys').values(row).execute();
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
    const row = await this.db.kysely
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    if (row === undefined) return null;
    // Defence in depth: the decision itself is a constant-time comparison, not the
    // database's string equality.
    const stored = Buffer.from(row.key_hash, 'hex');
    const given = Buffer.from(hash, 'hex');
    if (stored.length !== given.length || !crypto.timingSafeEqual(stored, given)) return null;
    if (row.revoked_at !== null) return null;

    const now = this.clock.now();
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      // the condition is repeated in SQL so that concurrent requests (or nodes) write once
      await this.db.kysely
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .where((eb) =>
          eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', now - LAST_USED_RESOLUTION_MS)]),
        )
        .execute();
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
  };
}
