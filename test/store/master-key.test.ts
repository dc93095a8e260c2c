import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ensureMasterKey, isMasterKey } from '../../src/store/master-key.js';
import { tempDir } from './backends.js';

describe('ensureMasterKey', () => {
  const root = tempDir('master');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('generates once into a new data dir with mode 0600, then reuses the file', () => {
    const dir = path.join(root, 'a', 'b');
    const first = ensureMasterKey(dir, null);
    assert.equal(first.generated, true);
    assert.equal(first.source, 'generated');
    assert.match(first.key, /^sk-ig-master-[A-Za-z0-9]{40}$/);
    const file = path.join(dir, 'master.key');
    if (process.platform !== 'win32') assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), first.key);

    const second = ensureMasterKey(dir, null);
    assert.deepEqual(second, { key: first.key, generated: false, source: 'file' });
    assert.deepEqual(fs.readdirSync(dir), ['master.key']);
  });

  test('the environment wins over the file and writes nothing', () => {
    const dir = path.join(root, 'env');
    ensureMasterKey(dir, null);
    const fromEnv = ensureMasterKey(dir, 'sk-my-own-master');
    assert.deepEqual(fromEnv, { key: 'sk-my-own-master', generated: false, source: 'env' });
    const untouched = path.join(root, 'env-only');
    ensureMasterKey(untouched, 'sk-my-own-master');
    assert.equal(fs.existsSync(untouched), false);
  });

  test('an empty environment value counts as unset', () => {
    assert.equal(ensureMasterKey(path.join(root, 'empty-env'), '  ').source, 'generated');
  });

  test('a hand-written key file is trimmed; an empty one is an error', () => {
    const dir = path.join(root, 'hand');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'master.key'), '  sk-hand-made \n');
    assert.deepEqual(ensureMasterKey(dir, null), { key: 'sk-hand-made', generated: false, source: 'file' });
    fs.writeFileSync(path.join(dir, 'master.key'), '\n');
    assert.throws(() => ensureMasterKey(dir, null), /empty/);
  });
});

describe('isMasterKey', () => {
  test('matches only the exact key, whatever the lengths', () => {
    const key = 'sk-ig-master-' + 'a'.repeat(40);
    assert.equal(isMasterKey(key, key), true);
    assert.equal(isMasterKey(key.slice(0, -1), key), false);
    assert.equal(isMasterKey(key + 'a', key), false);
    assert.equal(isMasterKey('', key), false);
    assert.equal(isMasterKey('', ''), false);
    assert.equal(isMasterKey(key.toUpperCase(), key), false);
  });
});
