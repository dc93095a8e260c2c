/**
 * GET /openapi.json: the gateway's API as an OpenAPI 3.1 document, built
 * from the zod schemas the routes validate with (http/schemas.ts for the
 * admin bodies) and the edit contract's (contract/schemas.ts, made from the
 * values validate.ts enforces). The answers of the other routes are
 * described here; a test checks each route's real answer against them.
 */
import { z } from 'zod';
import { contractSchemas, INDEXED_IMAGE_PART } from '../contract/schemas.js';
import { createKeyBody, creditBody, patchKeyBody } from './schemas.js';

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const nullableString = z.string().nullable();
const nullableInt = z.int().nullable();
const isoTime = z.iso.datetime();

const keyObject = z.strictObject({
  id: z.string(),
  name: z.string(),
  prefix: z.string().meta({ description: 'The first characters of the key, enough to recognise it.' }),
  group: z.string(),
  models: z.array(z.string()).nullable().meta({ description: 'Model name patterns the key may use (`*` matches any run of characters); null: every model.' }),
  rpm: nullableInt.meta({ description: "Requests per minute; null: the group's default." }),
  maxConcurrent: nullableInt.meta({ description: "Requests at once; null: the group's default." }),
  expiresAt: nullableInt.meta({ description: 'Unix seconds; null: never.' }),
  enabled: z.boolean(),
  revoked: z.boolean(),
  balanceUsd: nullableString.meta({ description: 'What can still be spent: grants minus charges minus open reservations; null for a key without a budget.' }),
  reservedUsd: z.string(),
  spentUsd: z.string(),
  createdAt: isoTime,
  lastUsedAt: isoTime.nullable(),
});

const logEntry = z.strictObject({
  id: z.string().meta({ description: "The request's x-request-id." }),
  createdAt: isoTime,
  keyId: nullableString.meta({ description: "`master` for the master key." }),
  model: nullableString,
  deployment: nullableString,
  status: z.int(),
  errorCode: nullableString,
  latencyMs: z.int(),
  images: z.int().meta({ description: 'Input images.' }),
  bytesIn: z.int(),
  usage: contractSchemas.responses.ImagesUsage.nullable(),
  costUsd: z.string(),
  warnings: z.array(z.string()),
  stream: z.boolean(),
  user: nullableString,
  attempts: z.array(
    z.strictObject({
      deployment: z.string(),
      status: nullableInt.meta({ description: "The upstream's HTTP status; null when no answer came." }),
      latencyMs: z.int(),
      reason: nullableString,
    }),
  ),
  outputs: z
    .array(z.strictObject({ url: z.string(), expiresAt: isoTime }))
    .meta({ description: 'Links to the hosted result images (response_format url) while they live; empty otherwise.' }),
});

const statsAnswer = z.strictObject({
  since: isoTime,
  until: isoTime,
  bucketSeconds: z.int().meta({ description: 'The width of each point of `series`.' }),
  requests: z.int(),
  requestsPerMinute: z.number(),
  errors: z.int().meta({ description: 'Answers other than 2xx.' }),
  serverErrors: z.int().meta({ description: '5xx answers.' }),
  errorRate: z.number().meta({ description: '`errors / requests`, 0 to 1.' }),
  latencyMs: z.strictObject({ p50: z.number().nullable(), p95: z.number().nullable() }).meta({ description: 'Of served (2xx) requests; null when none.' }),
  costUsd: z.string().meta({ description: "What the window's requests were charged." }),
  spendUsd: z.strictObject({ today: z.string(), month: z.string() }).meta({ description: 'UTC day and month so far.' }),
  series: z.array(z.strictObject({ at: isoTime, requests: z.int(), errors: z.int() })).meta({ description: 'One point per bucket with requests, oldest first.' }),
  deployments: z.array(
    z.strictObject({
      deployment: z.string(),
      provider: z.string(),
      type: nullableString.meta({ description: 'The provider type; null for a deployment no longer configured.' }),
      configured: z.boolean(),
      breaker: z.enum(['closed', 'open', 'half-open']).meta({ description: "This node's circuit breaker for the provider." }),
      attempts: z.int(),
      succeeded: z.int(),
      failed: z.int(),
      skipped: z.int(),
      avgLatencyMs: z.number().nullable(),
      lastFailureAt: isoTime.nullable(),
      lastFailure: nullableString,
    }),
  ),
  breakers: z.record(z.string(), z.enum(['closed', 'open', 'half-open'])).meta({ description: "This node's breakers, by provider." }),
});

