/**
 * Retries and circuit breakers, on cockatiel. Each call to a provider runs
 * through `retry(breaker(call))`:
 * - retried: 'retryable' and 'timeout' failures, up to the provider's
 *   `maxRetries`, after the delay the provider asked for (Retry-After,
 *   retry-after-ms, Gemini's RetryInfo) or else exponential backoff with
 *   decorrelated jitter (0.5 s doubling to 8 s, as the official SDKs do);
 *   a provider asking for more than MAX_RETRY_AFTER_MS is not waited for:
 *   the next deployment is tried instead;
 * - the breaker of a provider opens after `breaker.failures` consecutive
 *   failures that say the provider is unwell (not a refusal of one request),
 *   and lets one probe through after `breaker.cooldownMs`. While that probe
 *   is in flight, other requests skip the provider instead of waiting for
 *   it (an image call can take minutes).
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  decorrelatedJitterGenerator,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
  type RetryPolicy,
} from 'cockatiel';
import type { ProviderConfig } from '../config/index.js';
import { UpstreamError, isUpstreamError } from '../providers/errors.js';

/** The longest Retry-After the gateway waits on the same provider. */
export const MAX_RETRY_AFTER_MS = 20_000;

export const isRetryable = (e: unknown): boolean =>
  isUpstreamError(e) && (e.kind === 'retryable' || e.kind === 'timeout') && (e.retryAfterMs ?? 0) <= MAX_RETRY_AFTER_MS;

/** Failures that say the provider is unwell; a refusal of one request or a moderation verdict does not. */
export const countsAgainstProvider = (e: unknown): boolean =>
  isUpstreamError(e) && (e.kind === 'retryable' || e.kind === 'timeout' || e.kind === 'unavailable');

type Ctx = IRetryBackoffContext<unknown>;

/** The provider's own hint when it gave one, else exponential backoff with jitter. */
class HintedBackoff implements IBackoffFactory<Ctx> {
  constructor(private readonly fallback: IBackoffFactory<unknown>) {}

  next(context: Ctx): IBackoff<Ctx> {
    return this.step(this.fallback.next(context), context);
  }

  private step(base: IBackoff<unknown>, context: Ctx): IBackoff<Ctx> {
    const err = 'error' in context.result ? context.result.error : null;
    const hinted = isUpstreamError(err) ? err.retryAfterMs : null;
    return {
      duration: hinted ?? base.duration,
      next: (ctx: Ctx) => this.step(base.next(ctx), ctx),
    };
  }
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ProviderPolicies {
  retry: RetryPolicy;
  breaker: CircuitBreakerPolicy;
}

export interface Resilience {
  /** the policies of one provider (one breaker per provider, shared by its deployments) */
  for(provider: Pick<ProviderConfig, 'name' | 'maxRetries' | 'breaker'>): ProviderPolicies;
  /**
   * Runs one call: skipped at once while the breaker is open or probing, else
   * retried as configured — unless `final()` says a failure must not be
   * retried any more (part of a stream already reached the client).
   */
  run<T>(
    provider: Pick<ProviderConfig, 'name' | 'maxRetries' | 'breaker'>,
    fn: (attempt: number) => Promise<T>,
    signal: AbortSignal,
    final?: () => boolean,
  ): Promise<T>;
  states(): Record<string, BreakerState>;
}

export function breakerSkip(provider: string, state: BreakerState): UpstreamError {
  return new UpstreamError({
    kind: 'unavailable',
    reason:
      state === 'open'
        ? `skipped: the circuit breaker of provider '${provider}' is open after repeated failures`
        : `skipped: the circuit breaker of provider '${provider}' is letting one probe request through`,
  });
}

/** A failure the retry policy must pass on as it is. */
class NoRetry extends Error {
  constructor(readonly error: unknown) {
    super('not retried');
  }
}

function stateOf(b: CircuitBreakerPolicy): BreakerState {
  if (b.state === CircuitState.Open || b.state === CircuitState.Isolated) return 'open';
  if (b.state === CircuitState.HalfOpen) return 'half-open';
  return 'closed';
}

/**
 * How nodes tell each other that a provider's circuit opened (Redis pub/sub
 * when they share one): each node's own breaker still decides, but a node
 * that hears of an open circuit skips the provider until that cooldown ends
 * instead of spending its own failures to find out.
 */
export interface BreakerBus {
  announceOpen(provider: string, until: number): Promise<void>;
  subscribe(listener: (event: { provider: string; until: number }) => void): () => void;
}

export function createResilience(bus?: BreakerBus, now: () => number = Date.now): Resilience {
  const policies = new Map<string, ProviderPolicies>();
  // providers other nodes found broken, until when
  const isolated = new Map<string, { until: number; release: () => void }>();
  // heard of before this node ever called the provider
  const heard = new Map<string, number>();
  const isolate = (name: string, until: number) => {
    const policy = policies.get(name);
    if (!policy) {
      heard.set(name, Math.max(until, heard.get(name) ?? 0));
      return;
    }
    if (until <= now() || (isolated.get(name)?.until ?? 0) >= until) return;
    isolated.get(name)?.release();
    const handle = policy.breaker.isolate();
    const timer = setTimeout(() => {
      isolated.delete(name);
      handle.dispose();
    }, until - now());
    timer.unref();
    isolated.set(name, { until, release: () => (clearTimeout(timer), handle.dispose()) });
  };
  bus?.subscribe((e) => isolate(e.provider, e.until));
  const get = (p: Pick<ProviderConfig, 'name' | 'maxRetries' | 'breaker'>): ProviderPolicies => {
    let found = policies.get(p.name);
    if (!found) {
      found = {
        retry: retry(handleWhen(isRetryable), {
          maxAttempts: p.maxRetries,
          backoff: new HintedBackoff(new ExponentialBackoff({ initialDelay: 500, maxDelay: 8000, generator: decorrelatedJitterGenerator })),
        }),
        breaker: circuitBreaker(handleWhen(countsAgainstProvider), {
          halfOpenAfter: p.breaker.cooldownMs,
          breaker: new ConsecutiveBreaker(p.breaker.failures),
        }),
      };
      policies.set(p.name, found);
      const breaker = found.breaker;
      breaker.onBreak((reason) => {
        // our own failures opened it: tell the others (an isolation we were told of is theirs to announce)
        if ('isolated' in reason) return;
        void bus?.announceOpen(p.name, now() + p.breaker.cooldownMs).catch(() => {});
      });
      const pending = heard.get(p.name);
      heard.delete(p.name);
      if (pending !== undefined) isolate(p.name, pending);
    }
    return found;
  };
  return {
    for: get,
    async run(provider, fn, signal, final) {
      const { retry: r, breaker } = get(provider);
      try {
        return await r.execute(async ({ attempt }) => {
          if (breaker.state === CircuitState.HalfOpen) throw breakerSkip(provider.name, 'half-open');
          try {
            return await breaker.execute(() => fn(attempt), signal);
          } catch (e) {
            // open here, or isolated because another node found the provider broken
          if (e instanceof BrokenCircuitError) throw breakerSkip(provider.name, 'open');
            // counted by the breaker, but past retrying
            if (final?.()) throw new NoRetry(e);
            throw e;
          }
        }, signal);
      } catch (e) {
        throw e instanceof NoRetry ? e.error : e;
      }
    },
    states() {
      const out: Record<string, BreakerState> = {};
      for (const [name, p] of policies) out[name] = stateOf(p.breaker);
      return out;
    },
  };
}
