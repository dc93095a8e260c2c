/**
 * `imagegate config check [FILE] [--ping]`: validates a config file (the same
 * loader the server uses, so the same errors with file, key path and line)
 * and prints what serves what; with --ping, makes one cheap authenticated
 * call to each provider and prints a table: provider, type, reachable,
 * auth ok, latency.
 */
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { createScrubber } from '../config/secrets.js';
import { pingProviders } from '../providers/ping-all.js';

type Out = (line: string) => void;

/** A fixed-width table, as a terminal shows it. */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
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
