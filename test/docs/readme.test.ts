/**
 * The README's first request, run as written (in bash, against a running
 * gateway) by someone who has just cloned the repository: it works, and when
 * it cannot, it says why. Also what it relies on: the sample picture, and one
 * variable name for the key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KEY_VARIABLE } from '../../src/cli/client/args.js';
import { BIN, ROOT, TSX, type Run } from '../helpers/cli.js';
import { decode } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const HAS_CURL = spawnSync('curl', ['--version']).status === 0;

/** the ```sh blocks of a section, by its heading */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `a section '${heading}'`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

let t: TestApp;
let dir: string;

before(async () => {
  t = await startTestApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-readme-'));
});
after(async () => {
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A copy of what a clone gives a user (docs/sample.png; data/master.key once
 * the server ran), where `script` runs in bash with the README's address
 * replaced by the test server's and `npx imagegate` by the command from source.
 */
function runAsUser(name: string, script: string, env: Record<string, string | undefined>, files = { sample: true, masterKey: true }): Promise<Run & { dir: string }> {
  const d = path.join(dir, name);
  fs.mkdirSync(path.join(d, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(d, 'data'));
  if (files.sample) fs.copyFileSync(path.join(ROOT, 'docs/sample.png'), path.join(d, 'docs/sample.png'));
  if (files.masterKey) fs.writeFileSync(path.join(d, 'data/master.key'), `${t.masterKey}\n`);
  const local = script
    .replaceAll('http://127.0.0.1:8080', t.url)
    .replaceAll('npx imagegate', `${JSON.stringify(process.execPath)} --import ${JSON.stringify(TSX)} ${JSON.stringify(BIN)}`);
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, IMAGEGATE_URL: t.url, ...env })) if (v !== undefined) childEnv[k] = v;
  return new Promise((resolve) => {
    execFile('bash', ['-c', local], { cwd: d, env: childEnv, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr, dir: d });
    });
  });
}

describe("the README's first request", () => {
  const [cli, curl] = shellBlocks('First request');

  test('imagegate edit on the sample picture, with the key from data/master.key: out.png', async () => {
    assert.match(cli, /npx imagegate edit docs\/sample\.png -p /);
    const r = await runAsUser('cli', cli, { IMAGEGATE_KEY: undefined });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out.png\n');
    const img = await decode(fs.readFileSync(path.join(r.dir, 'out.png')));
    assert.deepEqual([img.format, img.width, img.height], ['png', 1024, 1024]);
  });

  test('curl: out.png when all is well', { skip: !HAS_CURL && 'curl is not installed' }, async () => {
    assert.match(curl, /--fail-with-body/);
    const r = await runAsUser('curl-ok', curl, { IMAGEGATE_KEY: t.masterKey });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'wrote out.png\n');
    assert.equal((await decode(fs.readFileSync(path.join(r.dir, 'out.png')))).width, 1024);
  });

  test("curl without the key variable: the server's error, exit 1, not a TypeError", { skip: !HAS_CURL && 'curl is not installed' }, async () => {
    const r = await runAsUser('curl-nokey', curl, { IMAGEGATE_KEY: undefined });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: You didn't provide an API key\./m);
    assert.doesNotMatch(r.stderr, /TypeError/);
    assert.ok(!fs.existsSync(path.join(r.dir, 'out.png')));
  });

  test("curl with a file that is not there: curl's message, exit 1", { skip: !HAS_CURL && 'curl is not installed' }, async () => {
    const r = await runAsUser('curl-nofile', curl, { IMAGEGATE_KEY: t.masterKey }, { sample: false, masterKey: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^curl: \(26\)/m);
  });
});

describe('what the first request relies on', () => {
  test('the sample picture and its mask are small PNGs of the same size, the mask with a transparent hole', async () => {
    const sample = fs.readFileSync(path.join(ROOT, 'docs/sample.png'));
    const mask = fs.readFileSync(path.join(ROOT, 'docs/sample-mask.png'));
    assert.ok(sample.length < 200 * 1024, `${sample.length} bytes`);
    const s = await decode(sample);
    const m = await decode(mask);
    assert.deepEqual([s.format, s.width, s.height], ['png', 512, 512]);
    assert.deepEqual([m.format, m.width, m.height, m.channels], ['png', 512, 512, 4]);
    let transparent = 0;
    for (let i = 3; i < m.data.length; i += 4) if (m.data[i] === 0) transparent++;
    assert.ok(transparent > 0.03 * 512 * 512 && transparent < 0.1 * 512 * 512, `${transparent} transparent pixels`);
  });

  test('one variable name for the key a client sends, the one the CLI reads', () => {
    assert.equal(KEY_VARIABLE, 'IMAGEGATE_KEY');
    const sent = [
      ...[...README.matchAll(/Bearer \$\{?([A-Z_]+)/g)].map((m) => m[1]),
      ...[...README.matchAll(/apiKey: process\.env\.([A-Z_]+)/g)].map((m) => m[1]),
      ...[...README.matchAll(/export ([A-Z_]*KEY)=/g)].map((m) => m[1]),
    ];
    assert.ok(sent.length >= 3, sent.join(' '));
    assert.deepEqual([...new Set(sent)], [KEY_VARIABLE]);
  });
});
