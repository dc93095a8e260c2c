/**
 * SQLite's side of statements.ts: prepared statements kept by their SQL, and
 * a group commit.
 *
 * Every unit that arrives while the event loop goes round once joins one
 * transaction (BEGIN IMMEDIATE … COMMIT), and each resolves once the commit
 * is done. A commit (a WAL append) costs more than the statements of a
 * request, so sixteen requests in flight pay for a few commits instead of
 * forty-eight. Units are written to fail rarely (a refused hold is a
 * result, not an error): when one throws, or the transaction itself is
 * lost (the disk full), the whole batch is rolled back and each unit runs
 * again in a transaction of its own, so that a failure takes only its own
 * unit. When the database would not let the batch write at all (another
 * process held its lock past busy_timeout), every unit of the batch fails
 * at once with that error: trying each again would block the event loop
 * for busy_timeout once per unit.
 * Units are generators made anew by their `make` function, with no effect
 * but their statements, so running one again is safe.
 *
 * Kysely uses the same connection for everything else, and may hold a
 * transaction open across awaits: a batch waits for Kysely's connection
 * before it begins, so it never runs inside someone else's transaction.
 */
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { bind, driveSync, type Step, type StepResult, type Unit } from './statements.js';

export interface KeptStatements {
  prepare(sql: string): Database.Statement;
  /** runs one statement synchronously */
  exec(step: Step): StepResult;
}

/**
 * Prepared statements kept by their SQL (the `max` most recently used):
 * Kysely prepares every query anew, and SQLite compiling the request log's
 * INSERT again on every request cost more than running it. One connection
 * runs one statement at a time, so a kept statement is never in use twice;
 * SQLite re-prepares one by itself after a schema change.
 */
export function keptStatements(db: Database.Database, max = 200): KeptStatements {
  const kept = new Map<string, Database.Statement>();
  const prepare = (query: string): Database.Statement => {
    let stmt = kept.get(query);
    if (stmt) {
      // most recently used last, so the oldest goes first when full
      kept.delete(query);
    } else {
      stmt = db.prepare(query);
      if (kept.size >= max) kept.delete(kept.keys().next().value!);
    }
    kept.set(query, stmt);
    return stmt;
  };
  return {
    prepare,
    exec(step) {
      const stmt = prepare(step.statement.sql);
      const params = bind(step.statement, step.values);
      if (stmt.reader) {
        const rows = stmt.all(params) as Record<string, unknown>[];
        return { rows, changes: rows.length };
      }
      return { rows: [], changes: stmt.run(params).changes };
    },
  };
}

interface Pending {
  make: () => Unit<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  /** transactions committed, and the units they carried */
  readonly counts = { commits: 0, units: 0 };

  constructor(
    private readonly db: Database.Database,
    private readonly statements: KeptStatements,
    /** only its connection lock is used */
    private readonly kysely: Pick<Kysely<any>, 'connection'>,
  ) {}

  run<T>(make: () => Unit<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ make, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // after the I/O callbacks of this turn of the loop: the other requests' units join
        setImmediate(() => this.flush());
      }
    });
  }

  /** resolves once every unit queued so far has been committed or rejected */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) {
      await new Promise((r) => setImmediate(r));
      await this.flushing;
    }
    await this.flushing;
  }

  private flush(): void {
    this.scheduled = false;
    this.flushing = this.kysely
      .connection()
      .execute(async () => {
        const batch = this.queue;
        this.queue = [];
        try {
          this.commit(batch);
        } catch (err) {
          // never a unit left waiting (commit settles each one; this is for the unforeseen)
          for (const p of batch) p.reject(err);
        }
      })
      .catch((err: unknown) => {
        // Kysely could not lend its connection (destroyed): nothing ran
        const batch = this.queue;
        this.queue = [];
        for (const p of batch) p.reject(err);
      });
  }

  private step(sql: string): void {
    this.statements.prepare(sql).run();
  }

  private commit(batch: Pending[]): void {
    if (batch.length === 0) return;
    const together = this.attempt(batch);
    if (together.ok) {
      batch.forEach((p, i) => p.resolve(together.values[i]));
      return;
    }
    if (batch.length === 1 || together.atBegin || lockedOut(together.error)) {
      // the database would not let this batch write (another process holds its lock past
      // busy_timeout): running each unit again would wait that long once per unit
      for (const p of batch) p.reject(together.error);
      return;
    }
    // a unit failed (or the transaction was lost): nothing of the batch was kept; each
    // unit runs again on its own, so that a failure takes only itself
    for (const p of batch) {
      const alone = this.attempt([p]);
      if (alone.ok) p.resolve(alone.values[0]);
      else p.reject(alone.error);
    }
  }

  /** the units in one transaction: all committed, or none */
  private attempt(units: Pending[]): { ok: true; values: unknown[] } | { ok: false; error: unknown; atBegin: boolean } {
    try {
      this.step('BEGIN IMMEDIATE');
    } catch (error) {
      return { ok: false, error, atBegin: true };
    }
    try {
      const values = units.map((p) => driveSync(p.make(), (s) => this.statements.exec(s)));
      this.step('COMMIT');
      this.counts.commits++;
      this.counts.units += units.length;
      return { ok: true, values };
    } catch (error) {
      // some failures (SQLITE_FULL, IOERR, BUSY) have ended the transaction already
      if (this.db.inTransaction) {
        try {
          this.step('ROLLBACK');
        } catch {
          // the connection is unusable; the next BEGIN says so
        }
      }
      return { ok: false, error, atBegin: false };
    }
  }
}

/** SQLITE_BUSY or SQLITE_LOCKED (and their extended codes): another connection's lock, waited for already */
function lockedOut(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}
