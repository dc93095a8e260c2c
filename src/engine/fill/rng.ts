/**
 * Seeded PRNG for the fill (mulberry32): 32-bit integer state, only Math.imul,
 * xor and shifts, so the sequence is identical on every machine. All
 * randomness in the fill comes from here; Math.random is never used.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // ToUint32 of any finite number, then one mixing round so that nearby
    // seeds (0, 1, 2, …) start far apart.
    let s = Number.isFinite(seed) ? Math.trunc(seed) >>> 0 : 0;
    s = Math.imul(s ^ (s >>> 16), 0x45d9f3b) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x45d9f3b) >>> 0;
    this.state = (s ^ (s >>> 16)) >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * Uniform integer in [0, n), 1 <= n < 2^32. The product is exact while
   * n < 2^21 and correctly rounded (so still the same everywhere, and < n)
   * above.
   */
  int(n: number): number {
    return Math.floor((this.nextU32() * n) / 4294967296);
  }
}
