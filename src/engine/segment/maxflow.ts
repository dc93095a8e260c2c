/**
 * Minimum s-t cut of a sparse graph by the Boykov–Kolmogorov max-flow
 * algorithm (Boykov & Kolmogorov 2004, "An Experimental Comparison of
 * Min-Cut/Max-Flow Algorithms for Energy Minimization in Vision"): two search
 * trees, one grown from the source and one from the sink, are kept between
 * augmentations instead of being rebuilt, which is what makes it fast on the
 * short-path grid graphs of image segmentation.
 *
 * Capacities are float64; every loop runs in a fixed order, so the same graph
 * gives the same cut everywhere.
 */

const FREE = 0;
const SOURCE = 1;
const SINK = 2;
/** parent "edge" of a node attached directly to its terminal */
const TERMINAL = -1;
const ORPHAN = -2;
const NO_PARENT = -3;

export class CutGraph {
  readonly nodeCount: number;
  /** net terminal capacity: > 0 from the source, < 0 to the sink */
  private readonly tr: Float64Array;
  private readonly head: Int32Array;
  private next: Int32Array;
  private to: Int32Array;
  private cap: Float64Array;
  private edges = 0;
  private tree: Uint8Array | null = null;

  constructor(nodeCount: number, edgeHint = nodeCount * 8) {
    this.nodeCount = nodeCount;
    this.tr = new Float64Array(nodeCount);
    this.head = new Int32Array(nodeCount).fill(-1);
    const m = Math.max(16, edgeHint);
    this.next = new Int32Array(m);
    this.to = new Int32Array(m);
    this.cap = new Float64Array(m);
  }

  /**
   * Terminal edges of node i: `costIfSink` is paid when i ends on the sink
   * side (the source→i capacity), `costIfSource` when it ends on the source side.
   */
  addTerminal(i: number, costIfSink: number, costIfSource: number): void {
    this.tr[i] += costIfSink - costIfSource;
  }

  /** A pair of directed edges i→j (capacity cij) and j→i (capacity cji). */
  addEdge(i: number, j: number, cij: number, cji: number): void {
    if (this.edges + 2 > this.to.length) this.grow();
    const e = this.edges;
    this.to[e] = j;
    this.cap[e] = cij;
    this.next[e] = this.head[i];
    this.head[i] = e;
    this.to[e + 1] = i;
    this.cap[e + 1] = cji;
    this.next[e + 1] = this.head[j];
    this.head[j] = e + 1;
    this.edges += 2;
  }

  private grow(): void {
    const m = this.to.length * 2;
    const n2 = new Int32Array(m);
    n2.set(this.next);
    this.next = n2;
    const t2 = new Int32Array(m);
    t2.set(this.to);
    this.to = t2;
    const c2 = new Float64Array(m);
    c2.set(this.cap);
    this.cap = c2;
  }

