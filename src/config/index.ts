/**
 * One typed configuration, read once at start from an optional JSON file
 * (IMAGEGATE_CONFIG) and the environment (which wins), validated, frozen.
 */
import fs from 'node:fs';
import path from 'node:path';

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

export class ConfigError extends Error {}

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

/** The file's shape: the same keys as Config, all optional, limits partial. */
type FileConfig = Partial<Omit<Config, 'limits' | 'engine'>> & {
  limits?: Partial<LimitsConfig>;
  engine?: Partial<Config['engine']>;
};

function readFileConfig(file: string): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as FileConfig;
  } catch (e) {
    throw new ConfigError(`config file ${file} is not a JSON object: ${(e as Error).message}`);
  }
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const file: FileConfig = env.IMAGEGATE_CONFIG ? readFileConfig(path.resolve(cwd, env.IMAGEGATE_CONFIG)) : {};
  const limits = { ...defaultLimits(), ...(file.limits ?? {}) };
  const envLimits: Partial<LimitsConfig> = {
    maxImageBytes: int('IMAGEGATE_MAX_IMAGE_BYTES', env.IMAGEGATE_MAX_IMAGE_BYTES, 1024, 2 ** 31),
    maxBodyBytes: int('IMAGEGATE_MAX_BODY_BYTES', env.IMAGEGATE_MAX_BODY_BYTES, 1024, 2 ** 40),
    maxInputPixels: int('IMAGEGATE_MAX_INPUT_PIXELS', env.IMAGEGATE_MAX_INPUT_PIXELS, 1, 2 ** 31),
  };
  for (const [k, v] of Object.entries(envLimits)) if (v !== undefined) (limits as Record<string, number>)[k] = v;
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || (v as number) < 0) throw new ConfigError(`limits.${k} must be a non-negative integer`);
  }

  const host = env.HOST || file.host || '127.0.0.1';
  const port = int('PORT', env.PORT, 0, 65535) ?? int('port', file.port, 0, 65535) ?? 8080;
  const publicBaseUrl = (env.IMAGEGATE_PUBLIC_URL || file.publicBaseUrl || '').replace(/\/+$/, '');
  if (publicBaseUrl && !/^https?:\/\/[^/]+/.test(publicBaseUrl)) {
    throw new ConfigError(`IMAGEGATE_PUBLIC_URL must be an absolute http(s) URL, got ${JSON.stringify(publicBaseUrl)}`);
  }
  const logLevel = (env.LOG_LEVEL || file.logLevel || 'info') as Config['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }

  const config: Config = {
    host,
    port,
    // filled with the real listening address by the server when left empty
    publicBaseUrl,
    dataDir: path.resolve(cwd, env.IMAGEGATE_DATA_DIR || file.dataDir || './data'),
    databaseUrl: env.DATABASE_URL || file.databaseUrl || null,
    masterKey: env.IMAGEGATE_MASTER_KEY || file.masterKey || null,
    defaultModel: env.IMAGEGATE_DEFAULT_MODEL || file.defaultModel || 'gpt-image-1',
    hostedUrlTtlSeconds:
      int('IMAGEGATE_URL_TTL_SECONDS', env.IMAGEGATE_URL_TTL_SECONDS, 1, 7 * 86400) ??
      int('hostedUrlTtlSeconds', file.hostedUrlTtlSeconds, 1, 7 * 86400) ??
      3600,
    limits,
    engine: {
      threads:
        int('IMAGEGATE_ENGINE_THREADS', env.IMAGEGATE_ENGINE_THREADS, 1, 64) ??
        int('engine.threads', file.engine?.threads, 1, 64) ??
        2,
      maxQueue:
        int('IMAGEGATE_ENGINE_MAX_QUEUE', env.IMAGEGATE_ENGINE_MAX_QUEUE, 0, 100_000) ??
        int('engine.maxQueue', file.engine?.maxQueue, 0, 100_000) ??
        64,
      unknownInstructions: oneOf('IMAGEGATE_LOCAL_UNKNOWN', env.IMAGEGATE_LOCAL_UNKNOWN, ['warn', 'reject'] as const) ??
        oneOf('engine.unknownInstructions', file.engine?.unknownInstructions, ['warn', 'reject'] as const) ??
        'warn',
    },
    allowPrivateImageUrls:
      bool('IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS', env.IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS) ??
      bool('allowPrivateImageUrls', file.allowPrivateImageUrls) ??
      false,
    imageUrlCaFile: env.IMAGEGATE_IMAGE_URL_CA_FILE || file.imageUrlCaFile || null,
    logLevel,
    shutdownGraceMs: int('IMAGEGATE_SHUTDOWN_GRACE_MS', env.IMAGEGATE_SHUTDOWN_GRACE_MS, 0, 3_600_000) ?? 30_000,
  };
  return config;
}
