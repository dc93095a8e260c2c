import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.js';
import type { HttpDeps } from '../deps.js';

/** Hosted result images: a signed, expiring link; anything else is a 404. */
export function registerHostedRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: { name: string }; Querystring: { expires?: string; sig?: string } }>(
    '/v1/images/files/:name',
    async (request, reply) => {
      const q = request.query;
      const found = await deps.hosted.resolve(request.params.name, {
        expires: typeof q.expires === 'string' ? q.expires : undefined,
        sig: typeof q.sig === 'string' ? q.sig : undefined,
      });
      if (!found) throw notFound('image_not_found', null, 'This image link is unknown or has expired.');
      reply
        .header('content-type', found.contentType)
        .header('content-length', String(found.size))
        .header('cache-control', 'private, max-age=300')
        .header('x-content-type-options', 'nosniff');
      return reply.send(found.stream);
    },
  );
}