  /** Run the max-flow; returns the flow value (the cut's cost, terminal offsets aside). */
  maxflow(): number {
    const n = this.nodeCount;
    const { tr, head, next, to, cap } = this;
    const tree = new Uint8Array(n);
    const parent = new Int32Array(n).fill(NO_PARENT);
    /** the node a parent edge leaves from is to[edge ^ 1] */
    const ts = new Int32Array(n);
    const dist = new Int32Array(n);
    let time = 0;
    // FIFO of active nodes (a node may sit in it at most once: `queued`)
    const queue = new Int32Array(n + 1);
    const queued = new Uint8Array(n);
    let qh = 0;
    let qt = 0;
    let qn = 0;
    const push = (i: number): void => {
      if (queued[i] !== 0) return;
      queued[i] = 1;
      queue[qt] = i;
      qt = qt === n ? 0 : qt + 1;
      qn++;
    };
    const orphans: number[] = [];
    let flow = 0;

    for (let i = 0; i < n; i++) {
      if (tr[i] > 0) {
        tree[i] = SOURCE;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      } else if (tr[i] < 0) {
        tree[i] = SINK;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      }
    }

    for (;;) {
      // growth: find an edge joining the two trees
      let meetS = -1;
      let meetT = -1;
      let meetEdge = -1;
      while (qn > 0 && meetEdge < 0) {
        const p = queue[qh];
        if (tree[p] === FREE) {
          queued[p] = 0;
          qh = qh === n ? 0 : qh + 1;
          qn--;
          continue;
        }
        const side = tree[p];
        for (let e = head[p]; e >= 0; e = next[e]) {
          // residual capacity in the tree's direction: away from the source, towards the sink
          const c = side === SOURCE ? cap[e] : cap[e ^ 1];
          if (c <= 0) continue;
          const q = to[e];
          if (tree[q] === FREE) {
            tree[q] = side;
            parent[q] = e ^ 1;
            ts[q] = ts[p];
            dist[q] = dist[p] + 1;
            push(q);
          } else if (tree[q] !== side) {
            if (side === SOURCE) {
              meetS = p;
              meetT = q;
              meetEdge = e;
            } else {
              meetS = q;
              meetT = p;
              meetEdge = e ^ 1;
            }
            break;
          } else if (ts[q] <= ts[p] && dist[q] > dist[p]) {
            // a shorter path to the terminal through p
            parent[q] = e ^ 1;
            ts[q] = ts[p];
            dist[q] = dist[p] + 1;
          }
        }
        if (meetEdge < 0) {
          queued[p] = 0;
          qh = qh === n ? 0 : qh + 1;
          qn--;
        }
      }
      if (meetEdge < 0) break;
      time++;

      // augmentation: the bottleneck along source … meetS → meetT … sink
      let bottleneck = cap[meetEdge];
      for (let i = meetS; ; ) {
        const pe = parent[i];
        if (pe === TERMINAL) {
          if (tr[i] < bottleneck) bottleneck = tr[i];
          break;
        }
        // pe points from i to its parent; flow runs parent → i, i.e. along pe ^ 1
        if (cap[pe ^ 1] < bottleneck) bottleneck = cap[pe ^ 1];
        i = to[pe];
      }
      for (let i = meetT; ; ) {
        const pe = parent[i];
        if (pe === TERMINAL) {
          if (-tr[i] < bottleneck) bottleneck = -tr[i];
          break;
        }
        if (cap[pe] < bottleneck) bottleneck = cap[pe];
        i = to[pe];
      }
      cap[meetEdge] -= bottleneck;
      cap[meetEdge ^ 1] += bottleneck;
      for (let i = meetS; ; ) {
        const pe = parent[i];
        if (pe === TERMINAL) {
          tr[i] -= bottleneck;
          if (tr[i] === 0) {
            parent[i] = ORPHAN;
            orphans.push(i);
          }
          break;
        }
        cap[pe ^ 1] -= bottleneck;
        cap[pe] += bottleneck;
        const up = to[pe];
        if (cap[pe ^ 1] === 0) {
          parent[i] = ORPHAN;
          orphans.push(i);
        }
        i = up;
      }
      for (let i = meetT; ; ) {
        const pe = parent[i];
        if (pe === TERMINAL) {
          tr[i] += bottleneck;
          if (tr[i] === 0) {
            parent[i] = ORPHAN;
            orphans.push(i);
          }
          break;
        }
        cap[pe] -= bottleneck;
        cap[pe ^ 1] += bottleneck;
        const up = to[pe];
        if (cap[pe] === 0) {
          parent[i] = ORPHAN;
          orphans.push(i);
        }
        i = up;
      }
      flow += bottleneck;

      // adoption: find each orphan a new parent in its own tree, or free it
      while (orphans.length > 0) {
        const o = orphans.pop()!;
        const side = tree[o];
        let bestEdge = NO_PARENT;
        let bestDist = 0x7fffffff;
        for (let e = head[o]; e >= 0; e = next[e]) {
          const c = side === SOURCE ? cap[e ^ 1] : cap[e];
          if (c <= 0) continue;
          const q = to[e];
          if (tree[q] !== side || parent[q] === NO_PARENT) continue;
          // does q still reach the terminal? walk up, stopping at nodes checked in this round
          let d = 0;
          let j = q;
          let ok = false;
          for (;;) {
            if (ts[j] === time) {
              d += dist[j];
              ok = true;
              break;
            }
            const pj = parent[j];
            d++;
            if (pj === TERMINAL) {
              ts[j] = time;
              dist[j] = 1;
              ok = true;
              break;
            }
            if (pj === ORPHAN) break;
            j = to[pj];
          }
          if (!ok) continue;
          if (d < bestDist) {
            bestDist = d;
            bestEdge = e;
          }
          // stamp the path so later walks stop early
          for (let k = q, dk = d; ts[k] !== time; k = to[parent[k]]) {
            ts[k] = time;
            dist[k] = dk--;
          }
        }
        if (bestEdge !== NO_PARENT) {
          parent[o] = bestEdge;
          ts[o] = time;
          dist[o] = bestDist + 1;
          continue;
        }
        // no parent: o becomes free; its children are orphaned, its neighbours may grow into it
        tree[o] = FREE;
        parent[o] = NO_PARENT;
        for (let e = head[o]; e >= 0; e = next[e]) {
          const q = to[e];
          if (tree[q] !== side) continue;
          const c = side === SOURCE ? cap[e ^ 1] : cap[e];
          if (c > 0) push(q);
          const pq = parent[q];
          if (pq >= 0 && to[pq] === o) {
            parent[q] = ORPHAN;
            orphans.push(q);
          }
        }
      }
    }
    this.tree = tree;
    return flow;
  }

  /** After maxflow(): true when node i is on the source side of the minimum cut. */
  isSource(i: number): boolean {
    if (!this.tree) throw new Error('maxflow() has not run');
    return this.tree[i] === SOURCE;
  }
}
