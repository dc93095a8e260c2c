/**
 * The one set of migrations, for SQLite and PostgreSQL alike. They live in code
 * (not files read at runtime) so the compiled dist carries them. Only portable
 * column types are used: text, integer, bigint. Append new migrations; never
 * edit one that has shipped.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

// Migrations see the database as it was when they were written, not the current schema.
type AnyDb = Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_api_keys_and_request_log': {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();

      await db.schema
        .createTable('request_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('key_id', 'text')
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('model', 'text')
        .addColumn('deployment', 'text')
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('latency_ms', 'bigint', (c) => c.notNull())
        .addColumn('image_count', 'integer', (c) => c.notNull())
        .addColumn('bytes_in', 'bigint', (c) => c.notNull())
        .addColumn('bytes_out', 'bigint', (c) => c.notNull())
        .addColumn('input_tokens', 'bigint')
        .addColumn('input_text_tokens', 'bigint')
        .addColumn('input_image_tokens', 'bigint')
        .addColumn('output_tokens', 'bigint')
        .addColumn('total_tokens', 'bigint')
        .addColumn('end_user', 'text')
        .addColumn('stream', 'integer', (c) => c.notNull())
        .execute();

      await db.schema.createIndex('request_log_created_at').on('request_log').column('created_at').execute();
      // serves "one key's requests, newest first" without a sort
      await db.schema
        .createIndex('request_log_key_id_created_at')
        .on('request_log')
        .columns(['key_id', 'created_at'])
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable('request_log').execute();
      await db.schema.dropTable('api_keys').execute();
    },
  },
  '0002_request_log_attempts': {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('request_log').addColumn('attempts', 'text').execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.alterTable('request_log').dropColumn('attempts').execute();
    },
  },
  '0003_accounts_and_ledger': {
    async up(db: AnyDb): Promise<void> {
      // keys: group, allowed models, limits, expiry, an enabled flag, and whether credit limits them
      await db.schema.alterTable('api_keys').addColumn('group_name', 'text', (c) => c.notNull().defaultTo('default')).execute();
      await db.schema.alterTable('api_keys').addColumn('models', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('rpm', 'integer').execute();
      await db.schema.alterTable('api_keys').addColumn('max_concurrent', 'integer').execute();
      await db.schema.alterTable('api_keys').addColumn('expires_at', 'bigint').execute();
      await db.schema.alterTable('api_keys').addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema.alterTable('api_keys').addColumn('budgeted', 'integer', (c) => c.notNull().defaultTo(0)).execute();

      // the ledger: append-only, every grant, reservation, settlement and release (micro-USD)
      await db.schema
        .createTable('ledger')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('reservation_id', 'text')
        .addColumn('request_id', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_key_id_created_at').on('ledger').columns(['key_id', 'created_at']).execute();

      // each key's running totals, updated in the same transaction as its ledger rows;
      // a reservation succeeds only by a conditional update on this row
      await db.schema
        .createTable('key_balances')
        .addColumn('key_id', 'text', (c) => c.primaryKey())
        .addColumn('granted', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('charged', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();

      await db.schema
        .createTable('reservations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('charged', 'bigint')
        .execute();
      await db.schema.createIndex('reservations_state_expires_at').on('reservations').columns(['state', 'expires_at']).execute();

      await db.schema.alterTable('request_log').addColumn('cost_micros', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
      // what the answer's x-imagegate-warning said (JSON array), e.g. an unsure background removal
      await db.schema.alterTable('request_log').addColumn('warnings', 'text').execute();

      // values every node must share (the hosted-URL signing secret)
      await db.schema
        .createTable('settings')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable('settings').execute();
      await db.schema.alterTable('request_log').dropColumn('warnings').execute();
      await db.schema.alterTable('request_log').dropColumn('cost_micros').execute();
      await db.schema.dropTable('reservations').execute();
      await db.schema.dropTable('key_balances').execute();
      await db.schema.dropTable('ledger').execute();
      for (const c of ['budgeted', 'enabled', 'expires_at', 'max_concurrent', 'rpm', 'models', 'group_name']) {
        await db.schema.alterTable('api_keys').dropColumn(c).execute();
      }
    },
  },
  '0004_idempotency': {
    async up(db: AnyDb): Promise<void> {
      // the first answer to an Idempotency-Key, replayed byte for byte for 24 hours on any node
      await db.schema
        .createTable('idempotency')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('answer', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('idempotency_expires_at').on('idempotency').column('expires_at').execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable('idempotency').execute();
    },
  },
  '0005_request_log_outputs': {
    async up(db: AnyDb): Promise<void> {
      // JSON array of the hosted copies a `url` answer pointed at: [{url, expiresAt}]
      await db.schema.alterTable('request_log').addColumn('outputs', 'text').execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.alterTable('request_log').dropColumn('outputs').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};
