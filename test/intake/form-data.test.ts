import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import busboy from 'busboy';
import {
  boundaryOf,
  decodeText,
  FormDataError,
  FormDataParser,
  type FormDataLimits,
  type PartHead,
} from '../../src/intake/form-data.js';

interface Part {
  head: PartHead;
  data: Buffer;
}

/** Writes `chunks` then calls end(); the parts reported, each complete on partEnd, in order. */
function parse(boundary: string, chunks: Buffer[], limits?: FormDataLimits, onData?: (c: Buffer) => void): Part[] {
  const parts: Part[] = [];
  let open: { head: PartHead; chunks: Buffer[] } | null = null;
  const handlers = {
    part(head: PartHead) {
      assert.equal(open, null, 'part() while a part is open');
      open = { head, chunks: [] };
    },
    data(chunk: Buffer) {
      assert.ok(open && Buffer.isBuffer(chunk) && chunk.length > 0, 'data() takes a non-empty Buffer, inside a part');
      open.chunks.push(chunk);
      onData?.(chunk);
    },
    partEnd() {
      assert.ok(open, 'partEnd() outside a part');
      parts.push({ head: open.head, data: Buffer.concat(open.chunks) });
      open = null;
    },
  };
  const parser = new FormDataParser(boundary, handlers, limits);
  for (const chunk of chunks) parser.write(chunk);
  parser.end();
  assert.equal(open, null, 'a part is still open after end()');
  return parts;
}

/** assert.deepEqual, its failure prefixed with `what` (a custom message would hide the difference) */
function same<T>(actual: T, expected: T, what: string): void {
  try {
    assert.deepEqual(actual, expected);
  } catch (err) {
    (err as Error).message = `${what}\n${(err as Error).message}`;
    throw err;
  }
}

/** Every way a socket may cut the body: whole, one byte at a time, and in two at every offset. */
function cuts(body: Buffer): Buffer[][] {
  const out = [[body], split(body, () => 1)];
  for (let k = 1; k < body.length; k++) out.push([body.subarray(0, k), body.subarray(k)]);
  return out;
}
const cutName = (chunks: Buffer[]): string => `${chunks.length} chunk(s), the first of ${chunks[0]?.length ?? 0} bytes`;

/** The parts of the body, which must be the same however it is cut. */
function parseAll(boundary: string, body: Buffer, limits?: FormDataLimits): Part[] {
  const whole = parse(boundary, [body], limits);
  for (const chunks of cuts(body)) same(parse(boundary, chunks, limits), whole, cutName(chunks));
  return whole;
}

/** However it is cut, the body fails with exactly this FormDataError. */
function rejects(boundary: string, body: Buffer, message: string, limits?: FormDataLimits): void {
  for (const chunks of cuts(body)) {
    const valid = (err: unknown): boolean => err instanceof FormDataError && err.name === 'FormDataError' && err.message === message;
    assert.throws(() => parse(boundary, chunks, limits), valid, cutName(chunks));
  }
}

