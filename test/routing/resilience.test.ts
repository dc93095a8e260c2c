/**
 * Breakers across nodes: a node whose breaker opens announces it; another
 * node that hears it skips the provider until that cooldown ends, without
 * spending failures of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamError } from '../../src/providers/errors.js';
import { createResilience, type BreakerBus } from '../../src/routing/resilience.js';

/** an in-memory bus between "nodes" (what Redis pub/sub does between processes) */
function bus(): { node(): BreakerBus } {
  const listeners = new Set<{ from: object; fn: (e: { provider: string; until: number }) => void }>();
  return {
    node() {
      const self = {};
      return {
        async announceOpen(provider, until) {
          for (const l of listeners) if (l.from !== self) l.fn({ provider, until });
        },
        subscribe(fn) {
          const l = { from: self, fn };
          listeners.add(l);
          return () => listeners.delete(l);
        },
      };
    },
  };
}

const provider = { name: 'up', maxRetries: 0, breaker: { failures: 2, cooldownMs: 1000 } };
const fail = async () => {
  throw new UpstreamError({ kind: 'retryable', status: 500, reason: 'HTTP 500' });
};
const signal = new AbortController().signal;

test('an open breaker on one node makes the other skip the provider until the cooldown ends', async () => {
  const b = bus();
  const a = createResilience(b.node());
  const other = createResilience(b.node());
  let calls = 0;
  const ok = async () => {
    calls++;
    return 'ok';
  };
  // the other node knows the provider already, and has never seen it fail
  assert.equal(await other.run(provider, ok, signal), 'ok');
  for (let i = 0; i < 2; i++) await assert.rejects(a.run(provider, fail, signal), /HTTP 500/);
  assert.equal(a.states().up, 'open');
  await assert.rejects(other.run(provider, ok, signal), /circuit breaker of provider 'up' is open/);
  assert.equal(calls, 1, 'the skipped call never ran');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await other.run(provider, ok, signal), 'ok');
  // a node that first meets the provider after the announcement skips it too
  const late = bus();
  const n1 = createResilience(late.node());
  const n2 = createResilience(late.node());
  for (let i = 0; i < 2; i++) await assert.rejects(n1.run(provider, fail, signal));
  await assert.rejects(n2.run(provider, ok, signal), /is open/);
});
