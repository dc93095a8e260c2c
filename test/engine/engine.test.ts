/**
 * The worker pool: .ts workers under tsx, byte-identical results with 1 and 2
 * threads, partial images before the result, cancellation, input errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEngine, EngineInputError, type Engine, type EngineJob, type EngineResult } from '../../src/engine/index.js';
import { TempDir, colourful, job, makeImage } from './helpers.js';
import { mugShot } from '../../bench/lib/cutout.js';

const tmp = new TempDir();
let one: Engine;
let two: Engine;
const jobs: EngineJob[] = [];

before(async () => {
  one = createEngine({ threads: 1 });
  two = createEngine({ threads: 2 });
  const pic = await tmp.png(colourful(160, 120));
  const scene = await tmp.png(
    makeImage(160, 120, (x, y) =>
      x >= 60 && x < 100 && y >= 40 && y < 80 ? [210, 30, 30, 255] : y < 60 ? [110 + (y >> 1), 170, 230, 255] : [60 + ((x * 5 + y) % 24), 140, 50, 255],
    ),
  );
  const mask = await tmp.mask(160, 120, { x: 54, y: 34, w: 52, h: 52 });
  const other = await tmp.png(makeImage(80, 120, (x) => [20, 20 + x * 2, 200, 255]));
  jobs.push(
    job({ prompt: "blur slightly, tint it orange and add the text 'Hello' at the top", images: [{ path: pic }], n: 2, size: { width: 200, height: 150 }, partialImages: 2 }),
    job({ prompt: 'vintage and add a thin white border', images: [{ path: pic }], n: 3, size: { width: 128, height: 128 }, outputFormat: 'webp', outputCompression: 70 }),
    job({ prompt: 'put them side by side and rotate 10 degrees', images: [{ path: pic }, { path: other }], size: { width: 240, height: 120 }, outputFormat: 'jpeg', outputCompression: 85 }),
  );
  // the segmentation (graph cuts, colour models, matte) is float64 work too
  const mug = await tmp.png(mugShot(240, 180).image);
  jobs.push(job({ prompt: 'remove the background', images: [{ path: mug }], size: { width: 240, height: 180 } }));
  jobs.push(job({ prompt: 'remove the red square', images: [{ path: scene }], mask: { path: mask }, n: 2, size: { width: 160, height: 120 }, partialImages: 2 }));
});

after(async () => {
  await Promise.all([one?.close(), two?.close()]);
  tmp.remove();
});

async function collect(engine: Engine, j: EngineJob): Promise<{ result: EngineResult; partials: string[]; partialBytes: Buffer[]; partialsBeforeResult: boolean }> {
  const partials: string[] = [];
  const partialBytes: Buffer[] = [];
  let resolved = false;
  let partialsBeforeResult = true;
  const result = await engine.run(j, {
    onPartial: (i, k, img) => {
      if (resolved) partialsBeforeResult = false;
      partials.push(`${i}.${k}`);
      partialBytes.push(img.bytes);
    },
  });
  resolved = true;
  return { result, partials, partialBytes, partialsBeforeResult };
}

test('same job → byte-identical output with 1 and 2 threads, and on every run', async () => {
  for (const j of jobs) {
    const a = await collect(one, j);
    // run the same job twice at once on the 2-thread pool: both threads take one
    const [b, c] = await Promise.all([collect(two, j), collect(two, j)]);
    assert.equal(a.result.images.length, j.n);
    if (j.prompt.startsWith('remove the red')) assert.deepEqual(a.result.operations, ['content-aware fill (remove the red square)']);
    for (const other of [b, c]) {
      assert.deepEqual(other.result.operations, a.result.operations);
      assert.deepEqual(other.result.warnings, a.result.warnings);
      assert.equal(other.result.background, a.result.background);
      for (let i = 0; i < j.n; i++) assert.ok(other.result.images[i]!.bytes.equals(a.result.images[i]!.bytes), `${j.prompt} image ${i}`);
      assert.deepEqual(other.partials, a.partials);
      for (let i = 0; i < a.partialBytes.length; i++) assert.ok(other.partialBytes[i]!.equals(a.partialBytes[i]!), `${j.prompt} partial ${i}`);
    }
  }
});

test('partial images arrive in order, before the task resolves', async () => {
  const r = await collect(two, jobs[0]!);
  assert.deepEqual(r.partials, ['0.0', '0.1', '1.0', '1.1']);
  assert.ok(r.partialsBeforeResult);
  for (const b of r.partialBytes) assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG');
});

test('EngineInputError crosses the thread boundary with its index', async () => {
  const bad = tmp.bytes(Buffer.from('nope'), 'bad.webp');
  const good = await tmp.png(colourful());
  await assert.rejects(one.run(job({ prompt: 'blur', images: [{ path: good }, { path: bad }] })), (e: unknown) => {
    assert.ok(e instanceof EngineInputError);
    assert.equal(e.inputIndex, 1);
    assert.equal(e.code, 'invalid_image');
    return true;
  });
  await assert.rejects(one.run(job({ prompt: 'blur', images: [{ path: good }], mask: { path: bad } })), (e: unknown) => e instanceof EngineInputError && e.inputIndex === 'mask');
});

test('abort cancels a running job; the pool keeps working', async () => {
  const big = await tmp.png(colourful(800, 600));
  const ac = new AbortController();
  const started = Date.now();
  const p = two.run(job({ prompt: 'vintage, blur a lot and sharpen', images: [{ path: big }], n: 10, size: { width: 1536, height: 1024 }, partialImages: 3 }), { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError');
  assert.ok(Date.now() - started < 5000);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(two.run(jobs[0]!, { signal: pre.signal }), (e: unknown) => (e as Error).name === 'AbortError');
  const ok = await two.run(jobs[1]!);
  assert.equal(ok.images.length, 3);
});
