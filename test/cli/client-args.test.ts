/** The client's command line, file names and progress display, as tables. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { normaliseServer, parseClientArgs, UsageError } from '../../src/cli/client/args.js';
import { outputNamer, sniffFormat } from '../../src/cli/client/names.js';
import { createProgress } from '../../src/cli/client/progress.js';

describe('parseClientArgs', () => {
  const env = { IMAGEGATE_KEY: 'sk-env' };

  test('images in the order given; the API fields by their API names; defaults', () => {
    const r = parseClientArgs('edit', ['b.png', '-p', 'merge them', 'a.png', '--mask', 'm.png', '-n', '3', '--partials', '0'], env);
    assert.ok(!r.help);
    assert.deepEqual(r.request, {
      command: 'edit',
      server: 'http://127.0.0.1:8080',
      key: 'sk-env',
      images: ['b.png', 'a.png'],
      mask: 'm.png',
      output: 'out.png',
      fields: { prompt: 'merge them', n: 3, stream: true, partial_images: 0 },
      quiet: false,
    });
  });

  test('--key and --server win over IMAGEGATE_KEY and IMAGEGATE_URL', () => {
    const r = parseClientArgs('generate', ['-p', 'x', '--key', 'sk-arg', '--server', 'https://gw.example.com/v1/'], { ...env, IMAGEGATE_URL: 'http://other:1' });
    assert.ok(!r.help);
    assert.equal(r.request.key, 'sk-arg');
    assert.equal(r.request.server, 'https://gw.example.com');
    const fromEnv = parseClientArgs('generate', ['-p', 'x'], { ...env, IMAGEGATE_URL: 'http://10.0.0.5:9000/' });
    assert.ok(!fromEnv.help);
    assert.equal(fromEnv.request.server, 'http://10.0.0.5:9000');
  });

  test('--help needs nothing else', () => {
    assert.deepEqual(parseClientArgs('edit', ['--help'], {}), { help: true });
  });

  test('a server under a path keeps it', () => {
    assert.equal(normaliseServer('https://example.com/imagegate/v1'), 'https://example.com/imagegate');
    assert.equal(normaliseServer('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.throws(() => normaliseServer('localhost:8080'), UsageError);
  });
});

describe('output names', () => {
  const cases: Array<[string, boolean, 'image' | 'partial', number, 'png' | 'jpeg' | 'webp', string]> = [
    ['out.png', false, 'image', 0, 'png', 'out.png'],
    ['out.png', false, 'image', 0, 'webp', 'out.webp'],
    ['out.png', true, 'image', 1, 'png', 'out-2.png'],
    ['shots/card.jpeg', true, 'image', 0, 'jpeg', path.join('shots', 'card-1.jpeg')],
    ['shots/card.JPG', false, 'image', 0, 'jpeg', path.join('shots', 'card.JPG')],
    ['card.jpg', false, 'image', 0, 'png', 'card.png'],
    ['result', false, 'image', 0, 'jpeg', 'result.jpg'],
    ['v1.2', false, 'image', 0, 'png', 'v1.2.png'],
    ['out.png', false, 'partial', 1, 'png', 'out.partial-1.png'],
    ['out.png', true, 'partial', 3, 'webp', 'out.partial-3.webp'],
    ['./a/out.png', false, 'image', 0, 'png', path.join('a', 'out.png')],
  ];
  for (const [output, numbered, kind, i, format, expected] of cases) {
    test(`${output}${numbered ? ' (n > 1)' : ''}: ${kind} ${i} in ${format} → ${expected}`, () => {
      const namer = outputNamer(output, numbered);
      assert.equal(kind === 'image' ? namer.image(i, format) : namer.partial(i, format), expected);
    });
  }

  test('formats are read from the bytes', () => {
    assert.equal(sniffFormat(Buffer.from('89504e470d0a1a0a0000', 'hex')), 'png');
    assert.equal(sniffFormat(Buffer.from('ffd8ffe000104a464946', 'hex')), 'jpeg');
    assert.equal(sniffFormat(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1')), 'webp');
    assert.equal(sniffFormat(Buffer.from('GIF89a', 'latin1')), 'gif');
    assert.equal(sniffFormat(Buffer.from('{"error":', 'latin1')), null);
  });
});

describe('progress', () => {
  test('on a terminal: one line kept current, lines that stay printed above it, nothing left at the end', () => {
    let out = '';
    let now = 1000;
    const p = createProgress({ write: (s: string) => (out += s), isTTY: true }, false, () => now);
    p.start('editing 1 image…');
    now = 3400;
    p.line('partial image 1 after 2.4 s: out.partial-1.png');
    p.stop();
    assert.equal(out, '\r\x1b[Kediting 1 image… 0.0 s\r\x1b[Kpartial image 1 after 2.4 s: out.partial-1.png\n\r\x1b[Kediting 1 image… 2.4 s\r\x1b[K');
  });

  test('into a pipe: whole lines only; --quiet keeps only warnings', () => {
    let out = '';
    const p = createProgress({ write: (s: string) => (out += s) }, false, () => 0);
    p.start('generating…');
    p.line('done in 0.0 s: 1 image');
    p.stop();
    assert.equal(out, 'generating…\ndone in 0.0 s: 1 image\n');
    let quiet = '';
    const q = createProgress({ write: (s: string) => (quiet += s), isTTY: true }, true, () => 0);
    q.start('generating…');
    q.line('done');
    q.line('warning: x', { evenWhenQuiet: true });
    q.stop();
    assert.equal(quiet, 'warning: x\n');
  });
});
