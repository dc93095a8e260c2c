/**
 * POST /v1/images/edits: hands the pipeline the body (read by intake/, as
 * it streams in) and a sink that answers JSON or server-sent events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDalle } from '../../contract/models.js';
import { parseRequestBody } from '../../intake/index.js';
import type { IntakeResult, Spool } from '../../intake/types.js';
import { runEdit } from '../../pipeline/edit.js';
import { callerOf } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { createHttpEditSink } from '../edit-sink.js';

export function registerEditRoutes(app: FastifyInstance, deps: HttpDeps): void {
  // the edit route reads its own body, streaming: no framework parser may buffer it
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.post('/v1/images/edits', { config: { auth: 'key' } }, (request, reply) => handleEdit(deps, request, reply));
  });
}

function takeBody(deps: HttpDeps, request: FastifyRequest, spool: Spool, signal: AbortSignal): Promise<IntakeResult> {
  const { limits } = deps.config;
  return parseRequestBody(request.raw, {
    spool,
    limits,
    signal,
    // the DALL·E cap applies once a `model` field naming one has arrived
    fileLimitFor: (role, fieldsSoFar) => {
      if (role === 'mask') return limits.maxMaskBytes;
      const model = fieldsSoFar.find(([name]) => name === 'model')?.[1];
      return typeof model === 'string' && isDalle(model) ? limits.maxDalleImageBytes : limits.maxImageBytes;
    },
    allowPrivateUrls: deps.config.allowPrivateImageUrls,
    ca: deps.imageUrlCa ?? undefined,
  });
}

async function handleEdit(deps: HttpDeps, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // the client going away cancels the work
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.on('close', onClose);
  deps.lifecycle.active.add(abort);
  try {
    await runEdit(
      deps.pipeline,
      {
        id: request.id,
        account: { keyId: callerOf(request).keyId, key: callerOf(request).key },
        signal: abort.signal,
        declaredBytes: Number(request.headers['content-length']) || 0,
        idempotencyKey: request.headers['idempotency-key'],
        readBody: (spool) => takeBody(deps, request, spool, abort.signal),
      },
      createHttpEditSink(request, reply),
    );
  } finally {
    reply.raw.off('close', onClose);
    deps.lifecycle.active.delete(abort);
  }
}
