/**
 * The one error family of imagegate. Every failure a client can see is a
 * GatewayError; http/envelope.ts turns it into OpenAI's error envelope.
 * Modules below http/ throw these and never build response bodies themselves.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'insufficient_quota'
  | 'requests'
  | 'server_error'
  | 'api_error'
  | 'image_generation_user_error';

export interface ErrorInit {
  status: number;
  message: string;
  type?: ErrorType;
  code?: string | null;
  param?: string | null;
  /** extra response headers, e.g. Retry-After on 429 */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(init: ErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    this.status = init.status;
    this.type = init.type ?? (init.status >= 500 ? 'server_error' : 'invalid_request_error');
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.headers = init.headers ?? {};
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;

/** 400 with an explicit code. */
export const badRequest = (code: string, param: string | null, message: string): GatewayError =>
  new GatewayError({ status: 400, code, param, message });

export const invalidValue = (param: string, message: string): GatewayError =>
  badRequest('invalid_value', param, message);

export const invalidType = (param: string, message: string): GatewayError =>
  badRequest('invalid_type', param, message);

export const missingParameter = (param: string): GatewayError =>
  badRequest('missing_required_parameter', param, `Missing required parameter: '${param}'.`);

export const unknownParameter = (param: string): GatewayError =>
  badRequest('unknown_parameter', param, `Unknown parameter: '${param}'.`);

export const duplicateParameter = (param: string): GatewayError =>
  badRequest('duplicate_parameter', param, `Duplicate parameter: '${param}'. Send it once, or use '${param}[]' for a list.`);

export const unsupportedFileType = (param: string, detected: string, allowed: readonly string[]): GatewayError =>
  badRequest(
    'unsupported_file_mimetype',
    param,
    `Invalid file '${param}': unsupported file format (${detected}). Supported file formats are ${quoteList(allowed)}.`,
  );

export const invalidImageFile = (param: string, message: string): GatewayError =>
  badRequest('invalid_image_file', param, message);

export const arrayTooLong = (param: string, max: number, got: number): GatewayError =>
  badRequest(
    'array_above_max_length',
    param,
    `Invalid '${param}': array too long. Expected an array with maximum length ${max}, but got an array with length ${got} instead.`,
  );

export const payloadTooLarge = (param: string | null, message: string): GatewayError =>
  new GatewayError({ status: 413, code: param ? 'file_too_large' : 'request_too_large', param, message });

export const unauthorized = (message: string, code = 'invalid_api_key'): GatewayError =>
  new GatewayError({ status: 401, code, message });

export const forbidden = (code: string, message: string, param: string | null = null): GatewayError =>
  new GatewayError({ status: 403, code, param, message });

export const modelNotFound = (model: string): GatewayError =>
  new GatewayError({
    status: 404,
    code: 'model_not_found',
    param: 'model',
    message: `The model '${model}' does not exist or is not served by this gateway.`,
  });

export const notFound = (code: string, param: string | null, message: string): GatewayError =>
  new GatewayError({ status: 404, code, param, message });

/** OPERATOR.md's 503 for a node that cannot take the request now (overload, shutdown, a store away). */
export const serviceUnavailable = (message: string, retryAfterSeconds = 1): GatewayError =>
  new GatewayError({
    status: 503,
    type: 'server_error',
    code: 'service_unavailable',
    message,
    headers: { 'retry-after': String(retryAfterSeconds) },
  });

/** An unexpected failure: a 500 that leaks nothing; the request id finds it in the logs. */
export const internalError = (): GatewayError =>
  new GatewayError({
    status: 500,
    type: 'server_error',
    code: 'internal_error',
    message: 'The server had an error while processing your request. The request id in x-request-id identifies it in the logs.',
  });

/** 'a', 'b', and 'c' — the way OpenAI lists allowed values. */
export function quoteList(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  if (q.length <= 1) return q.join('');
  if (q.length === 2) return `${q[0]} and ${q[1]}`;
  return `${q.slice(0, -1).join(', ')}, and ${q[q.length - 1]}`;
}
