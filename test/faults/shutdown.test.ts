/**
 * Fault suite, the nodes themselves (issue 13, item 6): two gateway
 * processes on a PostgreSQL, a Redis and an S3 server of the suite's own,
 * each holding at most 4 edits at once. A burst beyond that is answered 503
 * with Retry-After at once and counted at /metrics; SIGTERM with edits in
 * flight lets them finish and exits 0 while the other node serves on; a
 * grace that runs out answers what is left 503, releases its reservations
 * and exits 0. The ledger is exact after each.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  arrived,
  assertAnswers,
  assertLedger,
  edit,
  eventually,
  newKey,
  scrape,
  startCluster,
  startLoad,
  tally,
  type Answer,
  type Cluster,
  type Node,
} from './cluster.js';
import { makePng } from '../helpers/images.js';

const MAX_IN_FLIGHT = 4;
const CREDIT = '20.00';
const CREDIT_MICROS = 20_000_000;
const REFUSED = 'route="/v1/images/edits",code="service_unavailable"';

/** a scenario that hangs fails instead of holding up CI */
const TEST_TIMEOUT_MS = 60_000;

let c: Cluster;
let a: Node;
let b: Node;

before(async () => {
  c = await startCluster([]);
  // at most 4 edits at once, and a built-in engine of one thread with room for one more waiting
  const limit = { IMAGEGATE_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), IMAGEGATE_ENGINE_THREADS: '1', IMAGEGATE_ENGINE_MAX_QUEUE: '1' };
  // A drains with time to spare; B's grace runs out
  a = await c.startNode('A', { ...limit, IMAGEGATE_SHUTDOWN_GRACE_MS: '20000' });
  b = await c.startNode('B', { ...limit, IMAGEGATE_SHUTDOWN_GRACE_MS: '500' });
});
after(async () => {
  await c?.close();
});

function report(t: TestContext, what: string, answers: Answer[]): void {
  const line = `${what}: ${JSON.stringify(tally(answers))}`;
  t.diagnostic(line);
  console.log(`# faults: ${line}`);
}

