/** jsonBytes: exactly JSON.stringify's UTF-8, with long base64 spliced in instead of stringified. */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { jsonBytes } from '../../src/contract/response.js';
import { reusableBase64 } from '../../src/providers/openai/translate.js';

const b64 = (n: number) => crypto.randomBytes(n).toString('base64');

test('the same bytes as JSON.stringify, long base64 or not', () => {
  const values: unknown[] = [
    { created: 1, data: [{ b64_json: b64(30_000) }, { b64_json: b64(10) }, { b64_json: b64(50_000) }], usage: { input_tokens: 3 } },
    { created: 2, data: [{ url: 'https://x/é' }], note: 'ünïcødé 🙂 "quoted" \\ back' },
    { type: 'image_edit.completed', b64_json: b64(100_000), size: '1024x1024', revised: 'a "b" ç' },
    { nested: { b64_json: 42 }, list: [1, 'b64_json', null] },
    'just a string',
  ];
  for (const v of values) assert.ok(jsonBytes(v).equals(Buffer.from(JSON.stringify(v))), JSON.stringify(v).slice(0, 80));
});

test('an upstream base64 is reused only when it is plain base64 of exactly the decoded bytes', () => {
  const bytes = crypto.randomBytes(1000);
  const s = bytes.toString('base64');
  assert.equal(reusableBase64(s, bytes), s);
  assert.equal(reusableBase64(`data:image/png;base64,${s}`, bytes), s);
  // what a decoder skips or reads differently: never reused
  const broken = `${s.slice(0, 40)}\n${s.slice(40)}`;
  assert.equal(reusableBase64(broken, Buffer.from(broken, 'base64')), undefined);
  // 0xfb 0xfb 0xfb is '+/v7' in base64, '-_v7' in base64url
  const urlSafe = Buffer.alloc(999, 0xfb).toString('base64url');
  assert.equal(reusableBase64(urlSafe, Buffer.from(urlSafe, 'base64')), undefined);
  const odd = crypto.randomBytes(1001);
  assert.equal(reusableBase64(odd.toString('base64'), odd), odd.toString('base64'));
  assert.equal(reusableBase64(s, bytes.subarray(1)), undefined);
});
