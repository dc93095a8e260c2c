/**
 * A shared store (Redis, the S3 bucket) that did not answer in time or
 * answered with a failure. It is a GatewayError so that, left uncaught, it
 * becomes OPERATOR.md's 503 `service_unavailable` with Retry-After; callers
 * that have a fallback (own-node counters when Redis is down) catch it first.
 *
 * The message names the store and a short reason built from error codes only:
 * never a URL, host, password or access key (a raw client error may quote the
 * address it failed to reach, so it is not kept as `cause`).
 */
import { GatewayError } from '../errors.js';

export type SharedStoreName = 'redis' | 's3' | 'database';

const STORE_LABELS: Record<SharedStoreName, string> = {
  redis: 'The shared state store (Redis)',
  s3: 'The image storage (S3)',
  database: 'The database',
};

export const STORE_RETRY_AFTER_SECONDS = 2;

export class StoreUnavailableError extends GatewayError {
  readonly store: SharedStoreName;
  /** machine-readable and secret-free: 'timeout', 'connection', 'ECONNREFUSED', 'NoSuchBucket', … */
  readonly reason: string;

  constructor(store: SharedStoreName, reason: string) {
    super({
      status: 503,
      type: 'server_error',
      code: 'service_unavailable',
      message: `${STORE_LABELS[store]} is unavailable (${reason}). Try again shortly.`,
      headers: { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) },
    });
    this.name = 'StoreUnavailableError';
    this.store = store;
    this.reason = reason;
  }
}

export const isStoreUnavailable = (e: unknown, store?: SharedStoreName): e is StoreUnavailableError =>
  e instanceof StoreUnavailableError && (store === undefined || e.store === store);

/** A token safe to show: an error code or class name, never free text that might quote an address. */
export function safeReason(err: unknown, fallback: string): string {
  const e = err as { code?: unknown; name?: unknown } | null;
  for (const candidate of [e?.code, e?.name]) {
    if (typeof candidate === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(candidate) && candidate !== 'Error') {
      return candidate;
    }
  }
  return fallback;
}

/** PostgreSQL SQLSTATE classes and codes that mean "the server cannot be used now", not "the query is wrong" */
const PG_UNAVAILABLE = /^(08|53|57P0[1-3])/;
const NODE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** pg's own words for a lost or never-made connection */
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended unexpectedly|the database system is (starting up|shutting down)/i;
/** SQLite failures that are the disk's or the lock's, not the query's */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/;

/**
 * A database driver's failure as the 503 OPERATOR.md asks for when the
 * database does not answer, or null when the error is something else (a
 * bug, a constraint) that must not be disguised as an outage.
 */
export function databaseUnavailable(err: unknown): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (NODE_NET.has(code)) return new StoreUnavailableError('database', code);
  if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return new StoreUnavailableError('database', `SQLSTATE ${code}`);
  if (SQLITE_UNAVAILABLE.test(code)) return new StoreUnavailableError('database', code);
  if (PG_MESSAGES.test(message)) return new StoreUnavailableError('database', /timeout/i.test(message) ? 'timeout' : 'connection lost');
  return null;
}
