/**
 * Every config in examples/ loads as the server would load it (with its
 * env: variables set), so the examples the README links stay true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';

const dir = path.resolve('examples');
const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

test('there are examples', () => {
  assert.ok(files.length >= 5, files.join(', '));
});

for (const f of files) {
  test(`examples/${f} loads`, () => {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const env: Record<string, string> = { IMAGEGATE_CONFIG: path.join(dir, f) };
    for (const m of text.matchAll(/env:([A-Za-z_][A-Za-z0-9_]*)/g)) env[m[1]] = `test-secret-for-${m[1]}`;
    const config = loadConfig(env);
    for (const [model, entry] of Object.entries(config.models ?? {})) {
      for (const d of entry.deployments) assert.ok(d.provider === 'local' || config.providers[d.provider], `${f}: ${model} → ${d.provider}`);
    }
  });
}
