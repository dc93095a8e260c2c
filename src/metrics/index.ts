/**
 * Prometheus metrics of one node, on prom-client with a registry of its own
 * per app (tests run several apps in one process; the library's global
 * registry would mix them up).
 *
 * Everything a request did is counted from the one request-log entry it
 * ends with (observe(), called where the entry is written), so the pipeline
 * carries no metric calls and a new route that logs its requests is counted
 * as it is. What is a state rather than an event (breakers, the engine's
 * queue, bytes on the spool, credit held) is read when Prometheus scrapes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineLoad } from '../engine/types.js';
import type { BreakerState } from '../routing/resilience.js';
import type { RequestAttempt, RequestLog, RequestLogEntry } from '../store/types.js';
import type { OutboxStats } from '../billing/outbox.js';

/** Image edits take from a fraction of a second (a refusal, the built-in engine) to minutes (an upstream at high quality). */
export const LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];

/** a label for a value the entry does not have (a request refused before its model or deployment was known) */
const NONE = 'none';

/** What is read at scrape time. */
export interface MetricsSources {
  /** breaker state of every provider called so far */
  breakers(): Record<string, BreakerState>;
  /** configured providers, reported closed until first called */
  providers: readonly string[];
  engine(): EngineLoad;
  /** the request spools' directory (<dataDir>/tmp) */
  spoolDir: string;
  /** bytes of small uploads held in memory instead of the spool directory */
  spoolMemoryBytes(): number;
  /** credit held by open reservations, micro-USD, over every key */
  reservedMicros(): Promise<number>;
  /** this node's outbox: items waiting, and what it wrote to the database since start */
  outbox(): Promise<OutboxStats>;
}

export interface Metrics {
  /** counts a finished request from its request-log entry; never throws */
  observe(entry: RequestLogEntry): void;
  /** the exposition text */
  scrape(): Promise<string>;
  readonly contentType: string;
}

/** how long a scrape waits for the database before reporting the reserved credit as unknown */
const RESERVED_TIMEOUT_MS = 1000;

/**
 * Retries and fallbacks from an entry's attempts. Deployments are tried one
 * after another, so each deployment's attempts form one run; moving to the
 * next run is a fallback. Within a run every call ends in at most one
 * success, so the attempts beyond the successes (beyond one, when none
 * succeeded) are retries. Attempts skipped at planning (a deployment that
 * cannot honour the request) are no calls and count as neither. When a
 * request split n into parallel calls and the deployment failed, the
 * calls it started are not in the entry: each was counted as a retry.
 */
export function upstreamFlow(attempts: readonly RequestAttempt[]): { retries: Map<string, number>; fallbacks: Array<[from: string, to: string]> } {
  const runs: Array<{ deployment: string; attempts: number; successes: number }> = [];
  for (const a of attempts) {
    if (isSkipped(a)) continue;
    let run = runs.at(-1);
    if (!run || run.deployment !== a.deployment) {
      run = { deployment: a.deployment, attempts: 0, successes: 0 };
      runs.push(run);
    }
    run.attempts++;
    if (a.status === 200) run.successes++;
  }
  const retries = new Map<string, number>();
  for (const r of runs) {
    const n = r.attempts - Math.max(1, r.successes);
    if (n > 0) retries.set(r.deployment, (retries.get(r.deployment) ?? 0) + n);
  }
  const fallbacks: Array<[string, string]> = [];
  for (let i = 1; i < runs.length; i++) fallbacks.push([runs[i - 1].deployment, runs[i].deployment]);
  return { retries, fallbacks };
}

const isSkipped = (a: RequestAttempt): boolean => a.status === null && a.reason !== null && a.reason.startsWith('skipped:');

function attemptOutcome(a: RequestAttempt): 'success' | 'failure' | 'skipped' {
  if (isSkipped(a)) return 'skipped';
  return a.status === 200 ? 'success' : 'failure';
}

/**
 * A refusal is a 429 or 503 the gateway decided itself: rate, concurrency
 * and credit limits, an overloaded node or engine, a store that does not
 * answer. An upstream's own 429 or 503 ends as 503 upstream_unavailable and
 * is a failure, not a refusal.
 */
export function isRefusal(entry: Pick<RequestLogEntry, 'status' | 'errorCode'>): boolean {
  return entry.status === 429 || (entry.status === 503 && entry.errorCode !== 'upstream_unavailable');
}

