/**
 * What the gateway adds to an upstream call. The same 1 MB single-image edit
 * is sent straight to the `openai` emulator (in its no-work mode: it reads
 * the body and answers a tiny image at once), through imagegate (a child
 * process routing gpt-image-1 to that emulator, compiled as `npm start` runs
 * it) and through two bare proxies (bench/lib/bare-proxy.mjs: node:http in,
 * undici out, nothing in between; one reads the whole body first as
 * imagegate does, one streams it through as it arrives), in turn, over
 * keep-alive connections. The bare proxies are the floor: what a second HTTP
 * hop written for Node costs on this machine before a gateway does anything,
 * storing the upload or cutting through. Printed per round: p50 and
 * p99 of each path, the latency each proxy adds at p50 and p99, the
 * gateway's CPU time per edit (all its threads, from /proc: on a machine
 * shared with other work it moves far less than latency does) and its peak
 * RSS; then the median over rounds.
 *
 *   npx tsx bench/overhead.ts [--rounds 3] [--requests 400] [--warmup 50] [--answer-kb 0] [--sources] [--baseline DIR]
 *
 * --answer-kb N makes the emulator answer a PNG of about N KB instead of a
 * 16x16 one (a real answer is 1-3 MB of base64): what the gateway adds to
 * reading, checking and re-serialising an answer of that size.
 * --sources runs the gateway from its TypeScript sources through tsx instead.
 * --baseline DIR runs a second gateway from another checkout (with its
 * node_modules; `git worktree add DIR <commit>` and a link to this one's
 * node_modules will do) in the same rotation, and prints what each adds: a
 * before and after in one run.
 *
 * Target on the 2-core machine: p50 ≤ 1 ms and p99 ≤ 5 ms added.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { startOpenAiEmulator } from '../test/emulators/openai.js';
import { median, quantile, startGateway } from '../test/helpers/gateway-process.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const argText = (name: string): string | null => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? null) : null;
};

/** A PNG of about `bytes` bytes: random pixels do not compress. */
async function pngOfSize(bytes: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  return sharp(crypto.randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

function multipart(png: Buffer): { body: Buffer; type: string } {
  const boundary = `----bench${crypto.randomBytes(8).toString('hex')}`;
  const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('model', 'gpt-image-1') +
      field('prompt', 'make the sky a little warmer') +
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n`,
  );
  return { body: Buffer.concat([head, png, Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, key: string, req: { body: Buffer; type: string }): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const r = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': req.type, 'content-length': req.body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const ms = performance.now() - started;
          if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          else resolve(ms);
        });
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** the bare proxy in a child process, forwarding to `upstream` */
async function startBareProxy(upstream: string, key: string, mode: 'store' | 'stream'): Promise<{ url: string; stop(): void }> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib/bare-proxy.mjs');
  const child = spawn(process.execPath, [script, upstream, key, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(/listening on (\d+)/.exec(String(d))?.[1])));
    child.once('exit', (code) => reject(new Error(`bare proxy exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const requests = arg('requests', 400);
  const warmup = arg('warmup', 50);
  const key = `sk-bench-${crypto.randomBytes(12).toString('hex')}`;
  const answerKb = arg('answer-kb', 0);
  const emu = await startOpenAiEmulator({ apiKey: key, noWork: true, ...(answerKb > 0 ? { noWorkImage: await pngOfSize(answerKb * 1024) } : {}) });
  emu.keepRequests = false;
  const config = `providers:\n  up: { type: openai, baseUrl: "${emu.baseUrl}", apiKey: env:BENCH_UPSTREAM_KEY }\nmodels:\n  gpt-image-1:\n    deployments: [{ provider: up, model: gpt-image-1 }]\n`;
  const built = !process.argv.includes('--sources');
  const baselineRoot = argText('baseline');
  const gw = await startGateway({ config, env: { BENCH_UPSTREAM_KEY: key }, built });
  const base = baselineRoot ? await startGateway({ config, env: { BENCH_UPSTREAM_KEY: key }, built, root: path.resolve(baselineRoot) }) : null;
  const direct = `${emu.baseUrl}/images/edits`;
  const bare = await startBareProxy(direct, key, 'store');
  const pipe = await startBareProxy(direct, key, 'stream');
  const req = multipart(await pngOfSize(1024 * 1024));
  const paths = [
    { name: 'direct', url: direct, key },
    { name: 'bare', url: `${bare.url}/v1/images/edits`, key: gw.key },
    { name: 'pipe', url: `${pipe.url}/v1/images/edits`, key: gw.key },
    { name: 'imagegate', url: `${gw.url}/v1/images/edits`, key: gw.key },
    ...(base ? [{ name: 'baseline', url: `${base.url}/v1/images/edits`, key: base.key }] : []),
  ];
  const answer = answerKb > 0 ? `answered with a ${answerKb} KB PNG` : 'answered with a 16x16 PNG';
  console.log(
    `overhead bench: ${rounds} rounds × ${requests} rotations of a ${(req.body.length / 1024 / 1024).toFixed(2)} MB single-image edit, ${answer}, ` +
      `direct, through two bare proxies and through imagegate (${process.argv.includes('--sources') ? 'from its sources' : 'compiled'}), in turn`,
  );
  // per proxied path, the latency it adds over direct in each round, at p50 and p99
  const added: Record<string, { p50: number[]; p99: number[] }> = {};
  for (const p of paths.slice(1)) added[p.name] = { p50: [], p99: [] };
  /** "p50 X ms p99 Y ms" added by `name`, in the last round, or as the median over rounds */
  const adds = (name: string, sep: string, of: (xs: number[]) => number): string =>
    `p50 ${of(added[name]!.p50).toFixed(2)} ms${sep} p99 ${of(added[name]!.p99).toFixed(2)} ms`;
  const last = (xs: number[]): number => xs.at(-1)!;
  const peaks: number[] = [];
  const cpus: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) for (const p of paths) await post(p.url, p.key, req);
    for (let round = 1; round <= rounds; round++) {
      const times: Record<string, number[]> = { direct: [], bare: [], pipe: [], imagegate: [], baseline: [] };
      const cpu0 = await gw.cpuMs();
      for (let i = 0; i < requests; i++) {
        // each path takes each place in the order equally often
        for (let k = 0; k < paths.length; k++) {
          const p = paths[(i + k) % paths.length]!;
          times[p.name]!.push(await post(p.url, p.key, req));
        }
      }
      // the gateway idles while the other paths run: its CPU time is its own requests'
      const cpu = ((await gw.cpuMs()) - cpu0) / requests;
      cpus.push(cpu);
      const d = times.direct!;
      const g = times.imagegate!;
      for (const [name, a] of Object.entries(added)) {
        a.p50.push(quantile(times[name]!, 0.5) - quantile(d, 0.5));
        a.p99.push(quantile(times[name]!, 0.99) - quantile(d, 0.99));
      }
      const peak = (await gw.peakRss()) / 1024 / 1024;
      peaks.push(peak);
      console.log(
        `round ${round}: direct p50 ${quantile(d, 0.5).toFixed(2)} ms p99 ${quantile(d, 0.99).toFixed(2)} ms; ` +
          `bare proxy adds ${adds('bare', '', last)} (streaming: ${adds('pipe', '', last)}); ` +
          `imagegate p50 ${quantile(g, 0.5).toFixed(2)} ms p99 ${quantile(g, 0.99).toFixed(2)} ms, adds ${adds('imagegate', '', last)}; ` +
          `gateway CPU ${cpu.toFixed(2)} ms per edit; gateway peak RSS ${peak.toFixed(0)} MB` +
          (base ? `; baseline adds ${adds('baseline', '', last)}` : ''),
      );
    }
  } finally {
    agent.destroy();
    bare.stop();
    pipe.stop();
    await gw.stop();
    await base?.stop();
    await emu.close();
  }
  console.log(
    `median over ${rounds} rounds: imagegate adds p50 ${median(added.imagegate!.p50).toFixed(2)} ms (target ≤ 1), p99 ${median(added.imagegate!.p99).toFixed(2)} ms (target ≤ 5); ` +
      `a bare proxy adds ${adds('bare', ',', median)} (streaming: ${adds('pipe', ',', median)}); ` +
      `gateway CPU ${median(cpus).toFixed(2)} ms per edit, gateway peak RSS ${median(peaks).toFixed(0)} MB` +
      (base ? `; the baseline (${baselineRoot}) adds ${adds('baseline', ',', median)}` : ''),
  );
}

await main();
