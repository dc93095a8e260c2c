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
import { systemClock } from '../../src/clock.js';
import { createProviderHttp } from '../../src/providers/http.js';
import { createProvider } from '../../src/providers/index.js';
import { createProviderIO } from '../../src/providers/io.js';
import type { PingResult, Provider, ProviderCall } from '../../src/providers/types.js';
import type { RequestLogEntry } from '../../src/store/types.js';
import type { EditRequest } from '../../src/types.js';
import type { EmulatorBase, Recorded } from '../emulators/base.js';
import { makeMask, makePng } from '../helpers/images.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../helpers/server.js';

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

/** An edit posted as a plain form (not through the SDK): the raw status, body and headers, and how long it took. */
export async function postEdit(
  t: TestApp,
  fields: { model: string; image: string | Buffer; prompt?: string },
  signal?: AbortSignal,
): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const fd = new FormData();
  fd.append('model', fields.model);
  fd.append('prompt', fields.prompt ?? 'make it warmer');
  const bytes = typeof fields.image === 'string' ? fs.readFileSync(fields.image) : fields.image;
  fd.append('image', new Blob([bytes], { type: 'image/png' }), typeof fields.image === 'string' ? path.basename(fields.image) : 'a.png');
  const started = Date.now();
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${t.masterKey}` }, body: fd, signal });
  return { status: res.status, body: await res.json(), headers: res.headers, ms: Date.now() - started };
}

/** The error answer to a JSON body posted to /v1/images/<path> with the master key: its status and OpenAI's error object. */
export async function postJsonError(
  t: TestApp,
  path: 'generations' | 'edits' | 'variations',
  body: unknown,
): Promise<{ status: number; error: { code: string; param: string | null; message: string; type: string } }> {
  const res = await fetch(`${t.url}/v1/images/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, error: ((await res.json()) as { error: { code: string; param: string | null; message: string; type: string } }).error };
}

/** No secret in any of the texts (answers, request-log entries, log lines). */
export function assertNoSecrets(texts: string[], secrets: string[]): void {
  for (const text of texts) {
    for (const s of secrets) assert.ok(!text.includes(s), `a secret leaked: ${text.slice(0, 200)}`);
  }
}

/**
 * A client leaves while the upstream holds the request `watched` picks: the
 * gateway must close that upstream connection within 2 s (and, given the
 * gateway, log the request as 499, nginx's "client closed request").
 */
export async function assertClosesWhenClientLeaves(
  emu: EmulatorBase,
  send: (signal: AbortSignal) => Promise<unknown>,
  watched: (r: Recorded) => boolean,
  t?: TestApp,
): Promise<void> {
  const ac = new AbortController();
  const pending = send(ac.signal).catch(() => null);
  assert.ok(await eventually(() => emu.requests.some(watched), 3000), 'the request reached the upstream');
  const upstream = emu.connections.find((c) => c.id === emu.requests.find(watched)!.connection)!;
  assert.equal(upstream.closedAt, null, 'the upstream connection is open while the upstream works');
  ac.abort();
  await pending;
  const left = Date.now();
  assert.ok(await eventually(() => upstream.closedAt !== null, 2000), 'the upstream connection closed');
  assert.ok(upstream.closedAt! - left < 2000);
  if (t) {
    let status = 0;
    const poll = () => void t.app.stores.requestLog.list({ limit: 1 }).then(([e]) => (status = e?.status ?? 0));
    assert.ok(await eventually(() => (poll(), status === 499), 2000), 'the request is logged as 499');
  }
}

/** The usual case: `emu` hangs the next request of an edit of `model`. */
export async function assertUpstreamClosesOnDisconnect(t: TestApp, emu: EmulatorBase, model: string, image: string): Promise<void> {
  emu.fault({ kind: 'hang' });
  const before = emu.requests.length;
  await assertClosesWhenClientLeaves(emu, (signal) => postEdit(t, { model, prompt: 'x', image }, signal), (r) => emu.requests.indexOf(r) >= before, t);
}

/** A provider's ping with the HTTP client the gateway would give it. */
export async function pingProvider(provider: Provider): Promise<PingResult> {
  const http = createProviderHttp(provider.config);
  const io = createProviderIO(http, new AbortController().signal, systemClock);
  try {
    return await provider.ping!(io);
  } finally {
    await http.close();
  }
}

/** `imagegate config check --ping` for one configured provider of a running gateway. */
export function pingOf(t: TestApp, provider: string): Promise<PingResult> {
  const p = createProvider(t.config.providers[provider], t.app.engine);
  assert.ok(p.ping, `provider ${provider} can be pinged`);
  return pingProvider(p);
}

/** One provider call as the pipeline hands it to an adapter, for translation tables. */
export function fakeCall(request: Partial<EditRequest> = {}, call: Partial<ProviderCall> = {}): ProviderCall {
  const req: EditRequest = {
    id: 'req_1',
    model: { requested: 'm', id: 'm', family: 'gpt-image' },
    prompt: 'a cat',
    images: [{ param: 'image', path: '/x.png', bytes: 10, format: 'png', width: 640, height: 480, hasAlpha: false, filename: 'x.png' }],
    mask: null,
    n: 1,
    size: 'auto',
    quality: 'auto',
    background: 'auto',
    outputFormat: 'png',
    outputCompression: null,
    inputFidelity: null,
    moderation: 'auto',
    responseFormat: 'b64_json',
    stream: false,
    partialImages: 0,
    user: null,
    operation: 'edit',
    style: null,
    ...request,
  };
  return { request: req, model: 'default', n: 1, index: 0, mask: null, maskedImage: null, outputFormat: 'png', seed: 77, ...call };
}
