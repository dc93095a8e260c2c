/**
 * The pipeline's sink over HTTP: a JSON answer, or server-sent events that
 * start with the first partial image (or with the result when there is
 * none). Before the first byte an error is an ordinary JSON error with its
 * status; after it, one error event ends the stream.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatUsd } from '../billing/money.js';
import type { GatewayError } from '../errors.js';
import type { AnswerMeta, EditAnswer, EditSink } from '../pipeline/sink.js';
import { headerSafe } from './envelope.js';
import { sendError } from './reply.js';
import { discardRemaining } from '../intake/index.js';
import type { StoredAnswer } from '../pipeline/idempotency.js';
import { SseWriter } from './sse.js';

export const COST_HEADER = 'x-imagegate-cost-usd';

export function answerHeaders(requestId: string, meta: AnswerMeta): Record<string, string> {
  const h: Record<string, string> = { 'x-request-id': requestId, 'x-imagegate-deployment': meta.deployment };
  if (meta.costMicros !== undefined) h[COST_HEADER] = formatUsd(meta.costMicros);
  if (meta.warnings.length > 0) h['x-imagegate-warning'] = headerSafe(meta.warnings.join('; '));
  return h;
}

export function createHttpEditSink(request: FastifyRequest, reply: FastifyReply): EditSink {
  let sse: SseWriter | null = null;
  let costInTrailer = false;
  const stream = (meta: AnswerMeta): SseWriter => {
    if (!sse) {
      reply.hijack();
      // the cost is known only at the end: a stream that starts earlier says it in a trailer
      const headers = answerHeaders(request.id, meta);
      if (meta.costMicros === undefined) {
        headers.trailer = COST_HEADER;
        costInTrailer = true;
      }
      sse = new SseWriter(reply.raw, headers);
    }
    return sse;
  };
  return {
    get committed() {
      return sse?.isStarted === true;
    },
    partial(meta, event) {
      stream(meta).event(event.type, event);
    },
    succeed(meta: AnswerMeta, answer: EditAnswer) {
      if (answer.kind === 'json') {
        void reply.headers(answerHeaders(request.id, meta)).type('application/json').send(answer.payload);
        return;
      }
      const writer = stream(meta);
      for (const ev of answer.events) writer.event(ev.type, ev);
      if (meta.costMicros !== undefined && costInTrailer) {
        reply.raw.addTrailers({ [COST_HEADER]: formatUsd(meta.costMicros) });
      }
      writer.end();
    },
    fail(err: GatewayError) {
      if (sse?.isStarted) {
        sse.error(err.toBody());
        sse.end();
        return;
      }
      if (!reply.sent && !reply.raw.headersSent && !reply.raw.destroyed) sendError(request, reply, err);
    },
    replay(answer: StoredAnswer) {
      const mark = { 'x-imagegate-idempotent-replay': 'true' };
      if (answer.kind === 'error') {
        discardRemaining(request.raw, reply.raw);
        void reply.code(answer.status).headers({ ...answer.headers, ...mark }).type('application/json').send(JSON.stringify(answer.body));
        return;
      }
      if (answer.kind === 'json') {
        void reply.headers({ ...answerHeaders(request.id, answer.meta), ...mark }).type('application/json').send(answer.payload);
        return;
      }
      reply.hijack();
      const writer = new SseWriter(reply.raw, { ...answerHeaders(request.id, answer.meta), ...mark });
      for (const ev of answer.events) writer.event(ev.type, ev);
      writer.end();
    },
    gone() {
      // nobody is left to answer; do not keep the half-open socket
      request.raw.socket?.destroy();
    },
  };
}
