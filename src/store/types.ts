/**
 * What the rest of the gateway needs from storage. Implementations: SQLite
 * (embedded default) and PostgreSQL through one Kysely query layer; blobs on
 * disk or in an S3-compatible bucket (s3-blobs.ts).
 */
import type { Readable } from 'node:stream';
import type { RequestStats, StatsWindow } from './request-stats.js';

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** first characters of the key, safe to show ("sk-ig-Ab3x…") */
  prefix: string;
  createdAt: number; // ms epoch
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** the group's name (its price multiplier and default limits) */
  group: string;
  /** model name patterns ('gpt-image-*'); null: every model */
  models: string[] | null;
  /** requests per minute; null: the group's default */
  rpm: number | null;
  /** requests at once; null: the group's default */
  maxConcurrent: number | null;
  /** ms epoch; null: never */
  expiresAt: number | null;
  enabled: boolean;
  /** true when credit limits the key (it was created with credit, or granted some) */
  budgeted: boolean;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** the secret itself: shown once, never stored */
  key: string;
}

export interface KeySettings {
  group?: string;
  models?: string[] | null;
  rpm?: number | null;
  maxConcurrent?: number | null;
  expiresAt?: number | null;
}

export interface NewKey extends KeySettings {
  name: string;
  /** a budget: the key starts with this credit (micro-USD); without it the key is unlimited */
  creditMicros?: number;
}

export interface KeyPatch extends KeySettings {
  name?: string;
  enabled?: boolean;
}

export interface KeyStore {
  create(key: NewKey): Promise<CreatedApiKey>;
  list(): Promise<ApiKeyInfo[]>;
  get(id: string): Promise<ApiKeyInfo | null>;
  /** null when the key does not exist */
  update(id: string, patch: KeyPatch): Promise<ApiKeyInfo | null>;
  /** true when a live key was revoked, false when unknown or already revoked */
  revoke(id: string): Promise<boolean>;
  /** the key's record when `presented` is a live key (constant-time comparison of hashes); disabled and expired keys too (the caller says why they are refused) */
  verify(presented: string): Promise<ApiKeyInfo | null>;
}

export interface Balance {
  /** micro-USD */
  granted: number;
  charged: number;
  reserved: number;
  /** granted − charged − reserved: what can still be spent */
  available: number;
}

export interface LedgerEntry {
  id: string;
  keyId: string;
  kind: 'grant' | 'reserve' | 'release' | 'settle';
  amount: number;
  reservationId: string | null;
  requestId: string | null;
  reason: string | null;
  createdAt: number;
}

/**
 * Credit, in micro-USD. Every change is an append-only ledger row written in
 * the same transaction as the key's running totals; a reservation only
 * succeeds by a conditional update of those totals, so no interleaving on any
 * number of nodes takes a balance below zero.
 */
export interface Ledger {
  balance(keyId: string): Promise<Balance>;
  /** credit added (or taken back when negative, never below zero: then null) */
  grant(keyId: string, amount: number, reason: string): Promise<Balance | null>;
  /** holds `amount` for a request; false when the balance cannot cover it */
  reserve(r: { id: string; keyId: string; amount: number; requestId: string; expiresAt: number }): Promise<boolean>;
  /**
   * Charges what was delivered and releases the reservation, exactly once
   * (a second call is a no-op returning the first charge). Without a
   * reservation (an unlimited key) the request id makes it exactly-once.
   * Never takes the balance below zero: the charge is capped at what the
   * reservation and the balance can cover; returns what was charged.
   */
  settle(s: { keyId: string; reservationId: string | null; requestId: string; amount: number }): Promise<number>;
  /** gives an open reservation back; false when it was already settled or released */
  release(reservationId: string, reason: string): Promise<boolean>;
  /** releases reservations whose holder never settled (a node that died); returns how many */
  releaseExpired(now: number, limit?: number): Promise<number>;
  entries(keyId: string, limit?: number): Promise<LedgerEntry[]>;
  /** credit held by open reservations, over every key (micro-USD) */
  reservedTotal(): Promise<number>;
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
  /** what the request was charged, micro-USD (0 when free or refused) */
  costMicros: number;
  /** what the answer's x-imagegate-warning said */
  warnings: string[];
  /** the hosted copies a `url` answer pointed at (none for b64_json and streams) */
  outputs?: HostedOutput[];
}

export interface HostedOutput {
  /** the signed link the client was given */
  url: string;
  /** ms epoch: when the link stops working */
  expiresAt: number;
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
  /** the deployment that answered (`provider/model`, or `local`) */
  deployment?: string;
  status?: number;
  /** 2 for 2xx, 4 for 4xx, 5 for 5xx: a whole class of statuses */
  statusClass?: number;
  /** ms epoch: entries created at or after */
  since?: number;
  /** ms epoch: entries created before */
  until?: number;
  /** continue after this entry (the last one of the previous page) */
  after?: { createdAt: number; id: string };
}

export interface UsageRow {
  keyId: string | null;
  model: string | null;
  /** UTC day, YYYY-MM-DD */
  day: string;
  requests: number;
  images: number;
  totalTokens: number;
  costMicros: number;
}

export interface RequestLog {
  insert(entry: RequestLogEntry): Promise<void>;
  get(id: string): Promise<RequestLogEntry | null>;
  /** newest first */
  list(options?: RequestLogQuery): Promise<RequestLogEntry[]>;
  /** served requests (status 2xx) and what they cost; refused ones do not count */
  summary(options: { keyId?: string; since?: number; until?: number }): Promise<{ requests: number; costMicros: number }>;
  /** served requests by key, model and UTC day */
  usage(options: { since?: number; until?: number; keyId?: string }): Promise<UsageRow[]>;
  /** the console's overview of a time window (request-stats.ts) */
  stats(window: StatsWindow): Promise<RequestStats>;
  /** what requests created in [since, until) were charged, micro-USD, whatever their status */
  spend(since: number, until: number): Promise<number>;
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
  /** resolves when the store can be written to now (readiness); rejects within `deadlineMs` otherwise */
  check(deadlineMs?: number): Promise<void>;
}

export interface Stores {
  dialect: 'sqlite' | 'postgres';
  keys: KeyStore;
  ledger: Ledger;
  idempotency: IdempotencyStore;
  requestLog: RequestLog;
  blobs: BlobStore;
  close(): Promise<void>;
}

export interface IdempotencyRecord {
  id: string;
  keyId: string;
  fingerprint: string;
  state: 'running' | 'done';
  /** the stored answer (JSON), when done */
  answer: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface IdempotencyStore {
  get(id: string): Promise<IdempotencyRecord | null>;
  /** writes the record, replacing one with the same id (the caller holds the key's lock) */
  put(record: IdempotencyRecord): Promise<void>;
  delete(id: string): Promise<void>;
  /** removes records past their expiry; returns how many */
  sweep(now: number): Promise<number>;
}
