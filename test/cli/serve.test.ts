/**
 * The `imagegate` command as a user runs it, in a child process: first start
 * prints the master key once, `keys` manages keys in the same data directory,
 * and SIGTERM lets an in-flight request finish before the process exits.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makePng } from '../helpers/images.js';

const run = promisify(execFile);
const BIN = path.resolve('src/cli/bin.ts');
let dataDir: string;

before(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-cli-'));
});
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const env = () => ({ ...process.env, HOST: '127.0.0.1', PORT: '0', IMAGEGATE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', IMAGEGATE_MASTER_KEY: '' });

function startServer(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, 'serve'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m && out.includes('built-in offline engine') && (out.includes('try it:') || !out.includes('generated'))) {
        // wait for the whole announcement block
        setTimeout(() => {
          clearTimeout(timer);
          resolve({ child, url: m[1], output: () => out });
        }, 100);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

test('first start prints the master key once with a curl line; later starts reuse it', async () => {
  const first = await startServer();
  const out = first.output();
  assert.match(out, /no upstream configured: all models are served by the built-in offline engine/);
  const key = /^\s+(sk-ig-master-[A-Za-z0-9]{40})$/m.exec(out)?.[1];
  assert.ok(key, out);
  const tryIt = new RegExp(`curl -sS ${first.url}/v1/images/edits -H "Authorization: Bearer ${key}" -F "image=@([^"]+)" -F prompt="make it black and white"`).exec(out);
  assert.ok(tryIt, out);
  assert.ok(fs.existsSync(tryIt[1]), `the picture the line sends is there: ${tryIt[1]}`);
  const file = path.join(dataDir, 'master.key');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(file, 'utf8').trim(), key);
  first.child.kill('SIGTERM');
  assert.equal(await exited(first.child), 0);

  const second = await startServer();
  assert.ok(!second.output().includes(key), 'the key is printed only when generated');
  const res = await fetch(`${second.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  second.child.kill('SIGINT');
  assert.equal(await exited(second.child), 0);
});

test('keys create, list and revoke from the command line', async () => {
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', BIN, ...args], { env: env() });
  const created = await cli('keys', 'create', '--name', 'ci bot');
  const key = /^\s+(sk-ig-[A-Za-z0-9]{40})$/m.exec(created.stdout)?.[1];
  const id = /created key (key_[A-Za-z0-9]+)/.exec(created.stdout)?.[1];
  assert.ok(key && id, created.stdout);
  const listed = await cli('keys', 'list', '--format', 'csv');
  assert.match(listed.stdout, new RegExp(`^${id},ci bot,default,,,,,true,false,,0\\.000000,0\\.000000,`, 'm'));
  assert.ok(!listed.stdout.includes(key), 'list never shows a secret');

  const server = await startServer();
  const ok = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(ok.status, 200);
  const revoked = await cli('keys', 'revoke', id);
  assert.match(revoked.stdout, new RegExp(`revoked ${id}`));
  const denied = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(denied.status, 401);
  server.child.kill('SIGTERM');
  assert.equal(await exited(server.child), 0);
});

test('SIGTERM finishes the in-flight request, then exits', async () => {
  const server = await startServer();
  const key = fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim();
  const png = await makePng(256, 256);
  const b = 'sigtermboundary';
  const head = Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ngrayscale\r\n--${b}\r\nContent-Disposition: form-data; name="quality"\r\n\r\nlow\r\n--${b}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${b}--\r\n`);
  const u = new URL(`${server.url}/v1/images/edits`);
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${b}`, 'content-length': head.length + png.length + tail.length },
      },
      (res) => {
        let s = '';
        res.on('data', (d) => (s += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(s) }));
      },
    );
    req.on('error', reject);
    // half the body, then the signal, then the rest
    req.write(head);
    req.write(png.subarray(0, 1000));
    setTimeout(() => {
      server.child.kill('SIGTERM');
      setTimeout(() => {
        req.write(png.subarray(1000));
        req.end(tail);
      }, 300);
    }, 300);
  });
  const exit = exited(server.child);
  const res = await answer;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.length, 1);
  assert.equal(await exit, 0);
  assert.match(server.output(), /SIGTERM: draining \(up to 30000 ms for requests in flight\), then exiting/);
});
