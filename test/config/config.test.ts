/** engine.unknownInstructions: default, environment, file, and a wrong value. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';

test("engine.unknownInstructions: 'warn' by default, IMAGEGATE_LOCAL_UNKNOWN or the file key sets it, the environment wins", () => {
  assert.equal(loadConfig({}).engine.unknownInstructions, 'warn');
  assert.equal(loadConfig({ IMAGEGATE_LOCAL_UNKNOWN: 'reject' }).engine.unknownInstructions, 'reject');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-config-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ engine: { unknownInstructions: 'reject' } }));
    assert.equal(loadConfig({ IMAGEGATE_CONFIG: 'c.json' }, dir).engine.unknownInstructions, 'reject');
    assert.equal(loadConfig({ IMAGEGATE_CONFIG: 'c.json', IMAGEGATE_LOCAL_UNKNOWN: 'warn' }, dir).engine.unknownInstructions, 'warn');
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ engine: { unknownInstructions: true } }));
    assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: 'bad.json' }, dir), /bad\.json:1: engine\.unknownInstructions: must be one of "warn", "reject"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => loadConfig({ IMAGEGATE_LOCAL_UNKNOWN: 'refuse' }), (e: unknown) => e instanceof ConfigError && /IMAGEGATE_LOCAL_UNKNOWN must be one of warn, reject, got "refuse"/.test(e.message));
});