/** Bytes of the files under the spool directory now (uploads of requests in flight). */
async function spooledBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return; // a spool cleaned up meanwhile
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += await fs.stat(p).then((s) => s.size, () => 0);
    }
  };
  await walk(dir);
  return total;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // the process's own figures (CPU, memory, event-loop lag, GC) beside ours
  collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers });

  const requests = counter('imagegate_requests_total', 'Requests answered, by route, public model, deployment that served it and HTTP status (499: the client left).', ['route', 'model', 'deployment', 'status']);
  const latency = new Histogram({
    name: 'imagegate_request_duration_seconds',
    help: 'Time from the request to its answer, by route, public model, deployment and HTTP status.',
    labelNames: ['route', 'model', 'deployment', 'status'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const attempts = counter('imagegate_upstream_attempts_total', 'Calls to deployments (retries included), by deployment, outcome (success, failure, skipped: the deployment could not honour the request) and upstream HTTP status (none: no answer).', ['deployment', 'outcome', 'status']);
  const retries = counter('imagegate_upstream_retries_total', 'Calls repeated on the same deployment after a failure.', ['deployment']);
  const fallbacks = counter('imagegate_upstream_fallbacks_total', 'Requests moved on from one deployment to the next after it failed.', ['from', 'to']);
  const uploads = counter('imagegate_upload_bytes_total', 'Request body bytes taken in (uploads spooled to disk, JSON bodies, and bodies read and discarded after a refusal).', ['route']);
  const charged = counter('imagegate_credit_charged_microusd_total', 'What requests were charged, in micro-USD, after group multipliers (master-key requests included, though no balance holds them).', ['route', 'model']);
  const refusals = counter('imagegate_refusals_total', 'Requests the gateway refused itself with 429 (rate_limit_exceeded, concurrency_limit_exceeded, insufficient_quota) or 503 (overload, a store down), by error code.', ['route', 'code']);

  new Gauge({
    name: 'imagegate_circuit_breaker_state',
    help: 'Circuit breaker of each provider: 1 for its current state (closed, half-open, open), 0 for the others.',
    labelNames: ['provider', 'state'] as const,
    registers,
    collect() {
      this.reset();
      const states = sources.breakers();
      const names = new Set([...sources.providers, ...Object.keys(states)]);
      for (const provider of names) {
        const now = states[provider] ?? 'closed';
        for (const state of BREAKER_STATES) this.set({ provider, state }, state === now ? 1 : 0);
      }
    },
  });
  /** a gauge whose one value is read when Prometheus scrapes */
  const readAtScrape = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(await read());
      },
    });
  readAtScrape('imagegate_engine_queue_depth', 'Built-in engine jobs waiting for a thread.', () => sources.engine().queued);
  readAtScrape('imagegate_engine_threads_busy', 'Built-in engine threads running a job.', () => sources.engine().running);
  readAtScrape('imagegate_engine_threads', 'Built-in engine threads.', () => sources.engine().threads);
  readAtScrape('imagegate_spool_bytes', 'Bytes of uploads held now by requests in flight, on disk or (small ones) in memory.', async () => (await spooledBytes(sources.spoolDir)) + sources.spoolMemoryBytes());
  readAtScrape(
    'imagegate_credit_reserved_microusd',
    'Credit held now by open reservations, in micro-USD, over every key (the database total: every node reports the same figure; NaN when the database did not answer).',
    // a scrape answers even while the database is away
    () => withTimeout(sources.reservedMicros(), RESERVED_TIMEOUT_MS).catch(() => NaN),
  );
  readAtScrape('imagegate_outbox_pending', "Settlements, request-log entries and Idempotency-Key answers waiting in this node's outbox (data dir) for the database to answer again.", async () => (await sources.outbox()).pending);
  new Counter({
    name: 'imagegate_outbox_written_total',
    help: 'Settlements, request-log entries and Idempotency-Key answers this node wrote to the database through its outbox (after the database was away when their request ended), since it started.',
    labelNames: ['kind'] as const,
    registers,
    async collect() {
      const s = await sources.outbox();
      this.reset();
      this.inc({ kind: 'settlement' }, s.settled);
      this.inc({ kind: 'log' }, s.logged);
      this.inc({ kind: 'answer' }, s.answers);
    },
  });

  const label = (v: string | null): string => v ?? NONE;

  return {
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    observe(e) {
      try {
        const route = e.path;
        const common = { route, model: label(e.model), deployment: label(e.deployment), status: String(e.status) };
        requests.inc(common);
        latency.observe(common, e.latencyMs / 1000);
        for (const a of e.attempts) {
          attempts.inc({ deployment: a.deployment, outcome: attemptOutcome(a), status: a.status === null ? NONE : String(a.status) });
        }
        const flow = upstreamFlow(e.attempts);
        for (const [deployment, n] of flow.retries) retries.inc({ deployment }, n);
        for (const [from, to] of flow.fallbacks) fallbacks.inc({ from, to });
        uploads.inc({ route }, e.bytesIn);
        charged.inc({ route, model: label(e.model) }, e.costMicros);
        if (isRefusal(e)) refusals.inc({ route, code: label(e.errorCode) });
      } catch {
        // counting must never fail a request
      }
    },
  };
}

/** The request log with every inserted entry counted first (counted even when the database is away). */
export function countedRequestLog<L extends RequestLog>(log: L, metrics: Pick<Metrics, 'observe'>): L {
  const insert = (entry: RequestLogEntry): Promise<void> => {
    metrics.observe(entry);
    return log.insert(entry);
  };
  return new Proxy(log, {
    get(target, prop) {
      if (prop === 'insert') return insert;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}
