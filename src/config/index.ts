/**
 * One typed configuration, read once at start from an optional YAML or JSON
 * file (IMAGEGATE_CONFIG; see file.ts and schema.ts) and the environment
 * (which wins for the server settings), validated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, readConfigFile, type ParsedFile } from './file.js';
import type { DroppableParameter, FileConfig, ProviderType } from './schema.js';

export { ConfigError } from './file.js';
export type { ProviderType, DroppableParameter } from './schema.js';

export interface LimitsConfig {
  /** per input image for GPT image models (OpenAI: 50 MB) */
  maxImageBytes: number;
  /** per input image for DALL·E models (OpenAI: 4 MB) */
  maxDalleImageBytes: number;
  /** the mask (OpenAI: 4 MB) */
  maxMaskBytes: number;
  /** input images in one request (OpenAI: 16) */
  maxImages: number;
  /** one text field, in bytes (a 32,000-character prompt is up to 128 KB of UTF-8) */
  maxFieldBytes: number;
  /** text fields in one request */
  maxFields: number;
  /** a whole multipart body */
  maxBodyBytes: number;
  /** a whole application/json body (held in memory to parse it) */
  maxJsonBytes: number;
  /** decoded pixels of one input image; larger images are refused before decoding */
  maxInputPixels: number;
  /** fetching an https image_url */
  urlFetchTimeoutMs: number;
  urlFetchMaxRedirects: number;
}

export interface Config {
  host: string;
  port: number;
  /** absolute base of hosted image URLs, no trailing slash */
  publicBaseUrl: string;
  dataDir: string;
  /** null: SQLite in dataDir; 'postgres://…': PostgreSQL */
  databaseUrl: string | null;
  /** null: rate limits, concurrency, locks and breaker state in process; 'redis://…': shared by every node */
  redisUrl: string | null;
  /** null: hosted images on disk in dataDir; else an S3-compatible bucket shared by every node */
  s3: S3Config | null;
  /** IMAGEGATE_URL_SECRET: the HMAC key of hosted URLs, shared by every node; null: a per-node file in dataDir */
  urlSecret: string | null;
  masterKey: string | null;
  defaultModel: string;
  /** how long a hosted result URL stays valid */
  hostedUrlTtlSeconds: number;
  limits: LimitsConfig;
  engine: {
    /** worker threads for the built-in engine */
    threads: number;
    /** edits that may wait for a free thread; more are answered 503 with Retry-After */
    maxQueue: number;
    /** an instruction the engine cannot do: 'warn' (edit the rest, say so in a header) or 'reject' (400) */
    unknownInstructions: 'warn' | 'reject';
  };
  /** allow image_url fetches to loopback/private addresses (tests, trusted networks only) */
  allowPrivateImageUrls: boolean;
  /** extra CA certificates (PEM) trusted for image_url fetches */
  imageUrlCaFile: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  shutdownGraceMs: number;
  /** edit requests one node holds at once; more are answered 503 at once */
  maxInFlight: number;
  /** GET /metrics: public (no key) when true, else the master key only */
  metrics: { public: boolean };
  /** the config file read, absolute; null when none */
  configFile: string | null;
  /** upstream accounts by name */
  providers: Record<string, ProviderConfig>;
  /** public model name → deployments in order; null when the file has no `models` */
  models: Record<string, { deployments: DeploymentConfig[] }> | null;
  /** with `models` given: a model not listed is 404 instead of the built-in engine */
  strictModels: boolean;
  /** as written in the file (decimal USD strings); billing/ turns them into micro-USD */
  prices: NonNullable<FileConfig['prices']>;
  groups: NonNullable<FileConfig['groups']>;
  /** every secret value the config holds (env: values, the master key): scrubbed from anything printed */
  secrets: string[];
}

export interface S3Config {
  bucket: string;
  /** null: AWS itself */
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  /** from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); null: the AWS SDK's default chain */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
}

/** URL-signing secrets shorter than this are refused: the HMAC would be guessable. */
export const MIN_URL_SECRET_BYTES = 32;

export interface TimeoutsConfig {
  connectMs: number;
  /** until the response headers arrive, and between body chunks */
  firstByteMs: number;
  /** one attempt end to end (for polled providers: submit, polls and download) */
  totalMs: number;
}

