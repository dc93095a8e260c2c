/** Starts the real gateway on 127.0.0.1:0 with a fresh data directory. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startApp, type App } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import type { Resilience } from '../../src/routing/resilience.js';

export interface TestApp {
  app: App;
  url: string;
  masterKey: string;
  dataDir: string;
  config: Config;
  announced: string[];
  /** every log line the server wrote (JSON), when started with `logs: true` */
  logs: string[];
  /**
   * Files left in the request spool directory (must be none between
   * requests), once the removals still running after the answers are done.
   */
  spoolFiles(): Promise<string[]>;
  close(): Promise<void>;
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** a config file's content (providers, models, …), written as YAML and named by IMAGEGATE_CONFIG */
  config?: Record<string, unknown>;
  /** capture the server's log lines (level info) in `logs` */
  logs?: boolean;
  resilience?: Resilience;
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-test-'));
  const env: Record<string, string> = { HOST: '127.0.0.1', PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ENGINE_THREADS: '1', ...options.env };
  if (options.config) {
    const file = path.join(dataDir, 'imagegate.yaml');
    fs.writeFileSync(file, stringify(options.config));
    env.IMAGEGATE_CONFIG = file;
  }
  const config = loadConfig(env);
  const announced: string[] = [];
  const logs: string[] = [];
  const logger = options.logs
    ? {
        level: 'info',
        stream: new Writable({
          write(chunk: Buffer, _enc, done) {
            logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
            done();
          },
        }),
      }
    : false;
  const app = await startApp(config, { clock: options.clock, announce: (l) => announced.push(l), logger, resilience: options.resilience });
  return {
    app,
    url: app.url,
    masterKey: app.masterKey,
    dataDir,
    config,
    announced,
    logs,
    async spoolFiles() {
      // an answer goes out while its spool files are being removed: wait for those, then look
      await app.spoolsSettled();
      return walk(path.join(dataDir, 'tmp'));
    },
    async close() {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
