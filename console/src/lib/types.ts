/** What the gateway's routes answer, as the console reads them (OPERATOR.md and src/http/routes). */

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  group: string;
  models: string[] | null;
  rpm: number | null;
  maxConcurrent: number | null;
  expiresAt: number | null;
  enabled: boolean;
  revoked: boolean;
  balanceUsd: string | null;
  reservedUsd: string;
  spentUsd: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface Attempt {
  deployment: string;
  status: number | null;
  latencyMs: number;
  reason: string | null;
}

export interface LogEntry {
  id: string;
  createdAt: string;
  keyId: string | null;
  model: string | null;
  deployment: string | null;
  status: number;
  errorCode: string | null;
  latencyMs: number;
  images: number;
  bytesIn: number;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number; input_tokens_details: { text_tokens: number; image_tokens: number } } | null;
  costUsd: string;
  warnings: string[];
  stream: boolean;
  user: string | null;
  attempts: Attempt[];
  outputs: Array<{ url: string; expiresAt: string }>;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Stats {
  since: string;
  until: string;
  bucketSeconds: number;
  requests: number;
  requestsPerMinute: number;
  errors: number;
  serverErrors: number;
  errorRate: number;
  latencyMs: { p50: number | null; p95: number | null };
  costUsd: string;
  spendUsd: { today: string; month: string };
  series: Array<{ at: string; requests: number; errors: number }>;
  deployments: Array<{
    deployment: string;
    provider: string;
    type: string | null;
    configured: boolean;
    breaker: BreakerState;
    attempts: number;
    succeeded: number;
    failed: number;
    skipped: number;
    avgLatencyMs: number | null;
    lastFailureAt: string | null;
    lastFailure: string | null;
  }>;
  breakers: Record<string, BreakerState>;
}

export interface Account {
  name: string;
  group: string | null;
  balanceUsd: string | null;
  rpm: number | null;
  maxConcurrent: number | null;
  usage: { month: { requests: number; costUsd: string } };
}

export interface Group {
  name: string;
  priceMultiplier: string;
  rpm: number | null;
  maxConcurrent: number | null;
  keys?: number;
}

export interface ProviderView {
  name: string;
  type: string;
  baseUrl: string;
  apiKey: string | null;
  timeouts: { connectMs: number; firstByteMs: number; totalMs: number };
  maxRetries: number;
  breaker: { failures: number; cooldownMs: number };
  trustedHosts: string[];
  dropUnsupported: string[];
  options: Record<string, unknown>;
}

export interface ConfigView {
  configFile: string | null;
  defaultModel: string;
  strictModels: boolean;
  providers: ProviderView[];
  prices: Record<string, { tokens?: Record<string, string>; perImage?: Record<string, string> }>;
  server: Record<string, unknown>;
  models: Array<{ id: string; configured: boolean; deployments: string[] }>;
  groups: Group[];
}

export interface PingRow {
  provider: string;
  type: string;
  reachable: boolean;
  authOk: boolean | null;
  latencyMs: number | null;
  detail: string;
}

export interface UsageRow {
  keyId: string | null;
  model: string | null;
  day: string;
  requests: number;
  images: number;
  totalTokens: number;
  costUsd: string;
}