export interface ProviderConfig {
  name: string;
  type: ProviderType;
  /** no trailing slash; '' for local */
  baseUrl: string;
  apiKey: string | null;
  timeouts: TimeoutsConfig;
  /** retries on this provider before falling back */
  maxRetries: number;
  breaker: { failures: number; cooldownMs: number };
  /** hosts (besides baseUrl's) whose polling and result URLs may be followed; '*.x' matches subdomains */
  trustedHosts: string[];
  dropUnsupported: DroppableParameter[];
  organization: string | null;
  project: string | null;
  apiVersion: string;
  fillModel: string;
  /** comfyui: the edit workflow ({{image}}, {{prompt}}); null for a generation-only server */
  workflow: { path: string; graph: Record<string, { class_type: string; inputs: Record<string, unknown> }> } | null;
  /** comfyui: the text-to-image workflow ({{prompt}}, no {{image}} or {{mask}}); null when generations are not served */
  generationWorkflow: { path: string; graph: Record<string, { class_type: string; inputs: Record<string, unknown> }> } | null;
  /** comfyui: the edit workflow's output nodes */
  outputNode: string[] | null;
  params: Record<string, unknown>;
}

export interface DeploymentConfig {
  /** a provider name, or 'local' */
  provider: string;
  /** the upstream model; null for the built-in engine */
  model: string | null;
}

const MB = 1024 * 1024;

export function defaultLimits(): LimitsConfig {
  const maxImageBytes = 50 * MB;
  const maxImages = 16;
  const maxMaskBytes = 4 * MB;
  const maxFieldBytes = 256 * 1024;
  const maxFields = 64;
  return {
    maxImageBytes,
    maxDalleImageBytes: 4 * MB,
    maxMaskBytes,
    maxImages,
    maxFieldBytes,
    maxFields,
    // everything the contract allows at once, plus room for part headers
    maxBodyBytes: maxImages * maxImageBytes + maxMaskBytes + maxFields * maxFieldBytes + MB,
    maxJsonBytes: 64 * MB,
    maxInputPixels: 50_000_000,
    urlFetchTimeoutMs: 15_000,
    urlFetchMaxRedirects: 3,
  };
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | number | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function bool(name: string, raw: string | boolean | undefined): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'boolean') return raw;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function oneOf<T extends string>(name: string, raw: unknown, allowed: readonly T[]): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const configFile = env.IMAGEGATE_CONFIG ? path.resolve(cwd, env.IMAGEGATE_CONFIG) : null;
  const parsed = configFile ? readConfigFile(configFile, env) : null;
  const file: FileConfig = parsed?.config ?? {};
  const limits = { ...defaultLimits(), ...(file.limits ?? {}) };
  const envLimits: Partial<LimitsConfig> = {
    maxImageBytes: int('IMAGEGATE_MAX_IMAGE_BYTES', env.IMAGEGATE_MAX_IMAGE_BYTES, 1024, 2 ** 31),
    maxBodyBytes: int('IMAGEGATE_MAX_BODY_BYTES', env.IMAGEGATE_MAX_BODY_BYTES, 1024, 2 ** 40),
    maxInputPixels: int('IMAGEGATE_MAX_INPUT_PIXELS', env.IMAGEGATE_MAX_INPUT_PIXELS, 1, 2 ** 31),
  };
  for (const [k, v] of Object.entries(envLimits)) if (v !== undefined) (limits as Record<string, number>)[k] = v;

  const host = env.HOST || file.host || '127.0.0.1';
  const port = int('PORT', env.PORT, 0, 65535) ?? file.port ?? 8080;
  const publicBaseUrl = (env.IMAGEGATE_PUBLIC_URL || file.publicBaseUrl || '').replace(/\/+$/, '');
  if (publicBaseUrl && !/^https?:\/\/[^/]+/.test(publicBaseUrl)) {
    throw new ConfigError(`IMAGEGATE_PUBLIC_URL must be an absolute http(s) URL, got ${JSON.stringify(publicBaseUrl)}`);
  }
  const logLevel = (env.LOG_LEVEL || file.logLevel || 'info') as Config['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }

  const routing = parsed ? resolveRouting(parsed, configFile!) : { providers: {}, models: null };
  const config: Config = {
    host,
    port,
    // filled with the real listening address by the server when left empty
    publicBaseUrl,
    dataDir: path.resolve(cwd, env.IMAGEGATE_DATA_DIR || file.dataDir || './data'),
    databaseUrl: env.DATABASE_URL || file.databaseUrl || null,
    redisUrl: redisUrl(env.REDIS_URL || file.redisUrl || null),
    s3: s3Config(env, file.s3),
    urlSecret: urlSecret(env.IMAGEGATE_URL_SECRET),
    masterKey: env.IMAGEGATE_MASTER_KEY || file.masterKey || null,
    defaultModel: env.IMAGEGATE_DEFAULT_MODEL || file.defaultModel || 'gpt-image-1',
    hostedUrlTtlSeconds: int('IMAGEGATE_URL_TTL_SECONDS', env.IMAGEGATE_URL_TTL_SECONDS, 1, 7 * 86400) ?? file.hostedUrlTtlSeconds ?? 3600,
    limits,
    engine: {
      threads: int('IMAGEGATE_ENGINE_THREADS', env.IMAGEGATE_ENGINE_THREADS, 1, 64) ?? file.engine?.threads ?? 2,
      maxQueue: int('IMAGEGATE_ENGINE_MAX_QUEUE', env.IMAGEGATE_ENGINE_MAX_QUEUE, 0, 100_000) ?? file.engine?.maxQueue ?? 64,
      unknownInstructions:
        oneOf('IMAGEGATE_LOCAL_UNKNOWN', env.IMAGEGATE_LOCAL_UNKNOWN, ['warn', 'reject'] as const) ?? file.engine?.unknownInstructions ?? 'warn',
    },
    maxInFlight: int('IMAGEGATE_MAX_IN_FLIGHT', env.IMAGEGATE_MAX_IN_FLIGHT, 1, 1_000_000) ?? file.maxInFlight ?? 256,
    metrics: { public: bool('IMAGEGATE_METRICS_PUBLIC', env.IMAGEGATE_METRICS_PUBLIC) ?? file.metrics?.public ?? false },
    allowPrivateImageUrls:
      bool('IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS', env.IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS) ?? file.allowPrivateImageUrls ?? false,
    imageUrlCaFile: env.IMAGEGATE_IMAGE_URL_CA_FILE || file.imageUrlCaFile || null,
    logLevel,
    shutdownGraceMs: int('IMAGEGATE_SHUTDOWN_GRACE_MS', env.IMAGEGATE_SHUTDOWN_GRACE_MS, 0, 3_600_000) ?? file.shutdownGraceMs ?? 30_000,
    configFile,
    providers: routing.providers,
    models: routing.models,
    strictModels: file.strictModels ?? false,
    prices: file.prices ?? {},
    groups: file.groups ?? {},
    secrets: parsed ? [...parsed.secrets] : [],
  };
  if (config.masterKey) config.secrets.push(config.masterKey);
  if (config.redisUrl) config.secrets.push(config.redisUrl, ...urlPassword(config.redisUrl));
  if (config.s3?.credentials) config.secrets.push(config.s3.credentials.secretAccessKey);
  if (config.urlSecret) config.secrets.push(config.urlSecret);
  return config;
}

