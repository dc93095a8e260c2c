/**
 * `Idempotency-Key` (OPERATOR.md): within 24 hours the same key of the same
 * API key gets the first answer again, byte for byte, on any node, and is
 * charged once; a resend while the first still runs waits for it; the same
 * key with a different request is a 409. One node runs the request (it holds
 * a lock on Redis, or in process on a single node); the answer is kept in the
 * shared database. Answers worth keeping: successes and the client's own
 * mistakes (4xx), not a server's or an upstream's trouble, nor a 429 — the
 * client should be able to try those again.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { CompletedEvent, PartialImageEvent } from '../contract/response.js';
import { GatewayError, invalidValue } from '../errors.js';
import type { IntakeResult } from '../intake/types.js';
import type { Locks } from '../store/limits/types.js';
import { databaseUnavailable } from '../store/errors.js';
import type { IdempotencyRecord, IdempotencyStore } from '../store/types.js';
import type { AnswerMeta } from './sink.js';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
/** how long a resend waits for the first request before giving up (longer than any edit runs) */
export const WAIT_FOR_FIRST_MS = 20 * 60_000;
/** the runner's lock: expires if its node dies, so a resend can run the request itself */
const LOCK_TTL_MS = 5 * 60_000;
/** how often a resend that waits for the runner looks for its answer even while the lock stands */
const RECHECK_MS = 5_000;

/** What is replayed: exactly what the first request answered. */
export type StoredAnswer =
  | { kind: 'json'; status: number; meta: AnswerMeta; payload: string }
  | { kind: 'events'; status: number; meta: AnswerMeta; events: Array<PartialImageEvent | CompletedEvent> }
  | { kind: 'error'; status: number; headers: Record<string, string>; body: ReturnType<GatewayError['toBody']> };

export interface IdempotencyDeps {
  store: IdempotencyStore;
  locks: Locks;
  clock: Clock;
  /** keeps a served request's answer until the database answers again (the outbox) */
  keepLater?: (record: IdempotencyRecord) => Promise<void>;
}

export type Begun =
  | { kind: 'replay'; answer: StoredAnswer }
  | { kind: 'run'; finish(answer: StoredAnswer | null): Promise<void> };

export function checkIdempotencyKey(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return null;
  if (v.length > 255) throw invalidValue('Idempotency-Key', 'Invalid Idempotency-Key: at most 255 characters.');
  return v;
}

/** The request as parsed, not as sent: a resend with another multipart boundary is the same request. */
export async function fingerprint(intake: IntakeResult): Promise<string> {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify(intake.fields));
  for (const f of intake.files) {
    h.update(`\0${f.field}\0`);
    const file = crypto.createHash('sha256');
    // the pieces held in memory as they are, without joining them
    if (f.data) for (const piece of f.data.pieces) file.update(piece);
    else file.update(await fs.readFile(f.path));
    h.update(file.digest());
  }
  return h.digest('hex');
}

export function worthKeeping(status: number): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500 && ![408, 409, 429, 499].includes(status));
}

function reused(): GatewayError {
  return new GatewayError({
    status: 409,
    code: 'idempotency_key_reused',
    param: 'Idempotency-Key',
    message: 'This Idempotency-Key was already used with a different request. Use a new key for a new request.',
  });
}

export async function beginIdempotent(deps: IdempotencyDeps, keyId: string, idemKey: string, print: string, signal: AbortSignal): Promise<Begun> {
  const id = `${keyId}:${crypto.createHash('sha256').update(idemKey).digest('hex')}`;
  const lockName = `idem:${id}`;
  const until = deps.clock.now() + WAIT_FOR_FIRST_MS;
  for (;;) {
    const known = await deps.store.get(id);
    const live = known && known.expiresAt > deps.clock.now() ? known : null;
    if (live && live.fingerprint !== print) throw reused();
    if (live?.state === 'done' && live.answer) return { kind: 'replay', answer: JSON.parse(live.answer) as StoredAnswer };
    const token = await deps.locks.acquire(lockName, LOCK_TTL_MS);
    if (token) {
      // the first runner may have finished between the look and the lock
      const again = await deps.store.get(id);
      if (again && again.expiresAt > deps.clock.now()) {
        if (again.fingerprint !== print) {
          await deps.locks.release(lockName, token);
          throw reused();
        }
        if (again.state === 'done' && again.answer) {
          await deps.locks.release(lockName, token);
          return { kind: 'replay', answer: JSON.parse(again.answer) as StoredAnswer };
        }
      }
      const now = deps.clock.now();
      await deps.store.put({ id, keyId, fingerprint: print, state: 'running', answer: null, createdAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS });
      // an edit can outlast the lock: keep it while this node works
      const renew = setInterval(() => void deps.locks.extend(lockName, token, LOCK_TTL_MS).catch(() => {}), LOCK_TTL_MS / 3);
      renew.unref();
      return {
        kind: 'run',
        async finish(answer) {
          clearInterval(renew);
          let keepLock = false;
          try {
            if (answer) {
              const at = deps.clock.now();
              const record: IdempotencyRecord = { id, keyId, fingerprint: print, state: 'done', answer: JSON.stringify(answer), createdAt: at, expiresAt: at + IDEMPOTENCY_TTL_MS };
              try {
                await deps.store.put(record);
              } catch (e) {
                // the database went away after the request was served (its charge waits in the
                // outbox): the answer waits there too, and the lock is left to expire, so that a
                // resend meanwhile waits for the answer rather than running (and paying) again
                if (!deps.keepLater || !databaseUnavailable(e)) throw e;
                await deps.keepLater(record);
                keepLock = true;
              }
            } else {
              // nothing worth replaying: the next resend runs the request again
              await deps.store.delete(id);
            }
          } finally {
            if (!keepLock) await deps.locks.release(lockName, token).catch(() => {});
          }
        },
      };
    }
    // someone runs it now: wait for them, then look again; at least every few seconds, for an
    // answer kept while the database was away is written by the outbox while the lock still stands
    const left = until - deps.clock.now();
    if (left > 0) {
      await deps.locks.waitUntilFree(lockName, Math.min(left, RECHECK_MS), signal);
      continue;
    }
    throw new GatewayError({
      status: 409,
      code: 'idempotency_key_in_use',
      param: 'Idempotency-Key',
      message: 'A request with this Idempotency-Key is still running; try again later.',
      headers: { 'retry-after': '5' },
    });
  }
}
