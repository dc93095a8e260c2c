/**
 * The fault suite's world: a PostgreSQL, a redis-server and an S3 server of
 * its own (never the shared ones on 5432 and 6379), an upstream emulator
 * that takes its time, and gateway nodes — real `imagegate serve` processes
 * — on them; a load of concurrent edits by a credited key; and the checks
 * every scenario ends with: each answer a success or OPERATOR.md's 503, and
 * the ledger exact once every store is back.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { startGateway, type GatewayChild } from '../helpers/gateway-process.js';
import { makePng } from '../helpers/images.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';

export const UP_KEY = 'sk-up-0123456789abcdefFAULTS';
/** what one edit costs (perImage 0.04), micro-USD */
export const EDIT_MICROS = 40_000;

const CONFIG = (emu: string) => `
providers:
  up: { type: openai-compatible, baseUrl: "${emu}", apiKey: env:UP_KEY, maxRetries: 0, timeouts: { totalMs: 20000 } }
models:
  flux-kontext-pro:
    deployments: [{ provider: up, model: gpt-image-1 }]
prices:
  flux-kontext-pro: { perImage: { default: "0.04" } }
  # the built-in engine (any other known model) costs the same, so every success is one edit's charge
  local: { perImage: { default: "0.04" } }
`;

export interface Node {
  name: string;
  dataDir: string;
  gw: GatewayChild;
  url: string;
  pid: number;
  /** the same node again on its data dir (after kill or term) */
  restart(env?: Record<string, string>): Promise<void>;
  /** SIGTERM; resolves with the exit code */
  term(): Promise<number | null>;
  /** kill -9 */
  kill(): Promise<void>;
}

