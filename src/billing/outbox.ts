/**
 * What must reach the database even when it is away at the moment a request
 * ends (OPERATOR.md): a settlement the engine already earned, the request's
 * log entry, and the answer an `Idempotency-Key` replays. Each is written to a file in the node's data dir
 * (written to a temporary name, synced, then renamed, so a file is there
 * whole or not at all) and written to the database once it answers again,
 * exactly once, also across a restart: a settlement carries the request id
 * the ledger keys it by, a log entry its own id and a kept answer its
 * idempotency record's, so writing one twice changes nothing. The client gets its images meanwhile.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { IdempotencyRecord, IdempotencyStore, Ledger, RequestLog, RequestLogEntry } from '../store/types.js';
import { databaseUnavailable } from '../store/errors.js';

export const OUTBOX_DIR = 'outbox';
/** how often a node tries to empty its outbox (a store that comes back is used again within 10 s) */
export const OUTBOX_FLUSH_MS = 5_000;

export interface Settlement {
  keyId: string;
  reservationId: string | null;
  requestId: string;
  amount: number;
}

type Item = { kind: 'settle'; settlement: Settlement } | { kind: 'log'; entry: RequestLogEntry } | { kind: 'answer'; record: IdempotencyRecord };

export interface OutboxStats {
  /** items waiting now */
  pending: number;
  /** settlements written through the outbox since start */
  settled: number;
  /** log entries written through the outbox since start */
  logged: number;
  /** answers kept for an Idempotency-Key written through the outbox since start */
  answers: number;
}

export class Outbox {
  private readonly dir: string;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly counts = { settled: 0, logged: 0, answers: 0 };

  constructor(
    dataDir: string,
    private readonly stores: { ledger: Ledger; requestLog: RequestLog; idempotency: IdempotencyStore },
    private readonly log: { warn(obj: object, msg: string): void },
  ) {
    this.dir = path.join(dataDir, OUTBOX_DIR);
  }

  private async put(name: string, item: Item): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, name);
    const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(item));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  }

  /** settlements sort before log entries of the same moment: the ledger first */
  settleLater(s: Settlement): Promise<void> {
    return this.put(`${Date.now()}-0-${s.requestId}.json`, { kind: 'settle', settlement: s });
  }

  logLater(entry: RequestLogEntry): Promise<void> {
    return this.put(`${Date.now()}-1-${entry.id}.json`, { kind: 'log', entry });
  }

  /** a served request's answer for its Idempotency-Key (the record's id is the API key's and a hash) */
  answerLater(record: IdempotencyRecord): Promise<void> {
    return this.put(`${Date.now()}-2-${record.id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`, { kind: 'answer', record });
  }

  async stats(): Promise<OutboxStats> {
    return { pending: (await this.files()).length, ...this.counts };
  }

  private async files(): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).filter((f) => f.endsWith('.json')).sort();
    } catch {
      return [];
    }
  }

  /** writes what waits, oldest first; stops at the first sign the database is still away */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      for (const name of await this.files()) {
        const file = path.join(this.dir, name);
        let item: Item;
        try {
          item = JSON.parse(await fs.readFile(file, 'utf8')) as Item;
        } catch {
          continue; // vanished meanwhile
        }
        try {
          if (item.kind === 'settle') {
            await this.stores.ledger.settle(item.settlement);
            this.counts.settled++;
          } else if (item.kind === 'log') {
            await this.stores.requestLog.insert(item.entry);
            this.counts.logged++;
          } else {
            await this.stores.idempotency.put(item.record);
            this.counts.answers++;
          }
        } catch (e) {
          if (databaseUnavailable(e)) return;
          // a bug, not an outage: keep the file for an operator, do not retry it forever
          this.log.warn({ err: e, file }, 'outbox item could not be written; kept as .failed');
          await fs.rename(file, `${file}.failed`).catch(() => {});
          continue;
        }
        await fs.unlink(file).catch(() => {});
      }
    })().finally(() => (this.flushing = null));
    return this.flushing;
  }

  start(intervalMs = OUTBOX_FLUSH_MS): void {
    if (this.timer) return;
    void this.flush().catch(() => {});
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushing?.catch(() => {});
  }
}
