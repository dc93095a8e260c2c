/**
 * /admin: virtual keys and the request log, for the master key only.
 */
import type { FastifyInstance } from 'fastify';
import { invalidType, missingParameter, notFound } from '../../errors.js';
import type { HttpDeps } from '../deps.js';

const master = { config: { auth: 'master' as const } };

export function registerAdminRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.post<{ Body: { name?: unknown } | undefined }>('/admin/keys', master, async (request, reply) => {
    const name = request.body?.name;
    if (name === undefined || name === null || name === '') throw missingParameter('name');
    if (typeof name !== 'string' || name.length > 200) throw invalidType('name', "Invalid 'name': expected a string of at most 200 characters.");
    const created = await deps.stores.keys.create(name);
    reply.code(201);
    return created;
  });
  app.get('/admin/keys', master, async () => {
    return { object: 'list', data: await deps.stores.keys.list() };
  });
  app.delete<{ Params: { id: string } }>('/admin/keys/:id', master, async (request) => {
    const key = await deps.stores.keys.get(request.params.id);
    if (!key) throw notFound('key_not_found', 'id', `No key with id '${request.params.id}'.`);
    await deps.stores.keys.revoke(request.params.id);
    return { ...(await deps.stores.keys.get(request.params.id)), revoked: true };
  });
  app.get<{ Querystring: { limit?: string; key_id?: string } }>('/admin/requests', master, async (request) => {
    const limit = Math.min(1000, Math.max(1, Number(request.query.limit) || 100));
    const keyId = typeof request.query.key_id === 'string' ? request.query.key_id : undefined;
    return { object: 'list', data: await deps.stores.requestLog.list({ limit, keyId }) };
  });
}
