/** Starts the real gateway on 127.0.0.1:0 with a fresh data directory. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startApp, type App } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';

export interface TestApp {
  app: App;
  url: string;
  masterKey: string;
  dataDir: string;
  config: Config;
  announced: string[];
  /** files left in the request spool directory (must be none between requests) */
  spoolFiles(): string[];
  close(): Promise<void>;
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

export async function startTestApp(options: { env?: Record<string, string>; clock?: Clock } = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-test-'));
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ENGINE_THREADS: '1', ...options.env });
  const announced: string[] = [];
  const app = await startApp(config, { clock: options.clock, announce: (l) => announced.push(l) });
  return {
    app,
    url: app.url,
    masterKey: app.masterKey,
    dataDir,
    config,
    announced,
    spoolFiles: () => walk(path.join(dataDir, 'tmp')),
    async close() {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
