/**
 * Requests Node's HTTP parser refuses before any route runs are answered in
 * OpenAI's envelope with a clear code, then the connection is closed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

/** Sends raw bytes and reads everything until the server closes the connection. */
function raw(bytes: string): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  const u = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => socket.write(bytes));
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      try {
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) });
      } catch {
        reject(new Error(`not a JSON answer: ${text.slice(0, 300)}`));
      }
    });
    setTimeout(() => socket.destroy(), 5000);
  });
}

function expectEnvelope(r: Awaited<ReturnType<typeof raw>>, status: number, code: string) {
  assert.equal(r.status, status);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers.connection, 'close');
  assert.match(r.headers['x-request-id'], /^req_[0-9a-f]{24}$/);
  assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(r.body.error.type, 'invalid_request_error');
  assert.equal(r.body.error.code, code);
  assert.equal(r.body.error.param, null);
}

test('a malformed request line: 400 invalid_http_request', async () => {
  expectEnvelope(await raw('GARBAGE\r\n\r\n'), 400, 'invalid_http_request');
  expectEnvelope(await raw('GET /v1/models HTTP/9.9\r\nHost: x\r\n\r\n'), 400, 'invalid_http_request');
});

test('a malformed header line: 400 invalid_http_request', async () => {
  const r = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n');
  expectEnvelope(r, 400, 'invalid_http_request');
  assert.equal(r.body.error.message, 'Malformed HTTP request: an invalid header line.');
});

test('a bad Content-Length: 400 invalid_content_length', async () => {
  expectEnvelope(await raw('POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 400, 'invalid_content_length');
  expectEnvelope(await raw('POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'), 400, 'invalid_content_length');
});

test('headers over the size limit: 431 request_header_fields_too_large', async () => {
  const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  expectEnvelope(r, 431, 'request_header_fields_too_large');
});

test('the server keeps serving afterwards', async () => {
  const res = await fetch(`${t.url}/healthz`);
  assert.equal(res.status, 200);
});
