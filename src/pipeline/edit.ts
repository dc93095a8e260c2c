/**
 * The one place that sequences an edit, from the body to the answer:
 * read the body (intake) → validate (contract) → plan each deployment
 * (capabilities) → run them in order with retries and fallback → count usage →
 * host `url` results → build the answer → write the request log → deliver
 * through the sink, while the spool's files are removed. Credit reservation
 * and settlement join here when billing arrives. The HTTP layer only supplies
 * the body and a sink.
 */
import { countUsage, PARTIAL_IMAGE_TOKENS } from '../billing/tokens.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { resolveQuality } from '../contract/models.js';
import { buildImagesResponse, completedEvents, jsonBytes, partialImageEvent, type ImageDatum, type PartialImageEvent } from '../contract/response.js';
import { validateImageRequest } from '../contract/validate.js';
import { GatewayError, internalError, isGatewayError, modelNotFound } from '../errors.js';
import { conformImage } from '../images/convert.js';
import { databaseUnavailable } from '../store/errors.js';
import type { SpoolArea } from '../intake/spool.js';
import type { IntakeResult, Spool } from '../intake/types.js';
import type { Router } from '../routing/router.js';
import type { RequestLog, RequestLogEntry } from '../store/types.js';
import type { EditRequest, EditResult, Operation, OutputImage, Usage } from '../types.js';
import { ClientGone, executePlans, type ExecuteDeps, type Executed } from './execute.js';
import { planFor, type Plan } from './plan.js';
import type { AnswerMeta, EditAnswer, EditSink } from './sink.js';
import type { Account, Billing, Hold } from '../billing/accounts.js';
import type { Outbox } from '../billing/outbox.js';
import { admit, type Admitted, type AdmissionDeps } from './admission.js';
import { beginIdempotent, checkIdempotencyKey, fingerprint, worthKeeping, type Begun, type IdempotencyDeps } from './idempotency.js';
import { MAX_RETRY_AFTER_MS } from '../routing/resilience.js';

export interface HostedImageSaver {
  save(bytes: Buffer, format: OutputImage['format']): Promise<{ url: string; expiresAt: number }>;
}

