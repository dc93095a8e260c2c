/**
 * The composition root: builds every part from the config and starts the
 * HTTP server. Tests start the same app on port 0 with their own clock.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config/index.js';
import { systemClock, type Clock } from './clock.js';
import { MODEL_CATALOG } from './contract/models.js';
import { createEngine } from './engine/index.js';
import type { Engine } from './engine/types.js';
import { buildServer } from './http/server.js';
import type { Lifecycle } from './http/deps.js';
import { serviceUnavailable } from './errors.js';
import { DEFAULT_MEMORY_ROOM, ensureSpoolDir, SpoolArea, spoolBaseDir, sweepStaleSpools } from './intake/spool.js';
import { Billing } from './billing/accounts.js';
import { Outbox } from './billing/outbox.js';
import { createScrubber } from './config/secrets.js';
import { createProviderSet } from './providers/index.js';
import { createResilience, type Resilience } from './routing/resilience.js';
import { createRouter, type Router } from './routing/router.js';
import { createHostedImages, loadOrCreateSecret } from './store/hosted.js';
import { openStores } from './store/index.js';
import { sharedSecret } from './store/settings.js';
import { createMemoryLimits, openSharedLimits } from './store/limits/index.js';
import { ensureMasterKey } from './store/master-key.js';
import { countedRequestLog, createMetrics, type Metrics } from './metrics/index.js';
import type { OpenedStores } from './store/index.js';

export interface AppOptions {
  clock?: Clock;
  /** Fastify's logger option; false in tests */
  logger?: FastifyServerOptions['logger'];
  /** where start-up announcements go (stdout by default) */
  announce?: (line: string) => void;
  /** retries and breakers (tests pass their own to watch them) */
  resilience?: Resilience;
}

export interface App {
  server: FastifyInstance;
  /** the base URL clients use, e.g. http://127.0.0.1:8080 */
  url: string;
  masterKey: string;
  stores: OpenedStores;
  router: Router;
  engine: Engine;
  resilience: Resilience;
  billing: Billing;
  metrics: Metrics;
  lifecycle: Lifecycle;
  outbox: Outbox;
  /**
   * Drains: waits for requests in flight up to `graceMs` (default
   * IMAGEGATE_SHUTDOWN_GRACE_MS), aborts the rest, closes every store. Idle
   * kept-alive connections stay open `idleWindowMs` so what they send is
   * answered 503 with Connection: close.
   */
  close(graceMs?: number, idleWindowMs?: number): Promise<void>;
  /** resolves once the spool files of every request answered so far are removed */
  spoolsSettled(): Promise<void>;
}

const SPOOL_STALE_MS = 60 * 60_000;
/** how often a node looks for expired reservations to release */
export const RESERVATION_SWEEP_MS = 30_000;