describe('fault suite: two nodes, overload and shutdown with edits in flight', () => {
  test(`overload: a burst beyond maxInFlight (${MAX_IN_FLIGHT}) on each node is refused 503 with Retry-After and counted`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const key = await newKey(c, a, CREDIT);
    c.up.clearFaults();
    c.up.fault({ kind: 'delay', ms: 1500 }, { times: Infinity });
    const refusedBefore = await Promise.all([a, b].map(async (n) => (await scrape(c, n)).value('imagegate_refusals_total', REFUSED)));
    const answers = await Promise.all([a, b].flatMap((n) => Array.from({ length: 10 }, () => edit(n, key.key, { prompt: 'burst' }))));
    report(t, 'overload', answers);
    assertAnswers(c, answers);
    for (const [i, n] of [a, b].entries()) {
      const mine = answers.filter((x) => x.node === n.name);
      const ok = mine.filter((x) => x.status === 200).length;
      const refused = mine.filter((x) => x.status === 503);
      assert.ok(ok >= 1 && ok <= MAX_IN_FLIGHT, `${n.name}: ${ok} served at once`);
      assert.equal(ok + refused.length, 10);
      for (const x of refused) {
        assert.equal(x.retryAfter, '1');
        assert.match(x.body, new RegExp(`at its limit of ${MAX_IN_FLIGHT} requests at once`));
      }
      const counted = (await scrape(c, n)).value('imagegate_refusals_total', REFUSED) - refusedBefore[i];
      assert.equal(counted, refused.length, `${n.name}: /metrics counts each refusal`);
    }
    await assertLedger(c, key, CREDIT_MICROS, answers);
  });

  test('overload of the built-in engine: beyond its thread and engine.maxQueue (1) a 503 with Retry-After, counted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const key = await newKey(c, a, CREDIT);
    const picture = await makePng(384, 384);
    const refusedBefore = await Promise.all([a, b].map(async (n) => (await scrape(c, n)).value('imagegate_refusals_total', REFUSED)));
    // under maxInFlight, but more than one thread and one place in the queue
    const answers = await Promise.all(
      [a, b].flatMap((n) => Array.from({ length: MAX_IN_FLIGHT }, () => edit(n, key.key, { model: 'gpt-image-1', prompt: 'remove the background', image: picture }))),
    );
    report(t, 'engine queue full', answers);
    assertAnswers(c, answers);
    for (const [i, n] of [a, b].entries()) {
      const mine = answers.filter((x) => x.node === n.name);
      const refused = mine.filter((x) => x.status === 503);
      assert.ok(mine.some((x) => x.status === 200), `${n.name}: the engine served one`);
      assert.ok(refused.length >= 1, `${n.name}: a third at once finds the queue full`);
      for (const x of refused) {
        assert.equal(x.retryAfter, '1');
        assert.match(x.body, /The built-in engine is busy/);
      }
      const counted = (await scrape(c, n)).value('imagegate_refusals_total', REFUSED) - refusedBefore[i];
      assert.equal(counted, refused.length, `${n.name}: /metrics counts each refusal`);
    }
    await assertLedger(c, key, CREDIT_MICROS, answers);
  });

  test('SIGTERM with edits in flight: they finish and are settled, the node exits 0, the other serves on', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const key = await newKey(c, a, CREDIT);
    c.up.clearFaults();
    c.up.fault({ kind: 'delay', ms: 1500 }, { times: Infinity });
    const onB = startLoad([b], key.key, 2);
    const before = arrived(c, 'drain');
    const inFlight = Array.from({ length: MAX_IN_FLIGHT }, () => edit(a, key.key, { prompt: 'drain' }));
    await eventually(async () => arrived(c, 'drain') === before + MAX_IN_FLIGHT, 15_000, 'the edits reach the upstream');
    const exited = a.term();
    // a new request now finds the listener closed, or is told 503
    const late = await edit(a, key.key);
    assert.ok(late.status === 0 || (late.status === 503 && late.code === 'service_unavailable'), JSON.stringify(late));
    const drained = await Promise.all(inFlight);
    assert.equal(await exited, 0);
    const fromB = await onB.stop();
    const answers = [...drained, ...fromB];
    report(t, 'SIGTERM drain', answers);
    assert.deepEqual(tally(drained), { ok: MAX_IN_FLIGHT }, 'what was in flight finished');
    assert.deepEqual(tally(fromB), { ok: fromB.length }, 'B served on');
    assertAnswers(c, answers.concat(late.status === 0 ? [] : [late]));
    await assertLedger(c, key, CREDIT_MICROS, answers);
  });

  test('a grace that runs out: what is left is answered 503, its reservations released, the node exits 0', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const key = await newKey(c, b, CREDIT);
    c.up.clearFaults();
    // long past B's grace (500 ms), not so long that its timers hold up the end of the suite
    c.up.fault({ kind: 'delay', ms: 4000 }, { times: Infinity });
    const before = arrived(c, 'grace');
    const inFlight = Array.from({ length: 2 }, () => edit(b, key.key, { prompt: 'grace' }));
    await eventually(async () => arrived(c, 'grace') === before + 2, 15_000, 'the edits reach the upstream');
    const [held] = await c.query<{ reserved: string }>('select reserved from key_balances where key_id = $1', [key.id]);
    assert.equal(Number(held.reserved), 2 * 40_000, 'each holds its reservation');
    const exited = b.term();
    const answers = await Promise.all(inFlight);
    assert.equal(await exited, 0);
    report(t, 'grace expiry', answers);
    assertAnswers(c, answers);
    assert.deepEqual(tally(answers), { '503 service_unavailable': 2 });
    for (const x of answers) assert.match(x.body, /shut down before the request finished/);
    // nothing delivered, nothing charged, nothing held
    await assertLedger(c, key, CREDIT_MICROS, answers);
    const [after] = await c.query<{ charged: string }>('select charged from key_balances where key_id = $1', [key.id]);
    assert.equal(Number(after.charged), 0);
    c.up.clearFaults();
  });
});
