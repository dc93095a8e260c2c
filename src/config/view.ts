/**
 * The running config as an operator may see it (GET /admin/config, the
 * console's "Models and providers" page): every setting that shapes routing
 * and billing, with no secret in it. Provider keys are never shown, only
 * whether one is set; every other string passes through the same scrubber
 * as upstream errors, and a string that *is* a secret (however short) is
 * replaced whole. Connection URLs are reduced to what they connect to.
 */
import type { Config, ProviderConfig } from './index.js';
import { createScrubber } from './secrets.js';

export const MASK = '••••••';

export interface ProviderView {
  name: string;
  type: ProviderConfig['type'];
  baseUrl: string;
  /** '••••••' when a key is set, null when none */
  apiKey: string | null;
  timeouts: ProviderConfig['timeouts'];
  maxRetries: number;
  breaker: ProviderConfig['breaker'];
  trustedHosts: string[];
  dropUnsupported: string[];
  /** the keys of its own type, when set (organization, apiVersion, fillModel, workflow, generationWorkflow, outputNode, params) */
  options: Record<string, unknown>;
}

export interface ConfigView {
  configFile: string | null;
  defaultModel: string;
  strictModels: boolean;
  providers: ProviderView[];
  prices: Config['prices'];
  server: Record<string, unknown>;
}

/** A copy of `value` with every string masked or scrubbed. */
export function maskSecrets<T>(value: T, secrets: readonly string[]): T {
  const exact = new Set(secrets.filter((s) => s.length > 0));
  const scrub = createScrubber(secrets);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return exact.has(v) ? MASK : scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function providerView(p: ProviderConfig): ProviderView {
  const options: Record<string, unknown> = {};
  if (p.organization !== null) options.organization = p.organization;
  if (p.project !== null) options.project = p.project;
  if (p.type === 'azure-openai') options.apiVersion = p.apiVersion;
  if (p.type === 'bfl') options.fillModel = p.fillModel;
  // the workflow's path, not its graph: the graph is large and the file is the operator's own
  if (p.workflow !== null) options.workflow = p.workflow.path;
  if (p.generationWorkflow !== null) options.generationWorkflow = p.generationWorkflow.path;
  if (p.outputNode !== null) options.outputNode = p.outputNode;
  if (Object.keys(p.params).length > 0) options.params = p.params;
  return {
    name: p.name,
    type: p.type,
    baseUrl: p.baseUrl,
    apiKey: p.apiKey ? MASK : null,
    timeouts: p.timeouts,
    maxRetries: p.maxRetries,
    breaker: p.breaker,
    trustedHosts: p.trustedHosts,
    dropUnsupported: p.dropUnsupported,
    options,
  };
}

export function configView(config: Config, dialect: 'sqlite' | 'postgres'): ConfigView {
  const view: ConfigView = {
    configFile: config.configFile,
    defaultModel: config.defaultModel,
    strictModels: config.strictModels,
    providers: Object.values(config.providers).map(providerView),
    prices: config.prices,
    server: {
      publicBaseUrl: config.publicBaseUrl || null,
      dataDir: config.dataDir,
      // what the gateway connects to, never the URL (it may hold a password)
      database: dialect,
      redis: config.redisUrl !== null,
      s3: config.s3 ? { bucket: config.s3.bucket, endpoint: config.s3.endpoint, region: config.s3.region } : null,
      hostedUrlTtlSeconds: config.hostedUrlTtlSeconds,
      engine: config.engine,
      maxInFlight: config.maxInFlight,
      limits: config.limits,
    },
  };
  return maskSecrets(view, config.secrets);
}
