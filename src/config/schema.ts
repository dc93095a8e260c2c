/**
 * The config file's shape (OPERATOR.md, "The config file"), as zod schemas.
 * Every object is strict: a key the gateway does not know is an error, not a
 * silently ignored typo. Values here are as written in the file; the loader
 * resolves `env:NAME` strings, paths and defaults afterwards.
 */
import { z } from 'zod';

export const PROVIDER_TYPES = [
  'openai',
  'azure-openai',
  'openai-compatible',
  'gemini',
  'bfl',
  'replicate',
  'fal',
  'stability',
  'comfyui',
  'a1111',
  'local',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/** Parameters a deployment may list under `dropUnsupported` (dropped instead of refused). */
export const DROPPABLE_PARAMETERS = [
  'image',
  'mask',
  'size',
  'quality',
  'background',
  'input_fidelity',
  'moderation',
  'output_compression',
] as const;
export type DroppableParameter = (typeof DROPPABLE_PARAMETERS)[number];

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** USD as a decimal string ("0.04", "40.00"); money is held in integer micro-USD. */
export const usdString = z
  .string()
  .regex(/^\d{1,9}(\.\d{1,6})?$/, 'must be a decimal string of US dollars with at most 6 decimals, e.g. "0.04"');
const signedUsdString = z.string().regex(/^-?\d{1,9}(\.\d{1,6})?$/, 'must be a decimal string, e.g. "0.8"');

const timeouts = z.strictObject({
  connectMs: int(1, 600_000).optional(),
  firstByteMs: int(1, 3_600_000).optional(),
  totalMs: int(1, 3_600_000).optional(),
});

const breaker = z.strictObject({
  failures: int(1, 1000).optional(),
  cooldownMs: int(1, 3_600_000).optional(),
});

const hostPattern = z
  .string()
  .regex(
    /^((\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?|[a-z0-9][a-z0-9-]*\*(?=\.))(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i,
    'must be a host name, optionally starting with "*." (e.g. "*.bfl.ai") or with a first label ending in "*" (e.g. "bfldelivery*.blob.core.windows.net")',
  );

export const providerSchema = z.strictObject({
  type: z.enum(PROVIDER_TYPES),
  baseUrl: z.string().optional(),
  apiKey: z.string().optional(),
  timeouts: timeouts.optional(),
  maxRetries: int(0, 10).optional(),
  breaker: breaker.optional(),
  trustedHosts: z.array(hostPattern).optional(),
  dropUnsupported: z.array(z.enum(DROPPABLE_PARAMETERS)).optional(),
  // openai
  organization: z.string().optional(),
  project: z.string().optional(),
  // azure-openai
  apiVersion: z.string().regex(/^[\w.-]+$/, 'must look like "2025-04-01-preview"').optional(),
  // bfl
  fillModel: z.string().regex(/^[\w.-]+$/, 'must be a BFL endpoint name such as "flux-pro-1.0-fill"').optional(),
  // comfyui
  workflow: z.string().optional(),
  generationWorkflow: z.string().optional(),
  outputNode: z.union([z.string(), z.array(z.string())]).optional(),
  // a1111
  params: z.record(z.string(), z.unknown()).optional(),
});
export type ProviderFileConfig = z.infer<typeof providerSchema>;

const deploymentSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1).optional(),
});

const modelSchema = z.strictObject({
  deployments: z.array(deploymentSchema).min(1),
});

const priceSchema = z
  .strictObject({
    tokens: z
      .strictObject({
        textInput: usdString.optional(),
        imageInput: usdString.optional(),
        imageOutput: usdString.optional(),
        textOutput: usdString.optional(),
      })
      .optional(),
    perImage: z.record(z.string().regex(/^(default|\d{1,5}x\d{1,5})$/, 'must be "WIDTHxHEIGHT" or "default"'), usdString).optional(),
  })
  .refine((p) => p.tokens !== undefined || p.perImage !== undefined, 'needs "tokens" or "perImage"');

const groupSchema = z.strictObject({
  priceMultiplier: signedUsdString.optional(),
  rpm: int(0, 10_000_000).optional(),
  maxConcurrent: int(0, 1_000_000).optional(),
});

const limitsSchema = z.strictObject({
  maxImageBytes: int(1024, 2 ** 31).optional(),
  maxDalleImageBytes: int(1024, 2 ** 31).optional(),
  maxMaskBytes: int(1024, 2 ** 31).optional(),
  maxImages: int(1, 16).optional(),
  maxFieldBytes: int(1024, 16 * 1024 * 1024).optional(),
  maxFields: int(1, 10_000).optional(),
  maxBodyBytes: int(1024, 2 ** 40).optional(),
  maxJsonBytes: int(1024, 2 ** 31).optional(),
  maxInputPixels: int(1, 2 ** 31).optional(),
  urlFetchTimeoutMs: int(1, 600_000).optional(),
  urlFetchMaxRedirects: int(0, 20).optional(),
});

export const fileSchema = z.strictObject({
  host: z.string().optional(),
  port: int(0, 65535).optional(),
  publicBaseUrl: z.string().optional(),
  dataDir: z.string().optional(),
  databaseUrl: z.string().optional(),
  redisUrl: z.string().optional(),
  s3: z
    .strictObject({
      bucket: z.string().min(1).optional(),
      endpoint: z.string().optional(),
      region: z.string().min(1).optional(),
      forcePathStyle: z.boolean().optional(),
    })
    .optional(),
  masterKey: z.string().optional(),
  defaultModel: z.string().optional(),
  hostedUrlTtlSeconds: int(1, 7 * 86400).optional(),
  limits: limitsSchema.optional(),
  engine: z
    .strictObject({
      threads: int(1, 64).optional(),
      maxQueue: int(0, 100_000).optional(),
      unknownInstructions: z.enum(['warn', 'reject']).optional(),
    })
    .optional(),
  maxInFlight: int(1, 1_000_000).optional(),
  metrics: z.strictObject({ public: z.boolean().optional() }).optional(),
  allowPrivateImageUrls: z.boolean().optional(),
  imageUrlCaFile: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  shutdownGraceMs: int(0, 3_600_000).optional(),
  providers: z.record(z.string().regex(/^[A-Za-z0-9][\w.-]{0,63}$/, 'provider names are letters, digits, ".", "_" and "-"'), providerSchema).optional(),
  models: z.record(z.string().min(1).max(256), modelSchema).optional(),
  strictModels: z.boolean().optional(),
  prices: z.record(z.string().min(1), priceSchema).optional(),
  groups: z.record(z.string().min(1), groupSchema).optional(),
});
export type FileConfig = z.infer<typeof fileSchema>;
