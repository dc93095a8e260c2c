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
}

export interface DatabaseSchema {
  api_keys: ApiKeysTable;
  request_log: RequestLogTable;
}
