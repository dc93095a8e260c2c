/**
 * Running a request on its deployments: each planned deployment in order,
 * its calls (n split) in parallel, each call through the provider's retry and
 * breaker policies with its own total timeout; the next deployment when one
 * gives up, unless the client has already received part of a stream. Every
 * call attempt is recorded for the request log.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import { asPrepared, imageWithMaskAlpha, whiteMeansEdit } from '../images/mask.js';
import { conformImage, UnreadableImageError } from '../images/convert.js';
import { isUpstreamError, malformed, UpstreamError, type FailureKind } from '../providers/errors.js';
import type { ProviderHttpClient } from '../providers/http.js';
import { createProviderIO } from '../providers/io.js';
import type { MaskForm, PreparedImage, ProviderCall, ProviderResult } from '../providers/types.js';
import type { Resilience } from '../routing/resilience.js';
import type { RequestAttempt } from '../store/types.js';
import type { EditRequest, OutputImage } from '../types.js';
import type { Plan } from './plan.js';

export type Attempt = RequestAttempt;

export interface ExecuteDeps {
  clock: Clock;
  resilience: Resilience;
  /** the HTTP client of a provider, by provider name */
  httpFor(provider: string): ProviderHttpClient;
  /** removes secrets from text that came from an upstream */
  scrub(text: string): string;
  /** an adapter failed in a way it did not classify: a bug worth a log line */
  onInternalError(e: unknown, deployment: string): void;
}

export interface ExecuteContext {
  /** aborted when the client leaves */
  signal: AbortSignal;
  attempts: Attempt[];
  /** streaming only: a partial image of output `imageIndex` */
  onPartial?: (plan: Plan, imageIndex: number, partialIndex: number, bytes: Buffer) => void;
  /** true once the client has received bytes of the answer: no fallback after that */
  committed(): boolean;
}

/** A call's answer with its images already as the client asked (format, size, background). */
export interface CallOutcome extends Omit<ProviderResult, 'images'> {
  images: OutputImage[];
}

export interface Executed {
  plan: Plan;
  /** one per call, in call order */
  results: CallOutcome[];
}

/** The answer's images as asked; an answer that is no image, or none at all, fails the attempt like a malformed body. */
async function conformAll(result: ProviderResult, plan: Plan, n: number): Promise<CallOutcome> {
  if (result.images.length === 0) throw malformed('the provider answered without an image');
  const images: OutputImage[] = [];
  for (const [k, bytes] of result.images.slice(0, n).entries()) {
    try {
      const { image, converted } = await conformImage(bytes, plan.want);
      // unchanged bytes keep the provider's base64 text, so the answer need not encode them again
      const base64 = converted ? undefined : result.base64?.[k];
      images.push(base64 === undefined ? image : { ...image, base64 });
    } catch (e) {
      if (e instanceof UnreadableImageError) throw malformed(`the provider's image is ${e.message}`, e);
      throw e;
    }
  }
  return { ...result, images };
}

/** The client left: nobody is waiting for an answer. */
export class ClientGone extends Error {}

async function prepareMask(form: MaskForm | null, req: EditRequest): Promise<{ mask: PreparedImage | null; maskedImage: PreparedImage | null }> {
  if (!req.mask || form === null) return { mask: null, maskedImage: null };
  if (form === 'alpha') return { mask: asPrepared(req.mask), maskedImage: null };
  if (form === 'white') return { mask: await whiteMeansEdit(req.mask), maskedImage: null };
  return { mask: null, maskedImage: await imageWithMaskAlpha(req.images[0], req.mask) };
}

/** One attempt's signal: the deployment's (siblings failed, client left) or its own total timeout. */
function attemptSignal(parent: AbortSignal, totalMs: number): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => ac.abort(new UpstreamError({ kind: 'timeout', reason: `no complete answer within ${totalMs} ms (total timeout)` })), totalMs);
  return {
    signal: ac.signal,
    done() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}

