/**
 * Requests per second through the whole server (`imagegate serve` in a child
 * process): a keep-alive HTTP load generator with a fixed number of requests
 * in flight drives one mode's edit for a while, and, in the same run and with
 * the same concurrency, GET /healthz — the ceiling of the HTTP stack alone,
 * against which the edits' figure reads.
 *
 *   npx tsx bench/throughput.ts [--sqlite] [--postgres] [--local] [--rounds 3] [--seconds 10] [--concurrency 16] [--warmup 2]
 *
 * Without a mode flag it runs --sqlite then --postgres and prints both side
 * by side; with flags, the modes named.
 *
 * Modes:
 *   --sqlite    a small edit (a 64 KB PNG) by a virtual key with credit,
 *               through auth, the rate and concurrency checks, the credit
 *               reservation, the `openai` emulator in its no-work mode (it
 *               reads the body and answers a flat 1024x1024 PNG at once), the
 *               settlement and the request log, on the embedded defaults
 *               (SQLite, in-process counters). Target on the 2-core machine:
 *               ≥ 1,500/s.
 *   --postgres  the same on PostgreSQL (127.0.0.1:5432, a schema of its own)
 *               and Redis (127.0.0.1:6379).
 *   --local     a tiny built-in edit: a 64x64 grayscale PNG, "make it
 *               black and white", dall-e-2 at 256x256 (the smallest size the
 *               contract allows), b64_json; served by the offline engine with
 *               its default two threads. Target: ≥ 400/s.
 *
 * The emulator runs in this process, beside the load generator: both take
 * CPU from the same two cores as the gateway, as a real upstream would not.
 *
 * Printed per round: edits/s with p50 and p99 latency, /healthz per second
 * with its p50 and p99, the gateway's CPU time per edit (all its threads,
 * from /proc: on a machine shared with other work this moves far less than
 * the rates do) and its peak RSS; then medians over rounds.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { startOpenAiEmulator } from '../test/emulators/openai.js';
import { median, quantile, startGateway, type GatewayChild } from '../test/helpers/gateway-process.js';
import { backends } from '../test/store/backends.js';

const argValue = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

/** One request as the load generator sends it, again and again. */
interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string | number>;
  body?: Buffer;
}

/** What a mode brings up: the gateway (and whatever it talks to) and the edit to send. */
interface ModeSetup {
  gateway: GatewayChild;
  edit: BenchRequest;
  /** one line saying what is measured */
  describe: string;
  stop(): Promise<void>;
}

interface Mode {
  flag: string;
  /** the figure to quote it against (none for PostgreSQL: it shares the two cores) */
  target: number | null;
  setup(): Promise<ModeSetup>;
}

