/**
 * The real `imagegate serve` in a child process for benches and multi-node tests: its own data
 * dir, a chosen master key, optional config file, and its memory read from
 * /proc (current and peak RSS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GatewayChild {
  child: ChildProcess;
  dataDir: string;
  port: number;
  url: string;
  key: string;
  /** resident set now, bytes */
  rss(): Promise<number>;
  /** the highest resident set so far (VmHWM), bytes */
  peakRss(): Promise<number>;
  /**
   * CPU time the gateway has used so far, all its threads, in ms (user and
   * system from /proc). Per request it is a figure a loaded machine barely
   * moves, unlike wall-clock latency.
   */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
  /** kill -9: no shutdown, nothing finished */
  kill(): Promise<void>;
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Linux's USER_HZ: /proc counts CPU time in hundredths of a second. */
const TICK_MS = 10;

async function cpuTime(pid: number): Promise<number> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name (which may hold spaces) start after the last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

const builds = new Map<string, Promise<string>>();

/**
 * The server of the checkout at `root` compiled by `tsc -p tsconfig.build.json`
 * (what `npm run build` does), once per process, into a directory of this
 * process's beside dist/ (where the compiled code finds node_modules,
 * package.json and docs/ as dist/ does); resolves to the directory holding
 * cli/bin.js. Removed when the process exits.
 */
function compiled(root: string): Promise<string> {
  let build = builds.get(root);
  if (!build) {
    build = (async () => {
      const out = path.join(root, `.bench-dist-${process.pid}`);
      process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
      const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
      await new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out, '--sourceMap', 'false'], { stdio: 'inherit' });
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc exited with ${code}`))));
      });
      return out;
    })();
    builds.set(root, build);
  }
  return build;
}

export async function startGateway(
  options: {
    config?: string;
    env?: Record<string, string>;
    /** a data dir of the caller's (e.g. to start a node again where a killed one left its outbox); kept on stop() */
    dataDir?: string;
    /**
     * run the server compiled to JavaScript, as `npm start` runs it (benches):
     * the sources are compiled afresh into a temporary directory, never a stale dist/
     */
    built?: boolean;
    /** another checkout to run instead of this one (a comparison in one run); else IMAGEGATE_BENCH_ROOT, else this one */
    root?: string;
  } = {},
): Promise<GatewayChild> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imagegate-bench-gw-')));
  const key = options.env?.IMAGEGATE_MASTER_KEY ?? `sk-ig-master-${crypto.randomBytes(20).toString('hex')}`;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), HOST: '127.0.0.1', PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_MASTER_KEY: key, LOG_LEVEL: 'silent', ...options.env };
  if (options.config) {
    const file = path.join(dataDir, 'imagegate.yaml');
    await fsp.writeFile(file, options.config);
    env.IMAGEGATE_CONFIG = file;
  }
  // IMAGEGATE_BENCH_ROOT: another checkout's sources to run, to compare two versions under the same load
  const root = options.root ?? process.env.IMAGEGATE_BENCH_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  // from the sources through tsx, or compiled from them just now: never a stale dist/
  const entry = options.built ? [path.join(await compiled(root), 'cli/bin.js')] : ['--import', 'tsx', path.join(root, 'src/cli/bin.ts')];
  // IMAGEGATE_BENCH_NODE_ARGS: extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = (process.env.IMAGEGATE_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, ...entry, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  // never outlive the test process, even when it ends without calling stop()
  const orphanGuard = () => child.kill('SIGKILL');
  process.on('exit', orphanGuard);
  child.once('exit', () => process.off('exit', orphanGuard));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return {
    child,
    dataDir,
    port,
    url: `http://127.0.0.1:${port}`,
    key,
    rss: () => statusField(child.pid!, 'VmRSS'),
    peakRss: () => statusField(child.pid!, 'VmHWM'),
    cpuMs: () => cpuTime(child.pid!),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      if (ownDir) await fsp.rm(dataDir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
