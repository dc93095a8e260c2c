/**
 * GET /openapi.json: served without a key, valid OpenAPI 3.1 (checked
 * offline by a maintained validator, and every schema against JSON Schema
 * 2020-12), covering every route the server has, and true to what the
 * routes answer: real answers of each route, the edit's JSON, url and
 * stream answers and an error included, validate against the document's
 * schemas.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';

let t: TestApp;
let doc: any;
let png: Buffer;
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
const DOC_ID = 'https://imagegate.invalid/openapi.json';

before(async () => {
  t = await startTestApp();
  png = await makePng(64, 48);
  const res = await fetch(`${t.url}/openapi.json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
  doc = await res.json();
  ajv.addSchema({ ...doc, $id: DOC_ID });
});
after(async () => {
  await t.close();
});

const master = () => ({ authorization: `Bearer ${t.masterKey}` });

/** `value` against a component schema of the served document. */
function assertMatches(value: unknown, component: string): void {
  const validate = ajv.getSchema(`${DOC_ID}#/components/schemas/${component}`);
  assert.ok(validate, `the document has ${component}`);
  assert.ok(validate(value), `${component}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`);
}

/** The component a path's answer refers to, for a status and content type. */
function answerSchema(path: string, method: string, status: number, type = 'application/json'): string {
  const ref = doc.paths[path]?.[method]?.responses?.[String(status)]?.content?.[type]?.schema?.$ref as string | undefined;
  assert.ok(ref, `${method.toUpperCase()} ${path} documents ${status} ${type}`);
  return ref.replace('#/components/schemas/', '');
}

async function call(method: string, path: string, body?: unknown, status = 200): Promise<any> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...master(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, status, `${method} ${path}`);
  return res.json();
}

/** The routes the server has, from Fastify's route tree (HEAD is Fastify's own twin of GET). */
function serverRoutes(): string[] {
  const tree = t.app.server.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    for (const method of m[3].split(', ')) if (method !== 'HEAD') out.push(`${method} ${stack.join('')}`);
  }
  return out.sort();
}

