/**
 * Scratch room for uploads: memory for small files, flat files in one
 * private directory for the rest.
 *
 * A file of at most `MemoryRoom.fileLimit` bytes stays in memory while all
 * such files of all requests together stay within `MemoryRoom.budget`: then
 * nothing is written, read back or removed, and a small edit never waits for
 * the libuv threadpool (four threads shared with sharp). Past either limit,
 * intake writes the file to disk as before. Both limits bound the memory
 * held, so a flood of uploads still costs a fixed amount of RAM.
 *
 * On disk, the base directory, conventionally `<dataDir>/tmp` (see
 * spoolBaseDir), is created once (mode 0700). A request's spool hands out
 * unique file names in it and, on cleanup, unlinks exactly the files it
 * handed out. There is no directory per request: creating and recursively
 * removing one cost four file-system calls per request. Names are
 * unpredictable (a random token per spool) and files are opened with O_EXCL
 * (see openSpoolFile), so nothing else's file is ever followed or
 * overwritten. What a crash leaves behind, sweepStaleSpools removes by age.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Spool } from './types.js';
import { uniqueHex } from '../ids.js';

/** Spool files (and the per-request directories of earlier versions) start with this, so the sweep never touches anything else. */
const PREFIX = 'spool-';

/** Where spools live for a data directory. */
export function spoolBaseDir(dataDir: string): string {
  return path.join(dataDir, 'tmp');
}

const SUFFIX_OK = (suffix: string): boolean => !/[\\/]/.test(suffix) && suffix !== '.' && suffix !== '..';

/** How much of the uploads may stay in memory. */
export interface MemoryRoom {
  /** a file larger than this goes to disk (0: every file does) */
  fileLimit: number;
  /** all files held in memory by all requests together */
  budget: number;
}

/** A 4 MiB photo stays in memory; 64 MiB in all, whatever the number of requests. */
export const DEFAULT_MEMORY_ROOM: MemoryRoom = { fileLimit: 4 * 1024 * 1024, budget: 64 * 1024 * 1024 };
const NO_MEMORY: MemoryRoom = { fileLimit: 0, budget: 0 };

/** A cleanup with no file to remove: settled at once, nothing to track. */
const NOTHING: Promise<void> = Promise.resolve();

/**
 * Spools over one base directory, which must exist (ensureSpoolDir), and one
 * memory budget. Making a spool does no I/O. Cleanups in progress are
 * tracked, so that whoever must see an empty directory (tests, shutdown) can
 * wait for them: `settled()`.
 */
export class SpoolArea {
  private readonly pending = new Set<Promise<void>>();
  private held = 0;

  constructor(
    readonly dir: string,
    private readonly memory: MemoryRoom = NO_MEMORY,
  ) {}

  /** bytes of uploads held in memory now, all requests together */
  get heldBytes(): number {
    return this.held;
  }

  /** A new spool: unique names under this area's directory, and a share of its memory. */
  spool(): Spool {
    // 12 random bytes name the spool; a counter names its files
    const token = uniqueHex(12);
    const paths: string[] = [];
    let reserved = 0;
    let cleaning: Promise<void> | null = null;
    return {
      memoryFileLimit: this.memory.fileLimit,
      newPath: (suffix = ''): string => {
        if (cleaning) throw new Error('spool already cleaned up');
        if (!SUFFIX_OK(suffix)) throw new Error(`invalid spool file suffix: ${JSON.stringify(suffix)}`);
        const p = path.join(this.dir, `${PREFIX}${token}-${paths.length + 1}${suffix}`);
        paths.push(p);
        return p;
      },
      reserve: (bytes: number): boolean => {
        if (cleaning || this.held + bytes > this.memory.budget) return false;
        this.held += bytes;
        reserved += bytes;
        return true;
      },
      release: (bytes: number): void => {
        const n = Math.min(bytes, reserved);
        reserved -= n;
        this.held -= n;
      },
      cleanup: (): Promise<void> => {
        if (!cleaning) {
          this.held -= reserved;
          reserved = 0;
          cleaning = this.track(removeAll(paths));
        }
        return cleaning;
      },
    };
  }

  /** Resolves once every cleanup started so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(p: Promise<void>): Promise<void> {
    // nothing went to disk: nothing to wait for
    if (p === NOTHING) return p;
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }
}

/** Unlinks each path; one never written (an empty part, a failure before the open) is simply absent. Never throws. */
function removeAll(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return NOTHING;
  return Promise.all(paths.map((p) => fs.unlink(p).catch(() => undefined))).then(() => undefined);
}

/** Creates the base directory (mode 0700) if missing. */
export async function ensureSpoolDir(baseDir: string): Promise<void> {
  await fs.mkdir(baseDir, { recursive: true, mode: 0o700 });
}

/** One spool in `baseDir` (created if missing), every file on disk unless `memory` says otherwise: for tests and benches. */
export async function createSpool(baseDir: string, memory: MemoryRoom = NO_MEMORY): Promise<Spool> {
  await ensureSpoolDir(baseDir);
  return new SpoolArea(baseDir, memory).spool();
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
