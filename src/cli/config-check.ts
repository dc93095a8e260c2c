/**
 * `imagegate config check [FILE] [--ping]`: validates a config file (the same
 * loader the server uses, so the same errors with file, key path and line)
 * and prints what serves what; with --ping, makes one cheap authenticated
 * call to each provider and prints a table: provider, type, reachable,
 * auth ok, latency.
 */
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { createScrubber } from '../config/secrets.js';
import { createProviderHttp } from '../providers/http.js';
import { createProvider } from '../providers/index.js';
import { createProviderIO } from '../providers/io.js';
import type { PingResult } from '../providers/types.js';
import { createEngine } from '../engine/index.js';

type Out = (line: string) => void;

const PING_TIMEOUT_MS = 15_000;

export interface PingRow {
  provider: string;
  type: string;
  result: PingResult;
}

/** A fixed-width table, as a terminal shows it. */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export async function pingProviders(config: Config): Promise<PingRow[]> {
  // adapters never touch the engine to ping; the local type still needs one to be built
  const engine = createEngine({ threads: 1, maxQueue: 0 });
  try {
    return await Promise.all(
      Object.values(config.providers).map(async (p): Promise<PingRow> => {
        if (p.type === 'local') return { provider: p.name, type: p.type, result: { reachable: true, authOk: null, latencyMs: 0, detail: 'built-in engine' } };
        const provider = createProvider(p, engine);
        const http = createProviderHttp({ ...p, timeouts: { ...p.timeouts, firstByteMs: Math.min(p.timeouts.firstByteMs, PING_TIMEOUT_MS) } });
        try {
          if (!provider.ping) return { provider: p.name, type: p.type, result: { reachable: false, authOk: null, latencyMs: 0, detail: 'no ping for this type' } };
          const io = createProviderIO(http, AbortSignal.timeout(PING_TIMEOUT_MS), systemClock);
          return { provider: p.name, type: p.type, result: await provider.ping(io) };
        } finally {
          await http.close();
        }
      }),
    );
  } finally {
    await engine.close();
  }
}

export async function configCheck(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const file = args.find((a) => !a.startsWith('--'));
  const ping = args.includes('--ping');
  let config: Config;
  try {
    config = loadConfig(file ? { ...env, IMAGEGATE_CONFIG: file } : env);
  } catch (e) {
    if (e instanceof ConfigError) {
      out(`config error: ${e.message}`);
      return 1;
    }
    throw e;
  }
  if (!config.configFile) {
    out('no config file: give one (imagegate config check FILE) or set IMAGEGATE_CONFIG');
    return 2;
  }
  const providers = Object.values(config.providers);
  out(`${config.configFile}: OK (${providers.length} provider${providers.length === 1 ? '' : 's'}, ${Object.keys(config.models ?? {}).length} models)`);
  for (const [model, entry] of Object.entries(config.models ?? {})) {
    out(`  ${model} → ${entry.deployments.map((d) => (d.model ? `${d.provider}/${d.model}` : d.provider)).join(' → ')}`);
  }
  if (!ping) return 0;
  const scrub = createScrubber(config.secrets);
  const rows = await pingProviders(config);
  out('');
  for (const line of table(
    ['provider', 'type', 'reachable', 'auth ok', 'latency', 'detail'],
    rows.map((r) => [
      r.provider,
      r.type,
      r.result.reachable ? 'yes' : 'no',
      r.result.authOk === null ? '?' : r.result.authOk ? 'yes' : 'no',
      r.result.reachable ? `${Math.round(r.result.latencyMs)} ms` : '-',
      scrub(r.result.detail),
    ]),
  )) {
    out(line);
  }
  return rows.every((r) => r.result.reachable && r.result.authOk !== false) ? 0 : 1;
}