export interface Cluster {
  pg: TestPostgres;
  redis: TestRedis;
  s3: TestS3;
  up: OpenAiEmulator;
  master: string;
  nodes: Node[];
  /** strings no answer may contain */
  secrets: string[];
  startNode(name: string, env?: Record<string, string>): Promise<Node>;
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export async function startCluster(nodeNames: string[], nodeEnv: Record<string, string> = {}): Promise<Cluster> {
  const started: Array<{ close(): Promise<void> }> = [];
  const nodes: Node[] = [];
  const dirs: string[] = [];
  const close = async () => {
    // a scenario that failed midway leaves its load running: it stops here
    for (const stop of runningLoads) stop();
    await Promise.all(nodes.map((n) => n.kill()));
    for (const s of started.reverse()) await s.close().catch(() => {});
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    const [pgs, redis, s3, up] = await Promise.all([
      startTestPostgres(),
      startTestRedis(),
      startTestS3(),
      startOpenAiEmulator({ apiKey: UP_KEY, noWork: true }),
    ]);
    started.push(pgs, redis, s3, up);
    const master = `sk-ig-master-${crypto.randomBytes(20).toString('hex')}`;
    const env = {
      UP_KEY,
      DATABASE_URL: pgs.url,
      REDIS_URL: redis.url,
      ...s3.env,
      IMAGEGATE_MASTER_KEY: master,
      IMAGEGATE_URL_SECRET: crypto.randomBytes(32).toString('hex'),
      ...nodeEnv,
    };
    const config = CONFIG(up.baseUrl);
    const startNode = async (name: string, extra: Record<string, string> = {}): Promise<Node> => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `imagegate-fault-${name}-`));
      dirs.push(dataDir);
      let gw = await startGateway({ config, env: { ...env, ...extra }, dataDir });
      const node: Node = {
        name,
        dataDir,
        get gw() {
          return gw;
        },
        get url() {
          return gw.url;
        },
        get pid() {
          return gw.child.pid!;
        },
        async restart(more: Record<string, string> = {}) {
          await gw.kill();
          gw = await startGateway({ config, env: { ...env, ...extra, ...more }, dataDir });
        },
        async term() {
          const child = gw.child;
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
          child.kill('SIGTERM');
          return exited;
        },
        kill: () => gw.kill(),
      };
      nodes.push(node);
      return node;
    };
    // one after the other: the first runs the migrations
    for (const n of nodeNames) await startNode(n);
    return {
      pg: pgs,
      redis,
      s3,
      up,
      master,
      nodes,
      secrets: [pgs.url, `:${pgs.port}`, redis.url, `:${redis.port}`, s3.endpoint, `:${s3.port}`, 'S3RVER', master, UP_KEY, env.IMAGEGATE_URL_SECRET],
      startNode,
      async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
        const client = new pg.Client({ connectionString: pgs.url });
        await client.connect();
        try {
          return (await client.query<R>(text, values)).rows;
        } finally {
          await client.end();
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

let pngOnce: Promise<Buffer> | null = null;
const png = () => (pngOnce ??= makePng(48, 48));

export async function newKey(c: Cluster, node: Node, creditUsd: string): Promise<{ id: string; key: string }> {
  const res = await fetch(`${node.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.master}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `faults-${crypto.randomBytes(3).toString('hex')}`, creditUsd }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; key: string };
}

export interface Answer {
  node: string;
  /** 0: no HTTP answer (the connection was refused or lost) */
  status: number;
  code: string | null;
  retryAfter: string | null;
  requestId: string | null;
  cost: string | null;
  format: 'b64_json' | 'url';
  idempotent: boolean;
  /** the Idempotency-Key sent, if any */
  idempotencyKey: string | null;
  /** x-imagegate-idempotent-replay: true */
  replay: boolean;
  body: string;
  url: string | null;
  error: string | null;
}

export interface EditOptions {
  format?: 'b64_json' | 'url';
  /** what the upstream sees (a fault can match on it) */
  prompt?: string;
  /** flux-kontext-pro (the upstream) unless said; another known model runs on the built-in engine */
  model?: string;
  /** the picture sent, a small one unless said */
  image?: Buffer;
  idempotencyKey?: string;
}

export async function edit(node: Node, key: string, options: EditOptions = {}): Promise<Answer> {
  const format = options.format ?? 'b64_json';
  const fd = new FormData();
  fd.append('model', options.model ?? 'flux-kontext-pro');
  fd.append('prompt', options.prompt ?? 'make it warmer');
  fd.append('response_format', format);
  fd.append('image', new Blob([options.image ?? (await png())], { type: 'image/png' }), 'a.png');
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  const base = { node: node.name, format, idempotent: options.idempotencyKey !== undefined, idempotencyKey: options.idempotencyKey ?? null };
  try {
    const res = await fetch(`${node.url}/v1/images/edits`, { method: 'POST', headers, body: fd });
    const body = await res.text();
    let code: string | null = null;
    let url: string | null = null;
    try {
      const json = JSON.parse(body) as { error?: { code?: string }; data?: Array<{ url?: string }> };
      code = json.error?.code ?? null;
      url = json.data?.[0]?.url ?? null;
    } catch {
      code = 'not json';
    }
    return {
      ...base,
      status: res.status,
      code,
      retryAfter: res.headers.get('retry-after'),
      requestId: res.headers.get('x-request-id'),
      cost: res.headers.get('x-imagegate-cost-usd'),
      replay: res.headers.get('x-imagegate-idempotent-replay') === 'true',
      body,
      url,
      error: null,
    };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { ...base, status: 0, code: null, retryAfter: null, requestId: null, cost: null, replay: false, body: '', url: null, error: cause?.code ?? String(e) };
  }
}

export interface Load {
  answers: Answer[];
  /** stops sending to these nodes (what they have in flight still finishes) */
  leave(...nodes: string[]): void;
  /** stops sending and waits for every answer */
  stop(): Promise<Answer[]>;
}

/**
 * `perNode` workers for each node, each sending edits one after another
 * until stopped; after a refusal a worker waits a moment before the next.
 */
/** stops of the loads not stopped yet */
const runningLoads = new Set<() => void>();

export function startLoad(nodes: Node[], key: string, perNode: number, options: (worker: number, n: number) => EditOptions = () => ({})): Load {
  const answers: Answer[] = [];
  const left = new Set<string>();
  let stopped = false;
  const halt = () => {
    stopped = true;
  };
  runningLoads.add(halt);
  const workers = nodes.flatMap((node) =>
    Array.from({ length: perNode }, async (_, w) => {
      for (let n = 0; !stopped && !left.has(node.name); n++) {
        const a = await edit(node, key, options(w, n));
        answers.push(a);
        if (a.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
    }),
  );
  return {
    answers,
    leave: (...names) => names.forEach((n) => left.add(n)),
    async stop() {
      halt();
      runningLoads.delete(halt);
      await Promise.all(workers);
      return answers;
    },
  };
}

export const tally = (xs: Answer[]): Record<string, number> =>
  xs.reduce<Record<string, number>>((m, x) => {
    const k = x.status === 200 ? 'ok' : x.status === 0 ? `no answer (${x.error})` : `${x.status} ${x.code}`;
    m[k] = (m[k] ?? 0) + 1;
    return m;
  }, {});

/**
 * Each answer is a success charged one edit, or 503 service_unavailable in
 * OPERATOR.md's envelope with Retry-After; none quotes a secret.
 */
export function assertAnswers(c: Cluster, answers: Answer[]): void {
  for (const a of answers) {
    for (const s of c.secrets) assert.ok(!a.body.includes(s), `an answer quotes a secret: ${a.body.slice(0, 300)}`);
    if (a.status === 200) {
      assert.equal(a.cost, '0.040000');
      assert.match(a.requestId ?? '', /^req_/);
      continue;
    }
    assert.equal(a.status, 503, `${a.node}: ${a.status} ${a.error ?? a.body.slice(0, 300)}`);
    const env = JSON.parse(a.body) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(env.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(env.error.type, 'server_error');
    assert.equal(env.error.code, 'service_unavailable');
    assert.equal(env.error.param, null);
    assert.ok(Number(a.retryAfter) >= 1, `Retry-After on ${a.body}`);
  }
}

export interface Scrape {
  text: string;
  value(name: string, labels?: string): number;
}

export async function scrape(c: Cluster, node: Node): Promise<Scrape> {
  const res = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${c.master}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  return {
    text,
    value(name, labels = '') {
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
  };
}

/** settlements a node wrote through its outbox so far */
export const outboxSettled = async (c: Cluster, node: Node): Promise<number> =>
  (await scrape(c, node)).value('imagegate_outbox_written_total', 'kind="settlement"');

export async function eventually(check: () => Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    assert.ok(Date.now() < until, `not within ${ms} ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Each node answers an edit with 200 again within 10 s and its /readyz says
 * every store (database, redis, storage) is ok, the same process (no
 * restart); resolves with every answer the probes got, to be checked as the
 * load's are.
 */
export async function servedAgain(nodes: Node[], key: string, options: () => EditOptions = () => ({})): Promise<Answer[]> {
  const seen: Answer[] = [];
  for (const node of nodes) {
    const pid = node.pid;
    await eventually(async () => {
      const a = await edit(node, key, options());
      seen.push(a);
      return a.status === 200;
    }, 10_000, () => `${node.name} serves again (${JSON.stringify(tally(seen.filter((a) => a.node === node.name)))}, last ${seen.at(-1)?.body.slice(0, 200)})`);
    // and says it is ready again, every store ok
    let last = '';
    await eventually(async () => {
      const res = await fetch(`${node.url}/readyz`);
      last = await res.text();
      const body = JSON.parse(last) as { checks: Record<string, string> };
      return res.status === 200 && Object.values(body.checks).every((v) => v === 'ok') && Object.keys(body.checks).length === 3;
    }, 10_000, () => `${node.name} ready again: ${last}`);
    assert.equal(node.pid, pid, 'the same process');
  }
  return seen;
}

/** every node's outbox empty */
export async function outboxesEmpty(c: Cluster, nodes: Node[]): Promise<void> {
  await eventually(async () => {
    for (const n of nodes) if ((await scrape(c, n)).value('imagegate_outbox_pending') !== 0) return false;
    return true;
  }, 15_000, 'every outbox written');
}

/**
 * The ledger of `key`, read straight from the database: balance + charges =
 * credit, one settlement of one edit per success and no other charge, no
 * open reservation, one request-log entry per success (the successes of
 * probes not in `answers` are held to the same through the log).
 */
export async function assertLedger(c: Cluster, key: { id: string }, creditMicros: number, answers: Answer[]): Promise<void> {
  const ok = answers.filter((a) => a.status === 200).map((a) => a.requestId!);
  const [bal] = await c.query<{ granted: string; charged: string; reserved: string }>('select granted, charged, reserved from key_balances where key_id = $1', [key.id]);
  const settles = await c.query<{ request_id: string; amount: string }>("select request_id, amount from ledger where key_id = $1 and kind = 'settle'", [key.id]);
  const open = await c.query<{ id: string }>("select id from reservations where key_id = $1 and state = 'open'", [key.id]);
  const logged = await c.query<{ id: string }>('select id from request_log where key_id = $1 and status = 200', [key.id]);
  const charged = settles.reduce((s, r) => s + Number(r.amount), 0);
  assert.equal(Number(bal.granted), creditMicros, 'credit granted');
  assert.equal(Number(bal.reserved), 0, 'nothing held');
  assert.deepEqual(open, [], 'no open reservation');
  assert.equal(Number(bal.charged), charged, 'the balance agrees with the ledger rows');
  // every success the client saw is settled once and logged once, and nothing else is charged
  const settled = new Map(settles.map((r) => [r.request_id, Number(r.amount)]));
  const log = new Set(logged.map((r) => r.id));
  for (const id of ok) {
    if (settled.get(id) !== EDIT_MICROS) {
      const seen = answers.find((a) => a.requestId === id)!;
      const rows = await c.query('select kind, amount, key_id, reservation_id from ledger where request_id = $1', [id]);
      const logRow = await c.query('select status, error_code, cost_micros from request_log where id = $1', [id]);
      assert.fail(`${id} (${seen.node}, ${seen.format}, idempotent ${seen.idempotent}) not settled once at one edit: ledger ${JSON.stringify(rows)}, log ${JSON.stringify(logRow)}`);
    }
    assert.ok(log.has(id), `${id} in the request log`);
  }
  // nothing charged that was not served
  const unserved = settles.filter((r) => !log.has(r.request_id));
  if (unserved.length > 0) {
    const seen = unserved.map((r) => {
      const a = answers.find((x) => x.requestId === r.request_id);
      return `${r.request_id}: ${a ? `answered ${a.status} ${a.code ?? ''} (idempotent ${a.idempotent})` : 'not answered to the load'}`;
    });
    assert.fail(`charged but not a logged success: ${seen.join('; ')}`);
  }
  assert.equal(settles.length, log.size, 'one settlement per logged success');
  for (const id of log) assert.equal(settled.get(id), EDIT_MICROS, `logged success ${id} settled`);
  assert.equal(charged, log.size * EDIT_MICROS);
  assert.equal(Number(bal.granted) - Number(bal.charged) - Number(bal.reserved) + charged, creditMicros, 'balance + charges = credit');
  // and as the admin API of a node still running tells it
  const alive = c.nodes.find((n) => n.gw.child.exitCode === null && n.gw.child.signalCode === null);
  if (!alive) return;
  const res = await fetch(`${alive.url}/admin/keys/${key.id}`, { headers: { authorization: `Bearer ${c.master}` } });
  assert.equal(res.status, 200);
  const view = (await res.json()) as { balanceUsd: string; spentUsd: string; reservedUsd: string };
  const micros = (usd: string) => Math.round(Number(usd) * 1e6);
  assert.equal(micros(view.reservedUsd), 0);
  assert.equal(micros(view.spentUsd), charged);
  assert.equal(micros(view.balanceUsd) + micros(view.spentUsd), creditMicros, 'balance + charges = credit');
}

/** the edits with this prompt the upstream has received so far */
export const arrived = (c: Cluster, prompt: string): number =>
  c.up.requests.filter((r) => r.fields?.some(([k, v]) => k === 'prompt' && v === prompt)).length;
