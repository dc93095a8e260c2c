/**
 * A PostgreSQL server of the test's own (initdb and postgres, run as the
 * `postgres` user, on a temp dir and a free port) that can be stopped as an
 * outage would stop it and started again on the same port: for outage tests,
 * which must never stop the shared server on 5432.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killHard, spawnUntilReady } from './process.js';
import { freePort } from './redis.js';

export interface TestPostgres {
  url: string;
  port: number;
  /** an immediate shutdown (SIGQUIT to the postmaster: every backend dies at once) */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const postgresUser = (): { uid: number; gid: number } => ({
  uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
  gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
});

export async function startTestPostgres(): Promise<TestPostgres> {
  const user = postgresUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-pg-'));
  fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  execFileSync('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { ...user, stdio: 'ignore' });
  const port = await freePort();
  const launch = async () =>
    (
      await spawnUntilReady(
        'postgres',
        'postgres',
        ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
        /database system is ready to accept connections/,
        20_000,
        { readyOn: 'stderr', ...user },
      )
    ).child;
  let child: ChildProcess | null = await launch();
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGQUIT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    await killHard(running);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    async start() {
      if (!child) child = await launch();
    },
    async close() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
