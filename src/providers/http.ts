/**
 * The HTTP client adapters speak through: one connection pool per provider
 * (undici), the provider's connect and first-byte timeouts on every request,
 * response bodies read under a size cap, and URLs outside the provider's own
 * host and its `trustedHosts` refused before any connection is made.
 * Failures come out as UpstreamErrors the pipeline knows how to act on.
 */
import { isAscii } from 'node:buffer';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { ProviderConfig } from '../config/index.js';
import { UpstreamError } from './errors.js';
import type { MultipartBody } from './multipart.js';

/** Responses held in memory are capped (an image answer in base64 of n=10 4K images fits). */
export const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

export interface UpstreamRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** absolute, or a path appended to the provider's baseUrl ('/images/edits') */
  url: string;
  headers?: Record<string, string>;
  query?: Record<string, string | undefined>;
  /** a JSON value is sent as application/json */
  json?: unknown;
  body?: string | Buffer | MultipartBody;
  /** cap on the response body; over it the attempt fails */
  maxBytes?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** the URL that answered */
  url: string;
  text(): string;
  /** parsed JSON, or a 'retryable' malformed-response error */
  json<T = unknown>(): T;
}

export interface UpstreamStream {
  status: number;
  headers: Record<string, string>;
  /** the body as it arrives; a connection lost midway rejects with an UpstreamError */
  body: AsyncIterable<Buffer>;
}

export interface UpstreamHttp {
  readonly baseUrl: string;
  /** the request, its whole answer in memory */
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** the request, its answer as a stream (server-sent events) */
  open(req: UpstreamRequest): Promise<UpstreamStream>;
  /** GET a result URL without credentials, capped */
  download(url: string, maxBytes?: number): Promise<Buffer>;
  /** resolves `url` against baseUrl and checks its host is trusted (throws 'unavailable' otherwise) */
  resolve(url: string, query?: Record<string, string | undefined>): URL;
}

/**
 * `*.bfl.ai` matches `api.bfl.ai` and `a.b.bfl.ai`, not `bfl.ai`;
 * `bfldelivery*.blob.core.windows.net` matches a first label that starts
 * with `bfldelivery` (storage accounts a provider numbers by region) and the
 * rest exactly; a pattern with a port must match it.
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const p = pattern.toLowerCase();
  const [patHost, patPort] = p.startsWith('[') ? [p, undefined] : (p.split(':') as [string, string | undefined]);
  if (patPort !== undefined && url.port !== patPort) return false;
  const host = url.hostname.toLowerCase();
  if (patHost.startsWith('*.')) return host.endsWith(patHost.slice(1)) && host.length > patHost.length - 1;
  const star = patHost.indexOf('*');
  if (star > 0) {
    const dot = patHost.indexOf('.');
    const hostDot = host.indexOf('.');
    return star === dot - 1 && hostDot > 0 && host.slice(hostDot) === patHost.slice(dot) && host.slice(0, hostDot).startsWith(patHost.slice(0, star));
  }
  return host === patHost;
}

export function isTrustedUrl(url: URL, baseUrl: string, trustedHosts: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  const base = new URL(baseUrl);
  if (url.host === base.host && url.protocol === base.protocol) return true;
  return trustedHosts.some((p) => hostMatches(url, p));
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** undici's and the socket's failures as UpstreamErrors; an abort by the caller stays an abort. */
export function networkFailure(e: unknown, signal: AbortSignal, timeouts: ProviderConfig['timeouts']): unknown {
  if (e instanceof UpstreamError) return e;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    // the attempt's own deadline, not the client leaving
    if (reason instanceof UpstreamError) return reason;
    return reason ?? e;
  }
  const code = (e as { code?: string }).code ?? '';
  if (e instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new UpstreamError({ kind: 'timeout', reason: `connect timeout after ${timeouts.connectMs} ms`, cause: e });
  }
  if (e instanceof undiciErrors.HeadersTimeoutError || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new UpstreamError({ kind: 'timeout', reason: `no response within ${timeouts.firstByteMs} ms (first-byte timeout)`, cause: e });
  }
  if (e instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamError({ kind: 'timeout', reason: `the response stalled for ${timeouts.firstByteMs} ms`, cause: e });
  }
  const detail = code || (e as Error).message || 'connection failed';
  return new UpstreamError({ kind: 'retryable', reason: `connection error (${detail})`, cause: e });
}

