/**
 * How far the server lets V8's heap grow between full collections.
 *
 * V8 sets the next old-generation limit after each mark-compact from how
 * fast its collector runs compared with the program, between 1.1 and 4
 * times the live size. The server holds about 45 MB of long-lived tables
 * (the tokenizer's among them) and allocates megabytes of short-lived
 * buffers per request; left to that estimate it can settle on the lowest
 * factor, where the limit sits so close to the live size that a full
 * mark-compact starts every few requests and frees almost nothing. In
 * bench/overhead.ts 3 of 8 gateway processes fell into that state, at 16-19
 * ms of CPU per edit instead of 4-6. A fixed factor of 2 (the next limit at
 * twice the live heap: about 90 MB here) kept all 8 out of it, at the cost
 * of a heap that may grow that far before it is collected.
 *
 * An operator who starts node with a --heap-growing-percent of their own
 * keeps it.
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 100;

/** Sets the factor unless node was started with one; true when it did. */
export function steadyHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
