/**
 * How an upstream failed, in the terms the pipeline acts on (OPERATOR.md):
 * - 'retryable': 408, 409, 429, 5xx, connection errors, a body that is not
 *   the provider's format: retried on the same provider, then the next deployment;
 * - 'timeout': the same, and a 504 when every deployment ended that way;
 * - 'unavailable': the deployment cannot serve now (bad credentials, no credit,
 *   an unknown upstream model, an untrusted polling host, an open breaker):
 *   not retried, the next deployment is tried at once;
 * - 'rejected': the provider refused this request (other 4xx): not retried,
 *   not fallen back, answered 400 with the provider's reason;
 * - 'moderation': a safety refusal: answered 400 with the provider's reason,
 *   never retried.
 * Adapters throw these; messages are scrubbed of secrets by the pipeline.
 */
export type FailureKind = 'retryable' | 'timeout' | 'unavailable' | 'rejected' | 'moderation';

export interface UpstreamErrorInit {
  kind: FailureKind;
  /** the upstream HTTP status, when there was one */
  status?: number | null;
  /** what went wrong, short: "HTTP 503: engine overloaded", "connect timeout after 10000 ms" */
  reason: string;
  /** the provider's hint when to try again (Retry-After, retry-after-ms, Gemini's RetryInfo) */
  retryAfterMs?: number | null;
  /** OpenAI-shaped upstreams: their error code and param, passed on for 'rejected' answers */
  code?: string | null;
  param?: string | null;
  cause?: unknown;
}

export class UpstreamError extends Error {
  readonly kind: FailureKind;
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  readonly code: string | null;
  readonly param: string | null;

  constructor(init: UpstreamErrorInit) {
    super(init.reason, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'UpstreamError';
    this.kind = init.kind;
    this.status = init.status ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
  }
}

export const isUpstreamError = (e: unknown): e is UpstreamError => e instanceof UpstreamError;

/** The kind an HTTP status means, before any provider-specific reading of the body. */
export function kindOfStatus(status: number): FailureKind {
  if (status === 408 || status === 409 || status === 429 || status >= 500) return 'retryable';
  if (status === 401 || status === 402 || status === 403 || status === 404) return 'unavailable';
  return 'rejected';
}

/**
 * The retry delay a response asks for: `retry-after-ms` (OpenAI, Azure), then
 * `retry-after` in seconds or as an HTTP date. Null when absent or unreadable.
 */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | null {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = one(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = one(headers['retry-after']);
  if (ra === undefined) return null;
  const t = ra.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const date = Date.parse(t);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return null;
}

/** A short, printable excerpt of an upstream's words (they end up in messages and logs). */
export function excerpt(text: string, max = 300): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** An HTTP failure from a status, a provider's message and the response headers. */
export function httpFailure(
  status: number,
  message: string,
  headers: Record<string, string | string[] | undefined> = {},
  extra: Partial<UpstreamErrorInit> = {},
): UpstreamError {
  const kind = extra.kind ?? kindOfStatus(status);
  return new UpstreamError({
    status,
    reason: `HTTP ${status}${message ? `: ${excerpt(message)}` : ''}`,
    retryAfterMs: retryAfterMs(headers),
    ...extra,
    kind,
  });
}

/** A 200 whose body is not what the provider sends: retried, then fallen back. */
export function malformed(what: string, cause?: unknown): UpstreamError {
  return new UpstreamError({ kind: 'retryable', reason: `malformed response: ${what}`, cause });
}

export function moderated(reason: string, status: number | null = null): UpstreamError {
  return new UpstreamError({ kind: 'moderation', status, reason: excerpt(reason) });
}
