import { uniqueHex } from '../ids.js';

/** `req_` and 24 hex digits: the id of every answer (x-request-id) and of its request-log entry. */
export function newRequestId(): string {
  return `req_${uniqueHex(12)}`;
}
