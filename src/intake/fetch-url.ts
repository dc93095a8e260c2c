/**
 * Fetching an `image_url` given in a JSON request: https only, to public
 * addresses only, size-capped while streaming to disk, time-limited, with
 * redirects followed by hand so every hop is checked again.
 *
 * The address check sits in the socket's DNS lookup, so it applies to the
 * very address connected to: a name that resolves to a public address for a
 * first check and to 127.0.0.1 for the connection cannot slip through.
 */
import dns from 'node:dns';
import fs from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import net from 'node:net';
import { badRequest, isGatewayError, type GatewayError } from '../errors.js';
import { isPublicAddress } from './address.js';
import { fileTooLarge, HeadCapture, openSpoolFile, storageError, whenClosed, type FileRole } from './shared.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to every address it has (the production resolver is dns.lookup). */
export type Resolver = (hostname: string, family: number) => Promise<ResolvedAddress[]>;

export interface FetchImageOptions {
  /** file to write; created, never overwritten */
  dest: string;
  maxBytes: number;
  /** for the whole fetch, redirects included */
  timeoutMs: number;
  maxRedirects: number;
  /** allow loopback, private and link-local addresses (tests, trusted networks) */
  allowPrivate: boolean;
  /** host names exempt from the address check, matched exactly (an operator's internal image host) */
  allowedHosts?: readonly string[];
  /** extra trusted CA certificate(s), PEM */
  ca?: string | Buffer | Array<string | Buffer>;
  signal?: AbortSignal;
  /** how errors name the URL, e.g. 'images[0].image_url' */
  param: string;
  /** what the file is, for the size error message */
  role?: FileRole;
  /** replaces DNS resolution; the same address check applies to its answers */
  resolve?: Resolver;
}

export interface FetchedImage {
  size: number;
  /** the Content-Type the server declared */
  contentType: string | null;
  /** the URL finally fetched, after redirects */
  finalUrl: string;
  /** the image's first bytes, for probing without reading the file back */
  head: Buffer;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function invalidImageUrl(param: string, message: string): GatewayError {
  return badRequest('invalid_image_url', param, message);
}

const refusedMessage = "The image URL's host resolves to a private, loopback or link-local address, which is not allowed.";

/** Raised from inside the lookup; turned into a 400 by fetchImageUrl. */
class RefusedAddressError extends Error {
  readonly code = 'EREFUSEDADDRESS';
}

const defaultResolver: Resolver = async (hostname, family) => {
  const all = await dns.promises.lookup(hostname, { all: true, family, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family }));
};

/** A `lookup` for net/tls sockets that refuses non-public answers. Exported for tests of the hook itself. */
export function guardedLookup(resolve: Resolver, allowPrivate: boolean): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const family = typeof options.family === 'number' ? options.family : 0;
    resolve(hostname, family).then(
      (addresses) => {
        if (addresses.length === 0) {
          const e = Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' });
          return callback(e);
        }
        // one bad answer spoils the name: never pick the "good" half of a mixed answer
        if (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address))) {
          return callback(new RefusedAddressError(refusedMessage));
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (e: unknown) => callback(e),
    );
  }) as net.LookupFunction;
}

function describeNetworkError(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return "the host name could not be resolved";
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the host is unreachable';
    default:
      if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/.test(code)) {
        return 'its TLS certificate is not valid';
      }
      return 'the connection failed';
  }
}

