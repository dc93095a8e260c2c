/**
 * One cheap authenticated call to every configured provider, at once:
 * `imagegate config check --ping` prints it as a table, the admin API
 * (POST /admin/providers/ping) answers it as JSON. Each ping has its own
 * short-lived HTTP client with the provider's settings and a 15 s cap, so a
 * ping never shares a pool with (or waits behind) live traffic.
 */
import { systemClock } from '../clock.js';
import type { Config } from '../config/index.js';
import { createProviderHttp } from './http.js';
import { createUpstreamProvider } from './index.js';
import { createProviderIO } from './io.js';
import type { PingResult } from './types.js';

export const PING_TIMEOUT_MS = 15_000;

export interface PingRow {
  provider: string;
  type: string;
  result: PingResult;
}

export async function pingProviders(config: Pick<Config, 'providers'>): Promise<PingRow[]> {
  return Promise.all(
    Object.values(config.providers).map(async (p): Promise<PingRow> => {
      if (p.type === 'local') return { provider: p.name, type: p.type, result: { reachable: true, authOk: null, latencyMs: 0, detail: 'built-in engine' } };
      const provider = createUpstreamProvider(p);
      if (!provider.ping) return { provider: p.name, type: p.type, result: { reachable: false, authOk: null, latencyMs: 0, detail: 'no ping for this type' } };
      const http = createProviderHttp({ ...p, timeouts: { ...p.timeouts, firstByteMs: Math.min(p.timeouts.firstByteMs, PING_TIMEOUT_MS) } });
      try {
        const io = createProviderIO(http, AbortSignal.timeout(PING_TIMEOUT_MS), systemClock);
        return { provider: p.name, type: p.type, result: await provider.ping(io) };
      } finally {
        await http.close();
      }
    }),
  );
}
