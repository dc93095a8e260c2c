/**
 * What the gateway's routes answer, as the console reads them (OPERATOR.md
 * and src/http/routes). Shapes the server names are imported from it (type
 * only: nothing of the server reaches the bundle), so a change there fails
 * the console's type check instead of its pages.
 */
import type { GroupView } from '../../../src/billing/group-view.js';
import type { ProviderView } from '../../../src/config/view.js';
import type { BreakerState } from '../../../src/routing/resilience.js';

export type { KeyView } from '../../../src/billing/key-view.js';
export type { BreakerState, ProviderView };

/** a group, with its number of live keys in GET /admin/groups */
export type Group = GroupView & { keys?: number };

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
