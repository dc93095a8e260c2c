/**
 * The BFL emulator refuses what BFL refuses, so that a translation bug fails
 * a test instead of passing silently: spoken to directly over HTTP, and its
 * schema table checked against BFL's published OpenAPI document when the
 * reference copy is on this machine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import sharp from 'sharp';
import { startBflEmulator, type BflEmulator } from '../emulators/bfl.js';
import { ENDPOINT_SCHEMAS, type BodySchema, type FieldSpec } from '../emulators/bfl-schemas.js';
import { makeMask, makePng } from '../helpers/images.js';

const KEY = 'bfl-emulator-key-0123456789';
const OPENAPI = '/work/shared/reference/bfl-openapi.json';

let emu: BflEmulator;
let png: string;
let small: string;

before(async () => {
  emu = await startBflEmulator({ apiKey: KEY });
  png = (await makePng(256, 256)).toString('base64');
  small = (await makePng(128, 128)).toString('base64');
});

after(() => emu.close());

async function post(endpoint: string, body: unknown, headers: Record<string, string> = { 'x-key': KEY }): Promise<{ status: number; json: any }> {
  const res = await fetch(`${emu.url}/v1/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** the FastAPI validation errors as [field, type] pairs */
const issues = (json: { detail: Array<{ loc: unknown[]; type: string }> }) => json.detail.map((d) => [d.loc.slice(1).join('.'), d.type]);

