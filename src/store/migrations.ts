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
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};
