/**
 * POST /v1/images/edits, /generations and /variations: hands the pipeline
 * the body (read by intake/, as it streams in) and a sink that answers JSON
 * or server-sent events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDalle } from '../../contract/models.js';
import { parseRequestBody } from '../../intake/index.js';
import type { IntakeResult, Spool } from '../../intake/types.js';
import { runEdit } from '../../pipeline/edit.js';
import type { Operation } from '../../types.js';
import { callerOf } from '../auth.js';
import type { HttpDeps } from '../deps.js';
import { createHttpEditSink } from '../edit-sink.js';

export function registerEditRoutes(app: FastifyInstance, deps: HttpDeps): void {
  // the edit route reads its own body, streaming: no framework parser may buffer it
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const route = (path: string, operation: Operation) =>
      scope.post(path, { config: { auth: 'key' } }, (request, reply) => handleImages(deps, operation, request, reply));
    route('/v1/images/edits', 'edit');
    route('/v1/images/generations', 'generation');
    route('/v1/images/variations', 'variation');
  });
}

function takeBody(deps: HttpDeps, operation: Operation, request: FastifyRequest, spool: Spool, signal: AbortSignal): Promise<IntakeResult> {
  const { limits } = deps.config;
  return parseRequestBody(request.raw, {
    spool,
    limits,
    signal,
    // the DALL·E cap applies once a `model` field naming one has arrived
    fileLimitFor: (role, fieldsSoFar) => {
      if (role === 'mask') return limits.maxMaskBytes;
      // variations are DALL·E 2's whatever the model is called
      const model = fieldsSoFar.find(([name]) => name === 'model')?.[1];
      return operation === 'variation' || (typeof model === 'string' && isDalle(model)) ? limits.maxDalleImageBytes : limits.maxImageBytes;
    },
    allowPrivateUrls: deps.config.allowPrivateImageUrls,
    ca: deps.imageUrlCa ?? undefined,
  });
}

async function handleImages(deps: HttpDeps, operation: Operation, request: FastifyRequest, reply: FastifyReply): Promise<void> {
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
        operation,
        account: { keyId: callerOf(request).keyId, key: callerOf(request).key },
        signal: abort.signal,
        declaredBytes: Number(request.headers['content-length']) || 0,
        idempotencyKey: request.headers['idempotency-key'],
        readBody: (spool) => takeBody(deps, operation, request, spool, abort.signal),
      },
      createHttpEditSink(request, reply),
    );
  } finally {
    reply.raw.off('close', onClose);
    deps.lifecycle.active.delete(abort);
  }
}
