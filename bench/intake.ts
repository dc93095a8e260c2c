/**
 * Memory and speed of multipart intake on a worst-case legal upload:
 * 16 images of exactly the per-image limit (50 MiB each, 800 MiB in all) in
 * one request.
 *
 *   npx tsx bench/intake.ts [--runs 3] [--images 16] [--mb 50]
 *
 * The server runs in a child process (node's http + parseMultipart into a
 * spool in a temporary directory) and samples its own RSS every 10 ms while
 * it reads the request.
 *
 *   npx tsx bench/intake.ts --gateway
 *
 * runs the same request against the whole gateway (`imagegate serve` in a
 * child process: auth, intake, contract, cleanup, request log) and samples
 * the child's RSS from /proc every 10 ms. The filler bytes are no decodable
 * image, so the contract answers 400 invalid_image_file after the whole
 * body was received and spooled, and the engine never runs. The client streams the body from one reused 1 MiB
 * buffer, never building it in memory. The budget is 64 MB of RSS growth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLimits } from '../src/config/index.js';
import { parseMultipart } from '../src/intake/multipart.js';
import { createSpool } from '../src/intake/spool.js';
import { median, startGateway } from '../test/helpers/gateway-process.js';

const MiB = 1024 * 1024;
const BUDGET_MB = 64;

interface ServerReport {
  bytesIn: number;
  files: number;
  sizes: number[];
  rssBaseline: number;
  rssPeak: number;
  samples: number;
  serverMs: number;
}

// ---------------------------------------------------------------- server (child)

async function serve(): Promise<void> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'imagegate-bench-'));
  const limits = defaultLimits();
  const server = http.createServer(async (req, res) => {
    (globalThis as { gc?: () => void }).gc?.();
    const rssBaseline = process.memoryUsage.rss();
    let rssPeak = rssBaseline;
    let samples = 0;
    const sample = (): void => {
      samples++;
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    };
    const timer = setInterval(sample, 10);
    const started = performance.now();
    const spool = await createSpool(base);
    try {
      const r = await parseMultipart(req, { spool, limits });
      sample();
      clearInterval(timer);
      const report: ServerReport = {
        bytesIn: r.bytesIn,
        files: r.files.length,
        sizes: r.files.map((f) => f.size),
        rssBaseline,
        rssPeak,
        samples,
        serverMs: performance.now() - started,
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(report));
    } catch (e) {
      clearInterval(timer);
      res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
      res.end(String(e));
    } finally {
      await spool.cleanup();
    }
  });
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as { port: number }).port });
  });
  process.on('disconnect', () => {
    server.close();
    void fsp.rm(base, { recursive: true, force: true }).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- client (parent)

/** Streams one multipart request of `images` files of `fileBytes` each; resolves with the server's report. */
function upload(
  port: number,
  images: number,
  fileBytes: number,
  filler: Buffer,
  gatewayKey?: string,
): Promise<{ report: ServerReport; ms: number; status: number; text: string }> {
  const boundary = `----formdata-undici-${crypto.randomInt(1e11, 1e12 - 1)}`;
  const fields = `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-image-1\r\n--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nbench\r\n`;
  const partHead = (i: number): string =>
    `--${boundary}\r\nContent-Disposition: form-data; name="image[]"; filename="${i}.png"\r\nContent-Type: image/png\r\n\r\n`;
  const closing = `--${boundary}--\r\n`;
  let length = Buffer.byteLength(fields) + Buffer.byteLength(closing);
  for (let i = 0; i < images; i++) length += Buffer.byteLength(partHead(i)) + fileBytes + 2;

  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/images/edits',
      agent: false,
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': length,
        ...(gatewayKey ? { authorization: `Bearer ${gatewayKey}` } : {}),
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const ms = performance.now() - started;
        if (gatewayKey) return resolve({ report: {} as ServerReport, ms, status: res.statusCode!, text });
        if (res.statusCode !== 200) return reject(new Error(`server answered ${res.statusCode}: ${text}`));
        resolve({ report: JSON.parse(text) as ServerReport, ms, status: 200, text });
      });
    });
    req.on('error', reject);

    // a generator of body pieces; the big ones are views of the same filler buffer
    function* pieces(): Generator<Buffer | string> {
      yield fields;
      for (let i = 0; i < images; i++) {
        yield partHead(i);
        for (let left = fileBytes; left > 0; left -= filler.length) {
          yield left >= filler.length ? filler : filler.subarray(0, left);
        }
        yield '\r\n';
      }
      yield closing;
    }
    const it = pieces();
    const pump = (): void => {
      for (let n = it.next(); !n.done; n = it.next()) {
        if (!req.write(n.value)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const mb = (bytes: number): string => (bytes / MiB).toFixed(1);

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const images = arg('images', 16);
  const fileBytes = arg('mb', 50) * MiB; // exactly the limit: the cap is "at most"
  const filler = crypto.randomBytes(MiB);
  // a PNG signature in front, as a client would send; intake does not decode
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(filler);

  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--server'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });

  console.log(`intake bench: ${runs} runs of 1 request with ${images} images × ${fileBytes} bytes (${mb(images * fileBytes)} MiB)`);
  const growth: number[] = [];
  const speed: number[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      const { report, ms } = await upload(port, images, fileBytes, filler);
      if (report.files !== images || report.sizes.some((s) => s !== fileBytes)) {
        throw new Error(`server spooled ${report.files} files of sizes ${report.sizes.join(',')}`);
      }
      const g = (report.rssPeak - report.rssBaseline) / MiB;
      const s = report.bytesIn / MiB / (ms / 1000);
      growth.push(g);
      speed.push(s);
      console.log(
        `run ${run}: ${mb(report.bytesIn)} MiB in ${(ms / 1000).toFixed(2)} s = ${s.toFixed(0)} MB/s; ` +
          `server RSS ${mb(report.rssBaseline)} → peak ${mb(report.rssPeak)} MiB (+${g.toFixed(1)} MB, ${report.samples} samples)`,
      );
    }
  } finally {
    child.disconnect();
  }
  const m = median(growth);
  console.log(`median peak RSS growth: ${m.toFixed(1)} MB (budget ${BUDGET_MB} MB); median throughput: ${median(speed).toFixed(0)} MB/s`);
  if (m >= BUDGET_MB) {
    console.error('over budget');
    process.exitCode = 1;
  }
}

async function gateway(): Promise<void> {
  const runs = arg('runs', 3);
  const images = arg('images', 16);
  const fileBytes = arg('mb', 50) * MiB;
  const filler = crypto.randomBytes(MiB);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(filler);
  const gw = await startGateway();
  const { port, key } = gw;
  console.log(`intake bench, whole gateway: ${runs} runs of 1 request with ${images} images × ${fileBytes} bytes (${mb(images * fileBytes)} MiB)`);
  const growth: number[] = [];
  const speed: number[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      const baseline = await gw.rss();
      let peak = baseline;
      let samples = 0;
      const timer = setInterval(() => {
        gw.rss().then((r) => {
          samples++;
          peak = Math.max(peak, r);
        }, () => {});
      }, 10);
      const { ms, status, text } = await upload(port, images, fileBytes, filler, key);
      clearInterval(timer);
      const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
      if (status !== 400 || code !== 'invalid_image_file') throw new Error(`gateway answered ${status}: ${text}`);
      const g = (peak - baseline) / MiB;
      const sp = (images * fileBytes) / MiB / (ms / 1000);
      growth.push(g);
      speed.push(sp);
      console.log(`run ${run}: ${mb(images * fileBytes)} MiB in ${(ms / 1000).toFixed(2)} s = ${sp.toFixed(0)} MB/s; gateway RSS ${mb(baseline)} → peak ${mb(peak)} MiB (+${g.toFixed(1)} MB, ${samples} samples); answered ${status} ${code}`);
    }
  } finally {
    await gw.stop();
  }
  const m = median(growth);
  console.log(`median peak RSS growth: ${m.toFixed(1)} MB (budget ${BUDGET_MB} MB); median throughput: ${median(speed).toFixed(0)} MB/s`);
  if (m >= BUDGET_MB) {
    console.error('over budget');
    process.exitCode = 1;
  }
}

if (process.argv.includes('--server')) void serve();
else if (process.argv.includes('--gateway')) await gateway();
else await main();