const groupView = z.strictObject({
  name: z.string(),
  priceMultiplier: z.string().meta({ description: 'As written in the config, e.g. `0.8`.' }),
  rpm: nullableInt,
  maxConcurrent: nullableInt,
});

const model = z.strictObject({ id: z.string(), object: z.literal('model'), created: z.int(), owned_by: z.string() });

const otherSchemas = {
  requests: {
    CreateKeyRequest: createKeyBody,
    UpdateKeyRequest: patchKeyBody,
    CreditRequest: creditBody,
  },
  responses: {
    Model: model,
    ModelList: z.strictObject({ object: z.literal('list'), data: z.array(model) }),
    Key: keyObject.meta({ description: 'A key as operators see it (never the secret).' }),
    CreatedKey: keyObject.extend({ key: z.string().meta({ description: 'The secret: shown in this answer only.' }) }),
    KeyList: z.strictObject({ object: z.literal('list'), data: z.array(keyObject) }),
    Balance: z.strictObject({ balanceUsd: z.string() }),
    RequestLogEntry: logEntry,
    RequestLogPage: z.strictObject({
      object: z.literal('list'),
      data: z.array(logEntry).meta({ description: 'Newest first.' }),
      nextCursor: nullableString.meta({ description: 'Pass as `cursor` for the next page; null on the last.' }),
    }),
    Account: z.strictObject({
      name: z.string(),
      group: nullableString,
      balanceUsd: nullableString.meta({ description: 'Null when unlimited.' }),
      rpm: nullableInt,
      maxConcurrent: nullableInt,
      usage: z.strictObject({ month: z.strictObject({ requests: z.int(), costUsd: z.string() }) }),
    }),
    BillingSubscription: z.strictObject({
      object: z.literal('billing_subscription'),
      has_payment_method: z.boolean(),
      soft_limit_usd: z.number(),
      hard_limit_usd: z.number(),
      system_hard_limit_usd: z.number(),
      access_until: z.int(),
    }),
    BillingUsage: z.strictObject({ object: z.literal('list'), total_usage: z.number().meta({ description: 'All-time spend, in US cents.' }) }),
    Health: z.strictObject({ status: z.literal('ok') }),
    Stats: statsAnswer,
    GroupList: z.strictObject({ object: z.literal('list'), data: z.array(groupView.extend({ keys: z.int().meta({ description: 'Keys in the group, revoked ones not counted.' }) })) }),
    UsageList: z.strictObject({
      object: z.literal('list'),
      data: z.array(z.strictObject({ keyId: nullableString, model: nullableString, day: z.string().meta({ description: 'UTC day, YYYY-MM-DD.' }), requests: z.int(), images: z.int(), totalTokens: z.int(), costUsd: z.string() })),
    }),
    PingList: z.strictObject({
      object: z.literal('list'),
      data: z.array(z.strictObject({ provider: z.string(), type: z.string(), reachable: z.boolean(), authOk: z.boolean().nullable(), latencyMs: nullableInt, detail: z.string() })),
    }),
    RunningConfig: z
      .looseObject({
        configFile: nullableString,
        defaultModel: z.string(),
        strictModels: z.boolean(),
        providers: z.array(z.looseObject({ name: z.string(), type: z.string(), baseUrl: z.string(), apiKey: z.string().nullable().meta({ description: '`••••••` when a key is set.' }) })),
        prices: z.unknown(),
        server: z.record(z.string(), z.unknown()),
        models: z.array(z.strictObject({ id: z.string(), configured: z.boolean(), deployments: z.array(z.string()) })),
        groups: z.array(groupView),
      })
      .meta({ description: 'The running config with every secret masked; connection URLs reduced to what they connect to.' }),
    Readiness: z.strictObject({
      ready: z.boolean(),
      draining: z.boolean(),
      checks: z.record(z.string(), z.string()).meta({ description: '`database`, `storage` (and `redis` when configured): `ok`, or `down: <reason>`.' }),
    }),
  },
};

