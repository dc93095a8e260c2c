/**
 * Row shapes of the SQL tables, as the query layer sees them. Timestamps are
 * integer ms since the epoch (bigint on PostgreSQL, parsed back to numbers);
 * booleans are integers 0/1 on both dialects.
 */
export interface ApiKeysTable {
  id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  group_name: string;
  /** JSON array of model patterns; null: every model */
  models: string | null;
  rpm: number | null;
  max_concurrent: number | null;
  expires_at: number | null;
  enabled: number;
  /** 1 when credit limits the key */
  budgeted: number;
}

export interface LedgerTable {
  id: string;
  key_id: string;
  /** grant | reserve | settle | release */
  kind: string;
  /** micro-USD; a grant may be negative (credit taken back) */
  amount: number;
  reservation_id: string | null;
  request_id: string | null;
  reason: string | null;
  created_at: number;
}

export interface KeyBalancesTable {
  key_id: string;
  granted: number;
  charged: number;
  reserved: number;
}

export interface ReservationsTable {
  id: string;
  key_id: string;
  amount: number;
  /** open | settled | released */
  state: string;
  request_id: string | null;
  created_at: number;
  expires_at: number;
  charged: number | null;
}

export interface SettingsTable {
  name: string;
  value: string;
}

export interface RequestLogTable {
  id: string;
  created_at: number;
  key_id: string | null;
  method: string;
  path: string;
  model: string | null;
  deployment: string | null;
  status: number;
  error_code: string | null;
  latency_ms: number;
  image_count: number;
  bytes_in: number;
  bytes_out: number;
  input_tokens: number | null;
  input_text_tokens: number | null;
  input_image_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
  /** OpenAI's `user` parameter; `user` itself is a reserved word in PostgreSQL */
  end_user: string | null;
  stream: number;
  /** JSON array of upstream call attempts: [{deployment, status, latencyMs, reason}] */
  attempts: string | null;
  /** what the request was charged, micro-USD (after the group multiplier) */
  cost_micros: number;
  /** JSON array of the warnings the answer carried */
  warnings: string | null;
  /** JSON array of the hosted copies of a `url` answer's images: [{url, expiresAt}] */
  outputs: string | null;
}

export interface IdempotencyTable {
  /** `<api key id>:<sha256 of the Idempotency-Key>` */
  id: string;
  key_id: string;
  /** sha256 of the request as parsed (fields and file contents), to tell a resend from a reuse */
  fingerprint: string;
  /** running | done */
  state: string;
  /** JSON of the stored answer, when done */
  answer: string | null;
  created_at: number;
  expires_at: number;
}

export interface DatabaseSchema {
  idempotency: IdempotencyTable;
  api_keys: ApiKeysTable;
  request_log: RequestLogTable;
  ledger: LedgerTable;
  key_balances: KeyBalancesTable;
  reservations: ReservationsTable;
  settings: SettingsTable;
}
