/** An input the pipeline held in memory (bytes) edits exactly like the same file on disk, in a worker too. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createEngine } from '../../src/engine/index.js';
import { runJob } from '../../src/engine/run.js';
import { TempDir, job, makeImage } from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

test('bytes or path: the same output, mask included', async () => {
  const pic = await tmp.png(makeImage(60, 40, (x, y) => [x * 4, y * 6, (x + y) * 2, 255]));
  const mask = await tmp.mask(60, 40, { x: 10, y: 10, w: 20, h: 12 });
  const onDisk = job({ prompt: 'sepia', images: [{ path: pic }], mask: { path: mask }, size: { width: 60, height: 40 } });
  const inMemory = job({
    prompt: 'sepia',
    images: [{ path: '', bytes: readFileSync(pic) }],
    mask: { path: '', bytes: readFileSync(mask) },
    size: { width: 60, height: 40 },
  });
  const a = await runJob(onDisk, () => {});
  const b = await runJob(inMemory, () => {});
  assert.ok(a.images[0]!.bytes.equals(b.images[0]!.bytes));

  // across the thread boundary a Buffer arrives as a Uint8Array
  const engine = createEngine({ threads: 1 });
  try {
    const c = await engine.run(inMemory);
    assert.ok(a.images[0]!.bytes.equals(c.images[0]!.bytes));
  } finally {
    await engine.close();
  }
});
