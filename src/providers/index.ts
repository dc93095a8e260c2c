/**
 * Every configured provider, built from its config by its type's adapter,
 * with its own HTTP client (connection pool, timeouts, trusted hosts). The
 * built-in engine is always there as 'local'.
 */
import type { Config, ProviderConfig } from '../config/index.js';
import type { Engine } from '../engine/types.js';
import { createProviderHttp, type ProviderHttpClient } from './http.js';
import { createLocalProvider } from './local/index.js';
import { createOpenAiProvider } from './openai/index.js';
import { createStabilityProvider } from './stability/index.js';
import type { Provider } from './types.js';

export interface ProviderSet {
  /** by name; 'local' always present */
  providers: Map<string, Provider>;
  httpFor(name: string): ProviderHttpClient;
  close(): Promise<void>;
}

/** The adapter of each type. */
export function createProvider(config: ProviderConfig, engine: Engine): Provider {
  switch (config.type) {
    case 'openai':
    case 'azure-openai':
    case 'openai-compatible':
      return createOpenAiProvider(config);
    case 'stability':
      return createStabilityProvider(config);
    case 'local':
      return createLocalProvider(engine, config.name);
    default:
      throw new Error(`provider type '${config.type}' has no adapter yet`);
  }
}

export function createProviderSet(config: Config, engine: Engine): ProviderSet {
  const providers = new Map<string, Provider>();
  const clients = new Map<string, ProviderHttpClient>();
  providers.set('local', createLocalProvider(engine));
  for (const p of Object.values(config.providers)) {
    providers.set(p.name, createProvider(p, engine));
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
