/** What both implementations share: argument checks and waiting for a lock to go. */
import { setTimeout as sleep } from 'node:timers/promises';

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

export function checkDuration(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer of milliseconds, got ${value}`);
}

export function checkName(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) throw new RangeError(`${name} must be a string of 1 to 1024 characters`);
}

/** The arguments of RateLimiter.hit and ConcurrencyLimiter.acquire. */
export function checkLimitCall(key: string, limit: number, durationName: string, duration: number): void {
  checkName('key', key);
  checkCount('limit', limit);
  checkDuration(durationName, duration);
}

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * Polls `isFree` until it says true (→ true) or `timeoutMs` passes (→ false).
 * Polling, not a release notice: a holder that dies never sends one, and its
 * lock still goes when its TTL runs out.
 */
export async function pollUntilFree(
  isFree: () => Promise<boolean>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let interval = FIRST_POLL_MS;
  for (;;) {
    signal?.throwIfAborted();
    if (await isFree()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    try {
      await sleep(Math.min(interval, left), undefined, { signal });
    } catch (err) {
      throw signal?.aborted ? signal.reason : err;
    }
    interval = Math.min(MAX_POLL_MS, Math.ceil(interval * 1.5));
  }
}
