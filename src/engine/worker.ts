/**
 * piscina worker: runs one EngineJob per task. Partial images and the final
 * images travel back over the task's MessagePort (in order, buffers
 * transferred); the task's own return value only says whether it worked, so
 * an EngineInputError keeps its class and fields across the thread boundary.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EngineJob, EngineResult } from './types.js';
import { runJob } from './run.js';
import { EngineInputError } from './errors.js';

export interface WorkerTask {
  job: EngineJob;
  port: MessagePort;
}

export type WorkerMessage =
  | { type: 'partial'; imageIndex: number; partialIndex: number; bytes: Uint8Array; width: number; height: number }
  | { type: 'result'; result: Omit<EngineResult, 'images'>; images: { bytes: Uint8Array; width: number; height: number }[] };

export type WorkerOutcome =
  | { ok: true }
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
      post(port, { type: 'partial', imageIndex, partialIndex, bytes, width: image.width, height: image.height }, [bytes]);
    });
    const images = result.images.map((im) => ({ bytes: own(im.bytes), width: im.width, height: im.height }));
    const { images: _images, ...rest } = result;
    void _images;
    post(port, { type: 'result', result: rest, images }, images.map((i) => i.bytes));
    return { ok: true };
  } catch (err) {
    if (err instanceof EngineInputError) return { ok: false, kind: 'input', inputIndex: err.inputIndex, message: err.message };
    throw err;
  } finally {
    port.close();
  }
}
