import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRequestId } from '../../src/http/request-id.js';

test('request ids: req_ and 24 hex digits, unique, and later ids sort later', async () => {
  const first = newRequestId();
  const many = Array.from({ length: 20_000 }, newRequestId);
  for (const id of many.slice(0, 100)) assert.match(id, /^req_[0-9a-f]{24}$/);
  assert.equal(new Set(many).size, many.length);
  // the first 11 digits are the time in ms
  const ms = parseInt(first.slice(4, 15), 16);
  assert.ok(Math.abs(ms - Date.now()) < 5_000, `${first} carries ${ms}`);
  await new Promise((r) => setTimeout(r, 3));
  const later = newRequestId();
  assert.ok(later > first && later > many[0], `${later} sorts after ${first}`);
});