describe('bfl emulator: what it refuses', () => {
  test('auth: no x-key is 403 "Not authenticated", a wrong one 401; the credits endpoint answers the balance', async () => {
    assert.deepEqual(await post('flux-kontext-pro', { prompt: 'x' }, {}), { status: 403, json: { detail: 'Not authenticated' } });
    assert.equal((await post('flux-kontext-pro', { prompt: 'x' }, { 'x-key': 'nope' })).status, 401);
    assert.equal((await post('flux-kontext-pro', { prompt: 'x' }, { authorization: `Bearer ${KEY}` })).status, 403, 'Bearer is not BFL\'s scheme');
    const credits = await fetch(`${emu.url}/v1/credits`, { headers: { 'x-key': KEY } });
    assert.equal(credits.status, 200);
    assert.equal(typeof ((await credits.json()) as { credits: unknown }).credits, 'number');
  });

  test('the schema: missing, mistyped, out of range, not in the enum, unknown — every error at once, FastAPI style', async () => {
    const r = await post('flux-kontext-pro', { input_image: png, seed: '42', output_format: 'gif', safety_tolerance: 9, prompt_upsampling: 'yes', aspect: '1:1', promt: 'x' });
    assert.equal(r.status, 422);
    assert.deepEqual(issues(r.json), [
      ['prompt', 'missing'],
      ['seed', 'int_type'],
      ['output_format', 'enum'],
      ['prompt_upsampling', 'bool_type'],
      ['safety_tolerance', 'less_than_equal'],
      ['aspect', 'extra_forbidden'],
      ['promt', 'extra_forbidden'],
    ]);
    assert.equal(r.json.detail[2].msg, "Input should be 'jpeg', 'png' or 'webp'");
    assert.equal(r.json.detail[4].msg, 'Input should be less than or equal to 6');
    assert.equal(r.json.detail[5].msg, 'Extra inputs are not permitted');
    // FLUX.2 has no aspect_ratio and takes at most 5 as safety_tolerance; Kontext no input_image_5
    assert.deepEqual(issues((await post('flux-2-pro', { prompt: 'x', aspect_ratio: '1:1', width: 32, safety_tolerance: 6 })).json), [
      ['width', 'greater_than_equal'],
      ['safety_tolerance', 'less_than_equal'],
      ['aspect_ratio', 'extra_forbidden'],
    ]);
    assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: png, input_image_5: png })).json), [['input_image_5', 'extra_forbidden']]);
    assert.deepEqual(issues((await post('flux-pro-1.0-fill', { prompt: 'x', steps: 10 })).json), [
      ['image', 'missing'],
      ['steps', 'greater_than_equal'],
    ]);
    assert.deepEqual(issues((await post('flux-kontext-pro', '{"prompt": ')).json), [['0', 'json_invalid']]);
    assert.deepEqual(issues((await post('flux-kontext-pro', [1, 2])).json), [['', 'model_attributes_type']]);
  });

  test('the content: raw base64 only (no data URI), images without gaps, a readable picture', async () => {
    const dataUri = await post('flux-kontext-pro', { prompt: 'x', input_image: `data:image/png;base64,${png}` });
    assert.equal(dataUri.status, 422);
    assert.match(dataUri.json.detail[0].msg, /data URI/);
    assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: png, input_image_3: png })).json), [['input_image_3', 'value_error']]);
    assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: 'not base64!' })).json), [['input_image', 'value_error']]);
    assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: Buffer.from('hello world!').toString('base64') })).json), [['input_image', 'value_error']]);
    assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: png, safety_tolerance: 4 })).json), [['safety_tolerance', 'value_error']]);
    assert.equal((await post('flux-kontext-pro', { prompt: 'x', safety_tolerance: 6 })).status, 200, 'text-to-image may go up to 6');
  });

  test('Kontext\'s aspect_ratio within 21:9..9:21; FLUX.2\'s sizes multiples of 16 within 4 MP', async () => {
    for (const bad of ['3:1', '1:3', 'wide', '16x9', '0:0']) {
      assert.deepEqual(issues((await post('flux-kontext-pro', { prompt: 'x', input_image: png, aspect_ratio: bad })).json), [['aspect_ratio', 'value_error']], bad);
    }
    assert.equal((await post('flux-kontext-pro', { prompt: 'x', input_image: png, aspect_ratio: '21:9' })).status, 200);
    assert.deepEqual(issues((await post('flux-2-pro', { prompt: 'x', width: 1000, height: 1024 })).json), [['width', 'value_error']]);
    assert.deepEqual(issues((await post('flux-2-pro', { prompt: 'x', width: 2560, height: 2560 })).json), [['width', 'value_error']]);
    assert.equal((await post('flux-2-pro', { prompt: 'x', width: 2000, height: 2000 })).status, 200);
  });

  test('Fill: a mask of the image\'s size, black and white, without transparency (an OpenAI alpha mask is refused)', async () => {
    const alphaMask = (await makeMask(256, 256, { left: 64, top: 64, width: 128, height: 128 })).toString('base64');
    const r = await post('flux-pro-1.0-fill', { image: png, mask: alphaMask, prompt: 'x' });
    assert.equal(r.status, 422);
    assert.match(r.json.detail[0].msg, /black and white image without transparency/);
    const white = (await sharp({ create: { width: 128, height: 128, channels: 3, background: '#ffffff' } }).greyscale().png().toBuffer()).toString('base64');
    const wrongSize = await post('flux-pro-1.0-fill', { image: png, mask: white, prompt: 'x' });
    assert.match(wrongSize.json.detail[0].msg, /mask dimensions 128x128 do not match image dimensions 256x256/);
    const colour = (await sharp({ create: { width: 256, height: 256, channels: 3, background: '#ff0000' } }).png().toBuffer()).toString('base64');
    assert.equal((await post('flux-pro-1.0-fill', { image: png, mask: colour })).status, 422);
    assert.equal((await post('flux-pro-1.0-fill', { image: png })).status, 422, 'no mask and no alpha: nothing to fill');
    const grey = (await sharp({ create: { width: 128, height: 128, channels: 3, background: '#ffffff' } }).greyscale().png().toBuffer()).toString('base64');
    assert.equal((await post('flux-pro-1.0-fill', { image: small, mask: grey })).status, 200);
  });

  test('polling: only on the polling host; Pending, then Ready with a sample that expires', async () => {
    const short = await startBflEmulator({ apiKey: KEY, sampleTtlMs: 300 });
    try {
      const sub = await fetch(`${short.url}/v1/flux-kontext-pro`, { method: 'POST', headers: { 'x-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x', input_image: png }) });
      const { id, polling_url } = (await sub.json()) as { id: string; polling_url: string };
      assert.equal(new URL(polling_url).host, short.deliveryHost);
      assert.notEqual(short.deliveryHost, new URL(short.url).host, 'another port than the API');
      assert.equal((await fetch(`${short.url}/v1/get_result?id=${id}`)).status, 404, 'the API host does not answer polls');
      const poll = async () => (await (await fetch(polling_url, { headers: { 'x-key': KEY } })).json()) as { status: string; result: { sample: string; seed: number } };
      assert.equal((await poll()).status, 'Pending');
      const ready = await poll();
      assert.equal(ready.status, 'Ready');
      assert.equal(ready.result.seed !== undefined, true);
      const sample = await fetch(ready.result.sample);
      assert.equal(sample.status, 200);
      assert.equal(sample.headers.get('content-type'), 'image/png');
      await new Promise((r) => setTimeout(r, 350));
      const expired = await fetch(ready.result.sample);
      assert.equal(expired.status, 403);
      assert.match(await expired.text(), /AuthenticationFailed/);
      const tampered = ready.result.sample.replace(/sig=[^&]+/, 'sig=forged');
      assert.equal((await fetch(tampered)).status, 403);
      assert.equal(((await (await fetch(`${new URL(polling_url).origin}/v1/get_result?id=nope`)).json()) as { status: string }).status, 'Task not found');
      assert.equal((await fetch(polling_url, { headers: { 'x-key': 'wrong' } })).status, 401);
    } finally {
      await short.close();
    }
  });

  test('402 when the credits run out; 429 beyond the active tasks', async () => {
    const poor = await startBflEmulator({ apiKey: KEY, credits: 5 });
    try {
      const send = () => fetch(`${poor.url}/v1/flux-kontext-max`, { method: 'POST', headers: { 'x-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) });
      assert.equal((await send()).status, 402);
      poor.credits = 1000;
      for (let i = 0; i < 6; i++) assert.equal((await send()).status, 200);
      const busy = await send();
      assert.equal(busy.status, 429);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.equal(((await busy.json()) as { retry_after: number }).retry_after, 1);
    } finally {
      await poor.close();
    }
  });
});

describe('bfl emulator: its schemas are BFL\'s', { skip: !fs.existsSync(OPENAPI) && `no ${OPENAPI} on this machine` }, () => {
  type Prop = { type?: string; anyOf?: Array<Record<string, unknown>>; $ref?: string; minimum?: number; maximum?: number; minLength?: number; maxLength?: number; multipleOf?: number };

  /** a published property in this table's terms */
  function published(prop: Prop, schemas: Record<string, { enum?: string[] }>): FieldSpec {
    const variants = prop.anyOf ?? [prop];
    const nullable = variants.some((v) => v.type === 'null');
    const v = variants.find((x) => x.type !== 'null')! as Prop;
    const spec: FieldSpec = v.$ref
      ? { type: 'enum', values: schemas[v.$ref.split('/').at(-1)!].enum! }
      : { type: v.type as FieldSpec['type'] };
    if (nullable) spec.nullable = true;
    for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'multipleOf'] as const) if (v[k] !== undefined) spec[k] = v[k];
    return spec;
  }

  test('every endpoint the emulator serves has the published body schema, field for field', () => {
    const doc = JSON.parse(fs.readFileSync(OPENAPI, 'utf8'));
    const schemas = doc.components.schemas;
    for (const [endpoint, mine] of Object.entries(ENDPOINT_SCHEMAS) as Array<[string, BodySchema]>) {
      const ref: string = doc.paths[`/v1/${endpoint}`].post.requestBody.content['application/json'].schema.$ref;
      const theirs = schemas[ref.split('/').at(-1)!];
      assert.equal(mine.title, theirs.title, endpoint);
      assert.deepEqual([...mine.required].sort(), [...(theirs.required ?? [])].sort(), `${endpoint}: required`);
      assert.deepEqual(Object.keys(mine.fields), Object.keys(theirs.properties), `${endpoint}: fields in order`);
      for (const [name, prop] of Object.entries(theirs.properties as Record<string, Prop>)) {
        const want = published(prop, schemas);
        const got = { ...mine.fields[name] };
        if (got.values) got.values = [...got.values];
        assert.deepEqual(got, want, `${endpoint}.${name}`);
      }
    }
  });
});
