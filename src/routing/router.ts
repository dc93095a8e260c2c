/**
 * Which deployments serve a model, in order of preference. Until upstream
 * providers are configured, every model of the catalog routes to the
 * built-in engine (the `local` deployment).
 */
import type { Deployment } from '../providers/types.js';

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

/** Every named model served by one deployment. */
export function routeAllTo(models: readonly string[], deployment: Deployment, created: number): Router {
  return createStaticRouter(new Map(models.map((m) => [m, [deployment]])), created);
}
