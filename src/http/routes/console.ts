/**
 * The web console at /console: static files built from console/ into
 * dist/console by `npm run build` (which `npm ci` runs through `prepare`),
 * served by the gateway itself. The page holds no secret: it signs in with a
 * key the user types and calls the gateway's own /admin and /v1 routes with
 * it as a Bearer token, so the server decides what each key may see.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpDeps } from '../deps.js';

export const CONSOLE_PATH = '/console';

/**
 * Where the built console is: beside the compiled server (dist/http/routes →
 * dist/console), or, when the server runs from its TypeScript sources (tests,
 * `npm run dev`), in the dist/ that `npm run build` made.
 */
export function consoleDir(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.resolve(here, '../../console'), path.resolve(here, '../../../dist/console')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return null;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
// built asset names only (app-3F2A1B.js): nothing else under the directory is reachable
const ASSET_NAME = /^[A-Za-z0-9_-]{1,80}\.(js|css|map|svg|png)$/;

function securityHeaders(reply: FastifyReply, imageOrigin: string | null): FastifyReply {
  // hosted result links live at IMAGEGATE_PUBLIC_URL, which may be another origin than the console's
  const img = ["'self'", 'data:', 'blob:', ...(imageOrigin ? [imageOrigin] : [])].join(' ');
  return reply
    .header(
      'content-security-policy',
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src ${img}; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

function originOf(url: string): string | null {
  try {
    return url ? new URL(url).origin : null;
  } catch {
    return null;
  }
}

export function registerConsoleRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const imageOrigin = originOf(deps.config.publicBaseUrl);
  const notBuilt = (reply: FastifyReply) =>
    reply
      .code(503)
      .type('text/plain; charset=utf-8')
      .send('The web console is not built. Run `npm run build` (npm ci runs it) and reload.\n');

  // relative asset URLs in the page need the trailing slash
  app.get(CONSOLE_PATH, async (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 308));

  app.get(`${CONSOLE_PATH}/`, async (_request, reply) => {
    const dir = consoleDir();
    if (!dir) return notBuilt(reply);
    const html = await fs.promises.readFile(path.join(dir, 'index.html'));
    // the page names the current hashed assets: never cached stale
    return securityHeaders(reply, imageOrigin).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(html);
  });

  app.get<{ Params: { name: string } }>(`${CONSOLE_PATH}/assets/:name`, async (request, reply) => {
    const dir = consoleDir();
    const name = request.params.name;
    if (!dir) return notBuilt(reply);
    const file = path.join(dir, 'assets', name);
    if (!ASSET_NAME.test(name) || !fs.existsSync(file)) {
      return reply.code(404).type('text/plain; charset=utf-8').send('Not found.\n');
    }
    const bytes = await fs.promises.readFile(file);
    // names carry a hash of their content: a new build has new names
    return securityHeaders(reply, imageOrigin)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
      .send(bytes);
  });
}
