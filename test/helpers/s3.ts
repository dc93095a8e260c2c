/**
 * A real S3-compatible server for tests: s3rver (path-style, AWS signature
 * v4 checked) in a process of its own on 127.0.0.1 and a free port, its
 * objects in a temp dir. It can be killed and started again on the same port
 * with its objects kept, to play an outage.
 *
 * s3rver mints ListObjectsV2 continuation tokens with DES, which OpenSSL 3
 * only has in its legacy provider: without the flag every truncated listing
 * is a 500.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { S3Settings } from '../../src/store/s3-blobs.js';
import { killHard, spawnUntilReady } from './process.js';

/** s3rver's fixed account */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const S3RVER_BIN = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
const START_TIMEOUT_MS = 15_000;

export interface TestS3 {
  endpoint: string;
  port: number;
  bucket: string;
  /** settings for S3BlobStore (path style, s3rver's account) */
  settings: S3Settings;
  /** the environment a gateway node needs to use this bucket */
  env: Record<string, string>;
  /** SIGKILL: an outage, not a shutdown */
  stop(): Promise<void>;
  /** again on the same port, with the objects it had */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts s3rver and resolves with its process and port once it listens. */
async function launch(directory: string, bucket: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--openssl-legacy-provider', S3RVER_BIN, '-d', directory, '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', bucket];
  const { child, match } = await spawnUntilReady('s3rver', process.execPath, args, /S3rver listening on [^:]+:(\d+)/, START_TIMEOUT_MS);
  return { child, port: Number(match[1]) };
}

export async function startTestS3(bucket = 'imagegate-test'): Promise<TestS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-s3rver-'));
  let { child, port } = await launch(directory, bucket, 0);
  let running = true;
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await killHard(child);
  };
  return {
    endpoint,
    port,
    bucket,
    settings: { bucket, endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } },
    env: {
      IMAGEGATE_S3_BUCKET: bucket,
      IMAGEGATE_S3_ENDPOINT: endpoint,
      IMAGEGATE_S3_REGION: 'us-east-1',
      IMAGEGATE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    },
    stop,
    async start() {
      if (running) return;
      ({ child } = await launch(directory, bucket, port));
      running = true;
    },
    async close() {
      await stop();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
