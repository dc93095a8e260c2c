/**
 * Blobs on local disk: `<dir>/<aa>/<bb>/<key>` where aa/bb come from the
 * SHA-256 of the key (an even spread whatever the keys look like), with the
 * content type in a sidecar `<key>~type`. `~` never occurs in a key, so
 * sidecars and temp files cannot collide with blobs.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobInfo, BlobStore } from './types.js';

const KEY_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;
const TYPE_SUFFIX = '~type';
const TEMP_MARKER = '~tmp-';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
// type/subtype with optional parameters, printable ASCII only (it ends up in a header)
const CONTENT_TYPE_PATTERN = /^[\x21-\x7e]+\/[\x20-\x7e]+$/;

/** Keys are opaque names made of [A-Za-z0-9_.-]; `.` and `..` alone are refused. */
export function isValidBlobKey(key: string): boolean {
  return KEY_PATTERN.test(key) && key !== '.' && key !== '..';
}

export class DiskBlobStore implements BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    const file = this.pathFor(key);
    if (!CONTENT_TYPE_PATTERN.test(contentType)) throw new Error(`invalid content type for blob ${key}`);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    // The sidecar lands first: whenever the blob is visible, its type is too.
    await writeAtomically(file + TYPE_SUFFIX, Buffer.from(contentType, 'utf8'));
    await writeAtomically(file, bytes);
  }

  async open(key: string): Promise<{ info: BlobInfo; stream: Readable } | null> {
    const file = this.pathFor(key);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    try {
      // size from the open handle: a concurrent replace or delete cannot make it disagree with the stream
      const stat = await handle.stat();
      const contentType = await readContentType(file + TYPE_SUFFIX);
      const stream = handle.createReadStream({ autoClose: true });
      return { info: { size: stat.size, contentType }, stream };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    await fs.promises.rm(file, { force: true });
    await fs.promises.rm(file + TYPE_SUFFIX, { force: true });
  }

  async check(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    await fs.promises.access(this.dir, fs.constants.W_OK);
  }

  async sweep(before: number): Promise<number> {
    let deleted = 0;
    for (const level1 of await listDir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(level1)) continue;
      for (const level2 of await listDir(path.join(this.dir, level1))) {
        if (!/^[0-9a-f]{2}$/.test(level2)) continue;
        const folder = path.join(this.dir, level1, level2);
        const names = await listDir(folder);
        const present = new Set(names);
        for (const name of names) {
          const file = path.join(folder, name);
          const mtime = await mtimeOf(file);
          if (mtime === null || mtime >= before) continue;
          if (isValidBlobKey(name)) {
            await fs.promises.rm(file, { force: true });
            await fs.promises.rm(file + TYPE_SUFFIX, { force: true });
            deleted++;
          } else if (name.includes(TEMP_MARKER)) {
            // left behind by a crash mid-write
            await fs.promises.rm(file, { force: true });
          } else if (name.endsWith(TYPE_SUFFIX) && !present.has(name.slice(0, -TYPE_SUFFIX.length))) {
            // a sidecar whose blob never landed
            await fs.promises.rm(file, { force: true });
          }
        }
      }
    }
    return deleted;
  }

  /** the file of `key`; throws on a key that is not a plain name */
  pathFor(key: string): string {
    if (typeof key !== 'string' || !isValidBlobKey(key)) throw new Error('invalid blob key');
    const digest = crypto.createHash('sha256').update(key).digest('hex');
    return path.join(this.dir, digest.slice(0, 2), digest.slice(2, 4), key);
  }
}

async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const temp = `${file}${TEMP_MARKER}${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    await fs.promises.writeFile(temp, bytes, { flag: 'wx' });
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
}

async function readContentType(sidecar: string): Promise<string> {
  try {
    const value = (await fs.promises.readFile(sidecar, 'utf8')).trim();
    return CONTENT_TYPE_PATTERN.test(value) ? value : DEFAULT_CONTENT_TYPE;
  } catch (err) {
    if (isNotFound(err)) return DEFAULT_CONTENT_TYPE;
    throw err;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

async function mtimeOf(file: string): Promise<number | null> {
  try {
    const stat = await fs.promises.stat(file);
    return stat.isFile() ? stat.mtimeMs : null;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
