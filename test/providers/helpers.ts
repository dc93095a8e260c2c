/**
 * What the adapter tests share: a gateway started on a config that points at
 * emulators, the official client on it, the request log's last entry, and
 * the pictures the tests send.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import OpenAI from 'openai';
import type { RequestLogEntry } from '../../src/store/types.js';
import { makeMask, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/server.js';
import type { EmulatorBase } from '../emulators/base.js';

export { startTestApp, type TestApp };

/** A gateway whose config is `config` (providers, models, …). */
export function gateway(config: Record<string, unknown>, options: Omit<TestAppOptions, 'config'> = {}): Promise<TestApp> {
  return startTestApp({ ...options, config });
}

export function client(t: TestApp, options: { maxRetries?: number; timeout?: number } = {}): OpenAI {
  return new OpenAI({ apiKey: t.masterKey, baseURL: `${t.url}/v1`, maxRetries: options.maxRetries ?? 0, timeout: options.timeout ?? 60_000 });
}

/** The request log's newest entry (the request just made). */
export async function lastEntry(t: TestApp): Promise<RequestLogEntry> {
  const [e] = await t.app.stores.requestLog.list({ limit: 1 });
  assert.ok(e, 'a request-log entry');
  return e;
}

/** The request log's entry of one answer, by its x-request-id. */
export async function entryOf(t: TestApp, requestId: string | null): Promise<RequestLogEntry> {
  assert.ok(requestId, 'the answer has an x-request-id');
  const e = await t.app.stores.requestLog.get(requestId);
  assert.ok(e, `a request-log entry for ${requestId}`);
  return e;
}

/** attempts as [deployment, status] pairs, the shape most assertions need */
export function attemptsOf(e: RequestLogEntry): Array<[string, number | null]> {
  return e.attempts.map((a) => [a.deployment, a.status]);
}

export interface Pictures {
  dir: string;
  /** 1536x1024 opaque PNG */
  land: string;
  /** 1024x1024 opaque PNG */
  square: string;
  /** 1024x1024 RGBA PNG */
  squareAlpha: string;
  /** 1024x1024 mask: transparent 512x512 square in the middle (the area to edit) */
  mask: string;
  /** 512x512 RGBA PNG, for DALL·E */
  small: string;
  /** 1024x1024 JPEG */
  jpeg: string;
  cleanup(): void;
}

export async function pictures(): Promise<Pictures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-pics-'));
  const write = async (name: string, bytes: Promise<Buffer>) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, await bytes);
    return p;
  };
  const square = await write('square.png', makePng(1024, 1024));
  return {
    dir,
    land: await write('land.png', makePng(1536, 1024)),
    square,
    squareAlpha: await write('square-alpha.png', makePng(1024, 1024, { alpha: true })),
    mask: await write('mask.png', makeMask(1024, 1024, { left: 256, top: 256, width: 512, height: 512 })),
    small: await write('small.png', makePng(512, 512, { alpha: true })),
    jpeg: await write('photo.jpg', sharp(fs.readFileSync(square)).jpeg({ quality: 90 }).toBuffer()),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The raw pixels of one channel (0-based) of an image, with its size. */
export async function channel(bytes: Buffer, index: 0 | 1 | 2 | 3): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(bytes).ensureAlpha().extractChannel(index).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Waits until `check` holds or `ms` pass; returns whether it held. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/**
 * A client sends `body` to the gateway's edits and leaves while `upstream`
 * holds the request (the test queued a hang there): the upstream connection
 * must be open while the upstream works, closed within 2 s of the client
 * leaving, and the request logged as 499. The log entry is written once the
 * pipeline has let go of the upstream, so it is waited for, not read at once.
 */
export async function assertDisconnectClosesUpstream(t: TestApp, upstream: EmulatorBase, body: FormData): Promise<void> {
  const ac = new AbortController();
  const before = upstream.requests.length;
  const pending = fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body, signal: ac.signal }).catch(() => null);
  assert.ok(await eventually(() => upstream.requests.length > before, 3000), 'the request reached the upstream');
  const conn = upstream.connections.find((c) => c.id === upstream.requests[before].connection)!;
  assert.equal(conn.closedAt, null, 'the upstream connection is open while the upstream works');
  ac.abort();
  await pending;
  const left = Date.now();
  assert.ok(await eventually(() => conn.closedAt !== null, 2000), 'the upstream connection closed');
  assert.ok(conn.closedAt! - left < 2000);
  let status = 0;
  for (let i = 0; i < 100 && status !== 499; i++) {
    status = (await t.app.stores.requestLog.list({ limit: 1 }))[0]?.status ?? 0;
    if (status !== 499) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 499, 'the request is logged as 499 (client closed request)');
}
