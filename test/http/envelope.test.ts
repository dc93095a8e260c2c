import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerSafe, toGatewayError } from '../../src/http/envelope.js';

test('header values: visible ASCII kept, the rest percent-encoded, never a line break', () => {
  assert.equal(headerSafe("instruction not understood: 'put on glasses'"), "instruction not understood: 'put on glasses'");
  assert.equal(headerSafe('a\r\nX-Evil: 1'), 'a%0D%0AX-Evil: 1');
  assert.equal(headerSafe('ü 🙂 100%'), '%C3%BC %F0%9F%99%82 100%25');
  // a lone surrogate (valid in JSON, invalid UTF-16) must not throw
  assert.equal(headerSafe('x\ud800y'), 'x%EF%BF%BDy');
  assert.equal(headerSafe('é'.repeat(2000)).length, 512 * 6);
});

test('unknown failures become a 500 that says nothing of the cause', () => {
  const err = toGatewayError(new Error('ENOENT: /secret/path/master.key'));
  assert.equal(err.status, 500);
  assert.equal(err.code, 'internal_error');
  assert.ok(!err.message.includes('/secret'));
});
