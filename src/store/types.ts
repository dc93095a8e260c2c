/**
 * What the rest of the gateway needs from storage. Implementations: SQLite
 * (embedded default) and PostgreSQL through one Kysely query layer; blobs on
 * disk or in an S3-compatible bucket (s3-blobs.ts).
 */
import type { Readable } from 'node:stream';

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** first characters of the key, safe to show ("sk-ig-Ab3x…") */
  prefix: string;
  createdAt: number; // ms epoch
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** the secret itself: shown once, never stored */
  key: string;
}

export interface KeyStore {
  create(name: string): Promise<CreatedApiKey>;
  list(): Promise<ApiKeyInfo[]>;
  get(id: string): Promise<ApiKeyInfo | null>;
  /** true when a live key was revoked, false when unknown or already revoked */
  revoke(id: string): Promise<boolean>;
  /** the key's record when `presented` is a live key (constant-time comparison of hashes) */
  verify(presented: string): Promise<ApiKeyInfo | null>;
}

export interface RequestLogEntry {
  id: string;
  createdAt: number; // ms epoch
  keyId: string | null; // 'master' for the master key, null when unauthenticated
  method: string;
  path: string;
  model: string | null;
  deployment: string | null;
  status: number;
  errorCode: string | null;
  latencyMs: number;
  imageCount: number;
  bytesIn: number;
  bytesOut: number;
  inputTokens: number | null;
  inputTextTokens: number | null;
  inputImageTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
  user: string | null;
  stream: boolean;
  /** every call to a deployment, in order (retries and fallbacks included) */
  attempts: RequestAttempt[];
}

export interface RequestAttempt {
  /** `provider/model`, or `local` */
  deployment: string;
  /** the upstream's HTTP status (200 for a success); null when no answer came */
  status: number | null;
  latencyMs: number;
  /** why it failed; null for a success */
  reason: string | null;
}

export interface RequestLogQuery {
  limit?: number;
  keyId?: string;
  model?: string;
  status?: number;
  /** ms epoch: entries created at or after */
  since?: number;
  /** continue after this entry (the last one of the previous page) */
  after?: { createdAt: number; id: string };
}

export interface RequestLog {
  insert(entry: RequestLogEntry): Promise<void>;
  get(id: string): Promise<RequestLogEntry | null>;
  /** newest first */
  list(options?: RequestLogQuery): Promise<RequestLogEntry[]>;
}

export interface BlobInfo {
  size: number;
  contentType: string;
}

export interface BlobStore {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** null when absent */
  open(key: string): Promise<{ info: BlobInfo; stream: Readable } | null>;
  delete(key: string): Promise<void>;
  /** delete blobs written before `before` (ms epoch); returns how many */
  sweep(before: number): Promise<number>;
}

export interface Stores {
  dialect: 'sqlite' | 'postgres';
  keys: KeyStore;
  requestLog: RequestLog;
  blobs: BlobStore;
  close(): Promise<void>;
}