function multipart(fields: Array<[string, string]>, file: { name: string; filename: string; type: string; bytes: Buffer }): { body: Buffer; type: string } {
  const boundary = `----bench${crypto.randomBytes(8).toString('hex')}`;
  const head =
    fields.map(([n, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`).join('') +
    `--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), file.bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

/** A 64x64 single-channel PNG with some structure (a gradient and a disc), so the engine has real pixels to turn. */
async function tinyGrayPng(): Promise<Buffer> {
  const side = 64;
  const px = Buffer.alloc(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) px[y * side + x] = (x - 32) ** 2 + (y - 32) ** 2 < 400 ? 230 : (x * 4) & 0xff;
  }
  return sharp(px, { raw: { width: side, height: side, channels: 1 } }).png().toBuffer();
}

/** A PNG of about `bytes` bytes: random pixels do not compress. */
async function pngOfSize(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  return sharp(crypto.randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

/**
 * Small edits through an upstream: the `openai` emulator in no-work mode,
 * gpt-image-1 routed to it and priced by OpenAI's token rates, and a virtual
 * key with plenty of credit and no rate limit, so every request reserves,
 * settles and is logged. `stores` says where the gateway keeps its state.
 */
function upstreamMode(flag: string, stores: 'sqlite' | 'postgres'): Mode {
  return {
    flag,
    target: stores === 'sqlite' ? 1500 : null,
    async setup() {
      const upstreamKey = `sk-bench-${crypto.randomBytes(12).toString('hex')}`;
      // it answers the size asked, as a real upstream does (a flat 1024x1024 PNG of a few KB):
      // the gateway then only checks the answer's header, with nothing to resize
      const answer = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#6a8caf' } }).png().toBuffer();
      const emu = await startOpenAiEmulator({ apiKey: upstreamKey, noWork: true, noWorkImage: answer });
      emu.keepRequests = false;
      const place = stores === 'postgres' ? await backends.find((b) => b.name === 'postgres')!.prepare() : null;
      const env: Record<string, string> = { BENCH_UPSTREAM_KEY: upstreamKey };
      if (place) Object.assign(env, { DATABASE_URL: place.databaseUrl!, REDIS_URL: 'redis://127.0.0.1:6379' });
      const gateway = await startGateway({
        config: `providers:\n  up: { type: openai, baseUrl: "${emu.baseUrl}", apiKey: env:BENCH_UPSTREAM_KEY, maxRetries: 0 }\nmodels:\n  gpt-image-1:\n    deployments: [{ provider: up, model: gpt-image-1 }]\n`,
        env,
      });
      const res = await fetch(`${gateway.url}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', creditUsd: '1000000.00' }),
      });
      if (res.status !== 201) throw new Error(`creating the bench key answered ${res.status}: ${await res.text()}`);
      const key = ((await res.json()) as { key: string }).key;
      const png = await pngOfSize(64 * 1024);
      const form = multipart(
        [
          ['model', 'gpt-image-1'],
          ['prompt', 'make the sky a little warmer'],
          ['quality', 'low'],
          ['size', '1024x1024'],
        ],
        { name: 'image', filename: 'photo.png', type: 'image/png', bytes: png },
      );
      return {
        gateway,
        edit: {
          method: 'POST',
          path: '/v1/images/edits',
          headers: { authorization: `Bearer ${key}`, 'content-type': form.type, 'content-length': form.body.length },
          body: form.body,
        },
        describe:
          `small edits (a ${(png.length / 1024).toFixed(0)} KB PNG, gpt-image-1 low 1024x1024) by a virtual key with credit, to the openai emulator in no-work mode, ` +
          (place ? 'on PostgreSQL + Redis' : 'on SQLite and in-process counters'),
        async stop() {
          await gateway.stop();
          await emu.close();
          await place?.cleanup();
        },
      };
    },
  };
}

const localMode: Mode = {
  flag: 'local',
  target: 400,
  async setup() {
    const gateway = await startGateway();
    const png = await tinyGrayPng();
    const form = multipart(
      [
        ['model', 'dall-e-2'],
        ['prompt', 'make it black and white'],
        ['size', '256x256'],
        ['response_format', 'b64_json'],
      ],
      { name: 'image', filename: 'tiny.png', type: 'image/png', bytes: png },
    );
    return {
      gateway,
      edit: {
        method: 'POST',
        path: '/v1/images/edits',
        headers: { authorization: `Bearer ${gateway.key}`, 'content-type': form.type, 'content-length': form.body.length },
        body: form.body,
      },
      describe: `tiny built-in edits (64x64 grayscale PNG of ${png.length} bytes → dall-e-2 256x256, local engine)`,
      stop: () => gateway.stop(),
    };
  },
};

/** Every mode, by its flag. */
const MODES: readonly Mode[] = [upstreamMode('sqlite', 'sqlite'), upstreamMode('postgres', 'postgres'), localMode];

interface LoadResult {
  count: number;
  seconds: number;
  latencies: number[];
}

/**
 * `concurrency` loops, each on its own keep-alive connection, sending `req`
 * back to back until `seconds` have passed. Any answer but 200 stops the run:
 * a rate of failures would not be a throughput.
 */
async function load(baseUrl: string, req: BenchRequest, concurrency: number, seconds: number): Promise<LoadResult> {
  const u = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const r = http.request({ host: u.hostname, port: u.port, path: req.path, method: req.method, agent, headers: req.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`${req.method} ${req.path} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          latencies.push(performance.now() - t0);
          resolve();
        });
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(req.body);
    });
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) await once();
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    agent.destroy();
  }
  return { count: latencies.length, seconds: (performance.now() - started) / 1000, latencies };
}

const rate = (r: LoadResult): number => r.count / r.seconds;

interface Summary {
  flag: string;
  target: number | null;
  edits: number;
  p99: number;
  cpuPerEdit: number;
  health: number;
}

/** One mode: its setup, a warm-up, then `rounds` rounds of edits and /healthz; the medians. */
async function runMode(mode: Mode, o: { rounds: number; seconds: number; concurrency: number; warmup: number }): Promise<Summary> {
  const { rounds, seconds, concurrency, warmup } = o;
  const s = await mode.setup();
  const health: BenchRequest = { method: 'GET', path: '/healthz', headers: {} };
  console.log(`throughput bench (--${mode.flag}): ${s.describe}; ${rounds} rounds of ${seconds} s each for edits and for /healthz, ${concurrency} in flight`);
  const edits: number[] = [];
  const edit99: number[] = [];
  const healths: number[] = [];
  const cpuEdit: number[] = [];
  try {
    await load(s.gateway.url, s.edit, concurrency, warmup);
    await load(s.gateway.url, health, concurrency, Math.min(warmup, 1));
    for (let round = 1; round <= rounds; round++) {
      const cpu0 = await s.gateway.cpuMs();
      const e = await load(s.gateway.url, s.edit, concurrency, seconds);
      const cpu1 = await s.gateway.cpuMs();
      const h = await load(s.gateway.url, health, concurrency, seconds);
      const cpuPerEdit = (cpu1 - cpu0) / e.count;
      cpuEdit.push(cpuPerEdit);
      const peak = (await s.gateway.peakRss()) / 1024 / 1024;
      edits.push(rate(e));
      edit99.push(quantile(e.latencies, 0.99));
      healths.push(rate(h));
      console.log(
        `round ${round}: edits ${rate(e).toFixed(0)}/s (p50 ${quantile(e.latencies, 0.5).toFixed(1)} ms, p99 ${quantile(e.latencies, 0.99).toFixed(1)} ms, ` +
          `gateway CPU ${cpuPerEdit.toFixed(2)} ms per edit); ` +
          `/healthz ${rate(h).toFixed(0)}/s (p50 ${quantile(h.latencies, 0.5).toFixed(2)} ms, p99 ${quantile(h.latencies, 0.99).toFixed(2)} ms); ` +
          `gateway peak RSS ${peak.toFixed(0)} MB`,
      );
    }
  } finally {
    await s.stop();
  }
  const out: Summary = { flag: mode.flag, target: mode.target, edits: median(edits), p99: median(edit99), cpuPerEdit: median(cpuEdit), health: median(healths) };
  console.log(
    `median over ${rounds} rounds: edits ${out.edits.toFixed(0)}/s (${out.target === null ? 'no target' : `target ≥ ${out.target}`}; p99 ${out.p99.toFixed(1)} ms; ` +
      `gateway CPU ${out.cpuPerEdit.toFixed(2)} ms per edit), /healthz ${out.health.toFixed(0)}/s`,
  );
  return out;
}

async function main(): Promise<void> {
  const chosen = MODES.filter((m) => process.argv.includes(`--${m.flag}`));
  // without a flag: the pair issue 7 asks for, SQLite and PostgreSQL + Redis, in one run
  const modes = chosen.length > 0 ? chosen : MODES.filter((m) => m.flag === 'sqlite' || m.flag === 'postgres');
  const o = { rounds: argValue('rounds', 3), seconds: argValue('seconds', 10), concurrency: argValue('concurrency', 16), warmup: argValue('warmup', 2) };
  const results: Summary[] = [];
  for (const mode of modes) results.push(await runMode(mode, o));
  if (results.length > 1) {
    console.log('\nmode        edits/s  p99 ms  CPU ms/edit  /healthz/s  target');
    for (const r of results) {
      console.log(
        `${`--${r.flag}`.padEnd(10)} ${r.edits.toFixed(0).padStart(8)} ${r.p99.toFixed(1).padStart(7)} ${r.cpuPerEdit.toFixed(2).padStart(12)} ${r.health.toFixed(0).padStart(11)}  ${r.target === null ? '-' : `≥ ${r.target}`}`,
      );
    }
  }
}

await main();
