/**
 * What a key can learn about itself: GET /v1/account (OPERATOR.md), its own
 * request log (GET /v1/account/requests, for the console), and the
 * two dashboard billing routes chat front-ends and other gateways read
 * (one-api's and new-api's shapes: the hard limit is everything the key was
 * granted, the usage everything it spent, so limit − usage is what is left).
 */
import type { FastifyInstance } from 'fastify';
import { formatUsd, MICROS_PER_USD } from '../../billing/money.js';
import { callerOf } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { logPage, readLogQuery } from './admin.js';

/** What front-ends are shown as the limit of a key without one (one-api's figure). */
const UNLIMITED_USD = 100_000_000;

function monthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function registerAccountRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/v1/account', { config: { auth: 'key' } }, async (request) => {
    const caller = callerOf(request);
    const account = { keyId: caller.keyId, key: caller.key };
    const month = await deps.stores.requestLog.summary({ keyId: caller.keyId, since: monthStart(deps.clock.now()) });
    const limits = deps.billing.limitsOf(account);
    const balance = caller.key?.budgeted ? await deps.stores.ledger.balance(caller.key.id) : null;
    return {
      name: caller.key?.name ?? 'master',
      group: caller.key?.group ?? null,
      balanceUsd: balance ? formatUsd(balance.available) : null,
      rpm: limits.rpm,
      maxConcurrent: limits.maxConcurrent,
      usage: { month: { requests: month.requests, costUsd: formatUsd(month.costMicros) } },
    };
  });

  // the caller's own requests, as GET /admin/requests shapes them; the key is the filter, never a parameter
  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/account/requests', { config: { auth: 'key' } }, async (request) => {
    const q = readLogQuery(request.query, ['model', 'deployment', 'status', 'since', 'until', 'limit', 'cursor']);
    return logPage(deps, { ...q, keyId: callerOf(request).keyId });
  });

  app.get('/v1/dashboard/billing/subscription', { config: { auth: 'key' } }, async (request) => {
    const caller = callerOf(request);
    const balance = caller.key?.budgeted ? await deps.stores.ledger.balance(caller.key.id) : null;
    // everything granted; with usage (everything charged) front-ends show what is left
    const limit = balance ? (balance.granted - balance.reserved) / MICROS_PER_USD : UNLIMITED_USD;
    return {
      object: 'billing_subscription',
      has_payment_method: true,
      soft_limit_usd: limit,
      hard_limit_usd: limit,
      system_hard_limit_usd: limit,
      access_until: caller.key?.expiresAt ? Math.floor(caller.key.expiresAt / 1000) : 0,
    };
  });

  app.get('/v1/dashboard/billing/usage', { config: { auth: 'key' } }, async (request) => {
    const caller = callerOf(request);
    // all-time spend, whatever start_date/end_date say: with the subscription's limit it gives the balance
    const spent = caller.key ? (await deps.stores.ledger.balance(caller.key.id)).charged : (await deps.stores.requestLog.summary({ keyId: 'master' })).costMicros;
    return { object: 'list', total_usage: (spent / MICROS_PER_USD) * 100 };
  });
}
