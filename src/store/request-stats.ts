/**
 * What the console's overview shows, computed in SQL from the request log on
 * SQLite and PostgreSQL alike: counts, error counts, latency percentiles,
 * spend, a time series, and per-deployment attempt health (read out of the
 * JSON `attempts` column, the only part that needs each dialect's own JSON
 * functions). Nothing is kept in memory between calls, so every node of a
 * cluster answers the same figures.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Db } from './db.js';

export interface StatsWindow {
  /** ms epoch, inclusive */
  since: number;
  /** ms epoch, exclusive */
  until: number;
  /** width of one point of the series, ms (a whole number of minutes) */
  bucketMs: number;
}

export interface DeploymentHealth {
  /** `provider/model`, or `local` */
  deployment: string;
  /** calls made to it (retries and fallbacks included), and skips */
  attempts: number;
  succeeded: number;
  /** calls that failed (an error status, a timeout, a refused connection) */
  failed: number;
  /** not called because it could not honour the request ('skipped: …' in the log; a breaker's skips are not logged as attempts) */
  skipped: number;
  /** mean latency of its successful calls; null when none */
  avgLatencyMs: number | null;
  /** ms epoch of the request whose call to it last failed; null when none */
  lastFailureAt: number | null;
  /** the reason of that failure */
  lastFailure: string | null;
}

export interface RequestStats {
  requests: number;
  /** answers other than 2xx (refusals, rate limits, failures, clients gone) */
  errors: number;
  /** 5xx answers only: the gateway or every upstream failed */
  serverErrors: number;
  /** nearest-rank percentiles of served (2xx) requests; null when none */
  latencyMs: { p50: number | null; p95: number | null };
  /** what the window's requests were charged, micro-USD (failed streams pay for partial images sent) */
  costMicros: number;
  /** one point per bucket that had requests, oldest first; `at` is the bucket's start (ms epoch) */
  series: Array<{ at: number; requests: number; errors: number }>;
  deployments: DeploymentHealth[];
}

const num = (v: unknown): number => Number(v ?? 0);

export async function requestStats(db: Db, w: StatsWindow): Promise<RequestStats> {
  const k = db.kysely;
  const inWindow = k.selectFrom('request_log').where('created_at', '>=', w.since).where('created_at', '<', w.until);
  const notOk = sql<number>`case when status < 200 or status >= 300 then 1 else 0 end`;

  const totals = await inWindow
    .select((eb) => [
      eb.fn.countAll<number>().as('requests'),
      eb.fn.sum<number>(notOk).as('errors'),
      eb.fn.sum<number>(sql`case when status >= 500 then 1 else 0 end`).as('server_errors'),
      eb.fn.sum<number>(sql`case when status >= 200 and status < 300 then 1 else 0 end`).as('served'),
      eb.fn.sum<number>('cost_micros').as('cost'),
    ])
    .executeTakeFirst();
  const served = num(totals?.served);

  // nearest rank: the smallest value with at least p of the served requests at or below it
  const percentile = async (p: number): Promise<number | null> => {
    if (served === 0) return null;
    const row = await inWindow
      .select('latency_ms')
      .where('status', '>=', 200)
      .where('status', '<', 300)
      .orderBy('latency_ms')
      .limit(1)
      .offset(Math.max(0, Math.ceil(p * served) - 1))
      .executeTakeFirst();
    return row ? num(row.latency_ms) : null;
  };

  // a literal, not a bound parameter: SQLite would bind a JS number as REAL and divide without truncating
  const bucket = sql<number>`created_at / ${sql.lit(Math.max(60_000, Math.round(w.bucketMs)))}`;
  const series = await inWindow
    .select((eb) => [bucket.as('bucket'), eb.fn.countAll<number>().as('requests'), eb.fn.sum<number>(notOk).as('errors')])
    .groupBy(bucket)
    .orderBy(bucket)
    .execute();

  return {
    requests: num(totals?.requests),
    errors: num(totals?.errors),
    serverErrors: num(totals?.server_errors),
    latencyMs: { p50: await percentile(0.5), p95: await percentile(0.95) },
    costMicros: num(totals?.cost),
    series: series.map((r) => ({ at: num(r.bucket) * Math.max(60_000, Math.round(w.bucketMs)), requests: num(r.requests), errors: num(r.errors) })),
    deployments: await deploymentHealth(db, w),
  };
}

