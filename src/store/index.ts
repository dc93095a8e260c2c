/** Opens every store the gateway needs, from one database URL, an optional bucket and a data dir. */
import path from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { DiskBlobStore } from './blobs.js';
import { openDatabase, type Db } from './db.js';
import type { S3Settings } from './s3-blobs.js';
import { SqlKeyStore } from './keys.js';
import { SqlIdempotencyStore } from './idempotency.js';
import { SqlLedger } from './ledger.js';
import { SqlRequestLog } from './request-log.js';
import type { Stores } from './types.js';

export interface OpenStoresOptions {
  /** null: SQLite in dataDir; 'postgres://…' (optionally `?schema=name`): PostgreSQL */
  databaseUrl: string | null;
  dataDir: string;
  /** null or absent: blobs on disk in dataDir */
  s3?: S3Settings | null;
  clock?: Clock;
}

/** Stores plus the database handle, for modules that add their own tables (e.g. a ledger). */
export interface OpenedStores extends Stores {
  db: Db;
}

export const BLOBS_DIR_NAME = 'blobs';

export async function openStores(options: OpenStoresOptions): Promise<OpenedStores> {
  const clock = options.clock ?? systemClock;
  const db = await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  // the AWS SDK takes a while to load: only when a bucket is configured
  const s3 = options.s3 ? new (await import('./s3-blobs.js')).S3BlobStore(options.s3) : null;
  return {
    dialect: db.dialect,
    db,
    keys: new SqlKeyStore(db, clock),
    ledger: new SqlLedger(db, clock),
    idempotency: new SqlIdempotencyStore(db),
    requestLog: new SqlRequestLog(db),
    blobs: s3 ?? new DiskBlobStore(path.join(options.dataDir, BLOBS_DIR_NAME)),
    close: async () => {
      s3?.close();
      await db.close();
    },
  };
}

export { DiskBlobStore, isValidBlobKey } from './blobs.js';
// S3BlobStore and the shared limits are imported from their own modules (./s3-blobs.js,
// ./limits/index.js), so that loading this one loads neither the AWS SDK nor ioredis
export type { S3BlobStoreOptions, S3Credentials, S3Settings } from './s3-blobs.js';
export { StoreUnavailableError, isStoreUnavailable } from './errors.js';
export type {
  AcquireResult,
  BreakerOpened,
  BreakerSync,
  ConcurrencyLimiter,
  Lease,
  Locks,
  OpenSharedLimitsOptions,
  RateLimiter,
  RateLimitResult,
  SharedLimits,
} from './limits/index.js';
export type { SharedStoreName } from './errors.js';
export { openDatabase, parsePostgresUrl, migrateToLatest, SQLITE_FILE_NAME } from './db.js';
export type { Db, Dialect, OpenDatabaseOptions, PostgresTarget } from './db.js';
export {
  createHostedImages,
  loadOrCreateSecret,
  HOSTED_IMAGES_PATH,
  URL_SIGNING_KEY_FILE,
} from './hosted.js';
export type {
  HostedImageFormat,
  HostedImages,
  HostedImagesOptions,
  ResolvedHostedImage,
  SavedHostedImage,
} from './hosted.js';
export { SqlKeyStore, generateApiKey, hashApiKey, looksLikeApiKey, API_KEY_PREFIX } from './keys.js';
export { ensureMasterKey, isMasterKey, MASTER_KEY_FILE, MASTER_KEY_PREFIX } from './master-key.js';
export type { MasterKey } from './master-key.js';
export { SqlRequestLog } from './request-log.js';
export { SqlLedger } from './ledger.js';
export type * from './types.js';
