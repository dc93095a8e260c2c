/**
 * Waiting for a job: the providers that answer with a job id (BFL, Replicate,
 * fal, ComfyUI) are polled through this one loop. It waits `intervalMs`,
 * growing by half each time up to `maxIntervalMs` (or what the provider
 * asked for), and stops when the attempt's signal aborts: the provider's
 * `timeouts.totalMs` covers submit, polls and download together.
 */
import { isUpstreamError } from './errors.js';
import type { ProviderIO } from './types.js';

export type PollStep<T> = { done: true; value: T } | { done: false; delayMs?: number };

export interface PollOptions<T> {
  /** the first wait, before the first check */
  intervalMs: number;
  maxIntervalMs?: number;
  /** one look at the job: done with a value, or not yet (throw to fail the attempt) */
  check: (round: number) => Promise<PollStep<T>>;
  /** check once before the first wait (a job that may already be done) */
  checkFirst?: boolean;
  /**
   * 'retryable' failures of a look (a 429, a 5xx, a dropped connection, a
   * garbled body) tolerated this many times in a row, waiting as the failure
   * asks: the job keeps running upstream, and failing the attempt would submit
   * (and pay for) it again. A check should report the job's own end
   * (failed, canceled) as a value, not throw it, so that it is never retried here.
   */
  tolerateTransient?: number;
}

export async function pollUntil<T>(io: ProviderIO, options: PollOptions<T>): Promise<T> {
  let wait = options.intervalMs;
  const max = options.maxIntervalMs ?? Math.max(options.intervalMs, 5000);
  let misses = 0;
  for (let round = 0; ; round++) {
    if (round > 0 || !options.checkFirst) await io.sleep(wait);
    let step: PollStep<T>;
    try {
      step = await options.check(round);
      misses = 0;
    } catch (e) {
      const transient = isUpstreamError(e) && e.kind === 'retryable' && !io.signal.aborted;
      if (!transient || misses >= (options.tolerateTransient ?? 0)) throw e;
      misses++;
      wait = e.retryAfterMs ?? Math.min(max, Math.round(wait * 1.5));
      continue;
    }
    if (step.done) return step.value;
    wait = step.delayMs ?? Math.min(max, Math.round(wait * 1.5));
  }
}