export interface PipelineDeps {
  config: Config;
  clock: Clock;
  router: Router;
  hosted: HostedImageSaver;
  requestLog: RequestLog;
  billing: Billing;
  admission: AdmissionDeps;
  idempotency: IdempotencyDeps;
  /** settlements and log entries the database could not take when the request ended */
  outbox: Outbox;
  execute: ExecuteDeps;
  /** where uploads are spooled; its settled() covers the cleanups still running after an answer */
  spools: SpoolArea;
  log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface EditInput {
  /** the request id (x-request-id) */
  id: string;
  /** which route: edits, generations or variations */
  operation: Operation;
  /** who is calling: the master key or a virtual key */
  account: Account;
  /** aborted when the client leaves */
  signal: AbortSignal;
  /** what the client said it sends, until the body is read */
  declaredBytes: number;
  /** the Idempotency-Key header as sent */
  idempotencyKey: string | string[] | undefined;
  /** reads and spools the body (intake/) */
  readBody(spool: Spool): Promise<IntakeResult>;
}

const ROUTE_OF: Record<Operation, string> = {
  edit: '/v1/images/edits',
  generation: '/v1/images/generations',
  variation: '/v1/images/variations',
};

function newEntry(input: EditInput, createdAt: number): RequestLogEntry {
  return {
    id: input.id,
    createdAt,
    keyId: input.account.keyId,
    method: 'POST',
    path: ROUTE_OF[input.operation],
    model: null,
    deployment: null,
    status: 0,
    errorCode: null,
    latencyMs: 0,
    imageCount: 0,
    bytesIn: input.declaredBytes,
    bytesOut: 0,
    inputTokens: null,
    inputTextTokens: null,
    inputImageTokens: null,
    outputTokens: null,
    totalTokens: null,
    user: null,
    stream: false,
    attempts: [],
    costMicros: 0,
    warnings: [],
  };
}

/** A plan per deployment that can honour the request; when none can, the first one's refusal. */
export function planDeployments(router: Router, req: EditRequest, entry: RequestLogEntry): Plan[] {
  const deployments = router.route(req.model.id);
  if (deployments.length === 0) throw modelNotFound(req.model.id);
  const plans: Plan[] = [];
  let firstRefusal: GatewayError | null = null;
  for (const d of deployments) {
    const outcome = planFor(d, req, d.provider.capabilities(d.model, req));
    if (outcome.ok) {
      plans.push(outcome.plan);
    } else {
      firstRefusal ??= outcome.refusal;
      entry.attempts.push({ deployment: d.name, status: null, latencyMs: 0, reason: `skipped: ${outcome.refusal.message}` });
    }
  }
  if (plans.length === 0) throw firstRefusal!;
  return plans;
}

function sumUsage(all: Usage[]): Usage {
  const out: Usage = { input_tokens: 0, input_tokens_details: { text_tokens: 0, image_tokens: 0 }, output_tokens: 0, total_tokens: 0 };
  for (const u of all) {
    out.input_tokens += u.input_tokens;
    out.input_tokens_details.text_tokens += u.input_tokens_details.text_tokens;
    out.input_tokens_details.image_tokens += u.input_tokens_details.image_tokens;
    out.output_tokens += u.output_tokens;
    out.total_tokens += u.total_tokens;
  }
  return out;
}

/** The calls' answers as one result, with resolved values (never 'auto'). */
export function summarise(ex: Executed): EditResult {
  const req = ex.plan.request;
  const images = ex.results.flatMap((r) => r.images);
  const first = ex.results[0];
  const reported = ex.results.map((r) => r.usage);
  return {
    images,
    size: req.size !== 'auto' ? req.size : first.size ?? { width: images[0].width, height: images[0].height },
    quality: first.quality ?? resolveQuality(req),
    background: first.background ?? (req.background === 'auto' ? 'opaque' : req.background),
    outputFormat: req.outputFormat,
    usage: reported.every((u): u is Usage => u !== null) ? sumUsage(reported) : null,
    partialImagesSent: ex.results.reduce((n, r) => n + r.partialImagesSent, 0),
    warnings: [...new Set(ex.results.flatMap((r) => r.warnings))],
  };
}

/** What the deployment will say before its work is done: its preflight and what it dropped. */
function upfrontWarnings(plan: Plan): string[] {
  const w = plan.deployment.provider.preflight?.(plan.deployment.model, plan.request) ?? [];
  if (plan.dropped.length > 0) w.push(`${plan.deployment.name} does not support ${plan.dropped.map((p) => `'${p}'`).join(', ')}; dropped`);
  return w;
}


/**
 * How long a reservation may stay open before a sweeper releases it: the
 * longest the request could run (every deployment with all its retries and
 * the longest Retry-After waited between them) plus a minute. Only a node
 * that died mid-request leaves one that long.
 */
export function reservationTtl(plans: Plan[]): number {
  let ms = 60_000;
  for (const p of plans) {
    const c = p.deployment.provider.config;
    ms += (c.maxRetries + 1) * c.timeouts.totalMs + c.maxRetries * MAX_RETRY_AFTER_MS;
  }
  return ms;
}


function recordUsage(entry: RequestLogEntry, usage: Usage): void {
  entry.inputTokens = usage.input_tokens;
  entry.inputTextTokens = usage.input_tokens_details.text_tokens;
  entry.inputImageTokens = usage.input_tokens_details.image_tokens;
  entry.outputTokens = usage.output_tokens;
  entry.totalTokens = usage.total_tokens;
}

/** The `data` array: base64 inline, or links to the gateway's own stored copies (noted in the log entry, for the console). */
async function responseData(hosted: HostedImageSaver, req: EditRequest, result: EditResult, entry: RequestLogEntry): Promise<ImageDatum[]> {
  if (req.responseFormat === 'b64_json') return result.images.map((img) => ({ b64_json: img.base64 ?? img.bytes.toString('base64') }));
  const out: ImageDatum[] = [];
  entry.outputs = [];
  for (const img of result.images) {
    const saved = await hosted.save(img.bytes, img.format);
    entry.outputs.push({ url: saved.url, expiresAt: saved.expiresAt });
    out.push({ url: saved.url });
  }
  return out;
}

/**
 * The charge, written now, or kept in the outbox when the database went away
 * after the engine answered: the client still gets its images, and the
 * charge is written once the database answers again.
 */
async function settleOrKeep(deps: PipelineDeps, hold: Hold, requestId: string, cost: number): Promise<number> {
  try {
    return await deps.billing.settle(hold, requestId, cost);
  } catch (e) {
    if (hold.keyId === null || !databaseUnavailable(e)) throw e;
    await deps.outbox.settleLater({ keyId: hold.keyId, reservationId: hold.reservationId, requestId, amount: cost });
    return cost;
  }
}

async function settleFailure(deps: PipelineDeps, input: EditInput, hold: Hold, servedBy: Plan | null, partialsSent: number, routed: boolean): Promise<number> {
  if (servedBy && partialsSent > 0) {
    const output = PARTIAL_IMAGE_TOKENS * partialsSent;
    const usage: Usage = { input_tokens: 0, input_tokens_details: { text_tokens: 0, image_tokens: 0 }, output_tokens: output, total_tokens: output };
    const size = servedBy.request.size === 'auto' ? { width: 1024, height: 1024 } : servedBy.request.size;
    const d = { name: servedBy.deployment.name, local: servedBy.deployment.provider.type === 'local', routed };
    const cost = deps.billing.cost(input.account, servedBy.request.model.id, d, { usage, images: 0, size });
    return settleOrKeep(deps, hold, input.id, cost);
  }
  await deps.billing.release(hold, 'the request failed');
  return 0;
}

/** Logged as 499 (nginx's "client closed request"); nobody is left to answer. */
function clientGone(): GatewayError {
  return new GatewayError({ status: 499, code: 'client_closed_request', message: 'The client closed the connection before the answer.' });
}

export async function runEdit(
  deps: PipelineDeps,
  input: EditInput,
  sink: EditSink,
): Promise<void> {
  const started = deps.clock.now();
  const entry = newEntry(input, started);
  const created = () => Math.floor(deps.clock.now() / 1000);
  const spool: Spool = deps.spools.spool();
  // the answer is delivered only after the request is logged, so a client
  // never sees a response whose request could still be lost
  let deliver: () => void = () => {};
  // set as soon as a partial image is on its way to the client: no fallback after it
  let streaming = false;
  let partialsSent = 0;
  let partials: Promise<void> = Promise.resolve();
  let hold: Hold | null = null;
  let servedBy: Plan | null = null;
  let admitted: Admitted | null = null;
  let idem: Extract<Begun, { kind: 'run' }> | null = null;
  const sentPartials: PartialImageEvent[] = [];
  try {
    const idemKey = checkIdempotencyKey(input.idempotencyKey);
    // limits first: a refused request stores nothing and costs nothing
    admitted = await admit(deps.admission, input.account.keyId, deps.billing.limitsOf(input.account));
    const intake = await input.readBody(spool);
    entry.bytesIn = intake.bytesIn;
    if (idemKey !== null) {
      const begun = await beginIdempotent(deps.idempotency, input.account.keyId, idemKey, await fingerprint(intake), input.signal);
      if (begun.kind === 'replay') {
        // the first answer again, charged once: this one costs nothing
        const answer = begun.answer;
        entry.status = answer.status;
        if (answer.kind !== 'error') entry.deployment = answer.meta.deployment;
        else entry.errorCode = answer.body.error.code;
        deliver = () => sink.replay(answer);
        return;
      }
      idem = begun;
    }
    const req = await validateImageRequest(input.operation, intake, {
      requestId: input.id,
      defaultModel: deps.config.defaultModel,
      limits: deps.config.limits,
      isServed: (m) => deps.router.route(m).length > 0,
    });
    entry.model = req.model.id;
    entry.user = req.user;
    entry.stream = req.stream;
    entry.imageCount = req.images.length;

    deps.billing.checkModel(input.account, req.model.id);
    const plans = planDeployments(deps.router, req, entry);
    const priced = (plan: Plan) => ({ name: plan.deployment.name, local: plan.deployment.provider.type === 'local', routed: deps.config.models?.[req.model.id] !== undefined });
    hold = await deps.billing.reserve(input.account, input.id, deps.billing.maxCost(input.account, req, plans.map(priced)), reservationTtl(plans), deps.clock.now());
    const onPartial = (plan: Plan, imageIndex: number, partialIndex: number, bytes: Buffer) => {
      streaming = true;
      partials = partials.then(async () => {
        const { image } = await conformImage(bytes, { ...plan.want, size: null });
        const ev = partialImageEvent(req, { imageIndex, partialIndex, image }, created());
        entry.bytesOut += ev.b64_json.length;
        if (idem) sentPartials.push(ev);
        partialsSent++;
        servedBy = plan;
        sink.partial({ deployment: plan.deployment.name, warnings: upfrontWarnings(plan) }, ev);
      });
    };
    const executed = await executePlans(deps.execute, plans, {
      signal: input.signal,
      attempts: entry.attempts,
      onPartial: req.stream ? onPartial : undefined,
      committed: () => streaming || sink.committed,
    });
    await partials;
    entry.deployment = executed.plan.deployment.name;
    const result = summarise(executed);
    const usage =
      result.usage ??
      countUsage({
        model: req.model.id,
        prompt: req.prompt,
        images: executed.plan.request.images,
        inputFidelity: executed.plan.request.inputFidelity,
        quality: result.quality,
        size: result.size,
        outputCount: result.images.length,
        partialImagesSent: result.partialImagesSent,
      });
    // the engine's own warnings repeat its preflight's: each is said once
    const warnings = [...new Set([...upfrontWarnings(executed.plan), ...result.warnings])];
    entry.warnings = warnings;
    const cost = deps.billing.cost(input.account, req.model.id, priced(executed.plan), { usage, images: result.images.length, size: result.size });
    let answer: EditAnswer;
    if (req.stream) {
      const events = completedEvents(req, result, usage, created());
      for (const ev of events) entry.bytesOut += ev.b64_json.length;
      answer = { kind: 'events', events };
    } else {
      const data = await responseData(deps.hosted, req, result, entry);
      const payload = jsonBytes(buildImagesResponse(req, result, usage, data, created()));
      entry.bytesOut = payload.length;
      answer = { kind: 'json', payload };
    }
    // charged before the answer leaves: a delivered answer is never left unaccounted
    entry.costMicros = await settleOrKeep(deps, hold, input.id, cost);
    hold = null;
    entry.status = 200;
    recordUsage(entry, usage);
    const meta: AnswerMeta = { deployment: executed.plan.deployment.name, warnings, costMicros: entry.costMicros };
    if (idem) {
      await idem.finish(
        answer.kind === 'json'
          ? { kind: 'json', status: 200, meta, payload: answer.payload.toString('utf8') }
          : { kind: 'events', status: 200, meta, events: [...sentPartials, ...answer.events] },
      );
      idem = null;
    }
    deliver = () => sink.succeed(meta, answer);
  } catch (e) {
    await partials.catch(() => {});
    if (hold) {
      // a stream is charged for the partial images it delivered; anything else failed costs nothing
      entry.costMicros = await settleFailure(deps, input, hold, servedBy, partialsSent, deps.config.models !== null && deps.config.models[entry.model ?? ''] !== undefined).catch((err: unknown) => {
        deps.log.error({ err, requestId: input.id }, 'releasing a reservation failed');
        return 0;
      });
      hold = null;
    }
    // aborted by the node (a shutdown's grace ran out): the client is still there to be told
    const byNode: unknown = input.signal.aborted ? input.signal.reason : null;
    const gone = !isGatewayError(byNode) && (e instanceof ClientGone || (input.signal.aborted && !(isGatewayError(e) && e.status < 500)));
    const err = isGatewayError(byNode) ? byNode : gone ? clientGone() : isGatewayError(e) ? e : (databaseUnavailable(e) ?? internalError());
    entry.status = err.status;
    entry.errorCode = err.code;
    if (!gone && !isGatewayError(e) && err.status === 500) deps.log.error({ err: e, requestId: input.id }, 'edit failed');
    else if (err.status >= 500 && !gone) deps.log.warn({ requestId: input.id, code: err.code, message: err.message }, 'edit failed upstream');
    if (idem) {
      const keep = !gone && !streaming && worthKeeping(err.status);
      await idem.finish(keep ? { kind: 'error', status: err.status, headers: err.headers, body: err.toBody() } : null).catch((e2: unknown) => {
        deps.log.error({ err: e2, requestId: input.id }, 'storing an idempotent answer failed');
      });
      idem = null;
    }
    deliver = gone ? () => sink.gone() : () => sink.fail(err);
  } finally {
    entry.latencyMs = Math.max(0, deps.clock.now() - started);
    if (admitted) await admitted.release();
    // the spool's files go meanwhile, off the answer's path: nothing in them is
    // needed any more, and deps.spools.settled() waits for it where it matters
    void spool.cleanup();
    await deps.requestLog.insert(entry).catch(async (err: unknown) => {
      if (!databaseUnavailable(err)) {
        deps.log.error({ err, requestId: input.id }, 'request log insert failed');
        return;
      }
      await deps.outbox.logLater(entry).catch((e2: unknown) => deps.log.error({ err: e2, requestId: input.id }, 'request log entry lost: database and outbox both failed'));
    });
    deliver();
  }
}