/** zod's JSON Schema, tidied for a components section: no per-schema $schema/$id, no safe-integer bounds zod puts on every integer. */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema' || k === '$id') continue;
    if ((k === 'minimum' || k === 'maximum') && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = tidy(v);
  }
  return out;
}

/** Every named schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), referring to each other under #/components/schemas/. */
export function componentSchemas(): Record<string, JsonSchema> {
  const uri = (id: string) => `#/components/schemas/${id}`;
  // requests are read as input (defaults make fields optional), answers as output
  const requests = z.registry<{ id: string }>();
  const responses = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...contractSchemas.requests, ...otherSchemas.requests })) requests.add(schema, { id });
  for (const [id, schema] of Object.entries({ ...contractSchemas.responses, ...otherSchemas.responses })) responses.add(schema, { id });
  const schemas = tidy({
    ...z.toJSONSchema(requests, { uri, io: 'input' }).schemas,
    ...z.toJSONSchema(responses, { uri, io: 'output' }).schemas,
  }) as Record<string, JsonSchema>;
  schemas.CreateImageEditRequest.patternProperties = { [INDEXED_IMAGE_PART]: { type: 'string', format: 'binary', contentEncoding: 'binary' } };
  return schemas;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description: string) => ({ description, content: { 'application/json': { schema: ref(name) } } });
const header = (description: string, schema: JsonSchema = { type: 'string' }) => ({ description, schema });

const REQUEST_ID = { 'x-request-id': header('The request id; it names the request in the request log.') };

function errors(...statuses: number[]): Record<string, unknown> {
  const what: Record<number, string> = {
    400: 'Bad input (`invalid_request_error`, the code names the problem, `param` the field).',
    401: 'No key, or a key that is unknown, disabled or expired.',
    403: 'The key may not do this (the model, or the admin API without the master key).',
    404: 'Not found.',
    409: 'The same Idempotency-Key with a different body (`idempotency_key_reused`).',
    413: 'The body or a file is over its limit.',
    429: 'Rate (`rate_limit_exceeded`) or concurrency (`concurrency_limit_exceeded`) limit, or out of credit (`insufficient_quota`).',
    502: 'Every deployment failed (the message says which and why).',
    503: 'The node is overloaded or draining, a store does not answer, or no deployment could serve now; with Retry-After.',
    504: 'Every deployment timed out.',
  };
  const out: Record<string, unknown> = {};
  for (const s of statuses) {
    const headers: Record<string, unknown> = { ...REQUEST_ID };
    if (s === 429 || s === 503) headers['retry-after'] = header('Seconds to wait.', { type: 'integer' });
    if (s === 429) {
      headers['x-ratelimit-limit-requests'] = header('Requests per minute allowed (rate limit).', { type: 'integer' });
      headers['x-ratelimit-remaining-requests'] = header('0 (rate limit).', { type: 'integer' });
      headers['x-ratelimit-reset-requests'] = header('When the window resets, e.g. `12s` (rate limit).');
    }
    out[String(s)] = { description: what[s], headers, content: { 'application/json': { schema: ref('ErrorResponse') } } };
  }
  return out;
}

