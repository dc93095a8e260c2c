/**
 * `imagegate edit` and `imagegate generate`: a client of a running gateway
 * (or any OpenAI-compatible host). Sends the images in the order given,
 * shows progress while the server works, saves partial images of a stream
 * as they arrive and the results under sensible names, and on failure
 * prints the server's own error message and exits non-zero.
 *
 * It speaks through undici (a runtime dependency) rather than the global
 * fetch: the global one gives up on an answer whose headers take more than
 * five minutes, and a slow upstream with retries can take longer.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Agent, FormData, fetch, type Response } from 'undici';
import { readSse } from '../../providers/sse.js';
import { CLIENT_USAGE, EXIT, parseClientArgs, UsageError, type ClientCommand, type ClientRequest } from './args.js';
import { formatNamed, mimeOf, outputNamer, sniffFormat, type ImageFormat } from './names.js';
import { createProgress, type Progress, type ProgressSink } from './progress.js';

export interface ClientIo {
  /** the files written, one per line */
  stdout: (line: string) => void;
  /** progress and errors */
  stderr: ProgressSink;
  env: Record<string, string | undefined>;
  /** aborts the request (Ctrl-C) */
  signal?: AbortSignal;
  /** what relative paths are relative to (default: the process's working directory) */
  cwd?: string;
}

/** A request that failed on the server's side or on the way: its message, and the exit status 1. */
class RequestFailed extends Error {}

interface InputFile {
  /** as given, for messages and the part's filename */
  name: string;
  /** to read */
  path: string;
  size: number;
  format: ImageFormat | null;
}

