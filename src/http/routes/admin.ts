/**
 * /admin: virtual keys and the request log, for the master key only.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest, invalidValue, notFound, unknownParameter } from '../../errors.js';
import { keyView } from '../../billing/key-view.js';
import { formatUsd, parseUsd } from '../../billing/money.js';
import type { ApiKeyInfo, RequestLogEntry, RequestLogQuery } from '../../store/types.js';
import { parseBody } from '../body.js';
import { createKeyBody, creditBody, patchKeyBody } from '../schemas.js';
import type { HttpDeps } from '../deps.js';

const master = { config: { auth: 'master' as const } };

const keyJson = (deps: HttpDeps, k: ApiKeyInfo) => keyView(deps.stores.ledger, k);

async function existingKey(deps: HttpDeps, id: string): Promise<ApiKeyInfo> {
  const key = await deps.stores.keys.get(id);
  if (!key) throw notFound('key_not_found', 'id', `No key with id '${id}'.`);
  return key;
}

const secondsToMs = (s: number | null | undefined) => (s === undefined ? undefined : s === null ? null : s * 1000);

export function registerAdminRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.post('/admin/keys', master, async (request, reply) => {
    const body = parseBody(createKeyBody, request.body);
    if (body.group !== undefined) deps.billing.checkGroup(body.group);
    const created = await deps.stores.keys.create({
      name: body.name,
      group: body.group,
      models: body.models,
      rpm: body.rpm,
      maxConcurrent: body.maxConcurrent,
      expiresAt: secondsToMs(body.expiresAt),
      creditMicros: body.creditUsd === undefined ? undefined : parseUsd(body.creditUsd),
    });
    reply.code(201);
    // the secret is in this answer only
    return { ...(await keyJson(deps, created)), key: created.key };
  });
  app.get('/admin/keys', master, async () => {
    const keys = await deps.stores.keys.list();
    return { object: 'list', data: await Promise.all(keys.map((k) => keyJson(deps, k))) };
  });
  app.get<{ Params: { id: string } }>('/admin/keys/:id', master, async (request) => keyJson(deps, await existingKey(deps, request.params.id)));
  app.patch<{ Params: { id: string } }>('/admin/keys/:id', master, async (request) => {
    const raw = (request.body ?? {}) as Record<string, unknown>;
    if (raw && typeof raw === 'object' && 'creditUsd' in raw) {
      throw badRequest('unknown_parameter', 'creditUsd', "Credit is not set by PATCH: grant it with POST /admin/keys/{id}/credits {\"amountUsd\", \"reason\"}.");
    }
    const body = parseBody(patchKeyBody, request.body);
    await existingKey(deps, request.params.id);
    if (body.group !== undefined) deps.billing.checkGroup(body.group);
    const updated = await deps.stores.keys.update(request.params.id, { ...body, expiresAt: secondsToMs(body.expiresAt) });
    return keyJson(deps, updated!);
  });
  app.post<{ Params: { id: string } }>('/admin/keys/:id/credits', master, async (request) => {
    const body = parseBody(creditBody, request.body);
    const key = await existingKey(deps, request.params.id);
    const amount = parseUsd(body.amountUsd, { signed: true });
    const balance = await deps.stores.ledger.grant(key.id, amount, body.reason);
    if (!balance) {
      const now = await deps.stores.ledger.balance(key.id);
      throw invalidValue('amountUsd', `Cannot take back $${formatUsd(-amount)}: the key's balance is $${formatUsd(now.available)}.`);
    }
    return { balanceUsd: formatUsd(balance.available) };
  });
  app.delete<{ Params: { id: string } }>('/admin/keys/:id', master, async (request) => {
    await existingKey(deps, request.params.id);
    await deps.stores.keys.revoke(request.params.id);
    return keyJson(deps, (await deps.stores.keys.get(request.params.id))!);
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/requests', master, async (request) => logPage(deps, readLogQuery(request.query)));
}

/** One page of the request log, newest first, with the cursor of the next. */
export async function logPage(deps: HttpDeps, q: RequestLogQuery & { limit: number }) {
  const rows = await deps.stores.requestLog.list({ ...q, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    object: 'list',
    data: page.map((e) => logEntryJson(e, deps.clock.now())),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null,
  };
}

/** A request-log entry as OPERATOR.md shapes it for the admin API; `outputs` lists only links still alive at `now`. */
export function logEntryJson(e: RequestLogEntry, now: number) {
  return {
    id: e.id,
    createdAt: new Date(e.createdAt).toISOString(),
    keyId: e.keyId,
    model: e.model,
    deployment: e.deployment,
    status: e.status,
    errorCode: e.errorCode,
    latencyMs: e.latencyMs,
    images: e.imageCount,
    bytesIn: e.bytesIn,
    usage:
      e.totalTokens === null
        ? null
        : {
            input_tokens: e.inputTokens,
            input_tokens_details: { text_tokens: e.inputTextTokens, image_tokens: e.inputImageTokens },
            output_tokens: e.outputTokens,
            total_tokens: e.totalTokens,
          },
    // refused requests cost nothing
    costUsd: e.costMicros === 0 ? '0' : formatUsd(e.costMicros),
    warnings: e.warnings,
    stream: e.stream,
    user: e.user,
    attempts: e.attempts,
    outputs: (e.outputs ?? []).filter((o) => o.expiresAt > now).map((o) => ({ url: o.url, expiresAt: new Date(o.expiresAt).toISOString() })),
  };
}

function encodeCursor(e: RequestLogEntry): string {
  return Buffer.from(`${e.createdAt}:${e.id}`).toString('base64url');
}

function decodeCursor(raw: string): { createdAt: number; id: string } {
  const m = /^(\d{1,16}):(\S{1,200})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!m) throw invalidValue('cursor', "Invalid 'cursor': use the nextCursor of a previous page.");
  return { createdAt: Number(m[1]), id: m[2] };
}

