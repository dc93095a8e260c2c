import crypto from 'node:crypto';

/** `req_` and 24 hex digits: the id of every answer (x-request-id) and of its request-log entry. */
export function newRequestId(): string {
  return `req_${crypto.randomBytes(12).toString('hex')}`;
}
