/**
 * The two SQL backends every KeyStore/RequestLog test runs against: SQLite in a
 * temp dir, and PostgreSQL (TEST_DATABASE_URL, default the local server) in a
 * schema of its own that is dropped afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** a fresh place to open a database: a new temp dir, and for PostgreSQL a new schema */
  prepare(): Promise<{ databaseUrl: string | null; dataDir: string; cleanup(): Promise<void> }>;
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imagegate-${label}-`));
}

export function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

export const backends: Backend[] = [
  {
    name: 'sqlite',
    async prepare() {
      const dataDir = tempDir('sqlite');
      return {
        databaseUrl: null,
        dataDir,
        cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    async prepare() {
      const dataDir = tempDir('pg');
      const schema = `ig_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
      return {
        databaseUrl: withSchema(TEST_PG_URL, schema),
        dataDir,
        cleanup: async () => {
          await dropSchema(schema);
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];
