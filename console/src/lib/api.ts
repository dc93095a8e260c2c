/**
 * Calls to the gateway's own routes (same origin) with the signed-in key as
 * a Bearer token. The key lives in this module and in sessionStorage only
 * (session.ts): never in a URL, a cookie or localStorage.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

let bearer: string | null = null;
let onUnauthorized: () => void = () => {};

export function setBearer(key: string | null): void {
  bearer = key;
}

/** what to do when the gateway says the key is no longer valid (revoked, expired) */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export function authHeaders(key = bearer): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** The gateway's error envelope as an ApiError. */
export async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string | null; param?: string | null } };
    if (body.error?.message) return new ApiError(res.status, body.error.message, body.error.code ?? null, body.error.param ?? null);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `HTTP ${res.status}`);
}

export interface CallOptions {
  method?: string;
  json?: unknown;
  signal?: AbortSignal;
  /** a key other than the session's (sign-in checks a key before keeping it) */
  key?: string;
}

export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = authHeaders(options.key ?? bearer);
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    signal: options.signal,
    // nothing about the key may be cached by the browser
    cache: 'no-store',
  });
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && options.key === undefined) onUnauthorized();
    throw err;
  }
  return (await res.json()) as T;
}

/** `?a=1&b=2` from the values that are set */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