function split(body: Buffer, size: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = size();
    out.push(body.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Lines joined with CRLF, as UTF-8. */
const lines = (...ls: string[]): Buffer => Buffer.from(ls.join('\r\n'), 'utf8');
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const head = (name: string | undefined, more: Partial<PartHead> = {}): PartHead =>
  ({ name, filename: undefined, mimeType: 'text/plain', charset: 'utf-8', isFile: false, ...more });
const field = (name: string, value: string): Part => ({ head: head(name), data: Buffer.from(value) });
const disposition = (params: string): string => `Content-Disposition: form-data; ${params}`;

const B = 'XyZ';
const A_AND_C = ['--XyZ', disposition('name="a"'), '', 'A', '--XyZ', disposition('name="c"'), '', 'C', '--XyZ--'];

describe('framing', () => {
  test('a preamble and an epilogue are ignored', () => {
    const body = lines('preamble --XyZ\tline', '', ...A_AND_C, 'epilogue', '--XyZ', disposition('name="e"'), '', 'E');
    assert.deepEqual(parseAll(B, body), [field('a', 'A'), field('c', 'C')]);
  });

  test('a body that starts with the delimiter, or with CRLF and then the delimiter', () => {
    assert.deepEqual(parseAll(B, lines(...A_AND_C)), [field('a', 'A'), field('c', 'C')]);
    assert.deepEqual(parseAll(B, lines('', ...A_AND_C)), [field('a', 'A'), field('c', 'C')]);
  });

  test('`--boundary--` alone is an empty form; writes after the close are ignored', () => {
    assert.deepEqual(parseAll(B, latin1('--XyZ--')), []);
    const never = (): never => assert.fail('a part was reported');
    const parser = new FormDataParser(B, { part: never, data: never, partEnd: never });
    parser.write(latin1('--XyZ--'));
    assert.equal(parser.done, true);
    parser.write(lines('', '--XyZ', disposition('name="late"'), '', 'L', '--XyZ--'));
    parser.end();
  });

  test('empty values, the last one right before the closing delimiter', () => {
    const body = lines('--XyZ', disposition('name="a"'), '', '', '--XyZ', disposition('name="b"'), '', '', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [field('a', ''), field('b', '')]);
  });

  test('transport padding (spaces and tabs) after a delimiter', () => {
    const body = lines('--XyZ \t ', disposition('name="a"'), '', 'A', '--XyZ\t', disposition('name="c"'), '', 'C', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [field('a', 'A'), field('c', 'C')]);
  });

  test('padding of 64 bytes is accepted however the body is cut', () => {
    const body = lines('--XyZ', disposition('name="a"'), '', 'A', `--XyZ${' '.repeat(64)}`, disposition('name="c"'), '', 'C', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [field('a', 'A'), field('c', 'C')]);
  });

  test('the delimiter followed by anything but CRLF, padding + CRLF or `--` is part data, byte for byte', () => {
    const data = latin1('\r\n--XyZx\r\n--XyZ-x\r\n--XyZ\rx\r\n--XyZ \x00\r\n--XyZ' + ' '.repeat(65) + '\r\n\r\n--Xy\r\n--XyZ\t-');
    const body = Buffer.concat([lines('--XyZ', disposition('name="f"; filename="f.bin"'), '', ''), data, latin1('\r\n--XyZ--')]);
    assert.deepEqual(parseAll(B, body), [{ head: head('f', { filename: 'f.bin', isFile: true }), data }]);
  });
});

describe('part headers', () => {
  test('a part without a form-data Content-Disposition is skipped, the next one is not', () => {
    const body = lines(
      ...['--XyZ', 'Content-Type: text/plain', '', 'no disposition'],
      ...['--XyZ', 'Content-Disposition: attachment; name="x"; filename="x.png"', '', 'attachment'],
      ...['--XyZ', 'Content-Disposition: inline', '', 'inline'],
      ...['--XyZ', '', 'no headers'],
      ...['--XyZ', 'Content-Disposition: form-data; name="unterminated', '', 'bad params'],
      ...['--XyZ', disposition('name="kept"'), '', 'K'],
      '--XyZ--',
    );
    assert.deepEqual(parseAll(B, body), [field('kept', 'K')]);
  });

  test('filenames: last path segment, filename* preferred, empty ones', () => {
    const cases: [string, string[], Partial<PartHead>][] = [
      ['Windows path, escaped', ['filename="C:\\\\photos\\\\cat.png"'], { filename: 'cat.png', isFile: true }],
      ['relative path', ['filename="../x.png"'], { filename: 'x.png', isFile: true }],
      ['only `..`', ['filename=".."'], { filename: undefined, isFile: true }],
      ['filename* after filename', [`filename="euro.png"; filename*=UTF-8''%E2%82%AC.png`], { filename: '€.png', isFile: true }],
      ['filename* first', [`filename*=utf-8''%E2%82%AC.png; filename="euro.png"`], { filename: '€.png', isFile: true }],
      ['filename* in latin1', [`filename*=ISO-8859-1'fr'caf%E9.png`], { filename: 'café.png', isFile: true }],
      ['raw UTF-8 filename', ['filename="日本.png"'], { filename: '日本.png', isFile: true }],
      ['empty, as octet-stream', ['filename=""', 'Content-Type: application/octet-stream'], { mimeType: 'application/octet-stream', isFile: true }],
      ['empty, no type', ['filename=""'], { isFile: false }],
    ];
    for (const [label, [params, ...more], expected] of cases) {
      const body = lines('--XyZ', disposition(`name="f"; ${params}`), ...more, '', 'D', '--XyZ--');
      same(parseAll(B, body), [{ head: head('f', expected), data: latin1('D') }], label);
    }
  });

  test('a Windows path sent unescaped, as old IE does, keeps its last segment', () => {
    const body = lines('--XyZ', disposition('name="f"; filename="C:\\photos\\cat.png"'), '', 'D', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [{ head: head('f', { filename: 'cat.png', isFile: true }), data: latin1('D') }]);
  });

  test('quoted-string escapes and separators in a name', () => {
    const body = lines('--XyZ', disposition('name="a\\"b\\\\c; d=e"'), '', 'V', '--XyZ', disposition('name=plain'), '', 'P', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [field('a"b\\c; d=e', 'V'), field('plain', 'P')]);
  });

  test('mimeType is lower case without parameters; charset is read; defaults otherwise', () => {
    const cases: [string[], Partial<PartHead>][] = [
      [[], {}],
      [['Content-Type: Image/PNG; name="x.png"'], { mimeType: 'image/png' }],
      [['Content-Type: text/plain; charset=ISO-8859-1'], { charset: 'iso-8859-1' }],
      [['Content-Type: text/csv; charset="UTF-16LE"; x=y'], { mimeType: 'text/csv', charset: 'utf-16le' }],
      [['Content-Type: application/octet-stream'], { mimeType: 'application/octet-stream', isFile: true }],
      [['Content-Type: nonsense; charset=latin1'], {}],
    ];
    for (const [headers, expected] of cases) {
      const body = lines('--XyZ', disposition('name="t"'), ...headers, '', 'caf\u00e9', '--XyZ--');
      same(parseAll(B, body), [{ head: head('t', expected), data: Buffer.from('caf\u00e9') }], headers.join());
    }
    const [latin] = parseAll(B, Buffer.concat([lines('--XyZ', disposition('name="t"'), 'Content-Type: text/plain; charset=ISO-8859-1', '', ''), latin1('caf\xe9\r\n--XyZ--')]));
    assert.deepEqual(latin!.data, latin1('caf\xe9'));
    assert.equal(decodeText(latin!.data, latin!.head.charset), 'café');
  });

  test('header and parameter names are case-insensitive; the first of a repeated header wins', () => {
    const body = lines('--XyZ', 'CONTENT-disposition: Form-Data; NAME="a"; FileName="A.PNG"', 'content-TYPE: IMAGE/Png', 'Content-Type: text/html', '', 'X', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [{ head: head('a', { filename: 'A.PNG', mimeType: 'image/png', isFile: true }), data: latin1('X') }]);
  });

  test('an obsolete folded line continues the previous header', () => {
    const body = lines('--XyZ', 'Content-Disposition: form-data;', ' name="a";', '\tfilename="f.png"', 'Content-Type:', '  image/png', '', 'X', '--XyZ--');
    assert.deepEqual(parseAll(B, body), [{ head: head('a', { filename: 'f.png', mimeType: 'image/png', isFile: true }), data: latin1('X') }]);
  });
});

describe('decodeText', () => {
  test('decodes a declared charset and falls back to UTF-8', () => {
    assert.equal(decodeText(latin1('caf\xe9'), 'iso-8859-1'), 'café');
    assert.equal(decodeText(Buffer.from('€ é'), 'utf-8'), '€ é');
    assert.equal(decodeText(Buffer.from('€ é'), 'x-no-such-charset'), '€ é');
  });
});

describe('errors', () => {
  const small: FormDataLimits = { maxHeaderBytes: 100, maxHeaderLines: 2000 };
  const ENDED = 'the body ended before the closing boundary.';

  test('a malformed header line', () => {
    rejects(B, lines('--XyZ', 'Content-Disposition form-data; name="a"', '', 'A', '--XyZ--'), 'a part has a malformed header.');
    rejects(B, lines('--XyZ', ' folded: first', disposition('name="a"'), '', 'A', '--XyZ--'), 'a part has a malformed header.');
    rejects(B, lines('--XyZ', 'Bad Name: x', '', 'A', '--XyZ--'), 'a part has a malformed header.');
  });

  test('headers over maxHeaderBytes (counted from after the delimiter line to the empty line)', () => {
    // 96 bytes of header line + CRLF CRLF = 100: allowed; one more is not
    const line = (n: number): string => disposition(`name="${'n'.repeat(n - disposition('name=""').length)}"`);
    assert.equal(parseAll(B, lines('--XyZ', line(96), '', 'A', '--XyZ--'), small).length, 1);
    rejects(B, lines('--XyZ', line(97), '', 'A', '--XyZ--'), "a part's headers are over 100 bytes.", small);
    rejects(B, lines('--XyZ', `X-Long: ${'x'.repeat(500)}`), "a part's headers are over 100 bytes.", small);
  });

  test('more header lines than maxHeaderLines', () => {
    const limits = { maxHeaderBytes: 16 * 1024, maxHeaderLines: 2 };
    const two = ['--XyZ', disposition('name="a"'), 'Content-Type: text/plain'];
    assert.equal(parseAll(B, lines(...two, '', 'A', '--XyZ--'), limits).length, 1);
    rejects(B, lines(...two, 'X-Third: 3', '', 'A', '--XyZ--'), 'a part has more than 2 header lines.', limits);
  });

  test('a body that ends before the closing delimiter', () => {
    assert.throws(() => parse(B, []), { name: 'FormDataError', message: ENDED });
    rejects(B, latin1('just a preamble'), ENDED);
    rejects(B, lines('--XyZ', disposition('name="a"'), '', 'A'), ENDED);
    rejects(B, lines('--XyZ', disposition('name="a"'), '', 'A', '--XyZ'), ENDED);
    rejects(B, lines('--XyZ', disposition('name="a"'), '', 'A', '--XyZ', ''), ENDED);
    rejects(B, lines('--XyZ', disposition('name="a"')), ENDED);
    rejects(B, lines('--XyZ', disposition('name="a"'), '', 'A', '--XyZ-'), ENDED);
  });
});

describe('boundaryOf', () => {
  test('reads the boundary parameter', () => {
    const cases: [string, string | null][] = [
      ['multipart/form-data; boundary=abc', 'abc'],
      ['multipart/form-data; boundary="a b;c"', 'a b;c'],
      ['multipart/form-data; charset=utf-8; Boundary=----formdata-undici-012345678901', '----formdata-undici-012345678901'],
      ['multipart/form-data', null],
      ['multipart/form-data; boundary=', null],
      ['multipart/form-data; boundary=""', null],
      [`multipart/form-data; boundary=${'b'.repeat(200)}`, 'b'.repeat(200)],
      [`multipart/form-data; boundary=${'b'.repeat(201)}`, null],
    ];
    for (const [header, expected] of cases) assert.equal(boundaryOf(header), expected, header);
  });
});

describe('data delivery', () => {
  const big = Buffer.alloc(1024 * 1024, 'a');

  test('a large part written as one chunk arrives whole, as a view of the chunk written', () => {
    const start = lines('--XyZ', disposition('name="f"; filename="big.png"'), 'Content-Type: image/png', '', '');
    const rest = Buffer.concat([big, latin1('\r\n--XyZ--')]);
    const seen: Buffer[] = [];
    const parts = parse(B, [start, rest], undefined, (c) => seen.push(c));
    assert.equal(parts.length, 1);
    assert.ok(parts[0]!.data.equals(big));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, rest.buffer, 'not copied');
    assert.equal(seen[0]!.byteOffset, rest.byteOffset);

    const calls: Buffer[] = [];
    const [whole] = parse(B, [Buffer.concat([start, rest])], undefined, (c) => calls.push(c));
    assert.ok(whole!.data.equals(big));
    assert.ok(calls.length <= 2, `${calls.length} data() calls`);
  });

  test('a handler may overwrite the bytes it was given', () => {
    const body = lines('--XyZ', disposition('name="f"'), '', 'A', '--XyZx', '--XyZ', disposition('name="g"'), '', 'G', '--XyZ--');
    const parts = parse(B, [body], undefined, (c) => c.fill(0));
    assert.deepEqual(parts.map((p) => [p.head.name, p.data.length]), [['f', 9], ['g', 1]]);
  });

  test('three parts written one byte at a time', () => {
    const png = latin1('\x89PNG\r\n\x1a\n\r\n--XyZx\r\n-\r');
    const body = Buffer.concat([
      lines('--XyZ', disposition('name="model"'), '', 'gpt-image-1', '--XyZ', disposition('name="image"; filename="a.png"'), 'Content-Type: image/png', '', ''),
      png,
      lines('', '--XyZ', disposition('name="prompt"'), '', 'a €\r\n', '--XyZ--', ''),
    ]);
    const expected = [field('model', 'gpt-image-1'), { head: head('image', { filename: 'a.png', mimeType: 'image/png', isFile: true }), data: png }, field('prompt', 'a €\r\n')];
    assert.deepEqual(parse(B, split(body, () => 1)), expected);
    assert.deepEqual(parseAll(B, body), expected);
  });
});

// ---- differential: random bodies, against the parts they were built from and against busboy ----

type Rand = () => number;
function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, 0, xs.length - 1)]!;
const chars = (r: Rand, alphabet: string, n: number): string => Array.from({ length: n }, () => pick(r, [...alphabet])).join('');

