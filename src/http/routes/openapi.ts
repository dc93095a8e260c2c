import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument } from '../openapi.js';

/** GET /openapi.json, without a key: the document holds no secret, and clients generate code from it. */
export function registerOpenApiRoute(app: FastifyInstance): void {
  const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
  // built once: it depends on nothing that changes while the node runs
  const text = JSON.stringify(buildOpenApiDocument(pkg.version));
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(text));
}
