import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayError } from '../errors.js';
import { discardRemaining } from '../intake/index.js';

/** An error answer; a body not read to its end is discarded and the connection closed after it. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: GatewayError): void {
  discardRemaining(request.raw, reply.raw);
  reply.code(err.status).headers(err.headers).type('application/json').send(JSON.stringify(err.toBody()));
}
