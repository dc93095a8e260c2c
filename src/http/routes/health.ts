/**
 * Liveness and readiness (OPERATOR.md, "When a store fails, and on
 * shutdown"). /healthz: the process serves HTTP. /readyz: a check per
 * configured store, each probed with a 1 s deadline and the answer cached
 * briefly, so a load balancer polling it costs the stores nothing; 503 when
 * the database does not answer or the node is draining. Redis or S3 down show
 * in `checks` while the node stays ready: it still serves.
 */
import type { FastifyInstance } from 'fastify';
import { safeReason } from '../../store/errors.js';
import type { HttpDeps } from '../deps.js';

const PROBE_MS = 1_000;
const CACHE_MS = 1_000;

type Check = 'ok' | `down: ${string}`;

async function probe(fn: () => Promise<unknown>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'timeout' })), PROBE_MS);
      }),
    ]);
    return 'ok';
  } catch (e) {
    // a code, never a message that could quote an address or a password
    const reason = (e as { reason?: unknown }).reason;
    return `down: ${typeof reason === 'string' ? reason : safeReason(e, 'unavailable')}`;
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  let cached: { at: number; checks: Record<string, Check> } | null = null;
  let pending: Promise<Record<string, Check>> | null = null;
  const checks = async (): Promise<Record<string, Check>> => {
    const now = Date.now();
    if (cached && now - cached.at < CACHE_MS) return cached.checks;
    pending ??= (async () => {
      const entries: Array<[string, Promise<Check>]> = [
        ['database', probe(() => deps.stores.db.ping())],
        ...(deps.sharedLimits.backend === 'redis' ? [['redis', probe(() => deps.sharedLimits.ping(PROBE_MS))] as [string, Promise<Check>]] : []),
        ['storage', probe(() => deps.stores.blobs.check(PROBE_MS))],
      ];
      const out: Record<string, Check> = {};
      for (const [name, p] of entries) out[name] = await p;
      cached = { at: Date.now(), checks: out };
      return out;
    })().finally(() => (pending = null));
    return pending;
  };

  app.get('/readyz', async (_request, reply) => {
    const c = await checks();
    const draining = deps.lifecycle.draining;
    const ready = !draining && c.database === 'ok';
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store');
    return { ready, draining, checks: c };
  });
}
