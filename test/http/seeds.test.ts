/**
 * The curl lines of the three public gateway documents imagegate was made
 * from, run with the real curl binary: real PNG files in place of their
 * paths, the empty --form fields kept, `mask=@""` left out (curl itself
 * cannot send a file with no name).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decode, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

const run = promisify(execFile);
let t: TestApp;
let dir: string;

before(async () => {
  t = await startTestApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-seeds-'));
  fs.writeFileSync(path.join(dir, 'test.png'), await makePng(800, 800));
  fs.writeFileSync(path.join(dir, 'example.png'), await makePng(900, 600));
  fs.writeFileSync(path.join(dir, 'scene2.png'), await makePng(600, 900));
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), []);
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function curl(args: string[]): Promise<{ status: number; headers: string; body: any }> {
  const headerFile = path.join(dir, `h-${Math.random().toString(36).slice(2)}`);
  const { stdout } = await run('curl', ['-sS', '-D', headerFile, ...args], { maxBuffer: 256 * 1024 * 1024 });
  const headers = fs.readFileSync(headerFile, 'utf8');
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)![1]);
  return { status, headers, body: JSON.parse(stdout) };
}

test('seed 000 (ElkAPI): one image, empty n/quality/response_format/size', async () => {
  const r = await curl([
    '--location', '--request', 'POST', `${t.url}/v1/images/edits`,
    '--header', `Authorization: Bearer ${t.masterKey}`,
    '--form', `image=@"${path.join(dir, 'test.png')}"`,
    '--form', 'prompt="Put on glasses"',
    '--form', 'model="gpt-image-1"',
    '--form', 'n=""',
    '--form', 'quality=""',
    '--form', 'response_format=""',
    '--form', 'size=""',
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.headers, /x-imagegate-deployment: local/i);
  // "Put on glasses" is beyond the built-in engine: it says so, and still answers an image
  assert.match(r.headers, /x-imagegate-warning: instruction not understood/i);
  assert.equal(r.body.data.length, 1);
  const img = await decode(Buffer.from(r.body.data[0].b64_json, 'base64'));
  assert.deepEqual([img.width, img.height], [1024, 1024]);
  assert.equal(r.body.size, '1024x1024');
  assert.equal(r.body.usage.input_tokens_details.text_tokens, 3);
});

test('seed 001 (kkiai): two bare image parts merged into one portrait picture', async () => {
  const r = await curl([
    '--location', '--request', 'POST', `${t.url}/v1/images/edits`,
    '--header', 'Accept: application/json',
    '--header', `Authorization: Bearer ${t.masterKey}`,
    '--form', `image=@"${path.join(dir, 'example.png')}"`,
    '--form', `image=@"${path.join(dir, 'scene2.png')}"`,
    '--form', 'prompt="Merge them in one image"',
    '--form', 'model="gpt-image-1"',
    '--form', 'n="1"',
    '--form', 'size="1024x1536"',
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.doesNotMatch(r.headers, /x-imagegate-warning/i);
  const img = await decode(Buffer.from(r.body.data[0].b64_json, 'base64'));
  assert.deepEqual([img.width, img.height], [1024, 1536]);
  // two input images: 900x600 → 768x512 (2 tiles, 323) and 600x900 → 512x768 (323)
  assert.equal(r.body.usage.input_tokens_details.image_tokens, 646);
  assert.equal(r.body.usage.output_tokens, 6240);
});

test('seed 002 (yescale): the template with every optional field empty', async () => {
  // The document's template leaves model, prompt and the image path as
  // placeholders. The image placeholder gets a real file and the prompt one a
  // real instruction (an empty prompt is a missing prompt by the contract:
  // see errors.test.ts); every other empty field is kept, model included.
  const r = await curl([
    '--location', '--request', 'POST', `${t.url}/v1/images/edits`,
    '--header', `Authorization: Bearer ${t.masterKey}`,
    '--form', 'model=""',
    '--form', 'prompt="make it sepia"',
    '--form', `image=@"${path.join(dir, 'test.png')}"`,
    '--form', 'n=""',
    '--form', 'quality=""',
    '--form', 'size=""',
  ]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.quality, 'high');
  assert.equal(r.body.output_format, 'png');
  const img = await decode(Buffer.from(r.body.data[0].b64_json, 'base64'));
  assert.deepEqual([img.width, img.height], [1024, 1024]);
});
