/**
 * Requests Node's HTTP parser refuses before any route sees them (a
 * malformed request line or header, a bad Content-Length, headers over the
 * size limit, a request that took too long) answered in OpenAI's envelope
 * with a clear code, like every other error, then the connection is closed.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { newRequestId } from './request-id.js';

interface ParserError extends Error {
  code?: string;
}

/** status, code and message for a parser error code (HPE_* from llhttp, or Node's own) */
export function describeClientError(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'request_header_fields_too_large',
        message: 'The request headers are larger than the server accepts (16 KB in all); send fewer or shorter headers.',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'The request took too long to arrive; it was not processed.' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return {
        status: 400,
        code: 'invalid_content_length',
        message: 'Invalid Content-Length header: it must be one non-negative integer, and not be sent with Transfer-Encoding: chunked.',
      };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 400, code: 'invalid_transfer_encoding', message: 'Invalid chunked transfer encoding in the request body.' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'invalid_http_request', message: 'Malformed HTTP request: unknown method.' };
    case 'HPE_INVALID_URL':
      return { status: 400, code: 'invalid_http_request', message: 'Malformed HTTP request: invalid request target (URL).' };
    case 'HPE_INVALID_VERSION':
      return { status: 400, code: 'invalid_http_request', message: 'Malformed HTTP request: unsupported HTTP version.' };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_EOF_STATE':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return { status: 400, code: 'invalid_http_request', message: 'Malformed HTTP request: an invalid header line.' };
    default:
      return { status: 400, code: 'invalid_http_request', message: 'Malformed HTTP request.' };
  }
}

export function clientErrorHandler(err: ParserError, socket: Socket): void {
  // a reset connection has nobody to answer
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // a response already under way on this connection cannot be followed by another one
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  const e = describeClientError(err.code);
  const body = JSON.stringify({ error: { message: e.message, type: 'invalid_request_error', param: null, code: e.code } });
  socket.end(
    `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${newRequestId()}\r\nConnection: close\r\n\r\n${body}`,
  );
}