function redisUrl(raw: string | null): string | null {
  if (raw === null) return null;
  let u: URL | null = null;
  try {
    u = new URL(raw);
  } catch {
    // the value itself may hold a password: not quoted
  }
  if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:')) {
    throw new ConfigError('REDIS_URL must look like redis://[:password@]host:port/db (or rediss:// for TLS)');
  }
  return raw;
}

function urlPassword(url: string): string[] {
  const password = decodeURIComponent(new URL(url).password);
  return password ? [password] : [];
}

/** IMAGEGATE_S3_* win over the file's `s3:` keys, one by one; no bucket, no S3. */
function s3Config(env: Env, file: FileConfig['s3']): S3Config | null {
  const bucket = env.IMAGEGATE_S3_BUCKET || file?.bucket;
  if (!bucket) return null;
  const endpoint = env.IMAGEGATE_S3_ENDPOINT || file?.endpoint || null;
  if (endpoint !== null) {
    let u: URL | null = null;
    try {
      u = new URL(endpoint);
    } catch {
      // reported below
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) {
      throw new ConfigError('IMAGEGATE_S3_ENDPOINT must be an http(s) URL without credentials, e.g. http://127.0.0.1:9000');
    }
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  }
  return {
    bucket,
    endpoint,
    region: env.IMAGEGATE_S3_REGION || file?.region || env.AWS_REGION || 'us-east-1',
    forcePathStyle: bool('IMAGEGATE_S3_FORCE_PATH_STYLE', env.IMAGEGATE_S3_FORCE_PATH_STYLE) ?? file?.forcePathStyle ?? false,
    credentials: accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : null,
  };
}

