/**
 * The multipart parser on its own: the same bodies taken apart by
 * src/intake/form-data.ts and by busboy (which it replaced), in this one
 * process, alternating, each body split into 64 KiB chunks as a socket hands
 * them over. Printed: the median time per body of each, and MB/s.
 *
 *   npx tsx bench/form-data.ts [--mb 1] [--runs 300] [--rounds 3]
 *
 * The body is the overhead bench's: two text fields and one file of random
 * bytes (what a compressed image looks like to a delimiter search).
 */
import crypto from 'node:crypto';
import busboy from 'busboy';
import { FormDataParser } from '../src/intake/form-data.js';
import { median } from '../test/helpers/gateway-process.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

const mb = arg('mb', 1);
const runs = arg('runs', 300);
const rounds = arg('rounds', 3);

const boundary = `----formdata-undici-0${crypto.randomInt(1e10, 1e11 - 1)}`;
const head = Buffer.from(
  `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-image-1\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nmake the sky a little warmer\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n`,
);
const file = crypto.randomBytes(Math.round(mb * 1024 * 1024));
const body = Buffer.concat([head, file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
// copies, as a socket gives fresh buffers
const chunks: Buffer[] = [];
for (let i = 0; i < body.length; i += 64 * 1024) chunks.push(Buffer.from(body.subarray(i, i + 64 * 1024)));

function ours(): number {
  let bytes = 0;
  const p = new FormDataParser(boundary, { part: () => undefined, data: (c) => (bytes += c.length), partEnd: () => undefined });
  for (const c of chunks) p.write(c);
  p.end();
  return bytes;
}

function theirs(): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const bb = busboy({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    bb.on('file', (_name, stream) => stream.on('data', (c: Buffer) => (bytes += c.length)));
    bb.on('field', (_name, value: string) => (bytes += Buffer.byteLength(value)));
    bb.on('close', () => resolve(bytes));
    bb.on('error', reject);
    for (const c of chunks) bb.write(c);
    bb.end();
  });
}

const expected = file.length + 'gpt-image-1'.length + 'make the sky a little warmer'.length;
console.log(`form-data bench: a ${(body.length / 1024 / 1024).toFixed(2)} MB body in ${chunks.length} chunks, ${rounds} rounds × ${runs} parses each, alternating`);
const ourMedians: number[] = [];
const theirMedians: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    if (ours() !== expected) throw new Error('form-data.ts lost bytes');
    a.push(performance.now() - t);
    t = performance.now();
    if ((await theirs()) !== expected) throw new Error('busboy lost bytes');
    b.push(performance.now() - t);
  }
  ourMedians.push(median(a));
  theirMedians.push(median(b));
  const mbs = (ms: number) => ((body.length / 1024 / 1024) / (ms / 1000)).toFixed(0);
  console.log(`round ${round}: form-data.ts ${median(a).toFixed(3)} ms (${mbs(median(a))} MB/s); busboy ${median(b).toFixed(3)} ms (${mbs(median(b))} MB/s)`);
}
console.log(`median over ${rounds} rounds: form-data.ts ${median(ourMedians).toFixed(3)} ms per body, busboy ${median(theirMedians).toFixed(3)} ms per body (${(median(theirMedians) / median(ourMedians)).toFixed(1)}× as long)`);
