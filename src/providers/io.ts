/**
 * The I/O an adapter gets for one attempt (ProviderIO): the provider's HTTP
 * client bound to the attempt's signal, a sleep that the signal cuts short,
 * and reading an image from disk or memory.
 */
import fs from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { ProviderHttpClient } from './http.js';
import type { PreparedImage, ProviderIO } from './types.js';

function sleeper(signal: AbortSignal): (ms: number) => Promise<void> {
  return (ms) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

const read = (img: PreparedImage): Promise<Buffer> => {
  const bytes = img.bytes ?? img.held?.buffer;
  return bytes ? Promise.resolve(bytes) : fs.readFile(img.path!);
};

export function createProviderIO(http: ProviderHttpClient, signal: AbortSignal, clock: Clock): ProviderIO {
  return { http: http.forAttempt(signal), signal, clock, sleep: sleeper(signal), read };
}
