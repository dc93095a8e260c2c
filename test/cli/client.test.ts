/**
 * `imagegate edit` as a user runs it: the command in a child process, the
 * real gateway (built-in engine) listening on loopback, files written in a
 * scratch directory and decoded with sharp.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { imagegate, inProcess } from '../helpers/cli.js';
import { decode, makeMask, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let dir: string;

function solid(width: number, height: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}

/** a fresh scratch directory with the pictures the tests send */
function scratch(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  for (const f of ['photo.png', 'red.png', 'blue.png', 'mask.png']) fs.copyFileSync(path.join(dir, f), path.join(d, f));
  return d;
}

before(async () => {
  t = await startTestApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-client-'));
  fs.writeFileSync(path.join(dir, 'photo.png'), await makePng(600, 400));
  fs.writeFileSync(path.join(dir, 'red.png'), await solid(256, 256, '#ff0000'));
  fs.writeFileSync(path.join(dir, 'blue.png'), await solid(256, 256, '#0000ff'));
  fs.writeFileSync(path.join(dir, 'mask.png'), await makeMask(600, 400, { left: 150, top: 100, width: 200, height: 150 }));
});

after(async () => {
  assert.deepEqual(await t.spoolFiles(), [], 'no temporary file may be left behind');
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const as = (key: string) => ({ IMAGEGATE_KEY: key, IMAGEGATE_URL: t.url });
const files = (d: string) => fs.readdirSync(d).filter((f) => !['photo.png', 'red.png', 'blue.png', 'mask.png'].includes(f)).sort();

async function requestsLogged(): Promise<number> {
  const res = await fetch(`${t.url}/admin/requests?limit=100`, { headers: { authorization: `Bearer ${t.masterKey}` } });
  return ((await res.json()) as { data: unknown[] }).data.length;
}

describe('imagegate edit', () => {
  test('success: out.png written, decodable, the size the server answered; progress on stderr, the file on stdout', async () => {
    const d = scratch('success');
    const r = await imagegate(d, ['edit', 'photo.png', '-p', 'make it black and white'], as(t.masterKey));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out.png\n');
    assert.deepEqual(files(d), ['out.png']);
    const img = await decode(fs.readFileSync(path.join(d, 'out.png')));
    assert.equal(img.format, 'png');
    // size auto keeps the 3:2 landscape's shape
    assert.deepEqual([img.width, img.height], [1536, 1024]);
    for (let i = 0; i < img.data.length; i += img.channels * 4099) assert.equal(img.data[i], img.data[i + 2], 'gray');
    assert.match(r.stderr, /^editing 1 image \(\d+ KB\) with the default model at http:\/\/127\.0\.0\.1:\d+…$/m);
    assert.match(r.stderr, /^done in \d+\.\d s: 1 image, cost \$0\.000000 \(request req_\w+\)$/m);
  });

  test('images go in the order given: red then blue side by side is red on the left', async () => {
    const d = scratch('order');
    const r = await imagegate(d, ['edit', 'red.png', 'blue.png', '-p', 'put them side by side', '-o', 'pair.png', '--quality', 'low'], as(t.masterKey));
    assert.equal(r.code, 0, r.stderr);
    const img = await decode(fs.readFileSync(path.join(d, 'pair.png')));
    const at = (fx: number) => {
      const o = (Math.floor(img.height / 2) * img.width + Math.floor(img.width * fx)) * img.channels;
      return [img.data[o], img.data[o + 1], img.data[o + 2]];
    };
    const [lr, , lb] = at(0.25);
    const [rr, , rb] = at(0.75);
    assert.ok(lr > 200 && lb < 60, `left is red: ${at(0.25)}`);
    assert.ok(rb > 200 && rr < 60, `right is blue: ${at(0.75)}`);
  });

  test('n > 1: out-1, out-2 beside the -o name, the extension from the answer format', async () => {
    const d = scratch('many');
    fs.mkdirSync(path.join(d, 'shots'));
    const r = await imagegate(
      d,
      ['edit', 'photo.png', '-p', 'make it vintage', '-n', '2', '--size', '1024x1024', '--format', 'webp', '-o', 'shots/card.png'],
      as(t.masterKey),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${path.join('shots', 'card-1.webp')}\n${path.join('shots', 'card-2.webp')}\n`);
    assert.deepEqual(fs.readdirSync(path.join(d, 'shots')).sort(), ['card-1.webp', 'card-2.webp']);
    const [a, b] = [fs.readFileSync(path.join(d, 'shots/card-1.webp')), fs.readFileSync(path.join(d, 'shots/card-2.webp'))];
    for (const bytes of [a, b]) {
      const img = await decode(bytes);
      assert.deepEqual([img.format, img.width, img.height], ['webp', 1024, 1024]);
    }
    assert.ok(!a.equals(b), 'two variants, not one image twice');
    assert.match(r.stderr, /, 2 results…$/m);
  });

  test('stream with a mask: partial images saved as they arrive, with a progress line each, then the result', async () => {
    const d = scratch('stream');
    const r = await imagegate(d, ['edit', 'photo.png', '--mask', 'mask.png', '-p', 'remove this', '--partials', '2', '-o', 'fill.png'], as(t.masterKey));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(files(d), ['fill.partial-1.png', 'fill.partial-2.png', 'fill.png']);
    assert.equal(r.stdout, 'fill.png\n', 'stdout names the result only');
    for (const f of files(d)) {
      const img = await decode(fs.readFileSync(path.join(d, f)));
      assert.equal(img.format, 'png', f);
      assert.ok(img.width > 0 && img.height > 0);
    }
    assert.deepEqual((await decode(fs.readFileSync(path.join(d, 'fill.png')))).width, 1536);
    assert.match(r.stderr, /^editing 1 image \(\d+ KB and a mask\) with the default model at .*, streaming…$/m);
    assert.match(r.stderr, /^partial image 1 after \d+\.\d s: fill\.partial-1\.png$/m);
    assert.match(r.stderr, /^partial image 2 after \d+\.\d s: fill\.partial-2\.png$/m);
    assert.ok(r.stderr.indexOf('partial image 2') < r.stderr.indexOf('done in'), r.stderr);
  });

  test("a server error: the server's message, exit 1, nothing written", async () => {
    const d = scratch('error');
    const r = await imagegate(d, ['edit', 'photo.png', '-p', 'grayscale', '--size', '999x3'], as(t.masterKey));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: Invalid value for 'size': '999x3'\. Supported values are: '1024x1024', '1536x1024', '1024x1536', and 'auto'\. \(HTTP 400, param size, code invalid_value, request req_\w+\)$/m,
    );
    assert.equal(r.stdout, '');
    assert.deepEqual(files(d), []);

    const denied = await imagegate(d, ['edit', 'photo.png', '-p', 'grayscale', '--stream'], as('sk-not-a-key'));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error: Incorrect API key provided: .*\(HTTP 401, code invalid_api_key/m);
    assert.deepEqual(files(d), []);
  });

  test('usage errors exit 2 before anything is sent', async () => {
    const d = scratch('usage');
    const before = await requestsLogged();
    // the process's own exit status, once; the other cases through the same function in process
    const noKey = await imagegate(d, ['edit', 'photo.png', '-p', 'x'], { IMAGEGATE_KEY: undefined, IMAGEGATE_URL: t.url });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^error: no API key: set IMAGEGATE_KEY \(or pass --key\)/m);
    assert.match(noKey.stderr, /^\(imagegate edit --help lists the options\)$/m);
    const cases: Array<[string[], RegExp]> = [
      [['edit', 'missing.png', '-p', 'x'], /^error: cannot read image missing\.png: no such file$/m],
      [['edit', 'photo.png', 'gone.png', '-p', 'x'], /^error: cannot read image 2 gone\.png: no such file$/m],
      [['edit', 'photo.png', '--mask', 'nomask.png', '-p', 'x'], /^error: cannot read mask nomask\.png: no such file$/m],
      [['edit', 'photo.png'], /^error: a prompt is required/m],
      [['edit', '-p', 'x'], /^error: edit needs at least one IMAGE file$/m],
      [['edit', 'photo.png', '-p', 'x', '-n', 'two'], /^error: -n must be a whole number from 1 to 10, got 'two'$/m],
      [['edit', 'photo.png', '-p', 'x', '--partials', '5'], /^error: --partials must be a whole number from 0 to 3, got '5'$/m],
      [['edit', 'photo.png', '-p', 'x', '--colour', 'red'], /^error: Unknown option '--colour'/m],
      [['edit', 'photo.png', '-p', 'x', '-o', 'nowhere/out.png'], /^error: the output directory .*nowhere does not exist$/m],
      [['edit', 'photo.png', '-p', 'x', '--server', 'ftp://host'], /^error: --server must be an http or https URL/m],
      [['generate', 'photo.png', '-p', 'x'], /^error: generate takes no image files/m],
      [['generate', '-p', 'x', '--mask', 'mask.png'], /^error: --mask is for edit only$/m],
    ];
    for (const [[command, ...args], message] of cases) {
      const r = await inProcess(d, command as 'edit' | 'generate', args, as(t.masterKey));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.equal(await requestsLogged(), before, 'no request reached the server');
    assert.deepEqual(files(d), []);
  });

  test('no server listening: exit 1 naming the address', async () => {
    const d = scratch('down');
    // a port that was just free
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    const r = await inProcess(d, 'edit', ['photo.png', '-p', 'x'], { IMAGEGATE_KEY: 'k', IMAGEGATE_URL: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`, 'm'));
  });

  test("the engine's warning is shown, even with --quiet, which hides the progress", async () => {
    const d = scratch('warning');
    const r = await inProcess(d, 'edit', ['photo.png', '-p', 'paint it in the style of van gogh', '--quality', 'low', '-q'], as(t.masterKey));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out.png\n');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^warning: .*van gogh/i);
  });

  test('--help prints the options and exits 0', async () => {
    const r = await imagegate(dir, ['edit', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /imagegate edit IMAGE\.\.\. -p PROMPT/);
    assert.match(r.stdout, /Exit status: 0 done, 1 the request failed .*, 2 a usage error/s);
  });
});
