/**
 * `imagegate config check [FILE] [--ping]`, run as a user runs it (a child
 * process) against emulators: the validation message, the routes, and the
 * ping table with reachable / auth ok / latency, never a key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';

const run = promisify(execFile);
const BIN = path.resolve('src/cli/bin.ts');
const KEY = 'sk-ping-0123456789abcdef';
let dir: string;
let oa: OpenAiEmulator;
let az: OpenAiEmulator;
let closedPort: number;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-check-'));
  oa = await startOpenAiEmulator({ apiKey: KEY });
  az = await startOpenAiEmulator({ flavour: 'azure', apiKey: 'az-key-0123456789', deployments: { d: 'gpt-image-1' } });
  // a port nobody listens on
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closedPort = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
});

after(async () => {
  await Promise.all([oa.close(), az.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function check(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', BIN, 'config', 'check', file, ...args], { env: { ...process.env, IMAGEGATE_CONFIG: '', ...env } });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  }
}

test('a valid file: OK and the routes; --ping: a row per provider', async () => {
  const file = path.join(dir, 'ok.yaml');
  fs.writeFileSync(
    file,
    [
      'providers:',
      `  good: { type: openai, baseUrl: "${oa.baseUrl}", apiKey: env:GOOD_KEY }`,
      `  badkey: { type: openai, baseUrl: "${oa.baseUrl}", apiKey: env:BAD_KEY }`,
      `  az: { type: azure-openai, baseUrl: "${az.baseUrl}", apiKey: env:AZ_KEY }`,
      `  down: { type: openai-compatible, baseUrl: "http://127.0.0.1:${closedPort}/v1", timeouts: { connectMs: 500 } }`,
      'models:',
      '  gpt-image-1:',
      '    deployments: [{ provider: good, model: gpt-image-1 }, { provider: local }]',
      '',
    ].join('\n'),
  );
  const env = { GOOD_KEY: KEY, BAD_KEY: 'sk-wrong-0123456789abcdef', AZ_KEY: 'az-key-0123456789' };
  const plain = await check(file, [], env);
  assert.equal(plain.code, 0);
  assert.equal(plain.out, `${file}: OK (4 providers, 1 models)\n  gpt-image-1 → good/gpt-image-1 → local\n`);

  const pinged = await check(file, ['--ping'], env);
  assert.equal(pinged.code, 1, 'a refused key or an unreachable provider fails the check');
  const rows = pinged.out.split('\n').slice(3).filter(Boolean);
  const cells = (name: string) => rows.find((r) => r.startsWith(`${name} `))!.split(/\s{2,}/);
  assert.deepEqual(cells('good').slice(0, 4), ['good', 'openai', 'yes', 'yes']);
  assert.match(cells('good')[4], /^\d+ ms$/);
  assert.deepEqual(cells('badkey').slice(0, 4), ['badkey', 'openai', 'yes', 'no']);
  assert.deepEqual(cells('az').slice(0, 4), ['az', 'azure-openai', 'yes', 'yes']);
  assert.deepEqual(cells('down').slice(0, 5), ['down', 'openai-compatible', 'no', '?', '-']);
  assert.ok(pinged.out.split('\n')[3].startsWith('provider'), 'a header row');
  assert.ok(!pinged.out.includes(KEY) && !pinged.out.includes('sk-wrong-0123456789abcdef'), 'no key printed');
  assert.equal(oa.requests.filter((r) => r.path === '/v1/models').length, 2);
  assert.equal(az.requests.at(-1)!.path, '/openai/models');
});

test('an invalid file: the error with file, key path and line; exit 1', async () => {
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'providers:\n  a:\n    type: openai\n    apiKey: env:NOPE_NOT_SET\n');
  const r = await check(file, []);
  assert.equal(r.code, 1);
  assert.equal(r.out, `config error: ${file}:4: providers.a.apiKey: environment variable NOPE_NOT_SET is not set\n`);
});
