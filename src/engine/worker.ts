/**
 * piscina worker: runs one EngineJob per task. With partial images, they and
 * the final images travel back over the task's MessagePort (in order, buffers
 * transferred); without, the result is the task's return value (no channel
 * to set up per job). Either way an EngineInputError comes back as data, so
 * it keeps its class and fields across the thread boundary.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EngineJob, EngineResult } from './types.js';
import { runJob } from './run.js';
import { EngineInputError } from './errors.js';

export interface WorkerTask {
  job: EngineJob;
  /** null when the job asks for no partial images: the result is returned */
  port: MessagePort | null;
}

export type WorkerMessage =
  | { type: 'partial'; imageIndex: number; partialIndex: number; bytes: Uint8Array; width: number; height: number }
  | { type: 'result'; result: Omit<EngineResult, 'images'>; images: { bytes: Uint8Array; width: number; height: number }[] };

type ResultMessage = Extract<WorkerMessage, { type: 'result' }>;

export type WorkerOutcome =
  /** `result` is present when there was no port to send it over */
  | { ok: true; result?: ResultMessage }
  | { ok: false; kind: 'input'; inputIndex: number | 'mask'; message: string };

/** A standalone ArrayBuffer holding exactly these bytes, so it can be transferred rather than copied. */
function own(buf: Uint8Array): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf;
  return new Uint8Array(buf);
}

function post(port: MessagePort, msg: WorkerMessage, buffers: Uint8Array[]): void {
  const transfer = buffers.map((b) => b.buffer as ArrayBuffer);
  try {
    port.postMessage(msg, transfer);
  } catch {
    // some buffers (memory owned by native code) cannot be transferred: copy instead
    port.postMessage(msg);
  }
}

export default async function engineTask({ job, port }: WorkerTask): Promise<WorkerOutcome> {
  try {
    const result = await runJob(job, (imageIndex, partialIndex, image) => {
      const bytes = own(image.bytes);
      if (port) post(port, { type: 'partial', imageIndex, partialIndex, bytes, width: image.width, height: image.height }, [bytes]);
    });
    // over the port the buffers are transferred, so each must own its memory; a return value is copied anyway
    const images = result.images.map((im) => ({ bytes: port ? own(im.bytes) : im.bytes, width: im.width, height: im.height }));
    const { images: _images, ...rest } = result;
    void _images;
    const message: ResultMessage = { type: 'result', result: rest, images };
    if (!port) return { ok: true, result: message };
    post(port, message, images.map((i) => i.bytes));
    return { ok: true };
  } catch (err) {
    if (err instanceof EngineInputError) return { ok: false, kind: 'input', inputIndex: err.inputIndex, message: err.message };
    throw err;
  } finally {
    port?.close();
  }
}
