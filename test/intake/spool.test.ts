import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createSpool, spoolBaseDir, sweepStaleSpools } from '../../src/intake/spool.js';

async function tempBase(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-spool-'));
  return spoolBaseDir(root);
}

test('a spool is a private directory under the base, created on demand', async () => {
  const base = await tempBase();
  const a = await createSpool(base);
  const b = await createSpool(base);
  assert.notEqual(a.dir, b.dir);
  assert.equal(path.dirname(a.dir), base);
  assert.equal((await fsp.stat(a.dir)).mode & 0o777, 0o700);
  const p1 = a.newPath();
  const p2 = a.newPath('.png');
  assert.notEqual(p1, p2);
  assert.equal(path.dirname(p1), a.dir);
  assert.ok(p2.endsWith('.png'));
  assert.throws(() => a.newPath('/../x'));
  await a.cleanup();
  await b.cleanup();
  await fsp.rm(path.dirname(base), { recursive: true });
});

test('cleanup removes everything, may be called twice and never throws', async () => {
  const base = await tempBase();
  const s = await createSpool(base);
  await fsp.writeFile(s.newPath(), 'x');
  await fsp.mkdir(path.join(s.dir, 'sub'));
  await fsp.writeFile(path.join(s.dir, 'sub', 'y'), 'y');
  await Promise.all([s.cleanup(), s.cleanup()]);
  await s.cleanup();
  assert.equal(fs.existsSync(s.dir), false);
  assert.deepEqual(await fsp.readdir(base), []);
  assert.throws(() => s.newPath());
  await fsp.rm(path.dirname(base), { recursive: true });
});

test('sweepStaleSpools removes old spools only, and nothing that is not a spool', async () => {
  const base = await tempBase();
  const old = await createSpool(base);
  await fsp.writeFile(old.newPath(), 'left behind by a crash');
  const fresh = await createSpool(base);
  const other = path.join(base, 'keep-me');
  await fsp.mkdir(other);
  const past = new Date(Date.now() - 2 * 3600_000);
  await fsp.utimes(old.dir, past, past);
  await fsp.utimes(other, past, past);
  assert.equal(await sweepStaleSpools(base, 3600_000), 1);
  assert.deepEqual((await fsp.readdir(base)).sort(), [path.basename(fresh.dir), 'keep-me'].sort());
  assert.equal(await sweepStaleSpools(path.join(base, 'missing'), 0), 0);
  await fsp.rm(path.dirname(base), { recursive: true });
});
