import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateApiKey, hashApiKey, looksLikeApiKey } from '../../src/store/keys.js';
import { randomBase62 } from '../../src/store/random.js';

test('randomBase62 has the asked length and only base62 characters', () => {
  for (const n of [0, 1, 16, 24, 40, 1000]) {
    const s = randomBase62(n);
    assert.equal(s.length, n);
    assert.match(s, /^[A-Za-z0-9]*$/);
  }
  assert.throws(() => randomBase62(-1));
});

test('randomBase62 is spread evenly over all 62 characters', () => {
  const sample = randomBase62(62 * 2000);
  const counts = new Map<string, number>();
  for (const c of sample) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 62);
  // expected 2000 each; modulo bias on raw bytes would push the first 8 characters to ~2500
  let chiSquare = 0;
  for (const n of counts.values()) chiSquare += (n - 2000) ** 2 / 2000;
  assert.ok(chiSquare < 130, `chi-square ${chiSquare.toFixed(1)} (61 degrees of freedom)`);
});

test('API keys: shape, hash and recognition', () => {
  const key = generateApiKey();
  assert.ok(looksLikeApiKey(key));
  assert.notEqual(generateApiKey(), key);
  assert.match(hashApiKey(key), /^[0-9a-f]{64}$/);
  assert.equal(looksLikeApiKey('sk-ig-master-' + 'a'.repeat(40)), false);
  assert.equal(looksLikeApiKey(key + 'x'), false);
});
