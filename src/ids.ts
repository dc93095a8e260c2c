/**
 * Random hex for identifiers that must be unique but are not secrets
 * (request ids, reservation suffixes, multipart boundaries, spool names).
 * Drawn from a pooled buffer refilled 4 KiB at a time: one `randomBytes`
 * call per request path costs more than the rest of a small answer's id work.
 * Secrets (keys, signing keys) keep drawing from crypto directly.
 */
import crypto from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

export function uniqueHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > POOL_BYTES) throw new RangeError(`invalid length ${bytes}`);
  if (offset + bytes > pool.length) {
    pool = crypto.randomBytes(POOL_BYTES);
    offset = 0;
  }
  const out = pool.toString('hex', offset, offset + bytes);
  // used bytes are zeroed so a later reader of the pool (none today) never sees an id twice
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return out;
}
