/**
 * Which deployments serve a model, in order of preference: the config's
 * `models` (the next deployment is the fallback), and otherwise, for every
 * model name the contract knows, the built-in engine (unless `strictModels`).
 */
import type { Config } from '../config/index.js';
import type { Deployment, Provider } from '../providers/types.js';

export interface ModelEntry {
  id: string;
  /** unix seconds, for /v1/models */
  created: number;
  ownedBy: string;
}

export interface Router {
  /** ordered deployments for a model; empty when the model is not served */
  route(model: string): Deployment[];
  models(): ModelEntry[];
  deployments(): Deployment[];
}

export function createStaticRouter(routes: ReadonlyMap<string, Deployment[]>, created: number): Router {
  return {
    route: (model) => routes.get(model) ?? [],
    models: () =>
      [...routes.entries()]
        .filter(([, deps]) => deps.length > 0)
        .map(([id, deps]) => ({ id, created, ownedBy: `imagegate:${deps[0].name}` })),
    deployments: () => [...new Set([...routes.values()].flat())],
  };
}

/** `provider/model` for an upstream, the provider's name for the built-in engine. */
export function deploymentName(provider: Provider, model: string): string {
  return provider.type === 'local' ? provider.name : `${provider.name}/${model}`;
}

export interface RouterInput {
  models: Config['models'];
  strictModels: boolean;
  /** configured providers by name (the built-in engine included as 'local') */
  providers: ReadonlyMap<string, Provider>;
  /** model names the contract knows; served by `local` unless listed or strict */
  catalog: readonly string[];
  created: number;
}

export function createRouter(input: RouterInput): Router {
  const local = input.providers.get('local');
  const routes = new Map<string, Deployment[]>();
  // one Deployment object per (provider, model), shared by the models that use it
  const shared = new Map<string, Deployment>();
  const deployment = (provider: Provider, model: string): Deployment => {
    const name = deploymentName(provider, model);
    let d = shared.get(name);
    if (!d) shared.set(name, (d = { name, provider, model }));
    return d;
  };
  if (!(input.models && input.strictModels) && local) {
    for (const m of input.catalog) routes.set(m, [deployment(local, '')]);
  }
  for (const [model, entry] of Object.entries(input.models ?? {})) {
    routes.set(
      model,
      entry.deployments.map((d) => {
        const provider = input.providers.get(d.provider);
        if (!provider) throw new Error(`model ${model}: provider '${d.provider}' is not configured`);
        return deployment(provider, d.model ?? '');
      }),
    );
  }
  return createStaticRouter(routes, input.created);
}
