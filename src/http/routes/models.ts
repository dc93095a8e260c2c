import type { FastifyInstance } from 'fastify';
import { modelNotFound } from '../../errors.js';
import type { HttpDeps } from '../deps.js';

const toModel = (m: { id: string; created: number; ownedBy: string }) => ({
  id: m.id,
  object: 'model' as const,
  created: m.created,
  owned_by: m.ownedBy,
});

export function registerModelRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/v1/models', { config: { auth: 'key' } }, async () => {
    return { object: 'list', data: deps.router.models().map(toModel) };
  });
  app.get<{ Params: { id: string } }>('/v1/models/:id', { config: { auth: 'key' } }, async (request) => {
    const found = deps.router.models().find((m) => m.id === request.params.id);
    if (!found) throw modelNotFound(request.params.id);
    return toModel(found);
  });
}
