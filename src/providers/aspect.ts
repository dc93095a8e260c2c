/**
 * Sizes as aspect ratios, for providers that take a ratio ('3:2') instead of
 * pixels. "Nearest" is measured on a log scale, so 2:1 is as far from 1:1 as
 * 1:2 is; ties go to the earlier entry of the provider's list.
 */
import type { Size } from '../types.js';

export function ratioValue(ratio: string): number {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(ratio);
  if (!m) throw new Error(`not an aspect ratio: ${ratio}`);
  return Number(m[1]) / Number(m[2]);
}

export function nearestRatio(size: Size, ratios: readonly string[]): string {
  const target = Math.log(size.width / size.height);
  let best = ratios[0];
  let bestDist = Infinity;
  for (const r of ratios) {
    const d = Math.abs(Math.log(ratioValue(r)) - target);
    if (d < bestDist - 1e-9) {
      best = r;
      bestDist = d;
    }
  }
  return best;
}

/** The nearest of a list of exact sizes: closest shape first, then closest area. */
export function nearestSize(size: Size, sizes: readonly Size[]): Size {
  const shape = (s: Size) => Math.abs(Math.log(s.width / s.height) - Math.log(size.width / size.height));
  const area = (s: Size) => Math.abs(Math.log((s.width * s.height) / (size.width * size.height)));
  return [...sizes].sort((a, b) => shape(a) - shape(b) || area(a) - area(b))[0];
}
