/**
 * A redis-server of the test's own on 127.0.0.1 and a free port, with no
 * persistence, that can be killed and started again on the same port: for
 * outage tests, which must never stop the shared server on 6379.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { killHard, spawnUntilReady } from './process.js';

const START_TIMEOUT_MS = 10_000;

export interface TestRedis {
  url: string;
  port: number;
  /** SIGKILL: an outage, not a shutdown */
  stop(): Promise<void>;
  /** again on the same port (empty: nothing is saved) */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'];
  return (await spawnUntilReady('redis-server', 'redis-server', args, /Ready to accept connections/, START_TIMEOUT_MS)).child;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = await launch(port, dir);
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running) await killHard(running);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async start() {
      if (!child) child = await launch(port, dir);
    },
    async close() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