const key = [{ apiKey: [] }];
const master = [{ masterKey: [] }];
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function op(summary: string, security: unknown[], responses: Record<string, unknown>, extra: Operation = {}): Operation {
  return { summary, security, ...extra, responses };
}

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', maxLength: 255 },
  description: 'Within 24 hours the same key (with the same API key) gets the first answer again, charged once.',
};

/** POST /v1/images/edits, /generations, /variations: one pipeline, the same answers */
function imagesOperation(
  operationId: string,
  summary: string,
  description: string,
  body: Record<string, string>,
  events: string | null,
): Operation {
  const answerHeaders = {
    ...REQUEST_ID,
    'x-imagegate-deployment': header('The deployment that served it (`provider/model`, or `local` for the built-in engine).'),
    'x-imagegate-cost-usd': header('What this request was charged, e.g. `0.020000` (a stream that started early says it in a trailer).'),
    'x-imagegate-warning': header('What the engine could not do, or parameters a deployment dropped.'),
    'x-imagegate-idempotent-replay': header('`true` when this is the first answer to the same Idempotency-Key again.'),
  };
  const content: Record<string, unknown> = { 'application/json': { schema: ref('ImagesResponse') } };
  if (events) content['text/event-stream'] = { schema: { anyOf: [ref(events), ref('ErrorResponse')] } };
  return op(
    summary,
    key,
    {
      200: {
        description: events
          ? 'The images: JSON, or server-sent events when `stream` is true (an error after the stream started is one data-only `{"error": …}` event, then the end).'
          : 'The images.',
        headers: answerHeaders,
        content,
      },
      ...errors(400, 401, 403, 404, 409, 413, 429, 502, 503, 504),
    },
    {
      operationId,
      tags: ['Images'],
      description,
      parameters: [IDEMPOTENCY_KEY],
      requestBody: { required: true, content: Object.fromEntries(Object.entries(body).map(([type, name]) => [type, { schema: ref(name) }])) },
    },
  );
}

/** the request log's query, for /admin/requests and (without keyId) /v1/account/requests */
const logFilters = [
  { name: 'keyId', in: 'query', schema: { type: 'string' } },
  { name: 'model', in: 'query', schema: { type: 'string' } },
  { name: 'deployment', in: 'query', schema: { type: 'string' } },
  { name: 'status', in: 'query', schema: { type: 'string', pattern: '^([1-5][0-9]{2}|[1-5]xx)$' }, description: 'A status (`429`) or a class (`5xx`).' },
  { name: 'since', in: 'query', schema: { type: 'string' }, description: 'Unix seconds or an ISO 8601 date.' },
  { name: 'until', in: 'query', schema: { type: 'string' }, description: 'Unix seconds or an ISO 8601 date.' },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'The `nextCursor` of the previous page.' },
];

