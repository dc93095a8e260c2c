/**
 * deploy/compose.yaml read as Docker Compose reads it (YAML merge keys, the
 * `${VAR}` forms it uses, deploy/.env beside it), for tests on a machine
 * without Compose.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const DEPLOY_DIR = path.resolve('deploy');

export interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  ports?: unknown[];
  stop_grace_period?: string;
  depends_on?: unknown;
  command?: unknown;
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

export function readCompose(): { text: string; compose: ComposeFile } {
  const text = fs.readFileSync(path.join(DEPLOY_DIR, 'compose.yaml'), 'utf8');
  // merge: Compose honours `<<: *anchor`, which YAML 1.2 leaves to the reader
  return { text, compose: YAML.parse(text, { merge: true }) as ComposeFile };
}

/** KEY=value lines of an env file (deploy/.env.example), comments and blanks skipped. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** deploy/.env.example with each empty value (a secret the operator makes) filled with a fresh random one. */
export function exampleEnv(): Record<string, string> {
  const env = readEnvFile(path.join(DEPLOY_DIR, '.env.example'));
  for (const [k, v] of Object.entries(env)) if (v === '') env[k] = crypto.randomBytes(32).toString('hex');
  return env;
}

/** Every variable a compose text interpolates, with how: `:?` (required) or not. */
export function interpolated(text: string): { name: string; required: boolean }[] {
  const out: { name: string; required: boolean }[] = [];
  for (const m of text.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?/g)) out.push({ name: m[1], required: m[2] === ':?' || m[2] === '?' });
  return out;
}

/** Compose's interpolation of one value: ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, and $$ for a literal $. */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (all, name: string | undefined, colon: string, op: string, word: string) => {
    if (all === '$$') return '$';
    const v = vars[name!];
    const missing = v === undefined || (colon === ':' && v === '');
    if (!missing) return v;
    if (op === '?') throw new Error(`\${${name}} is required: ${word}`);
    return op === '-' ? word : '';
  });
}

/** A service's environment as a map, values interpolated; a list entry without `=` passes the host's variable, which is refused here. */
export function serviceEnv(service: Service, vars: Record<string, string>): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((e) => {
        const i = e.indexOf('=');
        if (i < 0) throw new Error(`environment entry ${e} takes the host's value: name it with a value`);
        return [e.slice(0, i), e.slice(i + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, vars)]));
}

/** A service's mounts: a named volume or a file or directory of the host (relative to deploy/). */
export function mounts(service: Service): { source: string; target: string; readOnly: boolean; bind: boolean }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source, target, mode] = v.split(':');
      return { source, target, readOnly: mode === 'ro', bind: /^[./~]/.test(source) };
    }
    return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true, bind: v.type === 'bind' };
  });
}

/** Compose durations: 150s, 2m30s, 1h, 500ms. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  let total = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g, (_, n: string, u: string) => {
    total += Number(n) * units[u];
    return '';
  });
  if (rest !== '' || text === '') throw new Error(`not a duration: ${text}`);
  return total;
}

/** The services built from the repository's Dockerfile: the imagegate nodes. */
export function nodeServices(compose: ComposeFile): [string, Service][] {
  return Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
}