export async function startApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));

  fs.mkdirSync(config.dataDir, { recursive: true });
  const spoolDir = spoolBaseDir(config.dataDir);
  await ensureSpoolDir(spoolDir);
  // leftovers of a crash; a running sibling's spools are younger than this
  await sweepStaleSpools(spoolDir, SPOOL_STALE_MS);
  const spools = new SpoolArea(spoolDir, DEFAULT_MEMORY_ROOM);

  const master = ensureMasterKey(config.dataDir, config.masterKey);
  const stores = await openStores({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, s3: config.s3, clock });
  const engine = createEngine({ threads: config.engine.threads, maxQueue: config.engine.maxQueue });
  const providerSet = createProviderSet(config, engine);
  const router = createRouter({
    models: config.models,
    strictModels: config.strictModels,
    providers: providerSet.providers,
    catalog: Object.keys(MODEL_CATALOG),
    created: Math.floor(clock.now() / 1000),
  });
  const resilienceLater = options.resilience;
  const scrub = createScrubber(config.secrets);

  let baseUrl = config.publicBaseUrl;
  const hosted = createHostedImages({
    blobs: stores.blobs,
    // one secret for every node when set, so any node serves any node's URLs
    // the signing key: configured, else shared through PostgreSQL by every node, else this node's own file
    secret:
      config.urlSecret !== null
        ? Buffer.from(config.urlSecret, 'utf8')
        : stores.dialect === 'postgres'
          ? await sharedSecret(stores.db, 'hosted_url_signing_key')
          : loadOrCreateSecret(config.dataDir),
    clock,
    ttlSeconds: config.hostedUrlTtlSeconds,
    publicBaseUrl: () => baseUrl,
  });
  const imageUrlCa = config.imageUrlCaFile ? fs.readFileSync(config.imageUrlCaFile) : null;

  // filled once the server exists: the pipeline logs through the server's logger
  // the server's logger, once the server exists; what is logged before that (Redis at start) goes to stderr
  let serverLog: FastifyBaseLogger | null = null;
  const log = {
    error: (obj: object, msg: string) => (serverLog ? serverLog.error(obj, msg) : console.error(msg, obj)),
    warn: (obj: object, msg: string) => (serverLog ? serverLog.warn(obj, msg) : console.error(msg, obj)),
  };
  const billing = new Billing(config, stores.ledger);
  const outbox = new Outbox(config.dataDir, stores, { warn: (obj, msg) => log.warn(obj, msg) });
  // edits in progress, so a shutdown can wait for them, or abort them when its grace runs out
  const lifecycle: Lifecycle = { draining: false, active: new Set<AbortController>() };
  const upstreamConfigured = Object.values(config.providers).some((p) => p.type !== 'local');
  const shared = await openSharedLimits({ redisUrl: config.redisUrl, clock, onError: (reason) => log.warn({ reason }, 'redis') });
  const local = config.redisUrl ? createMemoryLimits(clock) : shared;
  const resilience = resilienceLater ?? createResilience(shared.breakers, () => clock.now());
  const metrics = createMetrics({
    breakers: () => resilience.states(),
    providers: Object.keys(config.providers),
    engine: () => engine.load(),
    spoolDir,
    spoolMemoryBytes: () => spools.heldBytes,
    reservedMicros: () => stores.ledger.reservedTotal(),
    outbox: () => outbox.stats(),
  });
  const pipeline = {
    config,
    clock,
    router,
    hosted,
    // every request ends in one entry: counting them there counts every request
    requestLog: countedRequestLog(stores.requestLog, metrics),
    billing,
    idempotency: { store: stores.idempotency, locks: shared.locks, clock, keepLater: outbox.answerLater.bind(outbox) },
    outbox,
    admission: {
      nodeBusy: () => {
        if (lifecycle.draining) return serviceUnavailable('This node is shutting down; retry on another.', 1);
        // the request itself is already counted
        if (lifecycle.active.size > config.maxInFlight) {
          return serviceUnavailable(`This node is at its limit of ${config.maxInFlight} requests at once; retry shortly.`, 1);
        }
        // with no upstream every request is the engine's: refuse before the upload when its queue is full
        const load = engine.load();
        if (!upstreamConfigured && load.queued >= load.maxQueue) {
          return serviceUnavailable(`The built-in engine is busy (${load.queued} edits waiting); retry shortly.`, 1);
        }
        return null;
      },
      shared,
      local,
      onFallback: (reason: string) => log.warn({ reason }, 'redis unavailable: limits counted by this node alone') },
    spools,
    log,
    execute: {
      clock,
      resilience,
      httpFor: providerSet.httpFor,
      scrub,
      onInternalError: (err: unknown, deployment: string) => log.error({ err, deployment }, 'adapter failed unexpectedly'),
    },
  };
  const server = buildServer(
    { config, clock, stores, router, hosted, masterKey: master.key, spoolDir, imageUrlCa, pipeline, billing, metrics, sharedLimits: shared, lifecycle },
    options.logger ?? false,
  );
  serverLog = server.log;
  // every accepted socket and how many requests it has in flight, for a
  // shutdown that waits for requests, not for idle or half-open connections
  const sockets = new Map<Socket, number>();
  server.server.on('connection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });
  server.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (sockets.has(socket)) sockets.set(socket, Math.max(0, sockets.get(socket)! - 1));
    });
  });
  try {
    await server.listen({ host: config.host, port: config.port });
  } catch (e) {
    await engine.close();
    await providerSet.close();
    await shared.close();
    await stores.close();
    throw e;
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const listenUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!baseUrl) baseUrl = listenUrl;

  // expired hosted images are unreachable at once (signed expiry); the files go later
  const sweeper = setInterval(() => {
    hosted.sweepExpired().catch(() => {});
  }, 10 * 60_000);
  sweeper.unref();
  // reservations whose node died mid-request go back to their keys once they expire
  const releaser = setInterval(() => {
    stores.ledger.releaseExpired(clock.now()).catch((err: unknown) => log.warn({ err }, 'releasing expired reservations failed'));
    stores.idempotency.sweep(clock.now()).catch(() => {});
  }, RESERVATION_SWEEP_MS);
  releaser.unref();
  // what the database missed while it was away (also before a restart) is written once it answers
  outbox.start();

  announce(`imagegate listening on ${listenUrl} (data in ${config.dataDir}, ${stores.dialect})`);
  for (const line of routingSummary(config, router)) announce(line);
  if (master.generated) {
    announce('');
    announce(`master key (generated, shown once; stored in ${path.join(config.dataDir, 'master.key')}):`);
    announce(`  ${master.key}`);
    announce('try it:');
    // the picture shipped with the package, so the line works as printed; -S shows curl's own errors
    const sample = fileURLToPath(new URL('../docs/sample.png', import.meta.url));
    announce(
      `  curl -sS ${listenUrl}/v1/images/edits -H "Authorization: Bearer ${master.key}" -F "image=@${sample}" -F prompt="make it black and white"`,
    );
    announce('');
  }

  let closing: Promise<void> | null = null;
  return {
    server,
    url: listenUrl,
    masterKey: master.key,
    stores,
    router,
    engine,
    resilience,
    billing,
    metrics,
    lifecycle,
    outbox,
    spoolsSettled: () => spools.settled(),
    close(graceMs = config.shutdownGraceMs, idleWindowMs = 0) {
      closing ??= (async () => {
        // readiness turns 503 at once; new requests on kept-alive connections get 503 and Connection: close
        lifecycle.draining = true;
        clearInterval(sweeper);
        clearInterval(releaser);
        // Node's server.close() also drops idle kept-alive connections at once; the sweep below
        // does that after the window instead, so what is already on its way gets its 503
        if (idleWindowMs > 0) server.server.closeIdleConnections = () => {};
        const closed = server.close();
        // the grace: what has not finished by then is aborted, its reservation released, its client answered 503
        const grace = setTimeout(() => {
          for (const ac of lifecycle.active) ac.abort(serviceUnavailable('This node shut down before the request finished; retry it.', 1));
        }, graceMs);
        // requests in flight finish; a socket with none (idle keep-alive, or
        // half-open after its client left) is closed instead of waited for —
        // after a short window in which a request already on its way over a
        // kept-alive connection is answered 503 with Connection: close
        const idleFrom = Date.now() + idleWindowMs;
        const sweep = setInterval(() => {
          if (Date.now() < idleFrom) return;
          for (const [socket, inFlight] of sockets) if (inFlight === 0) socket.destroy();
        }, 50);
        try {
          await closed;
        } finally {
          clearInterval(sweep);
          clearTimeout(grace);
        }
        await spools.settled();
        await outbox.stop();
        await engine.close();
        await providerSet.close();
        await shared.close();
        if (local !== shared) await local.close();
        await stores.close();
      })();
      return closing;
    },
  };
}

/** What serves what, said once at start. */
function routingSummary(config: Config, router: Router): string[] {
  const upstream = Object.values(config.providers).filter((p) => p.type !== 'local');
  if (!config.models || upstream.length === 0 && Object.keys(config.models).length === 0) {
    return ['no upstream configured: all models are served by the built-in offline engine'];
  }
  const lines = [`providers: ${upstream.map((p) => `${p.name} (${p.type})`).join(', ') || 'none'}`];
  for (const m of Object.keys(config.models)) {
    lines.push(`  ${m} → ${router.route(m).map((d) => d.name).join(' → ')}`);
  }
  lines.push(config.strictModels ? 'other models: 404 (strictModels)' : 'other known models: the built-in offline engine');
  return lines;
}