/** What a part looks like to a reader: text fields decoded, files as bytes. */
type Seen = Pick<PartHead, 'name' | 'filename' | 'mimeType' | 'isFile'> & { value: string | Buffer };

interface Generated {
  boundary: string;
  body: Buffer;
  parts: Part[];
  /** a part holds the delimiter + other bytes, or begins with `--boundary` (busboy takes the CRLF before it for a delimiter's) */
  falseDelimiter: boolean;
}

/** Is there a delimiter in `data` that a reader would take for one, given that the next delimiter follows it? */
function delimiterIn(data: Buffer, delimiter: Buffer): boolean {
  const s = Buffer.concat([data, delimiter, latin1('--')]);
  for (let at = s.indexOf(delimiter); at !== -1 && at < data.length; at = s.indexOf(delimiter, at + 1)) {
    if (/^(--|[ \t]*\r\n)/.test(s.subarray(at + delimiter.length).toString('latin1'))) return true;
  }
  return false;
}

function generate(r: Rand): Generated {
  const boundary = pick(r, [
    () => '-'.repeat(24) + chars(r, '0123456789abcdef', 16),
    () => `----formdata-undici-0${chars(r, '0123456789', 11)}`,
    () => 'b',
    () => chars(r, 'abcXYZ019-_', int(r, 1, 70)),
  ])();
  const delimiter = latin1(`\r\n--${boundary}`);
  const safe = (make: () => Buffer): Buffer => {
    for (;;) {
      const data = make();
      if (!delimiterIn(data, delimiter)) return data;
    }
  };
  const withFalse = r() < 0.3;
  const pieces: (() => Buffer)[] = [
    () => Buffer.from(Array.from({ length: int(r, 1, 300) }, () => int(r, 0, 255))),
    () => latin1(pick(r, ['\r', '\n', '\r\n', '--', '\r\n--', '-'])),
    () => delimiter.subarray(0, delimiter.length - 1),
    () => delimiter.subarray(0, int(r, 1, delimiter.length - 1)),
    ...(withFalse ? [() => Buffer.concat([delimiter, latin1(pick(r, ['x', '-x', '\rx', ' x', '\t-', '-\r\n']))])] : []),
  ];
  const parts: Part[] = [];
  const raw: Buffer[] = [];
  for (let n = int(r, 1, 6); n > 0; n--) {
    const name = pick(r, ['prompt', 'model', 'image[]', 'prénom', '名前', '']);
    const dispositionName = pick(r, ['Content-Disposition', 'content-disposition']);
    let headers: string[];
    let data: Buffer;
    let h: PartHead;
    if (r() < 0.4) {
      data = safe(() => Buffer.from(Array.from({ length: int(r, 0, 60) }, () => pick(r, ['a', 'Z', ' ', '0', '-', '\r\n', '\n', 'é', '€', '日本', '😀', '"'])).join('')));
      headers = [`${dispositionName}: form-data; name="${name}"`, ...(r() < 0.3 ? ['Content-Type: text/plain; charset=UTF-8'] : [])];
      h = head(name || undefined);
    } else {
      const length = int(r, 0, 5000);
      data = safe(() => {
        const out: Buffer[] = [];
        for (let size = 0; size < length; size += out.at(-1)!.length) out.push(pick(r, pieces)());
        return Buffer.concat(out).subarray(0, length);
      });
      const mimeType = pick(r, ['image/png', 'application/octet-stream']);
      const filename = r() < 0.1 && mimeType === 'application/octet-stream' ? undefined : pick(r, ['cat.png', 'a b.png', 'résumé.png', '日本.png', 'dir/sub/x.png']);
      headers = [`${dispositionName}: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}`, `Content-Type: ${mimeType}`];
      h = head(name || undefined, { filename: filename?.replace('dir/sub/', ''), mimeType, isFile: true });
    }
    parts.push({ head: h, data });
    raw.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`), data, latin1('\r\n'));
  }
  const preamble = r() < 0.3 ? 'This is a preamble.\r\n' : '';
  const epilogue = r() < 0.3 ? '\r\nepilogue --junk' : '';
  const body = Buffer.concat([Buffer.from(preamble), ...raw, latin1(`--${boundary}--${epilogue}`)]);
  return { boundary, body, parts, falseDelimiter: parts.some((p) => Buffer.concat([latin1('\r\n'), p.data]).includes(delimiter)) };
}

const seenOf = (parts: Part[]): Seen[] =>
  parts.map(({ head: { name, filename, mimeType, isFile, charset }, data }) =>
    ({ name, filename, mimeType, isFile, value: isFile ? data : decodeText(data, charset) }));

function viaBusboy(boundary: string, body: Buffer): Promise<Seen[]> {
  return new Promise((resolve, reject) => {
    const seen: Seen[] = [];
    const bb = busboy({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, defParamCharset: 'utf8' });
    bb.on('field', (name, value, info) => seen.push({ name, filename: undefined, mimeType: info.mimeType, isFile: false, value }));
    bb.on('file', (name, stream, info) => {
      const entry: Seen = { name, filename: info.filename, mimeType: info.mimeType, isFile: true, value: Buffer.alloc(0) };
      seen.push(entry);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => (entry.value = Buffer.concat(chunks)));
    });
    bb.on('close', () => resolve(seen));
    bb.on('error', reject);
    bb.end(body);
  });
}

describe('differential', () => {
  const first = Number(process.env.FORM_DATA_SEED ?? 1);
  const count = process.env.FORM_DATA_SEED ? 1 : 300;

  test(`${count} random bodies, cut in every way, give the parts they were built from and what busboy reads`, async () => {
    let busboyCompared = 0;
    for (let seed = first; seed < first + count; seed++) {
      const r = mulberry32(seed);
      const g = generate(r);
      const cutsOf: [string, () => number][] = [
        ['whole', () => g.body.length],
        ['random 1..300', () => int(r, 1, 300)],
        ...(seed % 4 === 0 ? ([['1 byte', () => 1], ['2 bytes', () => 2]] as [string, () => number][]) : []),
      ];
      const at = `seed ${seed} (FORM_DATA_SEED=${seed}), boundary ${JSON.stringify(g.boundary)}`;
      for (const [label, size] of cutsOf) same(parse(g.boundary, split(g.body, size)), g.parts, `${at}, ${label}`);
      // busboy ends a part at any delimiter and drops what follows it up to the next real one
      if (g.falseDelimiter) continue;
      busboyCompared++;
      const theirs = await viaBusboy(g.boundary, g.body).catch((err: Error) => assert.fail(`${at}: busboy: ${err.message}`));
      same(seenOf(parse(g.boundary, [g.body])), theirs, `${at}: busboy reads another form`);
    }
    assert.ok(busboyCompared > count / 2, `only ${busboyCompared} bodies compared with busboy`);
  });
});
