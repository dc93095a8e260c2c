/**
 * `npm ci` must be clean on every Node version package.json claims: no
 * package in the lock may ask for a Node that `engines` allows but it does
 * not accept (npm prints EBADENGINE for each). Checked with the semver npm
 * itself applies to `engines`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

// installed with fastify and sharp (runtime dependencies); typed here for the two calls used
const semver = createRequire(import.meta.url)('semver') as { subset(sub: string, dom: string): boolean; satisfies(v: string, range: string): boolean };

interface LockEntry {
  version?: string;
  engines?: { node?: string };
  os?: string[];
  cpu?: string[];
  dev?: boolean;
}

const read = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

test('every package npm ci installs accepts every Node version in package.json engines', () => {
  const claimed: string = read('package.json').engines.node;
  const lock = read('package-lock.json') as { packages: Record<string, LockEntry> };
  assert.equal(lock.packages[''].engines?.node, claimed, 'the lock is up to date with package.json');
  const refused: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    const wants = entry.engines?.node;
    if (!where || !wants) continue;
    // a platform's prebuilt binary is installed only on that platform (sharp's win32-ia32 build stops at Node 20)
    if (entry.os || entry.cpu) continue;
    if (!semver.subset(claimed, wants)) refused.push(`${where.replace(/^.*node_modules\//, '')}@${entry.version}${entry.dev ? ' (dev)' : ''} wants node ${wants}`);
  }
  assert.deepEqual(refused, [], `package.json claims node ${claimed}`);
});

test('the claim is the truth: the oldest Node 20 undici 7 runs on, and this one', () => {
  const claimed: string = read('package.json').engines.node;
  assert.ok(semver.satisfies('20.18.1', claimed));
  assert.ok(!semver.satisfies('20.18.0', claimed), 'undici 7 needs 20.18.1');
  assert.ok(semver.satisfies(process.versions.node, claimed), `this Node (${process.versions.node}) is one we claim`);
});
