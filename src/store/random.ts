/** Unbiased random strings for secrets and identifiers. */
import crypto from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 248 = 4 * 62: bytes at or above it are rejected, so `byte % 62` is uniform.
const ACCEPT_BELOW = 248;

export function randomBase62(length: number): string {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`invalid length ${length}`);
  let out = '';
  while (out.length < length) {
    // a little extra per round so one batch almost always suffices
    const bytes = crypto.randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (const b of bytes) {
      if (b >= ACCEPT_BELOW) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}