/** The whole document. */
export function buildOpenApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, Operation>> = {
    '/v1/images/edits': {
      post: imagesOperation(
        'createImageEdit',
        'Edit images',
        'OpenAI-compatible image edits, served by the deployments routing configures for the model, or by the built-in offline engine.',
        { 'multipart/form-data': 'CreateImageEditRequest', 'application/json': 'EditImageBodyJsonParam' },
        'ImageEditStreamEvent',
      ),
    },
    '/v1/images/generations': {
      post: imagesOperation(
        'createImage',
        'Generate images',
        "OpenAI-compatible generations: a picture from a prompt alone, by a deployment that declares the operation (or the built-in engine). A model whose deployments do not generate is 400 `unsupported_operation`.",
        { 'application/json': 'CreateImageRequest' },
        'ImageGenStreamEvent',
      ),
    },
    '/v1/images/variations': {
      post: imagesOperation(
        'createImageVariation',
        'Vary an image',
        "OpenAI-compatible variations (DALL·E 2's operation): new pictures like one square PNG, with no prompt.",
        { 'multipart/form-data': 'CreateImageVariationRequest' },
        null,
      ),
    },
    '/v1/images/files/{name}': {
      get: op(
        'A hosted result image',
        [],
        {
          200: { description: 'The image.', headers: REQUEST_ID, content: { 'image/png': {}, 'image/jpeg': {}, 'image/webp': {} } },
          ...errors(404),
        },
        {
          tags: ['Images'],
          description: 'The link an edit with `response_format=url` answered; signed and expiring: anything else is a 404.',
          parameters: [
            { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'expires', in: 'query', required: true, schema: { type: 'string' } },
            { name: 'sig', in: 'query', required: true, schema: { type: 'string' } },
          ],
        },
      ),
    },
    '/v1/models': { get: op('The models served', key, { 200: json('ModelList', 'The public model names.'), ...errors(401) }, { tags: ['Models'] }) },
    '/v1/models/{id}': { get: op('One model', key, { 200: json('Model', 'The model.'), ...errors(401, 404) }, { tags: ['Models'], parameters: [idParam] }) },
    '/v1/account': { get: op("The calling key's own account", key, { 200: json('Account', 'Name, group, balance, limits and this month\'s usage.'), ...errors(401, 503) }, { tags: ['Account'] }) },
    '/v1/dashboard/billing/subscription': {
      get: op('Credit limit, as chat front-ends read it', key, { 200: json('BillingSubscription', 'Everything granted is the limit (unlimited keys: 100000000).'), ...errors(401, 503) }, { tags: ['Account'] }),
    },
    '/v1/dashboard/billing/usage': {
      get: op('Spend, as chat front-ends read it', key, { 200: json('BillingUsage', 'All-time spend, whatever dates are asked.'), ...errors(401, 503) }, { tags: ['Account'] }),
    },
    '/admin/keys': {
      post: op('Create a key', master, { 201: json('CreatedKey', 'The key, with its secret shown once.'), ...errors(400, 401, 403, 503) }, {
        tags: ['Admin'],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CreateKeyRequest') } } },
      }),
      get: op('Every key', master, { 200: json('KeyList', 'The keys.'), ...errors(401, 403, 503) }, { tags: ['Admin'] }),
    },
    '/admin/keys/{id}': {
      get: op('One key', master, { 200: json('Key', 'The key.'), ...errors(401, 403, 404, 503) }, { tags: ['Admin'], parameters: [idParam] }),
      patch: op('Change a key', master, { 200: json('Key', 'The key as changed.'), ...errors(400, 401, 403, 404, 503) }, {
        tags: ['Admin'],
        parameters: [idParam],
        description: 'Credit is not changed here: use POST /admin/keys/{id}/credits.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('UpdateKeyRequest') } } },
      }),
      delete: op('Revoke a key', master, { 200: json('Key', 'The key, revoked.'), ...errors(401, 403, 404, 503) }, { tags: ['Admin'], parameters: [idParam] }),
    },
    '/admin/keys/{id}/credits': {
      post: op('Grant credit (negative: take it back)', master, { 200: json('Balance', 'The balance after the grant.'), ...errors(400, 401, 403, 404, 503) }, {
        tags: ['Admin'],
        parameters: [idParam],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CreditRequest') } } },
      }),
    },
    '/admin/requests': {
      get: op('The request log', master, { 200: json('RequestLogPage', 'A page of entries, newest first.'), ...errors(400, 401, 403, 503) }, {
        tags: ['Admin'],
        parameters: logFilters,
      }),
    },
    '/v1/account/requests': {
      get: op("The calling key's own requests", key, { 200: json('RequestLogPage', 'A page of its entries, newest first.'), ...errors(400, 401, 503) }, {
        tags: ['Account'],
        description: 'The same filters as GET /admin/requests but `keyId`, which is refused.',
        parameters: logFilters.filter((p) => p.name !== 'keyId'),
      }),
    },
    '/admin/stats': {
      get: op('Overview of a time window', master, { 200: json('Stats', 'Rate, errors, latency, spend and per-deployment health.'), ...errors(400, 401, 403, 503) }, {
        tags: ['Admin'],
        parameters: [
          { name: 'since', in: 'query', schema: { type: 'string' }, description: 'Unix seconds or an ISO 8601 date; default an hour before `until`. A window is at most 92 days.' },
          { name: 'until', in: 'query', schema: { type: 'string' }, description: 'Default now.' },
        ],
      }),
    },
    '/admin/config': { get: op('The running config, secrets masked', master, { 200: json('RunningConfig', 'The config.'), ...errors(401, 403) }, { tags: ['Admin'] }) },
    '/admin/groups': { get: op('The groups', master, { 200: json('GroupList', 'Each group with its defaults and how many keys it has.'), ...errors(401, 403, 503) }, { tags: ['Admin'] }) },
    '/admin/usage': {
      get: op('Served requests by key, model and UTC day', master, { 200: json('UsageList', 'The rows.'), ...errors(400, 401, 403, 503) }, {
        tags: ['Admin'],
        parameters: [
          { name: 'since', in: 'query', schema: { type: 'string' } },
          { name: 'until', in: 'query', schema: { type: 'string' } },
          { name: 'keyId', in: 'query', schema: { type: 'string' } },
        ],
      }),
    },
    '/admin/providers/ping': {
      post: op('Ping every provider', master, { 200: json('PingList', 'One row per provider, as `imagegate config check --ping` prints them.'), ...errors(401, 403) }, { tags: ['Admin'] }),
    },
    '/console': { get: op('The web console', [], { 308: { description: 'To `/console/`.' } }, { tags: ['Console'] }) },
    '/console/': { get: op('The web console', [], { 200: { description: 'Its page; sign in with a key.', content: { 'text/html': { schema: { type: 'string' } } } } }, { tags: ['Console'] }) },
    '/console/assets/{name}': {
      get: op('The web console\'s scripts and styles', [], { 200: { description: 'A hashed, cacheable file.', content: { 'text/javascript': {}, 'text/css': {} } }, ...errors(404) }, {
        tags: ['Console'],
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      }),
    },
    '/healthz': { get: op('Liveness', [], { 200: json('Health', 'The process serves HTTP.') }, { tags: ['Operations'] }) },
    '/readyz': {
      get: op(
        'Readiness',
        [],
        { 200: json('Readiness', 'Ready: the database answers and the node is not draining.'), 503: json('Readiness', 'Not ready: draining, or the database does not answer.') },
        { tags: ['Operations'], description: 'Each store is probed for at most a second; the answer is cached for a second.' },
      ),
    },
    '/metrics': {
      get: op(
        'Prometheus metrics',
        [...master, {}],
        { 200: { description: "Prometheus's text format.", content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } }, ...errors(401, 403) },
        { tags: ['Operations'], description: 'The master key, unless the config makes it public (`metrics.public`, IMAGEGATE_METRICS_PUBLIC).' },
      ),
    },
    '/openapi.json': {
      get: op('This document', [], { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } }, { tags: ['Operations'] }),
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'imagegate',
      version,
      description: 'A self-hosted, OpenAI-compatible image-editing gateway. The edit route follows OpenAI\'s images API; where it differs, the field descriptions say so.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [
      { name: 'Images', description: "OpenAI's images API." },
      { name: 'Models', description: 'The public model names.' },
      { name: 'Account', description: 'What a key can learn about itself.' },
      { name: 'Admin', description: 'Keys, credit and the request log: the master key only.' },
      { name: 'Operations', description: 'Health, metrics and this document.' },
      { name: 'Console', description: 'The web console, for operators (the master key) and key holders.' },
    ],
    security: key,
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A virtual key (or the master key).' },
        masterKey: { type: 'http', scheme: 'bearer', description: 'The master key.' },
      },
      schemas: componentSchemas(),
    },
  };
}
