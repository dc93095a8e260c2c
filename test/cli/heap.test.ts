/**
 * The server's heap-growing factor (src/cli/heap.ts), read off V8's own
 * trace in a child process: after steadyHeapGrowth() every old-generation
 * limit V8 sets is twice the live size; an operator's own
 * --heap-growing-percent is left alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** V8's old-generation limits (their factors) in a child that calls steadyHeapGrowth(), then keeps and drops arrays */
async function limitFactors(nodeFlags: string[]): Promise<{ changed: boolean; factors: string[] }> {
  const script = `
    import { steadyHeapGrowth } from ${JSON.stringify(path.join(root, 'src/cli/heap.ts'))};
    const changed = steadyHeapGrowth();
    const keep = [];
    for (let r = 0; r < 20; r++) {
      for (let i = 0; i < 20; i++) keep.push(new Array(50000).fill(r));
      for (let i = 0; i < 100; i++) new Array(50000).fill(i);
    }
    console.log('changed=' + changed);
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--trace-gc-verbose', ...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  // "[HeapController] Limit: old size: 14645 KB, new limit: 37345 KB (2.0)"
  const factors = [...stdout.matchAll(/\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/g)].map((m) => m[1]!);
  return { changed: /changed=true/.test(stdout), factors };
}

test('the server fixes the factor at 2: every limit V8 sets is twice the live heap', async () => {
  const { changed, factors } = await limitFactors([]);
  assert.equal(changed, true);
  assert.ok(factors.length >= 3, `V8 set ${factors.length} limits`);
  assert.deepEqual(new Set(factors), new Set(['2.0']));
});

test("an operator's own --heap-growing-percent is kept", async () => {
  const { changed, factors } = await limitFactors(['--heap-growing-percent=200']);
  assert.equal(changed, false);
  assert.ok(factors.length >= 3, `V8 set ${factors.length} limits`);
  assert.deepEqual(new Set(factors), new Set(['3.0']));
});
