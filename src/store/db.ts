/**
 * One Kysely query layer over SQLite (embedded default, a file in the data dir)
 * or PostgreSQL (DATABASE_URL), migrated to the latest schema on open.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.js';
import type { DatabaseSchema } from './schema.js';
import { bind, driveAsync, type Statement, type Step, type StepResult, type Unit } from './statements.js';
import { databaseUnavailable } from './errors.js';
import { GroupCommit, keptStatements } from './sqlite-commit.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly dialect: Dialect;
  readonly kysely: Kysely<DatabaseSchema>;
  /** the PostgreSQL schema the tables live in, when one was chosen with `?schema=` */
  readonly schema: string | null;
  /** closes the SQLite file or ends the pg pool; safe to call twice */
  close(): Promise<void>;
  /** one round trip (readiness) */
  ping(): Promise<void>;
  /**
   * Runs a unit (statements.ts) as one transaction: its own on PostgreSQL,
   * sharing a group commit with the units that arrive meanwhile on SQLite.
   * Resolves once it is committed.
   */
  transact<T>(unit: () => Unit<T>): Promise<T>;
  /** one statement on its own (a read of committed data) */
  query<R = Record<string, unknown>>(statement: Statement<unknown>, values: Record<string, unknown>): Promise<StepResult<R>>;
}

export interface OpenDatabaseOptions {
  /** null: SQLite file `<dataDir>/imagegate.db`; `postgres://` or `postgresql://`: PostgreSQL */
  databaseUrl: string | null;
  dataDir: string;
  /** PostgreSQL pool size (default 10) */
  poolSize?: number;
}

export const SQLITE_FILE_NAME = 'imagegate.db';

