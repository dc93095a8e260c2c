/**
 * `imagegate keys …`, `groups list` and `usage` against a real database
 * (in process: the same runCli the binary runs), with the admin API's checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { openStores } from '../../src/store/index.js';

let dir: string;
let config: Config;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-cli-accounts-'));
  fs.writeFileSync(path.join(dir, 'c.yaml'), 'groups:\n  partners: { priceMultiplier: "0.8", rpm: 600, maxConcurrent: 20 }\n');
  config = loadConfig({ IMAGEGATE_DATA_DIR: dir, IMAGEGATE_CONFIG: path.join(dir, 'c.yaml') });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCli(args, config, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

test('keys: create with every setting, list as JSON and CSV, show, update, credit, revoke', async () => {
  const created = await cli('keys', 'create', '--name', 'team-a', '--group', 'partners', '--models', 'gpt-image-*,dall-e-2', '--rpm', '30', '--max-concurrent', '3', '--expires', '2030-01-01', '--credit', '5.00');
  assert.equal(created.code, 0);
  const id = /created key (key_\w+) \(team-a, group partners, credit \$5\.00\)/.exec(created.out)?.[1];
  assert.ok(id, created.out);
  const listed = JSON.parse((await cli('keys', 'list', '--format', 'json')).out);
  const k = listed.find((x: { id: string }) => x.id === id);
  assert.deepEqual(
    [k.group, k.models, k.rpm, k.maxConcurrent, k.expiresAt, k.balanceUsd],
    ['partners', ['gpt-image-*', 'dall-e-2'], 30, 3, 1893456000, '5.000000'],
  );
  const csv = (await cli('keys', 'list', '--format', 'csv')).out.split('\n');
  assert.equal(csv[0], 'id,name,group,models,rpm,maxConcurrent,expiresAt,enabled,revoked,balanceUsd,reservedUsd,spentUsd,createdAt');
  assert.match(csv[1], new RegExp(`^${id},team-a,partners,gpt-image-\\* dall-e-2,30,3,1893456000,true,false,5\\.000000,0\\.000000,0\\.000000,`));

  assert.equal((await cli('keys', 'credit', id!, '-1.50', '--reason', 'partial refund reversed')).out, `${id}: balance $3.500000`);
  const refused = await cli('keys', 'credit', id!, '-9.00', '--reason', 'too much');
  assert.equal(refused.code, 1);
  assert.match(refused.out, /cannot take back \$9\.00: the balance is \$3\.500000/);
  const shown = await cli('keys', 'show', id!);
  assert.match(shown.out, /grant +-1\.500000 +- +partial refund reversed/);

  const updated = JSON.parse((await cli('keys', 'update', id!, '--rpm', 'none', '--models', 'all', '--disable', '--expires', 'never')).out);
  assert.deepEqual([updated.rpm, updated.models, updated.enabled, updated.expiresAt], [null, null, false, null]);
  assert.equal((await cli('keys', 'revoke', id!)).out, `revoked ${id}`);
});

test('keys: the admin API\'s checks, in the terminal\'s words', async () => {
  assert.deepEqual(await cli('keys', 'create', '--name', 'x', '--group', 'vip'), { code: 2, out: "group: Unknown group 'vip'. The groups are 'default', 'partners'." });
  assert.deepEqual(await cli('keys', 'create'), { code: 2, out: "name: Missing required parameter: 'name'." });
  assert.equal((await cli('keys', 'create', '--name', 'x', '--rpm', 'fast')).out, '--rpm must be a whole number');
  assert.equal((await cli('keys', 'create', '--name', 'x', '--credit', '1.0000001')).code, 2);
  assert.equal((await cli('keys', 'show', 'key_nope')).out, 'no key with id key_nope');
});

test('groups list', async () => {
  const out = (await cli('groups', 'list')).out.split('\n');
  assert.equal(out[0].replace(/\s+/g, ' '), 'group priceMultiplier rpm maxConcurrent');
  assert.match(out[2], /^default +1 +- +-$/);
  assert.match(out[3], /^partners +0\.8 +600 +20$/);
});

test('usage by key, model and day, as a table, JSON or CSV', async () => {
  const stores = await openStores({ databaseUrl: null, dataDir: dir });
  const base = Date.UTC(2026, 11, 1, 12);
  const entry = (id: string, at: number, key: string, model: string, cost: number, status = 200) => ({
    id, createdAt: at, keyId: key, method: 'POST', path: '/v1/images/edits', model, deployment: 'local', status, errorCode: null, latencyMs: 1,
    imageCount: 1, bytesIn: 1, bytesOut: 1, inputTokens: 1, inputTextTokens: 1, inputImageTokens: 0, outputTokens: 10, totalTokens: 11,
    user: null, stream: false, attempts: [], costMicros: cost, warnings: [],
  });
  await stores.requestLog.insert(entry('r1', base, 'key_a', 'gpt-image-1', 209_990));
  await stores.requestLog.insert(entry('r2', base + 1000, 'key_a', 'gpt-image-1', 209_990));
  await stores.requestLog.insert(entry('r3', base + 86_400_000, 'key_a', 'dall-e-2', 18_000));
  await stores.requestLog.insert(entry('r4', base, 'key_b', 'gpt-image-1', 40_000));
  await stores.requestLog.insert(entry('r5', base, 'key_b', 'gpt-image-1', 0, 429));
  await stores.close();

  const json = JSON.parse((await cli('usage', '--format', 'json', '--since', '2026-12-01', '--until', '2026-12-03')).out);
  assert.deepEqual(json, [
    { key: 'key_a', model: 'gpt-image-1', day: '2026-12-01', requests: 2, images: 2, tokens: 22, costUsd: '0.419980' },
    { key: 'key_b', model: 'gpt-image-1', day: '2026-12-01', requests: 1, images: 1, tokens: 11, costUsd: '0.040000' },
    { key: 'key_a', model: 'dall-e-2', day: '2026-12-02', requests: 1, images: 1, tokens: 11, costUsd: '0.018000' },
  ]);
  const byKey = (await cli('usage', '--by', 'key', '--format', 'csv', '--since', '2026-12-01')).out.split('\n');
  assert.deepEqual(byKey, ['key,requests,images,tokens,costUsd', 'key_a,3,3,33,0.437980', 'key_b,1,1,11,0.040000']);
  const tableOut = (await cli('usage', '--by', 'model', '--since', '2026-12-01')).out;
  assert.match(tableOut, /total: \$0\.477980 since 2026-12-01$/);
  assert.equal((await cli('usage', '--by', 'colour')).code, 2);
});