async function readCapped(body: Readable, maxBytes: number, url: URL): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      body.destroy();
      throw new UpstreamError({ kind: 'unavailable', reason: `the response from ${url.host} is over ${maxBytes} bytes` });
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/**
 * A body as text. An image answer is megabytes of base64 in JSON, all ASCII:
 * read as latin1 that is a plain copy, where UTF-8 decoding costs
 * milliseconds. Anything else is UTF-8, as before.
 */
function decodeText(buf: Buffer): string {
  return isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
}

export interface ProviderHttpClient {
  /** the client for one attempt: every request is aborted with `signal` */
  forAttempt(signal: AbortSignal): UpstreamHttp;
  close(): Promise<void>;
}

export function createProviderHttp(config: Pick<ProviderConfig, 'baseUrl' | 'timeouts' | 'trustedHosts' | 'name'>): ProviderHttpClient {
  const { timeouts } = config;
  const agent = new Agent({
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.firstByteMs,
    bodyTimeout: timeouts.firstByteMs,
    keepAliveTimeout: 10_000,
  });

  const resolve = (url: string, query?: Record<string, string | undefined>): URL => {
    let u: URL;
    try {
      u = /^https?:\/\//i.test(url) ? new URL(url) : new URL(config.baseUrl + (url.startsWith('/') ? url : `/${url}`));
    } catch {
      throw new UpstreamError({ kind: 'unavailable', reason: `the provider gave an invalid URL` });
    }
    if (!isTrustedUrl(u, config.baseUrl, config.trustedHosts)) {
      // said without connecting: a polling or result URL elsewhere could be anyone's
      throw new UpstreamError({
        kind: 'unavailable',
        reason: `refused to follow a URL on ${u.host}, which is neither the provider's host nor in its trustedHosts`,
      });
    }
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
    return u;
  };

  const dispatch = async (req: UpstreamRequest, signal: AbortSignal): Promise<{ url: URL; data: Dispatcher.ResponseData }> => {
    const url = resolve(req.url, req.query);
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    let body: Dispatcher.DispatchOptions['body'];
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    } else if (req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) {
      headers['content-type'] = req.body.contentType;
      headers['content-length'] = String(req.body.length);
      // in memory: one buffer goes out in one write, several as an iterable, none of them copied
      // (undici documents Iterable bodies, docs/api/Dispatcher.md; its type declarations leave them out)
      const buffers = req.body.buffers();
      body = buffers === null ? req.body.stream() : buffers.length === 1 ? buffers[0] : (buffers as unknown as Buffer);
    } else {
      body = req.body;
    }
    try {
      const data = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        signal,
      });
      return { url, data };
    } catch (e) {
      throw networkFailure(e, signal, timeouts);
    }
  };

  const forAttempt = (signal: AbortSignal): UpstreamHttp => ({
    baseUrl: config.baseUrl,
    resolve,
    async send(req) {
      const { url, data } = await dispatch(req, signal);
      let buf: Buffer;
      try {
        buf = await readCapped(data.body, req.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES, url);
      } catch (e) {
        throw networkFailure(e, signal, timeouts);
      }
      const headers = flatHeaders(data.headers);
      return {
        status: data.statusCode,
        headers,
        body: buf,
        url: url.toString(),
        text: () => decodeText(buf),
        json<T>(): T {
          try {
            return JSON.parse(decodeText(buf)) as T;
          } catch (e) {
            throw new UpstreamError({
              kind: 'retryable',
              status: data.statusCode,
              reason: `malformed response: HTTP ${data.statusCode} with a body that is not JSON (${headers['content-type'] ?? 'no content-type'})`,
              cause: e,
            });
          }
        },
      };
    },
    async open(req) {
      const { data } = await dispatch(req, signal);
      async function* body(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of data.body as AsyncIterable<Buffer>) yield chunk;
        } catch (e) {
          throw networkFailure(e, signal, timeouts);
        } finally {
          // a reader that stops early (an error event) releases the connection
          if (!data.body.destroyed) data.body.destroy();
        }
      }
      return { status: data.statusCode, headers: flatHeaders(data.headers), body: body() };
    },
    async download(url, maxBytes = DEFAULT_MAX_RESPONSE_BYTES) {
      const res = await this.send({ url, maxBytes });
      if (res.status !== 200) {
        throw new UpstreamError({
          // an expired or missing result is the job's problem: the whole call is tried again
          kind: 'retryable',
          status: res.status,
          reason: `downloading the result from ${new URL(res.url).host} answered HTTP ${res.status}`,
        });
      }
      return res.body;
    },
  });

  return {
    forAttempt,
    close: () => agent.close(),
  };
}
