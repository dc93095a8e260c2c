/**
 * The master key: administers API keys and may call the API. From the
 * environment when set, else `<dataDir>/master.key`, else generated once and
 * written there (mode 0600) so that it survives restarts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createFileOnce, readIfExists } from './files.js';
import { randomBase62 } from './random.js';

export const MASTER_KEY_PREFIX = 'sk-ig-master-';
export const MASTER_KEY_FILE = 'master.key';

export interface MasterKey {
  key: string;
  generated: boolean;
  source: 'env' | 'file' | 'generated';
}

export function ensureMasterKey(dataDir: string, fromEnv: string | null): MasterKey {
  const env = fromEnv?.trim() ?? '';
  if (env !== '') return { key: env, generated: false, source: 'env' };

  const file = path.join(dataDir, MASTER_KEY_FILE);
  const existing = readIfExists(file);
  if (existing !== null) return { key: parseKeyFile(existing, file), generated: false, source: 'file' };

  fs.mkdirSync(dataDir, { recursive: true });
  const key = MASTER_KEY_PREFIX + randomBase62(40);
  const written = parseKeyFile(createFileOnce(file, Buffer.from(key + '\n', 'utf8')), file);
  // another process may have won the race to create the file; its key is the key
  return written === key
    ? { key, generated: true, source: 'generated' }
    : { key: written, generated: false, source: 'file' };
}

function parseKeyFile(bytes: Buffer, file: string): string {
  const key = bytes.toString('utf8').trim();
  if (key === '') throw new Error(`${file} is empty; delete it to generate a new master key`);
  return key;
}

/** Constant-time: compares SHA-256 digests, so neither content nor length leaks. */
export function isMasterKey(presented: string, masterKey: string): boolean {
  if (masterKey === '') return false;
  const a = crypto.createHash('sha256').update(presented, 'utf8').digest();
  const b = crypto.createHash('sha256').update(masterKey, 'utf8').digest();
  return crypto.timingSafeEqual(a, b);
}