/** Fetch `url` into `opts.dest`. Rejects with a GatewayError (400/413) or the signal's reason. */
export async function fetchImageUrl(url: string, opts: FetchImageOptions): Promise<FetchedImage> {
  const { param } = opts;
  const lookup = guardedLookup(opts.resolve ?? defaultResolver, opts.allowPrivate);
  const deadline = Date.now() + opts.timeoutMs;
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw invalidImageUrl(param, `Invalid '${param}': not a valid URL.`);
  }

  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:') {
      throw invalidImageUrl(
        param,
        hop === 0
          ? `Invalid '${param}': only https:// URLs and data: URLs are supported.`
          : `Invalid '${param}': the image URL redirected to a URL that is not https://.`,
      );
    }
    const host = current.hostname.replace(/^\[|\]$/g, '');
    const exempt = opts.allowPrivate || (opts.allowedHosts ?? []).some((h) => h.toLowerCase() === host.toLowerCase());
    if (net.isIP(host) && !exempt && !isPublicAddress(host)) throw invalidImageUrl(param, refusedMessage);

    const res = await request(current, host, exempt ? guardedLookup(opts.resolve ?? defaultResolver, true) : lookup, deadline, opts);
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      const location = res.headers.location;
      res.destroy();
      if (!location) throw invalidImageUrl(param, `Invalid '${param}': the image URL answered with a redirect without a location.`);
      if (hop >= opts.maxRedirects) {
        throw invalidImageUrl(param, `Invalid '${param}': the image URL redirected more than ${opts.maxRedirects} times.`);
      }
      try {
        current = new URL(location, current);
      } catch {
        throw invalidImageUrl(param, `Invalid '${param}': the image URL redirected to an invalid URL.`);
      }
      continue;
    }
    if (status < 200 || status > 299) {
      res.destroy();
      throw invalidImageUrl(param, `Invalid '${param}': fetching the image URL failed with HTTP status ${status}.`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      res.destroy();
      throw fileTooLarge(param, opts.role ?? 'image', opts.maxBytes);
    }
    const head = new HeadCapture();
    const size = await saveBody(res, deadline, opts, head);
    return { size, contentType: res.headers['content-type'] ?? null, finalUrl: current.href, head: head.bytes };
  }
}

function timeoutError(opts: FetchImageOptions): GatewayError {
  return invalidImageUrl(opts.param, `Invalid '${opts.param}': fetching the image URL timed out after ${opts.timeoutMs} ms.`);
}

/** Sends the GET and resolves with the response head; maps every failure to a client-facing error. */
function request(
  url: URL,
  host: string,
  lookup: net.LookupFunction,
  deadline: number,
  opts: FetchImageOptions,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return reject(timeoutError(opts));
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    let done = false;
    const finish = (err: unknown, res?: http.IncomingMessage): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err !== null) {
        req.destroy();
        reject(err);
      } else resolve(res!);
    };
    const req = https.request({
      protocol: 'https:',
      hostname: host,
      port: url.port || 443,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { accept: 'image/*', 'user-agent': 'imagegate' },
      agent: false,
      lookup,
      ca: opts.ca,
      servername: net.isIP(host) ? undefined : host,
    });
    const timer = setTimeout(() => finish(timeoutError(opts)), remaining);
    const onAbort = (): void => finish(opts.signal?.reason ?? new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => {
      if (e instanceof RefusedAddressError) finish(invalidImageUrl(opts.param, refusedMessage));
      else finish(invalidImageUrl(opts.param, `Invalid '${opts.param}': the image URL could not be fetched: ${describeNetworkError(e)}.`));
    });
    req.on('response', (res) => finish(null, res));
    req.end();
  });
}

/** Streams the body to opts.dest under the size cap; the file is closed before this settles. */
function saveBody(res: http.IncomingMessage, deadline: number, opts: FetchImageOptions, head: HeadCapture): Promise<number> {
  return new Promise((resolve, reject) => {
    let ws: fs.WriteStream;
    try {
      ws = openSpoolFile(opts.dest);
    } catch (e) {
      res.destroy();
      return reject(storageError(e));
    }
    let size = 0;
    let done = false;
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err === null) {
        void whenClosed(ws).then(() => resolve(size));
        return;
      }
      res.destroy();
      ws.destroy();
      void whenClosed(ws).then(() => reject(err));
    };
    const timer = setTimeout(() => finish(timeoutError(opts)), Math.max(0, deadline - Date.now()));
    const onAbort = (): void => finish(opts.signal?.reason ?? new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    ws.on('error', (e) => finish(storageError(e)));
    ws.on('finish', () => finish(null));
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > opts.maxBytes) return finish(fileTooLarge(opts.param, opts.role ?? 'image', opts.maxBytes));
      head.add(chunk);
      if (!ws.write(chunk)) {
        res.pause();
        ws.once('drain', () => res.resume());
      }
    });
    res.on('end', () => {
      if (!done) ws.end();
    });
    res.on('aborted', () => finish(invalidImageUrl(opts.param, `Invalid '${opts.param}': the image URL's response broke off.`)));
    res.on('error', (e) => {
      if (!isGatewayError(e)) finish(invalidImageUrl(opts.param, `Invalid '${opts.param}': the image URL's response broke off.`));
    });
  });
}
