import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CutGraph } from '../../../src/engine/segment/maxflow.js';
import { seededRandom } from '../../../src/engine/image.js';

/** The cheapest labelling by trying all 2^n of them: the reference answer. */
function bruteForce(n: number, t: [number, number][], edges: [number, number, number, number][]): number {
  let best = Infinity;
  for (let m = 0; m < 1 << n; m++) {
    let c = 0;
    for (let i = 0; i < n; i++) c += (m >> i) & 1 ? t[i]![1] : t[i]![0];
    for (const [i, j, cij, cji] of edges) {
      const si = (m >> i) & 1, sj = (m >> j) & 1;
      if (si && !sj) c += cij;
      if (!si && sj) c += cji;
    }
    best = Math.min(best, c);
  }
  return best;
}

test('max-flow equals the brute-force minimum cut on random small graphs', () => {
  const rnd = seededRandom(42);
  for (let trial = 0; trial < 300; trial++) {
    const n = 2 + Math.floor(rnd() * 10);
    const g = new CutGraph(n);
    // t[i] = [cost if on the sink side, cost if on the source side]
    const t: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const a = Math.floor(rnd() * 10), b = Math.floor(rnd() * 10);
      t.push([a, b]);
      g.addTerminal(i, a, b);
    }
    const edges: [number, number, number, number][] = [];
    for (let k = 0; k < n * 2; k++) {
      const i = Math.floor(rnd() * n), j = Math.floor(rnd() * n);
      if (i === j) continue;
      const e: [number, number, number, number] = [i, j, Math.floor(rnd() * 8), Math.floor(rnd() * 8)];
      edges.push(e);
      g.addEdge(...e);
    }
    const flow = g.maxflow();
    const offset = t.reduce((s, [a, b]) => s + Math.min(a, b), 0);
    const expected = bruteForce(n, t, edges);
    assert.equal(flow + offset, expected, `trial ${trial}`);
    // the labelling it returns costs exactly that
    let c = 0;
    for (let i = 0; i < n; i++) c += g.isSource(i) ? t[i]![1] : t[i]![0];
    for (const [i, j, cij, cji] of edges) {
      if (g.isSource(i) && !g.isSource(j)) c += cij;
      if (!g.isSource(i) && g.isSource(j)) c += cji;
    }
    assert.equal(c, expected, `trial ${trial}: labelling cost`);
  }
});