function urlSecret(raw: string | undefined): string | null {
  if (!raw) return null;
  if (Buffer.byteLength(raw, 'utf8') < MIN_URL_SECRET_BYTES) {
    throw new ConfigError(`IMAGEGATE_URL_SECRET must be at least ${MIN_URL_SECRET_BYTES} bytes (e.g. the output of: openssl rand -hex 32)`);
  }
  return raw;
}

interface TypeDefaults {
  baseUrl: string | null;
  /** a cloud API that refuses calls without a key */
  needsKey: boolean;
  trustedHosts: string[];
}

/** OPERATOR.md, "Per provider type": where each type lives and whose result URLs it trusts out of the box. */
const TYPE_DEFAULTS: Record<ProviderType, TypeDefaults> = {
  openai: { baseUrl: 'https://api.openai.com/v1', needsKey: true, trustedHosts: [] },
  'azure-openai': { baseUrl: null, needsKey: true, trustedHosts: [] },
  'openai-compatible': { baseUrl: null, needsKey: false, trustedHosts: [] },
  gemini: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta', needsKey: true, trustedHosts: [] },
  // result samples are signed URLs on BFL's hosts or on its Azure storage accounts (bfldeliveryprod…, one per region)
  bfl: { baseUrl: 'https://api.bfl.ai', needsKey: true, trustedHosts: ['*.bfl.ai', 'bfldelivery*.blob.core.windows.net'] },
  replicate: { baseUrl: 'https://api.replicate.com/v1', needsKey: true, trustedHosts: ['replicate.delivery', '*.replicate.delivery', '*.replicate.com'] },
  fal: { baseUrl: 'https://queue.fal.run', needsKey: true, trustedHosts: ['*.fal.run', 'fal.media', '*.fal.media'] },
  stability: { baseUrl: 'https://api.stability.ai', needsKey: true, trustedHosts: [] },
  comfyui: { baseUrl: 'http://127.0.0.1:8188', needsKey: false, trustedHosts: [] },
  a1111: { baseUrl: 'http://127.0.0.1:7860', needsKey: false, trustedHosts: [] },
  local: { baseUrl: null, needsKey: false, trustedHosts: [] },
};

export const DEFAULT_TIMEOUTS: TimeoutsConfig = { connectMs: 10_000, firstByteMs: 120_000, totalMs: 300_000 };

