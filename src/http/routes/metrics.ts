import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.js';

/** GET /metrics in Prometheus's text format: the master key's, unless the config makes it public (a scraper on a private network). */
export function registerMetricsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const options = deps.config.metrics.public ? {} : { config: { auth: 'master' as const } };
  app.get('/metrics', options, async (_request, reply) => {
    const text = await deps.metrics.scrape();
    return reply.type(deps.metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}
