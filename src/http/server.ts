/**
 * The HTTP server: Fastify with every answer in OpenAI's shapes, an
 * x-request-id on each, and errors mapped in one place.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { GatewayError, serviceUnavailable } from '../errors.js';
import { registerAuth } from './auth.js';
import { clientErrorHandler } from './client-errors.js';
import type { HttpDeps } from './deps.js';
import { newRequestId } from './request-id.js';
import { toGatewayError } from './envelope.js';
import { sendError } from './reply.js';
import { registerAccountRoutes } from './routes/account.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerAdminOpsRoutes } from './routes/admin-ops.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerEditRoutes } from './routes/edits.js';
import { registerHostedRoutes } from './routes/hosted.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerModelRoutes } from './routes/models.js';

export function buildServer(deps: HttpDeps, logger: FastifyServerOptions['logger'] = false): FastifyInstance {
  const app = Fastify({
    logger,
    genReqId: newRequestId,
    // admin JSON bodies only; the edit route reads its own body
    bodyLimit: 1024 * 1024,
    // slow clients: a whole request (an 800 MB upload included) within 15 minutes, headers within 60 s
    requestTimeout: 15 * 60_000,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    // our own draining answer (the envelope), below
    return503OnClosing: false,
    // idle connections are closed by the app's own drain (app.ts), after its window for late requests
    forceCloseConnections: false,
    // malformed requests the HTTP parser refuses get the error envelope too
    clientErrorHandler,
  });
  app.server.headersTimeout = 60_000;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // draining: readiness says 503 and the listener is closed, but a kept-alive connection may still send
    if (deps.lifecycle.draining && request.url !== '/readyz' && request.url !== '/healthz') {
      reply.header('connection', 'close');
      throw serviceUnavailable('This node is shutting down; retry on another.', 1);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const err = toGatewayError(error);
    if (err.status >= 500) request.log.error({ err: error, requestId: request.id }, 'request failed');
    sendError(request, reply, err);
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(
      request,
      reply,
      new GatewayError({ status: 404, code: 'unknown_url', message: `Invalid URL (${request.method} ${request.url.split('?')[0]}).` }),
    );
  });

  registerAuth(app, deps.masterKey, deps.stores.keys, () => deps.clock.now());
  registerHealthRoutes(app, deps);
  registerModelRoutes(app, deps);
  registerEditRoutes(app, deps);
  registerHostedRoutes(app, deps);
  registerAdminRoutes(app, deps);
  registerAdminOpsRoutes(app, deps);
  registerConsoleRoutes(app, deps);
  registerAccountRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  registerOpenApiRoute(app);
  return app;
}
