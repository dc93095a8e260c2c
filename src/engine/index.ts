/**
 * The built-in offline engine: a piscina pool of worker threads running
 * worker.ts (worker.js once compiled). createEngine() is the only thing
 * providers/local needs.
 */
import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Piscina } from 'piscina';
import type { Engine, EngineImage, EngineJob, EngineResult, EngineRunOptions } from './types.js';
import type { WorkerMessage, WorkerOutcome, WorkerTask } from './worker.js';
import { EngineBusyError, EngineInputError } from './errors.js';

export { EngineBusyError, EngineInputError, isEngineBusyError, isEngineInputError } from './errors.js';
export { parseInstructions, describeOp, type Op, type ParsedInstructions } from './instructions.js';
export type { Engine, EngineImage, EngineJob, EngineLoad, EngineResult, EngineRunOptions, RgbaImage } from './types.js';

export interface EngineOptions {
  /** worker threads (≥ 1), started at once and kept for the pool's life */
  threads: number;
  /** jobs that may wait for a worker; one more is refused with EngineBusyError (default: unbounded) */
  maxQueue?: number;
}

/** worker.ts under tsx, worker.js when compiled: the same extension as this file. */
function workerUrl(): string {
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self) || '.js';
  return new URL(`./worker${ext}`, import.meta.url).href;
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function toResult(msg: Extract<WorkerMessage, { type: 'result' }>): EngineResult {
  return { ...msg.result, images: msg.images.map((i) => ({ bytes: toBuffer(i.bytes), width: i.width, height: i.height })) };
}

export function createEngine(options: EngineOptions): Engine {
  const threads = Math.max(1, Math.floor(options.threads));
  const pool = new Piscina<WorkerTask, WorkerOutcome>({
    filename: workerUrl(),
    minThreads: threads,
    maxThreads: threads,
    // a job is CPU-bound: one at a time per thread, the rest queue
    concurrentTasksPerWorker: 1,
  });

  const maxQueue = options.maxQueue ?? Infinity;
  let inFlight = 0;

  async function run(job: EngineJob, opts: EngineRunOptions = {}): Promise<EngineResult> {
    opts.signal?.throwIfAborted();
    // jobs running or waiting; counted here because piscina's own limit grows while workers start
    if (inFlight >= threads + maxQueue) throw new EngineBusyError(inFlight - threads);
    inFlight++;
    try {
      return job.partialImages > 0 ? await runStreamed(job, opts) : await runPlain(job, opts);
    } finally {
      inFlight--;
    }
  }

  /** No partial images: the result comes back as the task's own value. */
  async function runPlain(job: EngineJob, opts: EngineRunOptions): Promise<EngineResult> {
    const outcome = await pool.run({ job, port: null }, { signal: opts.signal ?? null });
    if (!outcome.ok) throw new EngineInputError(outcome.inputIndex, outcome.message);
    if (!outcome.result) throw new Error('engine worker ended without a result');
    return toResult(outcome.result);
  }

  /** Partial images, then the result, in order over a channel of the job's own. */
  async function runStreamed(job: EngineJob, opts: EngineRunOptions): Promise<EngineResult> {
    const { port1, port2 } = new MessageChannel();
    let resolveResult!: (r: EngineResult) => void;
    let rejectResult!: (e: Error) => void;
    const resultArrived = new Promise<EngineResult>((res, rej) => { resolveResult = res; rejectResult = rej; });
    resultArrived.catch(() => {}); // only awaited once the task succeeded
    // the worker closes its end after the result; 'close' after all messages means none is coming
    port1.on('close', () => rejectResult(new Error('engine worker ended without a result')));
    port1.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'partial') {
        const image: EngineImage = { bytes: toBuffer(msg.bytes), width: msg.width, height: msg.height };
        opts.onPartial?.(msg.imageIndex, msg.partialIndex, image);
      } else {
        resolveResult(toResult(msg));
      }
    });
    try {
      const outcome = await pool.run({ job, port: port2 }, { transferList: [port2], signal: opts.signal ?? null });
      if (!outcome.ok) throw new EngineInputError(outcome.inputIndex, outcome.message);
      // the port delivers every partial and then the result, in order; the task may resolve first
      return await resultArrived;
    } finally {
      port1.close();
    }
  }

  return {
    run,
    // one job per thread, so the jobs in flight beyond the threads are the ones waiting
    load: () => ({ threads, running: Math.min(inFlight, threads), queued: Math.max(0, inFlight - threads), maxQueue }),
    close: () => pool.destroy(),
  };
}