/** What the window's requests were charged, micro-USD, whatever their status. */
export async function spendSince(db: Db, since: number, until: number): Promise<number> {
  const row = await db.kysely
    .selectFrom('request_log')
    .select((eb) => eb.fn.sum<number>('cost_micros').as('cost'))
    .where('created_at', '>=', since)
    .where('created_at', '<', until)
    .executeTakeFirst();
  return num(row?.cost);
}

interface AttemptFields {
  /** the FROM clause that makes one row per attempt, exposing `r` (the log row) and the attempt's fields */
  from: RawBuilder<unknown>;
  deployment: RawBuilder<string>;
  reason: RawBuilder<string | null>;
  latency: RawBuilder<number>;
  /** the attempt's place in its request: later attempts are newer */
  index: RawBuilder<number>;
}

function attemptFields(db: Db): AttemptFields {
  if (db.dialect === 'postgres') {
    return {
      from: sql`request_log r cross join lateral jsonb_array_elements(r.attempts::jsonb) with ordinality as a(value, idx)`,
      deployment: sql`a.value->>'deployment'`,
      reason: sql`a.value->>'reason'`,
      latency: sql`(a.value->>'latencyMs')::float8`,
      index: sql`a.idx`,
    };
  }
  return {
    from: sql`request_log r, json_each(r.attempts) a`,
    deployment: sql`json_extract(a.value, '$.deployment')`,
    reason: sql`json_extract(a.value, '$.reason')`,
    latency: sql`json_extract(a.value, '$.latencyMs')`,
    index: sql`a.key`,
  };
}

async function deploymentHealth(db: Db, w: StatsWindow): Promise<DeploymentHealth[]> {
  const f = attemptFields(db);
  // an attempt without a reason succeeded; 'skipped: …' means it was never called
  const skipped = sql`(${f.reason} like 'skipped:%')`;
  const failed = sql`(${f.reason} is not null and not ${skipped})`;
  const where = sql`r.attempts is not null and r.created_at >= ${w.since} and r.created_at < ${w.until}`;
  const rows = await sql<{ deployment: string; attempts: unknown; succeeded: unknown; failed: unknown; skipped: unknown; avg_latency: unknown; last_failure_at: unknown }>`
    select ${f.deployment} as deployment,
      count(*) as attempts,
      sum(case when ${f.reason} is null then 1 else 0 end) as succeeded,
      sum(case when ${failed} then 1 else 0 end) as failed,
      sum(case when ${skipped} then 1 else 0 end) as skipped,
      avg(case when ${f.reason} is null then ${f.latency} end) as avg_latency,
      max(case when ${failed} then r.created_at end) as last_failure_at
    from ${f.from}
    where ${where}
    group by ${f.deployment}
    order by ${f.deployment}`.execute(db.kysely);

  // the newest failure's reason per deployment: one more small query each, only for those that failed
  const out: DeploymentHealth[] = [];
  for (const r of rows.rows) {
    const lastFailureAt = r.last_failure_at === null ? null : num(r.last_failure_at);
    let lastFailure: string | null = null;
    if (lastFailureAt !== null) {
      const found = await sql<{ reason: string | null }>`
        select ${f.reason} as reason from ${f.from}
        where ${where} and r.created_at = ${lastFailureAt} and ${f.deployment} = ${r.deployment} and ${failed}
        order by ${f.index} desc limit 1`.execute(db.kysely);
      lastFailure = found.rows[0]?.reason ?? null;
    }
    const avg = r.avg_latency === null ? null : Math.round(num(r.avg_latency));
    out.push({
      deployment: r.deployment,
      attempts: num(r.attempts),
      succeeded: num(r.succeeded),
      failed: num(r.failed),
      skipped: num(r.skipped),
      avgLatencyMs: avg,
      lastFailureAt,
      lastFailure,
    });
  }
  return out;
}
