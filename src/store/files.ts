/** Small secret files in the data dir, created once and never overwritten. */
import crypto from 'node:crypto';
import fs from 'node:fs';

export function readIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Writes `content` to `file` with mode 0600 unless the file exists, and returns
 * what the file holds afterwards. Written to a temp file and hard-linked into
 * place, so a concurrent reader never sees a half-written file and two
 * processes racing agree on one winner.
 */
export function createFileOnce(file: string, content: Buffer): Buffer {
  const temp = `${file}.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.chmodSync(temp, 0o600);
    fs.linkSync(temp, file);
    return content;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
