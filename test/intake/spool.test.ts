import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createSpool, ensureSpoolDir, SpoolArea, spoolBaseDir, sweepStaleSpools } from '../../src/intake/spool.js';

async function tempBase(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'intake-spool-'));
  return spoolBaseDir(root);
}

test('spool files are unique names flat in a private base directory, created on demand', async () => {
  const base = await tempBase();
  const a = await createSpool(base);
  const b = await createSpool(base);
  assert.equal((await fsp.stat(base)).mode & 0o777, 0o700);
  const p1 = a.newPath();
  const p2 = a.newPath('.png');
  const q1 = b.newPath();
  assert.equal(new Set([p1, p2, q1]).size, 3);
  for (const p of [p1, p2, q1]) assert.equal(path.dirname(p), base);
  assert.ok(p2.endsWith('.png'));
  assert.throws(() => a.newPath('/../x'));
  assert.throws(() => a.newPath('..'));
  await a.cleanup();
  await b.cleanup();
  await fsp.rm(path.dirname(base), { recursive: true });
});

test("cleanup removes the spool's own files only, may be called twice and never throws", async () => {
  const base = await tempBase();
  await ensureSpoolDir(base);
  const area = new SpoolArea(base);
  const s = area.spool();
  const other = area.spool();
  await fsp.writeFile(s.newPath(), 'x');
  await fsp.writeFile(s.newPath('.png'), 'y');
  s.newPath(); // handed out, never written (an empty part)
  const kept = other.newPath();
  await fsp.writeFile(kept, 'z');
  await fsp.writeFile(path.join(base, 'not-a-spool'), 'w');
  await Promise.all([s.cleanup(), s.cleanup()]);
  await s.cleanup();
  assert.deepEqual((await fsp.readdir(base)).sort(), [path.basename(kept), 'not-a-spool'].sort());
  assert.throws(() => s.newPath());
  await other.cleanup();
  assert.deepEqual(await fsp.readdir(base), ['not-a-spool']);
  await fsp.rm(path.dirname(base), { recursive: true });
});

test('settled() waits for every cleanup started before it', async () => {
  const base = await tempBase();
  await ensureSpoolDir(base);
  const area = new SpoolArea(base);
  for (let i = 0; i < 20; i++) {
    const s = area.spool();
    fs.writeFileSync(s.newPath(), 'x');
    fs.writeFileSync(s.newPath(), 'y');
    void s.cleanup();
  }
  await area.settled();
  assert.deepEqual(await fsp.readdir(base), []);
  await area.settled(); // nothing pending: resolves at once
  await fsp.rm(path.dirname(base), { recursive: true });
});

test('sweepStaleSpools removes old spool files and old spool directories only, and nothing that is not a spool', async () => {
  const base = await tempBase();
  const old = await createSpool(base);
  const oldFile = old.newPath();
  await fsp.writeFile(oldFile, 'left behind by a crash');
  // a per-request directory, as earlier versions made them
  const legacy = path.join(base, 'spool-AbC123');
  await fsp.mkdir(legacy);
  await fsp.writeFile(path.join(legacy, 'f0001'), 'x');
  const fresh = (await createSpool(base)).newPath();
  await fsp.writeFile(fresh, 'in use');
  const other = path.join(base, 'keep-me');
  await fsp.mkdir(other);
  const past = new Date(Date.now() - 2 * 3600_000);
  for (const p of [oldFile, legacy, other]) await fsp.utimes(p, past, past);
  assert.equal(await sweepStaleSpools(base, 3600_000), 2);
  assert.deepEqual((await fsp.readdir(base)).sort(), [path.basename(fresh), 'keep-me'].sort());
  assert.equal(await sweepStaleSpools(path.join(base, 'missing'), 0), 0);
  await fsp.rm(path.dirname(base), { recursive: true });
});
