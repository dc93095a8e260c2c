/**
 * What the gateway adds to an upstream call. The same 1 MB single-image edit
 * is sent straight to the `openai` emulator (in its no-work mode: it reads
 * the body and answers a tiny image at once) and through imagegate (a child
 * process routing gpt-image-1 to that emulator), alternating one and the
 * other, over keep-alive connections. Printed per round: p50 and p99 of each
 * path, the added latency at p50 and p99, the gateway's CPU time per edit
 * (all its threads, from /proc: on a machine shared with other work it moves
 * far less than latency does) and its peak RSS; then the median over rounds.
 *
 *   npx tsx bench/overhead.ts [--rounds 3] [--requests 400] [--warmup 50] [--answer-kb 0]
 *
 * --answer-kb N makes the emulator answer a PNG of about N KB instead of a
 * 16x16 one (a real answer is 1-3 MB of base64): what the gateway adds to
 * reading, checking and re-serialising an answer of that size.
 *
 * Target on the 2-core machine: p50 ≤ 1 ms and p99 ≤ 5 ms added.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { startOpenAiEmulator } from '../test/emulators/openai.js';
import { median, quantile, startGateway } from '../test/helpers/gateway-process.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
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

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const requests = arg('requests', 400);
  const warmup = arg('warmup', 50);
  const key = `sk-bench-${crypto.randomBytes(12).toString('hex')}`;
  const answerKb = arg('answer-kb', 0);
  const emu = await startOpenAiEmulator({ apiKey: key, noWork: true, ...(answerKb > 0 ? { noWorkImage: await pngOfSize(answerKb * 1024) } : {}) });
  emu.keepRequests = false;
  const gw = await startGateway({
    config: `providers:\n  up: { type: openai, baseUrl: "${emu.baseUrl}", apiKey: env:BENCH_UPSTREAM_KEY }\nmodels:\n  gpt-image-1:\n    deployments: [{ provider: up, model: gpt-image-1 }]\n`,
    env: { BENCH_UPSTREAM_KEY: key },
  });
  const req = multipart(await pngOfSize(1024 * 1024));
  const direct = `${emu.baseUrl}/images/edits`;
  const through = `${gw.url}/v1/images/edits`;
  const answer = answerKb > 0 ? `answered with a ${answerKb} KB PNG` : 'answered with a 16x16 PNG';
  console.log(`overhead bench: ${rounds} rounds × ${requests} pairs of a ${(req.body.length / 1024 / 1024).toFixed(2)} MB single-image edit, ${answer}, direct vs through imagegate, alternating`);
  const added50: number[] = [];
  const added99: number[] = [];
  const peaks: number[] = [];
  const cpus: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) {
      await post(direct, key, req);
      await post(through, gw.key, req);
    }
    for (let round = 1; round <= rounds; round++) {
      const d: number[] = [];
      const g: number[] = [];
      const cpu0 = await gw.cpuMs();
      for (let i = 0; i < requests; i++) {
        // alternate which goes first, so neither path always follows the other
        if (i % 2 === 0) {
          d.push(await post(direct, key, req));
          g.push(await post(through, gw.key, req));
        } else {
          g.push(await post(through, gw.key, req));
          d.push(await post(direct, key, req));
        }
      }
      // the gateway idles while the direct requests run: its CPU time is the through requests'
      const cpu = ((await gw.cpuMs()) - cpu0) / requests;
      cpus.push(cpu);
      const a50 = quantile(g, 0.5) - quantile(d, 0.5);
      const a99 = quantile(g, 0.99) - quantile(d, 0.99);
      const peak = (await gw.peakRss()) / 1024 / 1024;
      added50.push(a50);
      added99.push(a99);
      peaks.push(peak);
      console.log(
        `round ${round}: direct p50 ${quantile(d, 0.5).toFixed(2)} ms p99 ${quantile(d, 0.99).toFixed(2)} ms; ` +
          `through imagegate p50 ${quantile(g, 0.5).toFixed(2)} ms p99 ${quantile(g, 0.99).toFixed(2)} ms; ` +
          `added p50 ${a50.toFixed(2)} ms p99 ${a99.toFixed(2)} ms; gateway CPU ${cpu.toFixed(2)} ms per edit; gateway peak RSS ${peak.toFixed(0)} MB`,
      );
    }
  } finally {
    agent.destroy();
    await gw.stop();
    await emu.close();
  }
  console.log(`median over ${rounds} rounds: added p50 ${median(added50).toFixed(2)} ms (target ≤ 1), added p99 ${median(added99).toFixed(2)} ms (target ≤ 5), gateway CPU ${median(cpus).toFixed(2)} ms per edit, gateway peak RSS ${median(peaks).toFixed(0)} MB`);
}

await main();
