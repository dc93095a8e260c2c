/**
 * POST /v1/images/edits: authenticate, take the body apart (intake/),
 * validate (contract/), run (pipeline/), answer JSON or server-sent events,
 * and account for the request whatever happens.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors.js';
import { buildImagesResponse, completedEvents, partialImageEvent } from '../../contract/response.js';
import { validateEdit } from '../../contract/validate.js';
import { isDalle } from '../../contract/models.js';
import { createSpool, parseRequestBody } from '../../intake/index.js';
import type { IntakeResult, Spool } from '../../intake/types.js';
import { chooseDeployment, executeEdit, responseData, type EditOutcome } from '../../pipeline/edit.js';
import type { RequestLogEntry } from '../../store/types.js';
import { authenticate } from '../auth.js';
import { headerSafe, toGatewayError } from '../envelope.js';
import { SseWriter } from '../sse.js';
import type { HttpDeps } from '../deps.js';
import { sendError } from '../reply.js';

export function registerEditRoutes(app: FastifyInstance, deps: HttpDeps): void {
  // the edit route reads its own body, streaming: no framework parser may buffer it
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.post('/v1/images/edits', (request, reply) => handleEdit(deps, request, reply));
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
  const started = deps.clock.now();
  const entry: RequestLogEntry = {
    id: request.id,
    createdAt: started,
    keyId: null,
    method: 'POST',
    path: '/v1/images/edits',
    model: null,
    deployment: null,
    status: 0,
    errorCode: null,
    latencyMs: 0,
    imageCount: 0,
    bytesIn: 0,
    bytesOut: 0,
    inputTokens: null,
    inputTextTokens: null,
    inputImageTokens: null,
    outputTokens: null,
    totalTokens: null,
    user: null,
    stream: false,
  };
  // the client going away cancels the work
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.on('close', onClose);

  let spool: Spool | null = null;
  let sse: SseWriter | null = null;
  // the answer is delivered only after the spool is gone and the request is logged,
  // so a client never sees a response whose request could still be lost
  let deliver: (() => void) | null = null;
  try {
    const caller = await authenticate(request.headers.authorization, deps.masterKey, deps.stores.keys);
    entry.keyId = caller.keyId;

    spool = await createSpool(deps.spoolDir);
    entry.bytesIn = Number(request.headers['content-length']) || 0;
    const intake = await takeBody(deps, request, spool, abort.signal);
    entry.bytesIn = intake.bytesIn;

    const req = await validateEdit(intake, {
      requestId: request.id,
      defaultModel: deps.config.defaultModel,
      limits: deps.config.limits,
      isServed: (m) => deps.router.route(m).length > 0,
    });
    entry.model = req.model.id;
    entry.user = req.user;
    entry.stream = req.stream;
    entry.imageCount = req.images.length;

    const deployment = chooseDeployment(deps, req);
    entry.deployment = deployment.name;
    const headers: Record<string, string> = {
      'x-request-id': request.id,
      'x-imagegate-deployment': deployment.name,
    };
    const warn = (warnings: string[]) => {
      if (warnings.length > 0) headers['x-imagegate-warning'] = headerSafe(warnings.join('; '));
    };

    let outcome: EditOutcome;
    if (req.stream) {
      // headers go out with the first event, before the result: what the provider can tell up front
      warn(deployment.provider.preflight?.(req).warnings ?? []);
      reply.hijack();
      sse = new SseWriter(reply.raw, headers);
      const writer = sse;
      const created = () => Math.floor(deps.clock.now() / 1000);
      outcome = await executeEdit(deps, req, deployment, {
        signal: abort.signal,
        onPartial: (p) => {
          const ev = partialImageEvent(req, p, created());
          entry.bytesOut += ev.b64_json.length;
          writer.event(ev.type, ev);
        },
      });
      const events = completedEvents(outcome.result, outcome.usage, created());
      for (const ev of events) entry.bytesOut += ev.b64_json.length;
      deliver = () => {
        for (const ev of events) writer.event(ev.type, ev);
        writer.end();
      };
    } else {
      outcome = await executeEdit(deps, req, deployment, { signal: abort.signal });
      warn(outcome.result.warnings);
      const data = await responseData(deps, req, outcome.result);
      const body = buildImagesResponse(req, outcome.result, outcome.usage, data, Math.floor(deps.clock.now() / 1000));
      const payload = JSON.stringify(body);
      entry.bytesOut = Buffer.byteLength(payload);
      deliver = () => void reply.headers(headers).type('application/json').send(payload);
    }
    entry.status = 200;
    recordUsage(entry, outcome);
  } catch (e) {
    const err = abort.signal.aborted && !isClientError(e) ? clientGone() : toGatewayError(e);
    entry.status = err.status;
    entry.errorCode = err.code;
    if (err.status >= 500) request.log.error({ err: e, requestId: request.id }, 'edit failed');
    const writer = sse;
    const gone = err.status === 499;
    deliver = gone
      ? () => request.raw.socket?.destroy() // nobody is left to answer; do not keep the half-open socket
      : writer
      ? () => {
          // the stream is open: an error event, then the end
          writer.error(err.toBody());
          writer.end();
        }
      : () => {
          if (!reply.sent && !reply.raw.headersSent && !reply.raw.destroyed) sendError(request, reply, err);
        };
  } finally {
    reply.raw.off('close', onClose);
    entry.latencyMs = Math.max(0, deps.clock.now() - started);
    if (spool) await spool.cleanup();
    await deps.stores.requestLog.insert(entry).catch((err: unknown) => {
      request.log.error({ err, requestId: request.id }, 'request log insert failed');
    });
    deliver?.();
  }
}

function recordUsage(entry: RequestLogEntry, outcome: EditOutcome): void {
  entry.inputTokens = outcome.usage.input_tokens;
  entry.inputTextTokens = outcome.usage.input_tokens_details.text_tokens;
  entry.inputImageTokens = outcome.usage.input_tokens_details.image_tokens;
  entry.outputTokens = outcome.usage.output_tokens;
  entry.totalTokens = outcome.usage.total_tokens;
}

function isClientError(e: unknown): boolean {
  return e instanceof GatewayError && e.status < 500;
}

/** Logged as 499 (nginx's "client closed request"); nobody is left to answer. */
function clientGone(): GatewayError {
  return new GatewayError({ status: 499, code: 'client_closed_request', message: 'The client closed the connection before the answer.' });
}
