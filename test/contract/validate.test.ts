/** The contract as a pure step: taken-apart bodies in, EditRequest or the exact error out. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultLimits } from '../../src/config/index.js';
import { validateEdit } from '../../src/contract/validate.js';
import { GatewayError } from '../../src/errors.js';
import type { FieldValue, IntakeResult, SpooledFile } from '../../src/intake/types.js';
import { makeJpeg, makeMask, makePng } from '../helpers/images.js';

let dir: string;
const files: Record<string, string> = {};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-contract-'));
  const write = (name: string, bytes: Buffer) => {
    files[name] = path.join(dir, name);
    fs.writeFileSync(files[name], bytes);
  };
  write('a.png', await makePng(640, 480));
  write('b.jpg', await makeJpeg(300, 300));
  write('sq.png', await makePng(256, 256, { alpha: true }));
  write('mask.png', await makeMask(640, 480, { left: 0, top: 0, width: 10, height: 10 }));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(role: 'image' | 'mask', field: string, name: string, explicitIndex: number | null = null): SpooledFile {
  const p = files[name];
  return { role, field, param: field, explicitIndex, filename: name, declaredType: null, path: p, size: fs.statSync(p).size };
}

function intake(fields: Array<[string, FieldValue]>, spooled: SpooledFile[], kind: 'multipart' | 'json' = 'multipart'): IntakeResult {
  return { kind, fields, files: spooled, bytesIn: 0 };
}

const ctx = { requestId: 'req_test', defaultModel: 'gpt-image-1', limits: defaultLimits(), isServed: (m: string) => m !== 'unrouted' };

async function rejects(p: Promise<unknown>, status: number, code: string, param: string | null) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GatewayError, String(e));
    assert.deepEqual([e.status, e.code, e.param], [status, code, param]);
    return true;
  });
}

describe('validateEdit', () => {
  test('defaults and probing', async () => {
    const r = await validateEdit(intake([['prompt', 'x']], [file('image', 'image', 'a.png')]), ctx);
    assert.equal(r.model.id, 'gpt-image-1');
    assert.equal(r.model.requested, null);
    assert.equal(r.n, 1);
    assert.equal(r.size, 'auto');
    assert.equal(r.quality, 'auto');
    assert.equal(r.background, 'auto');
    assert.equal(r.outputFormat, 'png');
    assert.equal(r.responseFormat, 'b64_json');
    assert.equal(r.stream, false);
    assert.deepEqual([r.images[0].format, r.images[0].width, r.images[0].height, r.images[0].param], ['png', 640, 480, 'image']);
  });

  test('typed JSON values and string values mean the same', async () => {
    const a = await validateEdit(intake([['prompt', 'x'], ['n', 2], ['stream', true], ['partial_images', 1]], [file('image', 'images[0]', 'a.png')], 'json'), ctx);
    const b = await validateEdit(intake([['prompt', 'x'], ['n', '2'], ['stream', 'true'], ['partial_images', '1']], [file('image', 'image', 'a.png')]), ctx);
    assert.deepEqual([a.n, a.stream, a.partialImages], [2, true, 1]);
    assert.deepEqual([b.n, b.stream, b.partialImages], [2, true, 1]);
  });

  test('image[N] parts are ordered by index; param names follow the final order', async () => {
    const r = await validateEdit(
      intake([['prompt', 'x']], [file('image', 'image[1]', 'b.jpg', 1), file('image', 'image[0]', 'a.png', 0)]),
      ctx,
    );
    assert.deepEqual(r.images.map((i) => [i.format, i.param]), [['png', 'image[0]'], ['jpeg', 'image[1]']]);
  });

  test('repeated text fields are refused', async () => {
    await rejects(validateEdit(intake([['prompt', 'x'], ['prompt', 'y']], [file('image', 'image', 'a.png')]), ctx), 400, 'duplicate_parameter', 'prompt');
  });

  test('image sent as text', async () => {
    await rejects(validateEdit(intake([['prompt', 'x'], ['image', 'a.png']], []), ctx), 400, 'invalid_type', 'image');
  });

  test('an unrouted model is a 404 before anything else is checked', async () => {
    await rejects(validateEdit(intake([['model', 'unrouted'], ['n', 'abc']], []), ctx), 404, 'model_not_found', 'model');
  });

  test('dall-e-2: one square PNG; url by default; no stream', async () => {
    const r = await validateEdit(intake([['prompt', 'x'], ['model', 'dall-e-2']], [file('image', 'image[]', 'sq.png')]), ctx);
    assert.equal(r.responseFormat, 'url');
    assert.deepEqual(r.size, { width: 1024, height: 1024 });
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'dall-e-2']], [file('image', 'image', 'a.png')]), ctx), 400, 'invalid_value', 'image');
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'dall-e-2']], [file('image', 'image', 'b.jpg')]), ctx), 400, 'unsupported_file_mimetype', 'image');
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'dall-e-2'], ['stream', 'true']], [file('image', 'image', 'sq.png')]), ctx), 400, 'unsupported_parameter', 'stream');
    await rejects(validateEdit(intake([['prompt', 'x'.repeat(1001)], ['model', 'dall-e-2']], [file('image', 'image', 'sq.png')]), ctx), 400, 'string_above_max_length', 'prompt');
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'dall-e-2'], ['size', '1024x1536']], [file('image', 'image', 'sq.png')]), ctx), 400, 'invalid_value', 'size');
  });

  test('gpt-image-1-mini refuses input_fidelity; gpt-image-2 takes free sizes', async () => {
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'gpt-image-1-mini'], ['input_fidelity', 'high']], [file('image', 'image', 'a.png')]), ctx), 400, 'unsupported_parameter', 'input_fidelity');
    const r = await validateEdit(intake([['prompt', 'x'], ['model', 'gpt-image-2'], ['size', '2048x1152']], [file('image', 'image', 'a.png')]), ctx);
    assert.deepEqual(r.size, { width: 2048, height: 1152 });
    await rejects(validateEdit(intake([['prompt', 'x'], ['model', 'gpt-image-2'], ['size', '1000x1000']], [file('image', 'image', 'a.png')]), ctx), 400, 'invalid_value', 'size');
  });

  test('the mask is checked against the first image', async () => {
    const r = await validateEdit(intake([['prompt', 'x']], [file('image', 'image', 'a.png'), file('mask', 'mask', 'mask.png')]), ctx);
    assert.equal(r.mask?.width, 640);
    await rejects(validateEdit(intake([['prompt', 'x']], [file('image', 'image', 'b.jpg'), file('mask', 'mask', 'mask.png')]), ctx), 400, 'invalid_image_file', 'mask');
    await rejects(validateEdit(intake([['prompt', 'x']], [file('image', 'image', 'a.png'), file('mask', 'mask', 'b.jpg')]), ctx), 400, 'unsupported_file_mimetype', 'mask');
  });

  test('booleans and enums are strict', async () => {
    await rejects(validateEdit(intake([['prompt', 'x'], ['stream', 'yes']], [file('image', 'image', 'a.png')]), ctx), 400, 'invalid_type', 'stream');
    await rejects(validateEdit(intake([['prompt', 'x'], ['output_format', 'jpg']], [file('image', 'image', 'a.png')]), ctx), 400, 'invalid_value', 'output_format');
    await rejects(validateEdit(intake([['prompt', 'x'], ['output_compression', '101']], [file('image', 'image', 'a.png')]), ctx), 400, 'integer_above_max_value', 'output_compression');
    await rejects(validateEdit(intake([['prompt', 'x'], ['partial_images', '4']], [file('image', 'image', 'a.png')]), ctx), 400, 'integer_above_max_value', 'partial_images');
    await rejects(validateEdit(intake([['prompt', 42]], [file('image', 'image', 'a.png')], 'json'), ctx), 400, 'invalid_type', 'prompt');
  });
});
