/**
 * The console's pure parts, in Node: the SSE reader the playground streams
 * with (against the gateway's own stream), and the curl / Node / Python
 * snippets (which must never carry the key, and must say what was sent).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../console/src/lib/sse.js';
import { curlSnippet, nodeSnippet, pythonSnippet, type EditSnippetInput } from '../../console/src/lib/snippets.js';
import { makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

test('SSE: events split anywhere, CRLF or LF, comments and multi-line data', () => {
  const text = ': hello\r\nevent: a\r\ndata: {"x":1}\r\n\r\nevent: b\ndata: line 1\ndata: line 2\n\ndata: {"error":{}}\n\n';
  for (const size of [1, 2, 3, 7, text.length]) {
    const p = new SseParser();
    const got = [];
    for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)));
    got.push(...p.end());
    assert.deepEqual(got, [
      { event: 'a', data: '{"x":1}' },
      { event: 'b', data: 'line 1\nline 2' },
      { event: null, data: '{"error":{}}' },
    ], `chunks of ${size}`);
  }
  const p = new SseParser();
  assert.deepEqual(p.push('event: last\ndata: 1'), []);
  assert.deepEqual(p.end(), [{ event: 'last', data: '1' }]);
});

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

test("SSE: the gateway's own stream of partial images and the result", async () => {
  const fd = new FormData();
  fd.append('image', new Blob([await makePng(96, 64)], { type: 'image/png' }), 'a.png');
  fd.append('prompt', 'make it black and white');
  fd.append('stream', 'true');
  fd.append('partial_images', '2');
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd });
  assert.equal(res.status, 200);
  const p = new SseParser();
  const events = [];
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) events.push(...p.push(decoder.decode(chunk, { stream: true })));
  events.push(...p.end());
  const types = events.map((e) => (JSON.parse(e.data) as { type: string }).type);
  assert.deepEqual(types, ['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
  assert.deepEqual(events.map((e) => e.event), types);
});

const base: EditSnippetInput = {
  baseUrl: 'http://127.0.0.1:8080',
  model: 'gpt-image-1',
  prompt: "add the text 'SALE' at the top",
  images: ['photo.png'],
  mask: 'mask.png',
  options: { size: '1024x1024', stream: 'true', partial_images: '2' },
};

test('snippets: curl quotes what the shell would break on, and sends what the playground sent', () => {
  assert.equal(
    curlSnippet(base),
    [
      'curl -N http://127.0.0.1:8080/v1/images/edits',
      '  -H "Authorization: Bearer $IMAGEGATE_KEY"',
      "  -F model='gpt-image-1'",
      "  -F 'image=@photo.png'",
      "  -F 'mask=@mask.png'",
      "  -F prompt='add the text '\\''SALE'\\'' at the top'",
      "  -F 'size=1024x1024'",
      "  -F 'stream=true'",
      "  -F 'partial_images=2'",
    ].join(' \\\n'),
  );
  const two = curlSnippet({ ...base, images: ['a.png', 'b.png'], mask: null, options: {} });
  assert.match(two, /-F 'image\[\]=@a\.png' \\\n {2}-F 'image\[\]=@b\.png'/);
  assert.ok(!two.includes('mask') && !two.includes(' -N '));
});

test('snippets: Node and Python, streamed or not, with typed values and the key from the environment', () => {
  const node = nodeSnippet(base);
  assert.match(node, /apiKey: process\.env\.IMAGEGATE_KEY, baseURL: "http:\/\/127\.0\.0\.1:8080\/v1"/);
  assert.match(node, /image: await toFile\(fs\.createReadStream\("photo\.png"\), "photo\.png", \{ type: "image\/png" \}\),/);
  assert.match(node, /stream: true,\n {2}partial_images: 2,/);
  assert.match(node, /for await \(const event of stream\)/);
  const plainNode = nodeSnippet({ ...base, options: { response_format: 'url' } });
  assert.match(plainNode, /response_format: "url",/);
  assert.match(plainNode, /console\.log\(res\.data\.map\(\(d\) => d\.url\)\)/);
  const py = pythonSnippet(base);
  assert.match(py, /api_key=os\.environ\["IMAGEGATE_KEY"\]/);
  assert.match(py, /prompt="add the text 'SALE' at the top",/);
  assert.match(py, /stream=True,\n {4}partial_images=2,/);
  assert.match(pythonSnippet({ ...base, images: ['a.png', 'b.png'], options: {} }), /image=\[open\("a\.png", "rb"\), open\("b\.png", "rb"\)\],/);
  for (const s of [curlSnippet(base), node, py]) assert.ok(!/sk-ig-/.test(s));
});