function resolveRouting(parsed: ParsedFile, configFile: string): Pick<Config, 'providers' | 'models'> {
  const { config: file, where } = parsed;
  const providers: Record<string, ProviderConfig> = {};
  for (const [name, p] of Object.entries(file.providers ?? {})) {
    const at = (...rest: string[]) => ['providers', name, ...rest];
    if (name === 'local' && p.type !== 'local') throw where.error(at('type'), `the name 'local' is kept for the built-in engine`);
    const defaults = TYPE_DEFAULTS[p.type];
    const rawBase = p.baseUrl ?? defaults.baseUrl;
    let baseUrl = '';
    if (p.type !== 'local') {
      if (!rawBase) throw where.error(at('baseUrl'), `is required for type '${p.type}'`);
      let u: URL;
      try {
        u = new URL(rawBase);
      } catch {
        throw where.error(at('baseUrl'), `is not a URL: ${JSON.stringify(rawBase)}`);
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw where.error(at('baseUrl'), 'must be an http or https URL');
      if (u.username || u.password) throw where.error(at('baseUrl'), 'must not carry credentials; use apiKey');
      baseUrl = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
      if (defaults.needsKey && !p.apiKey) throw where.error(at('apiKey'), `is required for type '${p.type}' (write it as env:VARIABLE_NAME)`);
    }
    let workflow: ProviderConfig['workflow'] = null;
    let generationWorkflow: ProviderConfig['generationWorkflow'] = null;
    if (p.type === 'comfyui') {
      if (!p.workflow && !p.generationWorkflow) {
        throw where.error(at('workflow'), `is required for type 'comfyui' (or generationWorkflow): the path of an API-format workflow JSON`);
      }
      if (p.workflow) workflow = loadWorkflow(path.resolve(path.dirname(configFile), p.workflow), (m) => where.error(at('workflow'), m), 'edit');
      if (p.generationWorkflow) {
        generationWorkflow = loadWorkflow(path.resolve(path.dirname(configFile), p.generationWorkflow), (m) => where.error(at('generationWorkflow'), m), 'generation');
      }
      // a node that is not there would make every run fail after it finished; say so at start
      for (const id of p.outputNode === undefined ? [] : ([] as string[]).concat(p.outputNode)) {
        if (!workflow) throw where.error(at('outputNode'), 'names the edit workflow\'s output nodes, and there is no workflow');
        if (!(id in workflow.graph)) throw where.error(at('outputNode'), `names node '${id}', which the workflow ${workflow.path} does not have`);
      }
    } else if (p.generationWorkflow) {
      throw where.error(at('generationWorkflow'), `is a key of type 'comfyui' only`);
    }
    providers[name] = {
      name,
      type: p.type,
      baseUrl,
      apiKey: p.apiKey ?? null,
      timeouts: { ...DEFAULT_TIMEOUTS, ...(p.timeouts ?? {}) },
      maxRetries: p.maxRetries ?? 2,
      breaker: { failures: p.breaker?.failures ?? 5, cooldownMs: p.breaker?.cooldownMs ?? 30_000 },
      trustedHosts: p.trustedHosts ?? defaults.trustedHosts,
      dropUnsupported: [...new Set(p.dropUnsupported ?? [])],
      organization: p.organization ?? null,
      project: p.project ?? null,
      apiVersion: p.apiVersion ?? '2025-04-01-preview',
      fillModel: p.fillModel ?? 'flux-pro-1.0-fill',
      workflow,
      generationWorkflow,
      outputNode: p.outputNode === undefined ? null : Array.isArray(p.outputNode) ? p.outputNode : [p.outputNode],
      params: p.params ?? {},
    };
  }

  let models: Config['models'] = null;
  if (file.models) {
    models = {};
    for (const [model, entry] of Object.entries(file.models)) {
      models[model] = {
        deployments: entry.deployments.map((d, i) => {
          const at = (key: string) => ['models', model, 'deployments', i, key];
          const provider = providers[d.provider];
          if (!provider && d.provider !== 'local') {
            const known = [...Object.keys(providers), 'local'];
            throw where.error(at('provider'), `unknown provider '${d.provider}'; the providers are ${known.map((k) => `'${k}'`).join(', ')}`);
          }
          const type = provider?.type ?? 'local';
          if (type !== 'local' && !d.model) throw where.error(at('model'), `is required: the upstream model of provider '${d.provider}'`);
          return { provider: d.provider, model: type === 'local' ? null : d.model! };
        }),
      };
    }
  }
  return { providers, models };
}

const WORKFLOW_REQUIRED = { edit: ['{{image}}', '{{prompt}}'], generation: ['{{prompt}}'] };
/** a generation has no image: a text-to-image workflow that loads one cannot run */
const GENERATION_FORBIDDEN = ['{{image}}', '{{mask}}'];

/** A ComfyUI API-format workflow: an object of nodes, each with class_type and inputs, holding the placeholders. */
function loadWorkflow(file: string, fail: (message: string) => ConfigError, kind: 'edit' | 'generation'): NonNullable<ProviderConfig['workflow']> {
  let graph: unknown;
  try {
    graph = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw fail(`cannot read the workflow ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!graph || typeof graph !== 'object' || Array.isArray(graph)) throw fail(`the workflow ${file} is not a JSON object of nodes`);
  const nodes = Object.entries(graph as Record<string, unknown>);
  for (const [id, node] of nodes) {
    const n = node as { class_type?: unknown; inputs?: unknown };
    if (!n || typeof n !== 'object' || typeof n.class_type !== 'string' || typeof n.inputs !== 'object') {
      throw fail(`the workflow ${file} is not in API format: node '${id}' has no class_type and inputs (export it with "Save (API Format)")`);
    }
  }
  const text = JSON.stringify(graph);
  const missing = WORKFLOW_REQUIRED[kind].filter((p) => !text.includes(JSON.stringify(p)));
  if (missing.length > 0) throw fail(`the workflow ${file} has no ${missing.join(' or ')} placeholder (a string input that is exactly that text)`);
  if (kind === 'generation') {
    const extra = GENERATION_FORBIDDEN.filter((p) => text.includes(JSON.stringify(p)));
    if (extra.length > 0) throw fail(`the generation workflow ${file} holds ${extra.join(' and ')}: a generation has no input image (start from an EmptyLatentImage)`);
  }
  return { path: file, graph: graph as Record<string, { class_type: string; inputs: Record<string, unknown> }> };
}