async function inputFile(label: string, file: string, cwd: string): Promise<InputFile> {
  let handle: fsp.FileHandle | null = null;
  try {
    handle = await fsp.open(path.resolve(cwd, file), 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw new UsageError(`${label} ${file} is not a file`);
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return { name: file, path: path.resolve(cwd, file), size: stat.size, format: sniffFormat(head.subarray(0, bytesRead)) };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot read ${label} ${file}: ${err.code === 'ENOENT' ? 'no such file' : (err.code ?? err.message)}`);
  } finally {
    await handle?.close();
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function body(req: ClientRequest, images: InputFile[], mask: InputFile | null): Promise<{ body: FormData | string; contentType?: string }> {
  if (req.command === 'generate') return { body: JSON.stringify(req.fields), contentType: 'application/json' };
  const form = new FormData();
  // fields before files: a server reading the stream knows the model (and its size limits) before the uploads arrive
  for (const [name, value] of Object.entries(req.fields)) form.append(name, String(value));
  // one image as `image`, several as repeated `image[]` in order, as the openai SDK sends them
  const field = images.length === 1 ? 'image' : 'image[]';
  const file = async (f: InputFile) => fs.openAsBlob(f.path, { type: mimeOf(f.format) });
  for (const img of images) form.append(field, await file(img), path.basename(img.name));
  if (mask) form.append('mask', await file(mask), path.basename(mask.name));
  return { body: form };
}

interface ErrorEnvelope {
  error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown };
}

/** `error: <the server's message> (HTTP 400, param size, code invalid_value, request req_…)` */
function describeFailure(status: number | null, parsed: unknown, raw: string, requestId: string | null): string {
  const e = (parsed as ErrorEnvelope | null)?.error;
  const details = [
    status !== null ? `HTTP ${status}` : null,
    e && typeof e.param === 'string' ? `param ${e.param}` : null,
    e && typeof e.code === 'string' ? `code ${e.code}` : null,
    requestId ? `request ${requestId}` : null,
  ].filter(Boolean);
  const message = e && typeof e.message === 'string' ? e.message : raw.trim().slice(0, 300) || 'no message';
  return `${message}${details.length ? ` (${details.join(', ')})` : ''}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function headerText(value: string | null): string | null {
  if (!value) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

async function* buffers(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of stream) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

interface Datum {
  b64_json?: unknown;
  url?: unknown;
}

class Saver {
  private readonly written: string[] = [];
  private partials = 0;
  private readonly names;

  constructor(
    req: ClientRequest,
    private readonly io: ClientIo,
    private readonly progress: Progress,
    private readonly download: (url: string) => Promise<Buffer>,
    numbered: boolean,
    private readonly cwd: string,
  ) {
    this.names = outputNamer(req.output, numbered);
  }

  get count(): number {
    return this.written.length;
  }

  private static formatOf(bytes: Buffer, named: unknown): ImageFormat {
    return sniffFormat(bytes) ?? formatNamed(named) ?? 'png';
  }

  async image(datum: Datum, outputFormat: unknown): Promise<void> {
    let data: Buffer;
    if (typeof datum.b64_json === 'string') data = Buffer.from(datum.b64_json, 'base64');
    else if (typeof datum.url === 'string') data = await this.download(datum.url);
    else throw new RequestFailed('the answer holds an image with neither b64_json nor url');
    const file = this.names.image(this.written.length, Saver.formatOf(data, outputFormat));
    await fsp.writeFile(path.resolve(this.cwd, file), data);
    this.written.push(file);
    this.io.stdout(file);
  }

  async partial(b64: unknown, outputFormat: unknown): Promise<void> {
    if (typeof b64 !== 'string') return;
    const data = Buffer.from(b64, 'base64');
    this.partials++;
    const file = this.names.partial(this.partials, Saver.formatOf(data, outputFormat));
    await fsp.writeFile(path.resolve(this.cwd, file), data);
    this.progress.line(`partial image ${this.partials} after ${this.progress.elapsed()}: ${file}`);
  }
}

async function readAnswer(res: Response, saver: Saver): Promise<void> {
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream')) {
    if (!res.body) throw new RequestFailed('the stream had no body');
    for await (const msg of readSse(buffers(res.body))) {
      const ev = parseJson(msg.data) as (Datum & { type?: unknown; output_format?: unknown; error?: unknown }) | null;
      if (!ev) continue;
      if (ev.error) throw new RequestFailed(describeFailure(null, ev, msg.data, res.headers.get('x-request-id')));
      const kind = typeof ev.type === 'string' ? ev.type : '';
      // image_edit.* for edits, image_generation.* for generations
      if (kind.endsWith('.partial_image')) await saver.partial(ev.b64_json, ev.output_format);
      else if (kind.endsWith('.completed')) await saver.image(ev, ev.output_format);
    }
    if (saver.count === 0) throw new RequestFailed('the stream ended before any image arrived');
    return;
  }
  const text = await res.text();
  const answer = parseJson(text) as { data?: unknown; output_format?: unknown } | null;
  if (!answer || !Array.isArray(answer.data)) throw new RequestFailed(`the server's answer is not an images response: ${text.slice(0, 200)}`);
  for (const datum of answer.data as Datum[]) await saver.image(datum, answer.output_format);
  if (saver.count === 0) throw new RequestFailed('the answer holds no image');
}

function unreachable(server: string, e: unknown): RequestFailed {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (e as Error).message;
  return new RequestFailed(`cannot reach ${server}: ${why} (is the gateway running? --server or IMAGEGATE_URL names it)`);
}

export async function runClient(command: ClientCommand, argv: string[], io: ClientIo): Promise<number> {
  const fail = (message: string) => io.stderr.write(`error: ${message}\n`);
  const cwd = io.cwd ?? process.cwd();
  let req: ClientRequest;
  let images: InputFile[];
  let mask: InputFile | null;
  try {
    const parsed = parseClientArgs(command, argv, io.env);
    if (parsed.help) {
      io.stdout(CLIENT_USAGE);
      return EXIT.ok;
    }
    req = parsed.request;
    images = [];
    for (const [i, f] of req.images.entries()) images.push(await inputFile(req.images.length > 1 ? `image ${i + 1}` : 'image', f, cwd));
    mask = req.mask === null ? null : await inputFile('mask', req.mask, cwd);
    // before sending: a paid request whose result cannot be written is lost
    const outDir = path.dirname(path.resolve(cwd, req.output));
    if (!fs.statSync(outDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`the output directory ${outDir} does not exist`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    fail(e.message);
    io.stderr.write(`(imagegate ${command} --help lists the options)\n`);
    return EXIT.usage;
  }

  const progress = createProgress(io.stderr, req.quiet);
  // no time limit on waiting: the server has its own, and may retry and fall back for minutes
  const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
  const url = `${req.server}/v1/images/${command === 'edit' ? 'edits' : 'generations'}`;
  const n = req.fields.n ?? 1;
  let what =
    command === 'edit'
      ? `editing ${plural(images.length, 'image')} (${bytes(images.reduce((s, f) => s + f.size, 0))}${mask ? ' and a mask' : ''})`
      : 'generating';
  what += ` with ${req.fields.model ?? 'the default model'} at ${req.server}`;
  if (n > 1) what += `, ${n} results`;
  if (req.fields.stream) what += ', streaming';
  try {
    const { body: payload, contentType } = await body(req, images, mask);
    progress.start(`${what}…`);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${req.key}`,
          // errors come as JSON even when the answer would have been a stream
          accept: req.fields.stream ? 'text/event-stream, application/json' : 'application/json',
          ...(contentType && { 'content-type': contentType }),
        },
        body: payload,
        dispatcher: agent,
        signal: io.signal,
      });
    } catch (e) {
      if (io.signal?.aborted) throw e;
      throw unreachable(req.server, e);
    }
    const requestId = res.headers.get('x-request-id');
    if (!res.ok) {
      const text = await res.text();
      throw new RequestFailed(describeFailure(res.status, parseJson(text), text, requestId));
    }
    const warning = headerText(res.headers.get('x-imagegate-warning'));
    if (warning) progress.line(`warning: ${warning}`, { evenWhenQuiet: true });
    // hosted result URLs are signed: fetched without the key, which must not travel to another host
    const download = async (link: string) => {
      const r = await fetch(new URL(link, `${req.server}/`), { dispatcher: agent, signal: io.signal });
      if (!r.ok) throw new RequestFailed(`downloading ${link}: HTTP ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    };
    const saver = new Saver(req, io, progress, download, n > 1, cwd);
    await readAnswer(res, saver);
    const cost = res.headers.get('x-imagegate-cost-usd');
    progress.line(`done in ${progress.elapsed()}: ${plural(saver.count, 'image')}${cost ? `, cost $${cost}` : ''}${requestId ? ` (request ${requestId})` : ''}`);
    return EXIT.ok;
  } catch (e) {
    progress.stop();
    if (io.signal?.aborted) {
      fail('interrupted');
      return EXIT.interrupted;
    }
    if (e instanceof RequestFailed) {
      fail(e.message);
      return EXIT.failed;
    }
    // a connection lost midway (undici says why in the cause), a file that could not be written
    const cause = (e as { cause?: unknown }).cause;
    fail(`${e instanceof Error ? e.message : String(e)}${cause instanceof Error ? `: ${cause.message}` : ''}`);
    return EXIT.failed;
  } finally {
    progress.stop();
    // everything was read or given up on: nothing to wait for, and no idle socket may hold the process
    await agent.destroy().catch(() => {});
  }
}

/** The process around runClient: real stdout/stderr, the environment, Ctrl-C. */
export async function clientMain(command: ClientCommand, argv: string[]): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    return await runClient(command, argv, {
      stdout: (line) => process.stdout.write(`${line}\n`),
      stderr: process.stderr,
      env: process.env,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
