/**
 * The one place errors become HTTP answers: OpenAI's envelope
 * {"error": {"message", "type", "param", "code"}} with the right status.
 */
import { GatewayError, internalError, isGatewayError } from '../errors.js';
import { databaseUnavailable } from '../store/errors.js';

interface StatusError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Any thrown value as a GatewayError; unknown failures become a 500 that leaks nothing. */
export function toGatewayError(e: unknown): GatewayError {
  if (isGatewayError(e)) return e;
  const store = databaseUnavailable(e);
  if (store) return store;
  const se = e as StatusError;
  // errors raised by the HTTP framework itself (bad JSON on admin routes, 413, 415, …)
  if (se && typeof se.statusCode === 'number' && se.statusCode >= 400 && se.statusCode < 500) {
    return new GatewayError({
      status: se.statusCode,
      code: se.statusCode === 413 ? 'request_too_large' : 'invalid_request',
      message: typeof se.message === 'string' ? se.message : 'Invalid request.',
    });
  }
  return internalError();
}

/**
 * HTTP header values must be visible ASCII: anything else (prompt words in a
 * warning, say) is percent-encoded so it can neither break nor inject headers.
 */
export function headerSafe(value: string, maxChars = 512): string {
  // whole code points (the u flag), lone surrogates made U+FFFD first: encodeURIComponent throws on halves
  const wellFormed = value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  const text = [...wellFormed].slice(0, maxChars).join('');
  return text.replace(/[^\x20-\x7e]|%/gu, (c) => encodeURIComponent(c));
}
