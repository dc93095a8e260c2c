import { uniqueHex } from '../ids.js';

/**
 * `req_` and 24 hex digits: the id of every answer (x-request-id) and of its
 * request-log entry. The first 11 digits are the time in milliseconds (good
 * until the year 2527), the other 13 random (52 bits, drawn anew for each
 * id): ids made later sort later, as UUIDv7 and ULID do, so the request
 * log's, the ledger's and the reservations' primary keys (which carry the
 * request id) grow at their right edge instead of touching a random page of
 * the index for every insert: fewer pages written per commit.
 */
export function newRequestId(): string {
  return `req_${Date.now().toString(16).padStart(11, '0')}${uniqueHex(7).slice(0, 13)}`;
}
