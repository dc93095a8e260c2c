/**
 * Every configured provider, built from its config by its type's adapter,
 * with its own HTTP client (connection pool, timeouts, trusted hosts). The
 * built-in engine is always there as 'local'.
 */
import type { Config, ProviderConfig } from '../config/index.js';
import type { Engine } from '../engine/types.js';
import { createBflProvider } from './bfl/index.js';
import { createProviderHttp, type ProviderHttpClient } from './http.js';
import { createFalProvider } from './fal/index.js';
import { createGeminiProvider } from './gemini/index.js';
import { createA1111Provider } from './a1111/index.js';
import { createComfyUiProvider } from './comfyui/index.js';
import { createLocalProvider, type LocalProviderOptions } from './local/index.js';
import { createOpenAiProvider } from './openai/index.js';
import { createReplicateProvider } from './replicate/index.js';
import { createStabilityProvider } from './stability/index.js';
import type { Provider } from './types.js';

export interface ProviderSet {
  /** by name; 'local' always present */
  providers: Map<string, Provider>;
  httpFor(name: string): ProviderHttpClient;
  close(): Promise<void>;
}

/** The adapter of each type. */
export function createProvider(config: ProviderConfig, engine: Engine, local: LocalProviderOptions = {}): Provider {
  return config.type === 'local' ? createLocalProvider(engine, local, config.name) : createUpstreamProvider(config);
}

/** The adapter of an upstream type: no engine needed (a ping from the admin API builds these). */
export function createUpstreamProvider(config: ProviderConfig): Provider {
  switch (config.type) {
    case 'openai':
    case 'azure-openai':
    case 'openai-compatible':
      return createOpenAiProvider(config);
    case 'gemini':
      return createGeminiProvider(config);
    case 'replicate':
      return createReplicateProvider(config);
    case 'fal':
      return createFalProvider(config);
    case 'bfl':
      return createBflProvider(config);
    case 'comfyui':
      return createComfyUiProvider(config);
    case 'a1111':
      return createA1111Provider(config);
    case 'stability':
      return createStabilityProvider(config);
    default:
      throw new Error(`provider type '${config.type}' has no upstream adapter`);
  }
}

export function createProviderSet(config: Config, engine: Engine): ProviderSet {
  const providers = new Map<string, Provider>();
  const clients = new Map<string, ProviderHttpClient>();
  const local: LocalProviderOptions = { unknownInstructions: config.engine.unknownInstructions };
  providers.set('local', createLocalProvider(engine, local));
  for (const p of Object.values(config.providers)) {
    providers.set(p.name, createProvider(p, engine, local));
    if (p.type !== 'local') clients.set(p.name, createProviderHttp(p));
  }
  // the built-in engine and local-type providers make no HTTP calls; they still get a client object
  const none = createProviderHttp({ name: 'local', baseUrl: 'http://127.0.0.1', timeouts: { connectMs: 1, firstByteMs: 1, totalMs: 1 }, trustedHosts: [] });
  return {
    providers,
    httpFor: (name) => clients.get(name) ?? none,
    async close() {
      await Promise.allSettled([...clients.values(), none].map((c) => c.close()));
    },
  };
}