/** Runs one plan: all its calls, each retried by the provider's policies. */
async function runPlan(deps: ExecuteDeps, plan: Plan, ctx: ExecuteContext): Promise<CallOutcome[]> {
  const { deployment, request } = plan;
  const provider = deployment.provider;
  const prepared = await prepareMask(plan.caps.mask, request);
  const siblings = new AbortController();
  const onClient = () => siblings.abort(new ClientGone());
  ctx.signal.addEventListener('abort', onClient, { once: true });
  const http = deps.httpFor(provider.name);
  let offset = 0;
  const calls = plan.calls.map((n, index) => {
    const first = offset;
    offset += n;
    const call: ProviderCall = {
      request,
      model: deployment.model,
      n,
      index,
      mask: prepared.mask,
      maskedImage: prepared.maskedImage,
      outputFormat: plan.askFormat,
      seed: crypto.randomInt(0, 2 ** 31 - 1),
      onPartial:
        ctx.onPartial && request.stream && plan.caps.partialImages
          ? (p) => ctx.onPartial!(plan, first + p.imageIndex, p.partialIndex, p.bytes)
          : undefined,
    };
    return deps.resilience
      .run(
        provider.config,
        async () => {
          if (siblings.signal.aborted) throw siblings.signal.reason;
          const started = deps.clock.now();
          const a = attemptSignal(siblings.signal, provider.config.timeouts.totalMs);
          const io = createProviderIO(http, a.signal, deps.clock);
          try {
            const result = await conformAll(await provider.edit(call, io), plan, n);
            ctx.attempts.push({ deployment: deployment.name, status: 200, latencyMs: deps.clock.now() - started, reason: null });
            return result;
          } catch (raw) {
            const e = a.signal.aborted && !isUpstreamError(raw) ? a.signal.reason : raw;
            if (!(e instanceof ClientGone)) {
              ctx.attempts.push({
                deployment: deployment.name,
                status: isUpstreamError(e) ? e.status : null,
                latencyMs: deps.clock.now() - started,
                reason: isUpstreamError(e) ? deps.scrub(e.message) : 'internal error in the adapter',
              });
            }
            throw e;
          } finally {
            a.done();
          }
        },
        siblings.signal,
        ctx.committed,
      )
      .catch((e: unknown) => {
        // one call gave up: the others of this deployment stop too
        if (!siblings.signal.aborted) siblings.abort(e);
        throw e;
      });
  });
  try {
    return await Promise.all(calls);
  } catch {
    // the first failure is the reason (the siblings only stopped because of it)
    const reason: unknown = siblings.signal.reason;
    await Promise.allSettled(calls);
    throw reason;
  } finally {
    ctx.signal.removeEventListener('abort', onClient);
  }
}

interface Failure {
  deployment: string;
  kind: FailureKind | 'internal';
  reason: string;
  retryAfterMs: number | null;
  status: number | null;
}

/** 400 for what the provider refused in this request, with its words. */
function refusalOf(e: UpstreamError, deployment: string, scrub: (s: string) => string): GatewayError {
  if (e.kind === 'moderation') {
    return new GatewayError({
      status: 400,
      type: 'image_generation_user_error',
      code: 'moderation_blocked',
      message: `Your request was rejected by the safety system of deployment ${deployment}: ${scrub(e.message)}`,
    });
  }
  return new GatewayError({
    status: 400,
    code: e.code ?? 'upstream_rejected',
    param: e.param,
    message: `Deployment ${deployment} refused the request: ${scrub(e.message)}`,
  });
}

/** When every deployment failed: 504 if all timed out, 503 if none could serve now, else 502; the message lists each. */
export function exhausted(model: string, failures: Failure[]): GatewayError {
  const list = failures.map((f) => `${f.deployment}: ${f.reason}`).join('; ').replace(/\.$/, '');
  const all = (pred: (f: Failure) => boolean) => failures.length > 0 && failures.every(pred);
  const what = failures.length === 1 ? 'The deployment' : `All ${failures.length} deployments`;
  if (all((f) => f.kind === 'timeout')) {
    return new GatewayError({ status: 504, code: 'upstream_timeout', message: `${what} of model '${model}' timed out: ${list}.` });
  }
  if (all((f) => f.kind === 'unavailable' || f.status === 429 || f.status === 503)) {
    const hint = Math.max(1, ...failures.map((f) => Math.ceil((f.retryAfterMs ?? 0) / 1000)));
    return new GatewayError({
      status: 503,
      code: 'upstream_unavailable',
      message: `${what} of model '${model}' could not serve the request now: ${list}.`,
      headers: { 'retry-after': String(hint) },
    });
  }
  return new GatewayError({ status: 502, code: 'upstream_error', message: `${what} of model '${model}' failed: ${list}.` });
}

/** Tries the plans in order; the first that delivers wins. */
export async function executePlans(deps: ExecuteDeps, plans: Plan[], ctx: ExecuteContext): Promise<Executed> {
  const failures: Failure[] = [];
  for (const plan of plans) {
    const name = plan.deployment.name;
    const before = ctx.attempts.length;
    try {
      const results = await runPlan(deps, plan, ctx);
      return { plan, results };
    } catch (e) {
      if (ctx.signal.aborted || e instanceof ClientGone) throw new ClientGone();
      if (e instanceof GatewayError) throw e; // the adapter's own verdict on the request (e.g. an undecodable input)
      if (isUpstreamError(e) && (e.kind === 'moderation' || e.kind === 'rejected')) throw refusalOf(e, name, deps.scrub);
      const tries = ctx.attempts.length - before;
      const reason = isUpstreamError(e) ? deps.scrub(e.message) : 'internal error in the adapter';
      failures.push({
        deployment: name,
        kind: isUpstreamError(e) ? e.kind : 'internal',
        reason: tries > 1 ? `${reason} (${tries} attempts)` : reason,
        retryAfterMs: isUpstreamError(e) ? e.retryAfterMs : null,
        status: isUpstreamError(e) ? e.status : null,
      });
      if (!isUpstreamError(e)) deps.onInternalError(e, name);
      // part of the answer is with the client: another deployment cannot continue it
      if (ctx.committed()) break;
    }
  }
  throw exhausted(plans[0]?.request.model.id ?? 'unknown', failures);
}
