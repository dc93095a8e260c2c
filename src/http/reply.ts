import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayError } from '../errors.js';

export function sendError(reply: FastifyReply, err: GatewayError): void {
  reply.code(err.status).headers(err.headers).type('application/json').send(JSON.stringify(err.toBody()));
}

/**
 * An answer given before the body was read to its end (a limit, a bad key):
 * deliver it, then close the connection instead of reading what is left.
 * The rest is discarded as it arrives (never buffered) for a short while so
 * the client sees the answer rather than a reset.
 */
export function finishUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  const req = request.raw;
  if (req.complete) return;
  reply.header('connection', 'close');
  req.unpipe();
  req.on('data', () => {});
  req.resume();
  reply.raw.once('finish', () => {
    const timer = setTimeout(() => req.socket?.destroy(), 2000);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  });
}
