/**
 * Scratch files for uploads, flat in one private directory.
 *
 * The base directory, conventionally `<dataDir>/tmp` (see spoolBaseDir), is
 * created once (mode 0700). A request's spool hands out unique file names in
 * it and, on cleanup, unlinks exactly the files it handed out. There is no
 * directory per request: creating and recursively removing one cost four
 * file-system calls on the libuv threadpool per request, on the latency path.
 * Names are unpredictable (a random token per spool) and files are opened
 * with O_EXCL (see openSpoolFile), so nothing else's file is ever followed or
 * overwritten. What a crash leaves behind, sweepStaleSpools removes by age.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Spool } from './types.js';

/** Spool files (and the per-request directories of earlier versions) start with this, so the sweep never touches anything else. */
const PREFIX = 'spool-';

/** Where spools live for a data directory. */
export function spoolBaseDir(dataDir: string): string {
  return path.join(dataDir, 'tmp');
}

const SUFFIX_OK = (suffix: string): boolean => !/[\\/]/.test(suffix) && suffix !== '.' && suffix !== '..';

/**
 * Spools over one base directory, which must exist (ensureSpoolDir). Making a
 * spool does no I/O. Cleanups in progress are tracked, so that whoever must
 * see an empty directory (tests, shutdown) can wait for them: `settled()`.
 */
export class SpoolArea {
  private readonly pending = new Set<Promise<void>>();

  constructor(readonly dir: string) {}

  /** A new spool: unique names under this area's directory. */
  spool(): Spool {
    // 12 random bytes name the spool; a counter names its files
    const token = crypto.randomBytes(12).toString('hex');
    const paths: string[] = [];
    let cleaning: Promise<void> | null = null;
    return {
      newPath: (suffix = ''): string => {
        if (cleaning) throw new Error('spool already cleaned up');
        if (!SUFFIX_OK(suffix)) throw new Error(`invalid spool file suffix: ${JSON.stringify(suffix)}`);
        const p = path.join(this.dir, `${PREFIX}${token}-${paths.length + 1}${suffix}`);
        paths.push(p);
        return p;
      },
      cleanup: (): Promise<void> => {
        cleaning ??= this.track(removeAll(paths));
        return cleaning;
      },
    };
  }

  /** Resolves once every cleanup started so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(p: Promise<void>): Promise<void> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }
}

/** Unlinks each path; one never written (an empty part, a failure before the open) is simply absent. Never throws. */
async function removeAll(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  await Promise.all(paths.map((p) => fs.unlink(p).catch(() => undefined)));
}

/** Creates the base directory (mode 0700) if missing. */
export async function ensureSpoolDir(baseDir: string): Promise<void> {
  await fs.mkdir(baseDir, { recursive: true, mode: 0o700 });
}

/** One spool in `baseDir` (created if missing): for callers outside the server (tests, benches). */
export async function createSpool(baseDir: string): Promise<Spool> {
  await ensureSpoolDir(baseDir);
  return new SpoolArea(baseDir).spool();
}

/**
 * Remove spool files (and spool directories left by earlier versions) older
 * than `olderThanMs` by modification time, left behind by a crash. Returns
 * how many entries were removed; never throws.
 */
export async function sweepStaleSpools(baseDir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let entries: string[];
  try {
    entries = await fs.readdir(baseDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of entries) {
    if (!name.startsWith(PREFIX)) continue;
    const full = path.join(baseDir, name);
    try {
      const st = await fs.lstat(full);
      if (now - st.mtimeMs < olderThanMs) continue;
      if (st.isDirectory()) await fs.rm(full, { recursive: true, force: true });
      else if (st.isFile()) await fs.unlink(full);
      else continue;
      removed += 1;
    } catch {
      // vanished meanwhile or not removable: leave it for the next sweep
    }
  }
  return removed;
}
