/**
 * The README's start command, `npm start`, as an operator stops it: a signal
 * to the PID they got (npm's) must stop the server. npm hands the signal to
 * the shell that runs the script; the script `exec`s node, so that shell is
 * the server, not a parent that dies and leaves it running.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

before(() => {
  // npm ci builds dist/ (the prepare script); a fresh checkout that skipped it builds it here.
  // The signal path under test is package.json's, so an older dist/ serves as well.
  if (!fs.existsSync(path.join(ROOT, 'dist/cli/bin.js'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
    assert.equal(r.status, 0, 'npm run build');
  }
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start, then ${signal} to its PID: the server drains and its port closes`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-npm-start-'));
    // the npm that runs this test (npm test), else the one on PATH
    const [cmd, args] = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath, 'start']] : ['npm', ['start']];
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_MASTER_KEY: 'sk-ig-master-npm-start-test', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group, so that a server this test fails to stop is still found and killed
      detached: true,
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no server after 60 s:\n${out}`)), 60_000);
        child.stdout!.on('data', () => {
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${out}`)));
      });
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);

      child.kill(signal);
      // a signal that never reaches node leaves npm waiting for it: give up rather than hang
      const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000).unref());
      assert.equal(await Promise.race([exited, timeout]), 0, out);
      assert.match(out, new RegExp(`${signal}: draining \\(up to \\d+ ms for requests in flight\\), then exiting`));
      assert.equal(await portOpen(port), false, 'the server is gone, not orphaned');
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already: the server stopped
      }
      child.stdout!.destroy();
      child.stderr!.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
