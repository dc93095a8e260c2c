/**
 * Per-request scratch directories for uploaded files.
 *
 * Every request gets its own directory (mode 0700) under one base directory,
 * conventionally `<dataDir>/tmp` (see spoolBaseDir). Removing that directory
 * removes everything the request wrote, whatever state it ended in.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Spool } from './types.js';

/** Spool directories are recognisable by this prefix, so the sweep never touches anything else. */
const PREFIX = 'spool-';

/** Where spools live for a data directory. */
export function spoolBaseDir(dataDir: string): string {
  return path.join(dataDir, 'tmp');
}

/** Create a fresh spool directory inside `baseDir` (created if missing). */
export async function createSpool(baseDir: string): Promise<Spool> {
  await fs.mkdir(baseDir, { recursive: true, mode: 0o700 });
  // mkdtemp creates the directory with mode 0700 and a random, unguessable suffix
  const dir = await fs.mkdtemp(path.join(baseDir, PREFIX));
  let counter = 0;
  let cleaning: Promise<void> | null = null;

  return {
    dir,
    newPath(suffix = ''): string {
      if (cleaning) throw new Error('spool already cleaned up');
      if (/[\\/]/.test(suffix) || suffix === '.' || suffix === '..') {
        throw new Error(`invalid spool file suffix: ${JSON.stringify(suffix)}`);
      }
      counter += 1;
      return path.join(dir, `f${String(counter).padStart(4, '0')}${suffix}`);
    },
    cleanup(): Promise<void> {
      cleaning ??= fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
      return cleaning;
    },
  };
}

/**
 * Remove spool directories older than `olderThanMs` (by modification time),
 * left behind by a crash. Returns how many were removed; never throws.
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
      if (!st.isDirectory() || now - st.mtimeMs < olderThanMs) continue;
      await fs.rm(full, { recursive: true, force: true });
      removed += 1;
    } catch {
      // vanished meanwhile or not removable: leave it for the next sweep
    }
  }
  return removed;
}
