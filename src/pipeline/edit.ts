/**
 * The one place that sequences an edit, from the body to the answer:
 * read the body (intake) → validate (contract) → plan each deployment
 * (capabilities) → run them in order with retries and fallback → count usage →
 * host `url` results → build the answer → write the request log → deliver
 * through the sink, while the spool's files are removed. Credit reservation
 * and settlement join here when billing arrives. The HTTP layer only supplies
 * the body and a sink.
 */
import { countUsage } from '../billing/tokens.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { resolveQuality } from '../contract/models.js';
import { buildImagesResponse, completedEvents, jsonBytes, partialImageEvent, type ImageDatum } from '../contract/response.js';
import { validateEdit } from '../contract/validate.js';
import { GatewayError, internalError, isGatewayError, modelNotFound } from '../errors.js';
import { conformImage } from '../images/convert.js';
import type { SpoolArea } from '../intake/spool.js';
import type { IntakeResult, Spool } from '../intake/types.js';
import type { Router } from '../routing/router.js';
import type { RequestLog, RequestLogEntry } from '../store/types.js';
import type { EditRequest, EditResult, OutputImage, Usage } from '../types.js';
import { ClientGone, executePlans, type ExecuteDeps, type Executed } from './execute.js';
import { planFor, type Plan } from './plan.js';
import type { AnswerMeta, EditAnswer, EditSink } from './sink.js';

export interface HostedImageSaver {
  save(bytes: Buffer, format: OutputImage['format']): Promise<{ url: string; expiresAt: number }>;
}

export interface PipelineDeps {
  config: Config;
  clock: Clock;
  router: Router;
  hosted: HostedImageSaver;
  requestLog: RequestLog;
  execute: ExecuteDeps;
  /** where uploads are spooled; its settled() covers the cleanups still running after an answer */
  spools: SpoolArea;
  log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface EditInput {
  /** the request id (x-request-id) */
  id: string;
  /** who is calling: 'master' or a key id */
  keyId: string;
  /** aborted when the client leaves */
  signal: AbortSignal;
  /** what the client said it sends, until the body is read */
  declaredBytes: number;
  /** reads and spools the body (intake/) */
  readBody(spool: Spool): Promise<IntakeResult>;
}

function newEntry(input: EditInput, createdAt: number): RequestLogEntry {
  return {
    id: input.id,
    createdAt,
    keyId: input.keyId,
    method: 'POST',
    path: '/v1/images/edits',
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


function recordUsage(entry: RequestLogEntry, usage: Usage): void {
  entry.inputTokens = usage.input_tokens;
  entry.inputTextTokens = usage.input_tokens_details.text_tokens;
  entry.inputImageTokens = usage.input_tokens_details.image_tokens;
  entry.outputTokens = usage.output_tokens;
  entry.totalTokens = usage.total_tokens;
}

/** The `data` array: base64 inline, or links to the gateway's own stored copies. */
async function responseData(hosted: HostedImageSaver, req: EditRequest, result: EditResult): Promise<ImageDatum[]> {
  if (req.responseFormat === 'b64_json') return result.images.map((img) => ({ b64_json: img.base64 ?? img.bytes.toString('base64') }));
  const out: ImageDatum[] = [];
  for (const img of result.images) out.push({ url: (await hosted.save(img.bytes, img.format)).url });
  return out;
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
  let partials: Promise<void> = Promise.resolve();
  try {
    const intake = await input.readBody(spool);
    entry.bytesIn = intake.bytesIn;
    const req = await validateEdit(intake, {
      requestId: input.id,
      defaultModel: deps.config.defaultModel,
      limits: deps.config.limits,
      isServed: (m) => deps.router.route(m).length > 0,
    });
    entry.model = req.model.id;
    entry.user = req.user;
    entry.stream = req.stream;
    entry.imageCount = req.images.length;

    const plans = planDeployments(deps.router, req, entry);
    const onPartial = (plan: Plan, imageIndex: number, partialIndex: number, bytes: Buffer) => {
      streaming = true;
      partials = partials.then(async () => {
        const { image } = await conformImage(bytes, { ...plan.want, size: null });
        const ev = partialImageEvent(req, { imageIndex, partialIndex, image }, created());
        entry.bytesOut += ev.b64_json.length;
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
    const meta: AnswerMeta = { deployment: executed.plan.deployment.name, warnings };
    let answer: EditAnswer;
    if (req.stream) {
      const events = completedEvents(result, usage, created());
      for (const ev of events) entry.bytesOut += ev.b64_json.length;
      answer = { kind: 'events', events };
    } else {
      const data = await responseData(deps.hosted, req, result);
      const payload = jsonBytes(buildImagesResponse(req, result, usage, data, created()));
      entry.bytesOut = payload.length;
      answer = { kind: 'json', payload };
    }
    entry.status = 200;
    recordUsage(entry, usage);
    deliver = () => sink.succeed(meta, answer);
  } catch (e) {
    await partials.catch(() => {});
    const gone = e instanceof ClientGone || (input.signal.aborted && !(isGatewayError(e) && e.status < 500));
    const err = gone ? clientGone() : isGatewayError(e) ? e : internalError();
    entry.status = err.status;
    entry.errorCode = err.code;
    if (!gone && !isGatewayError(e)) deps.log.error({ err: e, requestId: input.id }, 'edit failed');
    else if (err.status >= 500 && !gone) deps.log.warn({ requestId: input.id, code: err.code, message: err.message }, 'edit failed upstream');
    deliver = gone ? () => sink.gone() : () => sink.fail(err);
  } finally {
    entry.latencyMs = Math.max(0, deps.clock.now() - started);
    // the spool's files go meanwhile, off the answer's path: nothing in them is
    // needed any more, and deps.spools.settled() waits for it where it matters
    void spool.cleanup();
    await deps.requestLog.insert(entry).catch((err: unknown) => {
      deps.log.error({ err, requestId: input.id }, 'request log insert failed');
    });
    deliver();
  }
}
