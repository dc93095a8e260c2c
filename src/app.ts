/**
 * The composition root: builds every part from the config and starts the
 * HTTP server. Tests start the same app on port 0 with their own clock.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from './config/index.js';
import { systemClock, type Clock } from './clock.js';
import { MODEL_CATALOG } from './contract/models.js';
import { createEngine } from './engine/index.js';
import type { Engine } from './engine/types.js';
import { buildServer } from './http/server.js';
import { DEFAULT_MEMORY_ROOM, ensureSpoolDir, SpoolArea, spoolBaseDir, sweepStaleSpools } from './intake/spool.js';
import { createScrubber } from './config/secrets.js';
import { createProviderSet } from './providers/index.js';
import { createResilience, type Resilience } from './routing/resilience.js';
import { createRouter, type Router } from './routing/router.js';
import { createHostedImages, loadOrCreateSecret } from './store/hosted.js';
import { openStores } from './store/index.js';
import { ensureMasterKey } from './store/master-key.js';
import type { Stores } from './store/types.js';

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
  stores: Stores;
  router: Router;
  engine: Engine;
  resilience: Resilience;
  /** resolves once the spool files of every request answered so far are removed */
  spoolsSettled(): Promise<void>;
  close(): Promise<void>;
}

const SPOOL_STALE_MS = 60 * 60_000;

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
  const stores = await openStores({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, clock });
  const engine = createEngine({ threads: config.engine.threads, maxQueue: config.engine.maxQueue });
  const providerSet = createProviderSet(config, engine);
  const router = createRouter({
    models: config.models,
    strictModels: config.strictModels,
    providers: providerSet.providers,
    catalog: Object.keys(MODEL_CATALOG),
    created: Math.floor(clock.now() / 1000),
  });
  const resilience = options.resilience ?? createResilience();
  const scrub = createScrubber(config.secrets);

  let baseUrl = config.publicBaseUrl;
  const hosted = createHostedImages({
    blobs: stores.blobs,
    secret: loadOrCreateSecret(config.dataDir),
    clock,
    ttlSeconds: config.hostedUrlTtlSeconds,
    publicBaseUrl: () => baseUrl,
  });
  const imageUrlCa = config.imageUrlCaFile ? fs.readFileSync(config.imageUrlCaFile) : null;

  // filled once the server exists: the pipeline logs through the server's logger
  const log = { error: (obj: object, msg: string) => server.log.error(obj, msg), warn: (obj: object, msg: string) => server.log.warn(obj, msg) };
  const pipeline = {
    config,
    clock,
    router,
    hosted,
    requestLog: stores.requestLog,
    spools,
    log,
    execute: {
      clock,
      resilience,
      httpFor: providerSet.httpFor,
      scrub,
      onInternalError: (err: unknown, deployment: string) => server.log.error({ err, deployment }, 'adapter failed unexpectedly'),
    },
  };
  const server = buildServer(
    { config, clock, stores, router, hosted, masterKey: master.key, spoolDir, imageUrlCa, pipeline },
    options.logger ?? false,
  );
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

  announce(`imagegate listening on ${listenUrl} (data in ${config.dataDir}, ${stores.dialect})`);
  for (const line of routingSummary(config, router)) announce(line);
  if (master.generated) {
    announce('');
    announce(`master key (generated, shown once; stored in ${path.join(config.dataDir, 'master.key')}):`);
    announce(`  ${master.key}`);
    announce('try it:');
    announce(
      `  curl -s ${listenUrl}/v1/images/edits -H "Authorization: Bearer ${master.key}" -F image=@photo.png -F prompt="make it black and white"`,
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
    spoolsSettled: () => spools.settled(),
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        const closed = server.close();
        // requests in flight finish; a socket with none (idle keep-alive, or
        // half-open after its client left) is closed instead of waited for
        const sweep = setInterval(() => {
          for (const [socket, inFlight] of sockets) if (inFlight === 0) socket.destroy();
        }, 50);
        try {
          await closed;
        } finally {
          clearInterval(sweep);
        }
        await spools.settled();
        await engine.close();
        await providerSet.close();
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
