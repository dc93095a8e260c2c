/**
 * The command line of `imagegate edit` and `imagegate generate`, read into
 * one plain request description. Only what the client itself must know is
 * checked here (files, whole numbers, a key); the values the API defines
 * (sizes, qualities, models) are left to the server, which knows each
 * model's rules and names the allowed values in its error.
 */
import { parseArgs } from 'node:util';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
/** the one variable name for a client's key, here and in the README */
export const KEY_VARIABLE = 'IMAGEGATE_KEY';
export const SERVER_VARIABLE = 'IMAGEGATE_URL';

/** Exit codes: scripts tell a mistake on the command line from a request that failed. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

export const CLIENT_HELP = `  imagegate edit IMAGE... -p PROMPT [--mask M] [-n N] [--model M] [--size S] [--quality Q]
                 [--background B] [--format png|jpeg|webp] [-o out.png] [--stream] [--partials N]
                 [--server URL] [--key K]
                                    edit images on a running gateway; writes out.png (out-1.png, … for n > 1)
  imagegate generate -p PROMPT [same options, no IMAGE or --mask]
                                    generate images (POST /v1/images/generations)`;

export const CLIENT_USAGE = `usage:
${CLIENT_HELP}

options:
  -p, --prompt TEXT       what to do (required)
  --mask FILE             PNG whose transparent pixels mark where to edit (edit only)
  -n N                    how many images (1-10)
  --model NAME            e.g. gpt-image-1 (default: the server's)
  --size WxH              e.g. 1024x1024, 1536x1024, auto
  --quality Q             low, medium, high, auto
  --background B          transparent, opaque, auto
  --format F              output format: png, jpeg, webp
  --response-format F     b64_json or url (both are saved as files)
  --user ID               an end-user id for the server's request log
  -o, --output FILE       where to write (default out.png); the extension follows the answer's format,
                          n > 1 gives out-1.png, out-2.png, …; partial images go to out.partial-1.png, …
  --stream                ask for server-sent events
  --partials N            partial images to ask for (0-3); implies --stream
  --server URL            the gateway (default $${SERVER_VARIABLE}, else ${DEFAULT_SERVER})
  --key KEY               the API key (default $${KEY_VARIABLE}; prefer the variable: arguments show in ps)
  -q, --quiet             no progress on stderr

Images are sent in the order given. The files written are printed on stdout, progress
and errors on stderr. Exit status: 0 done, 1 the request failed (the server's message is
printed), 2 a usage error (nothing was sent), 130 interrupted.`;

export type ClientCommand = 'edit' | 'generate';

export interface ClientRequest {
  command: ClientCommand;
  /** e.g. http://127.0.0.1:8080, no trailing slash or /v1 */
  server: string;
  key: string;
  /** input images, in the order given (edit only) */
  images: string[];
  mask: string | null;
  output: string;
  /** the API's own fields, as given (strings; n and partial_images as numbers) */
  fields: {
    prompt: string;
    model?: string;
    n?: number;
    size?: string;
    quality?: string;
    background?: string;
    output_format?: string;
    response_format?: string;
    user?: string;
    stream?: boolean;
    partial_images?: number;
  };
  quiet: boolean;
}

export class UsageError extends Error {}

export type ParsedCommandLine = { help: true } | { help: false; request: ClientRequest };

type Env = Record<string, string | undefined>;

function wholeNumber(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  return Number(raw);
}

/** `http://host:8080/v1/` and `http://host:8080` name the same gateway: the client adds `/v1/images/…` itself. */
export function normaliseServer(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--server must be a URL such as ${DEFAULT_SERVER}, got '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--server must be an http or https URL, got '${raw}'`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
}

export function parseClientArgs(command: ClientCommand, argv: string[], env: Env): ParsedCommandLine {
  let parsed: ReturnType<typeof read>;
  try {
    parsed = read(argv);
  } catch (e) {
    // parseArgs' own messages name the option ("Unknown option '--colour'")
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { help: true };

  if (command === 'generate' && positionals.length > 0) {
    throw new UsageError(`generate takes no image files (got ${positionals.map((p) => `'${p}'`).join(', ')}); use 'imagegate edit' to edit them`);
  }
  if (command === 'generate' && v.mask !== undefined) throw new UsageError('--mask is for edit only');
  if (command === 'edit' && positionals.length === 0) throw new UsageError('edit needs at least one IMAGE file');
  if (v.prompt === undefined || v.prompt.trim() === '') throw new UsageError('a prompt is required: -p "what to do"');

  const key = v.key ?? env[KEY_VARIABLE] ?? '';
  if (key === '') {
    throw new UsageError(`no API key: set ${KEY_VARIABLE} (or pass --key); a gateway started here keeps its master key in data/master.key`);
  }
  const partials = wholeNumber('--partials', v.partials, 0, 3);
  const stream = v.stream === true || partials !== undefined;
  return {
    help: false,
    request: {
      command,
      server: normaliseServer(v.server ?? (env[SERVER_VARIABLE] || DEFAULT_SERVER)),
      key,
      images: positionals,
      mask: v.mask ?? null,
      output: v.output ?? 'out.png',
      fields: {
        prompt: v.prompt,
        ...(v.model !== undefined && { model: v.model }),
        ...(v.n !== undefined && { n: wholeNumber('-n', v.n, 1, 10) }),
        ...(v.size !== undefined && { size: v.size }),
        ...(v.quality !== undefined && { quality: v.quality }),
        ...(v.background !== undefined && { background: v.background }),
        ...(v.format !== undefined && { output_format: v.format }),
        ...(v['response-format'] !== undefined && { response_format: v['response-format'] }),
        ...(v.user !== undefined && { user: v.user }),
        ...(stream && { stream: true }),
        ...(partials !== undefined && { partial_images: partials }),
      },
      quiet: v.quiet === true,
    },
  };
}

function read(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      prompt: { type: 'string', short: 'p' },
      mask: { type: 'string' },
      n: { type: 'string', short: 'n' },
      model: { type: 'string' },
      size: { type: 'string' },
      quality: { type: 'string' },
      background: { type: 'string' },
      format: { type: 'string' },
      'response-format': { type: 'string' },
      user: { type: 'string' },
      output: { type: 'string', short: 'o' },
      stream: { type: 'boolean' },
      partials: { type: 'string' },
      server: { type: 'string' },
      key: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
