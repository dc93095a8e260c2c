/**
 * Who is calling: the master key or a virtual key, from `Authorization: Bearer`.
 * One onRequest hook authenticates every route that declares `config.auth`
 * ('key': any valid key; 'master': the master key only) and leaves the caller
 * on `request.caller`; route handlers never authenticate themselves.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.js';
import { isMasterKey } from '../store/master-key.js';
import type { ApiKeyInfo, KeyStore } from '../store/types.js';

export interface Caller {
  keyId: string;
  isMaster: boolean;
  /** the virtual key's record; null for the master key */
  key: ApiKeyInfo | null;
}

export type AuthRequirement = 'key' | 'master';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export function bearerToken(header: string | string[] | undefined): string | null {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return null;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

export async function authenticate(
  header: string | string[] | undefined,
  masterKey: string,
  keys: KeyStore,
  now: () => number = Date.now,
): Promise<Caller> {
  const token = bearerToken(header);
  if (!token) {
    throw unauthorized(
      "You didn't provide an API key. Send it in the Authorization header as 'Bearer YOUR_KEY'.",
      'missing_api_key',
    );
  }
  if (isMasterKey(token, masterKey)) return { keyId: 'master', isMaster: true, key: null };
  const key = await keys.verify(token);
  if (!key) throw unauthorized(`Incorrect API key provided: ${redact(token)}.`);
  if (!key.enabled) throw unauthorized(`The API key ${redact(token)} is disabled.`, 'api_key_disabled');
  if (key.expiresAt !== null && key.expiresAt <= now()) throw unauthorized(`The API key ${redact(token)} expired on ${new Date(key.expiresAt).toISOString()}.`, 'api_key_expired');
  return { keyId: key.id, isMaster: false, key };
}

/** Enough of a key for its owner to recognise it, never enough to use it. */
export function redact(token: string): string {
  if (token.length <= 12) return '****';
  return `${token.slice(0, 6)}****${token.slice(-4)}`;
}

/** The hook: authenticates routes that ask for it, before their body is read. */
export function registerAuth(app: FastifyInstance, masterKey: string, keys: KeyStore, now: () => number): void {
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const need = request.routeOptions.config?.auth;
    if (!need) return;
    const caller = await authenticate(request.headers.authorization, masterKey, keys, now);
    if (need === 'master' && !caller.isMaster) throw forbidden('master_key_required', 'The admin API needs the master key.');
    request.caller = caller;
  });
}

/** The caller of a route that declared `auth` (the hook guarantees it). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error(`route ${request.routeOptions.url} did not declare config.auth`);
  return request.caller;
}