describe('the API document', () => {
  test('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const r = await validator.validate(structuredClone(doc));
    assert.deepEqual(r.errors, undefined);
    assert.equal(r.valid, true);
    assert.equal(validator.version, '3.1');
    assert.equal(doc.openapi, '3.1.0');
    // the validator bites: a parameter without `in` is refused
    const broken = structuredClone(doc);
    delete broken.paths['/v1/models/{id}'].get.parameters[0].in;
    assert.equal((await new Validator().validate(broken)).valid, false);
    // what JSON Schema cannot check: every security requirement names a declared scheme, every $ref resolves
    const schemes = new Set(Object.keys(doc.components.securitySchemes));
    for (const ops of Object.values(doc.paths as Record<string, Record<string, any>>)) {
      for (const o of Object.values(ops)) for (const req of o.security ?? []) for (const name of Object.keys(req)) assert.ok(schemes.has(name), name);
    }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const r of new Set(refs)) {
      const name = r.replace(/^"\$ref":"#\/components\/schemas\//, '').replace(/"$/, '');
      assert.ok(name in doc.components.schemas, r);
    }
  });

  test('every schema is valid JSON Schema 2020-12 and compiles', () => {
    const strict = new Ajv2020({ strict: false });
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      assert.ok(strict.validateSchema(schema as object), `${name}: ${JSON.stringify(strict.errors)}`);
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(`${DOC_ID}#/components/schemas/${name}`), name);
  });

  test('covers every route the server has, and no other', () => {
    const documented = Object.entries(doc.paths as Record<string, object>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    assert.deepEqual(documented, serverRoutes());
  });

  test('the routes answer what it says', async () => {
    assertMatches(await (await fetch(`${t.url}/healthz`)).json(), answerSchema('/healthz', 'get', 200));
    assertMatches(await call('GET', '/v1/models'), answerSchema('/v1/models', 'get', 200));
    assertMatches(await call('GET', '/v1/models/gpt-image-1'), answerSchema('/v1/models/{id}', 'get', 200));
    assertMatches(await call('GET', '/v1/models/nope', undefined, 404), answerSchema('/v1/models/{id}', 'get', 404));
    const created = await call('POST', '/admin/keys', { name: 'doc', creditUsd: '1.00', rpm: 60, models: ['gpt-image-*'], expiresAt: 4102444800 }, 201);
    assertMatches(created, answerSchema('/admin/keys', 'post', 201));
    assertMatches(await call('POST', '/admin/keys', { name: '' }, 400), answerSchema('/admin/keys', 'post', 400));
    assertMatches(await call('GET', '/admin/keys'), answerSchema('/admin/keys', 'get', 200));
    assertMatches(await call('GET', `/admin/keys/${created.id}`), answerSchema('/admin/keys/{id}', 'get', 200));
    assertMatches(await call('PATCH', `/admin/keys/${created.id}`, { maxConcurrent: 2, enabled: true }), answerSchema('/admin/keys/{id}', 'patch', 200));
    assertMatches(await call('POST', `/admin/keys/${created.id}/credits`, { amountUsd: '0.50', reason: 'doc' }), answerSchema('/admin/keys/{id}/credits', 'post', 200));

    // the edit's answers, from the key just made
    const edit = async (fields: Record<string, string>) => {
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) fd.append(k, v);
      fd.append('image', new Blob([png], { type: 'image/png' }), 'a.png');
      return fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${created.key}` }, body: fd });
    };
    const plain = await edit({ prompt: 'make it black and white' });
    assert.equal(plain.status, 200);
    const plainBody = (await plain.json()) as any;
    assert.ok(plainBody.data[0].b64_json);
    assertMatches(plainBody, answerSchema('/v1/images/edits', 'post', 200));
    const linked = await edit({ prompt: 'invert', response_format: 'url' });
    const linkedBody = (await linked.json()) as any;
    assert.ok(linkedBody.data[0].url);
    assertMatches(linkedBody, answerSchema('/v1/images/edits', 'post', 200));
    const streamed = await edit({ prompt: 'invert', stream: 'true', partial_images: '2' });
    assert.equal(streamed.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const events = (await streamed.text())
      .split('\n\n')
      .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
      .filter((l): l is string => l !== undefined)
      .map((l) => JSON.parse(l.slice(6)));
    assert.deepEqual(events.map((e) => e.type), ['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    // the stream's schema as the path states it (JSON pointer: '/' is '~1')
    const streamEvent = ajv.compile({ $ref: `${DOC_ID}#/paths/~1v1~1images~1edits/post/responses/200/content/text~1event-stream/schema` });
    for (const e of events) {
      assertMatches(e, 'ImageEditStreamEvent');
      assert.ok(streamEvent(e), JSON.stringify(streamEvent.errors));
    }
    const bad = await edit({ prompt: 'x', n: '11' });
    assert.equal(bad.status, 400);
    assertMatches(await bad.json(), answerSchema('/v1/images/edits', 'post', 400));

    const account = await fetch(`${t.url}/v1/account`, { headers: { authorization: `Bearer ${created.key}` } });
    assertMatches(await account.json(), answerSchema('/v1/account', 'get', 200));
    for (const p of ['/v1/dashboard/billing/subscription', '/v1/dashboard/billing/usage']) {
      const r = await fetch(`${t.url}${p}`, { headers: { authorization: `Bearer ${created.key}` } });
      assertMatches(await r.json(), answerSchema(p, 'get', 200));
    }
    const page = await call('GET', '/admin/requests?limit=2');
    assert.equal(page.data.length, 2);
    assert.ok(page.nextCursor);
    assertMatches(page, answerSchema('/admin/requests', 'get', 200));
    assertMatches(await call('GET', '/admin/requests?limit=abc', undefined, 400), answerSchema('/admin/requests', 'get', 400));
    assertMatches(await call('DELETE', `/admin/keys/${created.id}`), answerSchema('/admin/keys/{id}', 'delete', 200));

    const unauthorised = await fetch(`${t.url}/v1/models`);
    assertMatches(await unauthorised.json(), answerSchema('/v1/models', 'get', 401));
  });

  test('the edit parameters it lists are the values the gateway takes', async () => {
    const params = doc.components.schemas.CreateImageEditRequest.properties;
    const enumOf = (p: any): string[] => p.enum ?? p.anyOf.find((b: any) => b.enum).enum;
    // each listed value is taken (by some model); a value beside them is refused naming the field
    const cases: Array<[field: string, model: string, values: string[]]> = [
      ['quality', 'gpt-image-1', enumOf(params.quality).filter((q) => q !== 'standard')],
      ['quality', 'dall-e-2', ['auto', 'standard']],
      ['background', 'gpt-image-1', enumOf(params.background)],
      ['output_format', 'gpt-image-1', enumOf(params.output_format)],
      ['moderation', 'gpt-image-1', enumOf(params.moderation)],
      ['response_format', 'gpt-image-1', enumOf(params.response_format)],
      ['input_fidelity', 'gpt-image-1', enumOf(params.input_fidelity)],
    ];
    assert.deepEqual(enumOf(params.quality).sort(), ['auto', 'high', 'low', 'medium', 'standard']);
    const { validateEdit } = await import('../../src/contract/validate.js');
    const { defaultLimits } = await import('../../src/config/index.js');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-doc-'));
    const file = path.join(dir, 'a.png');
    fs.writeFileSync(file, await makePng(64, 64));
    const intake = (fields: Array<[string, string]>) => ({
      kind: 'multipart' as const,
      fields,
      files: [{ role: 'image' as const, field: 'image', param: 'image', explicitIndex: null, filename: 'a.png', declaredType: 'image/png', path: file, size: fs.statSync(file).size }],
      bytesIn: 0,
    });
    const ctx = { requestId: 'r', defaultModel: 'gpt-image-1', limits: defaultLimits(), isServed: () => true };
    try {
      for (const [field, model, values] of cases) {
        for (const v of values) await validateEdit(intake([['model', model], ['prompt', 'x'], [field, v]]), ctx);
        await assert.rejects(validateEdit(intake([['model', model], ['prompt', 'x'], [field, 'nonsense']]), ctx), (e: any) => e.param === field);
      }
      for (const [field, lo, hi] of [['n', params.n.minimum, params.n.maximum], ['partial_images', params.partial_images.minimum, params.partial_images.maximum], ['output_compression', params.output_compression.minimum, params.output_compression.maximum]] as const) {
        for (const v of [lo, hi]) await validateEdit(intake([['prompt', 'x'], [field, String(v)]]), ctx);
        for (const v of [lo - 1, hi + 1]) {
          await assert.rejects(validateEdit(intake([['prompt', 'x'], [field, String(v)]]), ctx), (e: any) => e.param === field && e.status === 400);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