export async function openDatabase(options: OpenDatabaseOptions): Promise<Db> {
  const db =
    options.databaseUrl === null || options.databaseUrl === ''
      ? openSqlite(options.dataDir)
      : await openPostgres(options.databaseUrl, options.poolSize ?? 10);
  try {
    await migrateToLatest(db.kysely, db.dialect === 'postgres' ? await currentSchema(db.kysely) : undefined);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/**
 * `migrationTableSchema` must be given on PostgreSQL: without it Kysely looks for
 * its bookkeeping tables in every schema of the database, and a sibling schema
 * (another tenant, a parallel test) would fool it.
 */
export async function migrateToLatest(kysely: Kysely<DatabaseSchema>, migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db: kysely,
    provider: migrationProvider,
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${describe(error)}`, { cause: error });
  }
}

function openSqlite(dataDir: string): Db {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  const sqlite = new Database(file);
  try {
    sqlite.pragma('journal_mode = WAL');
    // WAL makes NORMAL durable against application crashes, and much faster than FULL
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const statements = keptStatements(sqlite);
  const kysely = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: { prepare: (q) => statements.prepare(q), close: () => sqlite.close() } }) });
  const commits = new GroupCommit(sqlite, statements, kysely);
  // reads of committed data on a connection of their own: never inside a
  // transaction Kysely has open between two awaits on the writer's
  let reader: Database.Database | null = null;
  let readerStatements: ReturnType<typeof keptStatements> | null = null;
  const readerOf = () => {
    if (!readerStatements) {
      reader = new Database(file, { readonly: true, fileMustExist: true });
      reader.pragma('busy_timeout = 5000');
      readerStatements = keptStatements(reader);
    }
    return readerStatements;
  };
  return {
    dialect: 'sqlite',
    kysely,
    schema: null,
    close: once(async () => {
      await commits.drain();
      reader?.close();
      await kysely.destroy();
    }),
    ping: () => pingOf(kysely),
    transact: (unit) => commits.run(unit),
    query: async <R>(statement: Statement<unknown>, values: Record<string, unknown>) => readerOf().exec({ statement, values }) as StepResult<R>,
  };
}

export interface PostgresTarget {
  /** the URL handed to pg, without the `schema` parameter */
  connectionString: string;
  /** from `?schema=name`: created if missing and put first on search_path */
  schema: string | null;
}

// Lower case only: search_path and CREATE SCHEMA must agree on the name without quoting games.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Reads a PostgreSQL URL. Two ways to keep tables out of `public`:
 * `?schema=name` (created on open), or libpq's own `?options=-c%20search_path%3Dname`
 * (passed through untouched; the schema must exist).
 */
export function parsePostgresUrl(databaseUrl: string): PostgresTarget {
  if (!/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new Error('database URL must start with postgres:// or postgresql://');
  }
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('database URL is not a valid URL'); // never echo it: it may hold a password
  }
  const schema = url.searchParams.get('schema');
  if (schema === null) return { connectionString: databaseUrl, schema: null };
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`database URL: schema must match ${SCHEMA_NAME.source}`);
  }
  if (url.searchParams.has('options')) {
    throw new Error('database URL: use either ?schema= or ?options=, not both');
  }
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

// int8 (bigint) arrives as a string by default; our int8 values are ms timestamps,
// byte and token counts, all far below 2^53, so numbers are exact.
const INT8_OID = 20;
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && (format === undefined || format === 'text')) return parseInt8;
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit a JS number`);
  return n;
}

async function openPostgres(databaseUrl: string, poolSize: number): Promise<Db> {
  const target = parsePostgresUrl(databaseUrl);
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: poolSize,
    types: pgTypes,
    // a database that does not answer is a 503 within seconds, never a hang (OPERATOR.md: within 5 s)
    connectionTimeoutMillis: 2000,
    query_timeout: 3000,
    ...(target.schema === null ? {} : { options: `-c search_path=${target.schema}` }),
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the process. The pool drops that client by itself.
  pool.on('error', () => {});
  // A checked-out client (a transaction between two statements) losing its
  // connection emits 'error' on the client itself, where the pool does not
  // listen while it is lent out: without this the process would die. The
  // transaction's next statement fails, and the pool discards the client on
  // release (it is no longer queryable).
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const kysely = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  // the per-request statements as named (server-side prepared) statements: each
  // connection parses and plans one once, not on every request. A pooler that
  // hands each transaction another server connection (PgBouncer in transaction
  // mode before 1.21) loses them: on the first "prepared statement does not
  // exist" the node stops naming statements and runs the unit again.
  const names = new Map<string, string>();
  let naming = true;
  const nameOf = (text: string): string | undefined => {
    if (!naming) return undefined;
    let name = names.get(text);
    if (name === undefined) {
      name = `imagegate_${names.size}`;
      names.set(text, name);
    }
    return name;
  };
  const unprepared = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === '26000' && naming;
  const exec = async (q: pg.Pool | pg.PoolClient, step: Step): Promise<StepResult> => {
    const text = step.statement.sql;
    const r = await q.query<Record<string, unknown>>({ name: nameOf(text), text, values: bind(step.statement, step.values) });
    return { rows: r.rows, changes: r.rowCount ?? r.rows.length };
  };
  /** `op` again, unnamed, when a pooler lost the statements it named */
  const unnamedIfLost = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (e) {
      if (!unprepared(e)) throw e;
      naming = false;
      return op();
    }
  };
  const transactOnce = async <T>(unit: () => Unit<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const value = await driveAsync(unit(), (step) => exec(client, step));
        await client.query('COMMIT');
        return value;
      } catch (e) {
        // a connection that cannot even roll back is not given back to the pool
        await client.query('ROLLBACK').catch((err: Error) => (broken = err));
        throw e;
      }
    } catch (e) {
      // a connection that is itself unusable (not a constraint or a bug) is not given back either
      broken ??= databaseUnavailable(e) !== null ? (e as Error) : undefined;
      throw e;
    } finally {
      client.release(broken);
    }
  };
  const db: Db = {
    dialect: 'postgres',
    kysely,
    schema: target.schema,
    close: once(() => kysely.destroy()),
    ping: () => pingOf(kysely),
    transact: (unit) => unnamedIfLost(() => transactOnce(unit)),
    query: <R>(statement: Statement<unknown>, values: Record<string, unknown>) => unnamedIfLost(async () => (await exec(pool, { statement, values })) as StepResult<R>),
  };
  if (target.schema !== null) {
    try {
      await sql`create schema if not exists ${sql.id(target.schema)}`.execute(kysely);
    } catch (err) {
      // two nodes starting at once can both try; the loser sees a duplicate error
      const code = (err as { code?: string }).code;
      if (code !== '42P06' && code !== '23505') {
        await db.close();
        throw err;
      }
    }
  }
  return db;
}

/** the schema unqualified tables are created in: the first existing one on search_path */
async function currentSchema(kysely: Kysely<DatabaseSchema>): Promise<string> {
  const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(kysely);
  const schema = result.rows[0]?.schema ?? null;
  if (schema === null) throw new Error('PostgreSQL search_path names no existing schema');
  return schema;
}

async function pingOf(kysely: Kysely<DatabaseSchema>): Promise<void> {
  await sql`select 1`.execute(kysely);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
