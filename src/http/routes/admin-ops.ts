/**
 * Admin routes for operating the gateway, the master key's view behind the
 * web console's pages (each usable on its own, like the rest of /admin):
 *
 *   GET  /admin/stats?since=&until=   overview of a time window: rate, errors,
 *                                     latency, spend, per-deployment health and
 *                                     this node's circuit breakers
 *   GET  /admin/config                the running config, secrets masked
 *   GET  /admin/groups                the config's groups and how many keys each has
 *   GET  /admin/usage?since=&until=&keyId=   served requests by key, model and UTC day
 *   POST /admin/providers/ping        `imagegate config check --ping`, as JSON
 */
import type { FastifyInstance } from 'fastify';
import { groupViews } from '../../billing/group-view.js';
import { formatUsd } from '../../billing/money.js';
import { createScrubber } from '../../config/secrets.js';
import { configView } from '../../config/view.js';
import { invalidValue, unknownParameter } from '../../errors.js';
import { pingProviders, type PingRow } from '../../providers/ping-all.js';
import type { HttpDeps } from '../deps.js';
import { readTime } from './admin.js';

const master = { config: { auth: 'master' as const } };

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** the longest window one stats call covers: the query scans every request in it */
export const MAX_STATS_WINDOW_MS = 92 * DAY;
/** series bucket widths, in minutes: the narrowest that keeps a window within MAX_POINTS points */
const BUCKET_MINUTES = [1, 5, 15, 60, 360, 1440];
const MAX_POINTS = 180;

export function bucketFor(windowMs: number): number {
  for (const m of BUCKET_MINUTES) if (windowMs / (m * MINUTE) <= MAX_POINTS) return m * MINUTE;
  return BUCKET_MINUTES.at(-1)! * MINUTE;
}

function onlyKeys(query: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(query)) if (!allowed.includes(k)) throw unknownParameter(k);
}

/** [since, until) from the query: until defaults to now, since to `defaultMs` before it */
function readWindow(query: Record<string, string | undefined>, now: number, defaultMs: number): { since: number; until: number } {
  const until = query.until !== undefined ? readTime('until', query.until) : now;
  const since = query.since !== undefined ? readTime('since', query.since) : until - defaultMs;
  if (since >= until) throw invalidValue('since', "Invalid 'since': it must be before 'until'.");
  return { since, until };
}

const utcDay = (ms: number) => ms - (ms % DAY);
const utcMonth = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function registerAdminOpsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const log = deps.stores.requestLog;

  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/stats', master, async (request) => {
    onlyKeys(request.query, ['since', 'until']);
    const now = deps.clock.now();
    const { since, until } = readWindow(request.query, now, 60 * MINUTE);
    if (until - since > MAX_STATS_WINDOW_MS) throw invalidValue('since', `Invalid 'since': a window is at most ${MAX_STATS_WINDOW_MS / DAY} days.`);
    const bucketMs = bucketFor(until - since);
    const [s, today, month] = await Promise.all([
      log.stats({ since, until, bucketMs }),
      log.spend(utcDay(now), now + 1),
      log.spend(utcMonth(now), now + 1),
    ]);
    // breakers live in each node's memory (a node hears of others' open circuits through Redis): this node's view
    const breakers = deps.pipeline.execute.resilience.states();
    // every deployment the routing knows, and any other the window's attempts name (since removed from the config)
    const known = deps.router.deployments();
    const health = new Map(s.deployments.map((d) => [d.deployment, d]));
    const names = [...new Set([...known.map((d) => d.name), ...health.keys()])].sort();
    const deployments = names.map((name) => {
      const d = known.find((k) => k.name === name);
      const h = health.get(name);
      const provider = d?.provider.name ?? name.split('/')[0];
      return {
        deployment: name,
        provider,
        type: d?.provider.type ?? null,
        configured: d !== undefined,
        // a provider this node has not called yet has a closed breaker
        breaker: breakers[provider] ?? 'closed',
        attempts: h?.attempts ?? 0,
        succeeded: h?.succeeded ?? 0,
        failed: h?.failed ?? 0,
        skipped: h?.skipped ?? 0,
        avgLatencyMs: h?.avgLatencyMs ?? null,
        lastFailureAt: iso(h?.lastFailureAt ?? null),
        lastFailure: h?.lastFailure ?? null,
      };
    });
    const minutes = (until - since) / MINUTE;
    return {
      since: iso(since),
      until: iso(until),
      bucketSeconds: bucketMs / 1000,
      requests: s.requests,
      requestsPerMinute: Math.round((s.requests / minutes) * 100) / 100,
      errors: s.errors,
      serverErrors: s.serverErrors,
      errorRate: s.requests === 0 ? 0 : Math.round((s.errors / s.requests) * 10_000) / 10_000,
      latencyMs: s.latencyMs,
      costUsd: formatUsd(s.costMicros),
      spendUsd: { today: formatUsd(today), month: formatUsd(month) },
      series: s.series.map((p) => ({ at: iso(p.at), requests: p.requests, errors: p.errors })),
      deployments,
      breakers,
    };
  });

  app.get('/admin/config', master, async () => {
    const view = configView(deps.config, deps.stores.dialect);
    // the routing as it runs: every public model and its deployments in order
    const models = deps.router.models().map((m) => ({
      id: m.id,
      configured: deps.config.models?.[m.id] !== undefined,
      deployments: deps.router.route(m.id).map((d) => d.name),
    }));
    return { ...view, models, groups: groupViews(deps.billing) };
  });

  app.get('/admin/groups', master, async () => {
    const keys = await deps.stores.keys.list();
    const live = (group: string) => keys.filter((k) => k.group === group && k.revokedAt === null).length;
    return { object: 'list', data: groupViews(deps.billing).map((g) => ({ ...g, keys: live(g.name) })) };
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/usage', master, async (request) => {
    onlyKeys(request.query, ['since', 'until', 'keyId']);
    const q = request.query;
    const rows = await log.usage({
      since: q.since === undefined ? undefined : readTime('since', q.since),
      until: q.until === undefined ? undefined : readTime('until', q.until),
      keyId: q.keyId || undefined,
    });
    return {
      object: 'list',
      data: rows.map((r) => ({ keyId: r.keyId, model: r.model, day: r.day, requests: r.requests, images: r.images, totalTokens: r.totalTokens, costUsd: formatUsd(r.costMicros) })),
    };
  });

  // one ping at a time per node: clicking again while it runs gets the same answer, not a second round of upstream calls
  let pinging: Promise<PingRow[]> | null = null;
  const scrub = createScrubber(deps.config.secrets);
  app.post('/admin/providers/ping', master, async () => {
    pinging ??= pingProviders(deps.config).finally(() => {
      pinging = null;
    });
    const rows = await pinging;
    return {
      object: 'list',
      data: rows.map((r) => ({
        provider: r.provider,
        type: r.type,
        reachable: r.result.reachable,
        authOk: r.result.authOk,
        latencyMs: r.result.reachable ? Math.round(r.result.latencyMs) : null,
        detail: scrub(r.result.detail),
      })),
    };
  });
}