const LOG_QUERY_KEYS = ['keyId', 'model', 'deployment', 'status', 'since', 'until', 'limit', 'cursor'];

/**
 * The query of GET /admin/requests, each value checked (a bad limit is a 400, not ignored).
 * `allowed` narrows the keys a route takes (a key reading its own log may not choose another keyId).
 */
export function readLogQuery(query: Record<string, string | undefined>, allowed: readonly string[] = LOG_QUERY_KEYS): RequestLogQuery & { limit: number } {
  for (const k of Object.keys(query)) if (!allowed.includes(k)) throw unknownParameter(k);
  const out: RequestLogQuery & { limit: number } = { limit: 100 };
  const int = (name: string, raw: string, min: number, max: number) => {
    if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw invalidValue(name, `Invalid '${name}': expected an integer from ${min} to ${max}, got '${raw.slice(0, 40)}'.`);
    }
    return Number(raw);
  };
  if (query.limit !== undefined) out.limit = int('limit', query.limit, 1, 1000);
  if (query.keyId) out.keyId = query.keyId;
  if (query.model) out.model = query.model;
  if (query.deployment) out.deployment = query.deployment;
  if (query.status !== undefined) {
    // a whole class ("5xx") or one status
    const cls = /^([1-5])xx$/i.exec(query.status);
    if (cls) out.statusClass = Number(cls[1]);
    else out.status = int('status', query.status, 100, 599);
  }
  if (query.since !== undefined) out.since = readTime('since', query.since);
  if (query.until !== undefined) out.until = readTime('until', query.until);
  if (query.cursor) out.after = decodeCursor(query.cursor);
  return out;
}

/** unix seconds, or an ISO 8601 date, as ms since the epoch */
export function readTime(name: string, raw: string): number {
  const ms = /^\d{1,12}$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms)) throw invalidValue(name, `Invalid '${name}': give unix seconds or an ISO 8601 date.`);
  return ms;
}
