/**
 * A key as operators see it (OPERATOR.md's flat key object), for the admin
 * API and the CLI alike: money as USD strings, expiry as unix seconds, times
 * as ISO 8601. Never the secret.
 */
import type { ApiKeyInfo, Ledger } from '../store/types.js';
import { formatUsd } from './money.js';

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

export async function keyView(ledger: Ledger, k: ApiKeyInfo): Promise<KeyView> {
  const balance = await ledger.balance(k.id);
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    group: k.group,
    models: k.models,
    rpm: k.rpm,
    maxConcurrent: k.maxConcurrent,
    expiresAt: k.expiresAt === null ? null : Math.floor(k.expiresAt / 1000),
    enabled: k.enabled,
    revoked: k.revokedAt !== null,
    balanceUsd: k.budgeted ? formatUsd(balance.available) : null,
    reservedUsd: formatUsd(balance.reserved),
    spentUsd: formatUsd(balance.charged),
    createdAt: new Date(k.createdAt).toISOString(),
    lastUsedAt: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
  };
}
