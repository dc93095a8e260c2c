/** Worker body for the fill determinism test: fills what it is sent and posts the bytes back. */
import { parentPort, workerData } from 'node:worker_threads';
import { contentAwareFill } from '../../../src/engine/fill/index.js';

const { width, height, data, hole, seed } = workerData as { width: number; height: number; data: Uint8ClampedArray; hole: Uint8Array; seed: number };
const out = contentAwareFill({ width, height, data }, hole, { seed });
parentPort!.postMessage(out.data);
