/** The ComfyUI translation, by tables: placeholders, capabilities, the filled workflow, history states, errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import {
  classifyError,
  comfyCapabilities,
  fillWorkflow,
  outputNodes,
  placeholdersOf,
  promptId,
  readHistory,
  substitutions,
  uploadBasename,
  uploadedName,
  type Workflow,
} from '../../src/providers/comfyui/translate.js';
import { UpstreamError } from '../../src/providers/errors.js';
import type { ProviderCall } from '../../src/providers/types.js';
import type { EditRequest } from '../../src/types.js';
import { fakeCall } from './helpers.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples/comfyui');
const inpaint = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'inpaint.json'), 'utf8')) as Workflow;
const img2img = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'img2img.json'), 'utf8')) as Workflow;

const call = (request: Partial<EditRequest> = {}, extra: Partial<ProviderCall> = {}): ProviderCall =>
  fakeCall({ id: 'req_abc/123', ...request }, { model: 'label', index: 2, seed: 424242, ...extra });

describe('comfyui translate', () => {
  test('placeholders and the capabilities they give', () => {
    assert.deepEqual([...placeholdersOf(inpaint)].sort(), ['height', 'image', 'mask', 'prompt', 'seed', 'width']);
    assert.deepEqual([...placeholdersOf(img2img)].sort(), ['image', 'prompt', 'seed']);
    const a = comfyCapabilities({ edit: inpaint, generation: null });
    assert.equal(a.mask, 'image-alpha');
    assert.deepEqual(a.sizes, { kind: 'exact', sizes: 'free' });
    assert.deepEqual([a.maxImages, a.maxImagesPerCall, a.mode], [1, 1, 'polling']);
    assert.deepEqual([a.outputFormats, a.quality, a.background, a.inputFidelity, a.moderation, a.partialImages], [['png'], [], [], false, false, false]);
    const b = comfyCapabilities({ edit: img2img, generation: null });
    assert.equal(b.mask, null, 'no {{mask}}: a masked edit is refused');
    assert.deepEqual(b.sizes, { kind: 'none' }, 'no {{width}}/{{height}}: an explicit size is refused');
    // only one of the two size placeholders is not enough to honour a size
    const half = { ...img2img, '9': { class_type: 'EmptyLatentImage', inputs: { width: '{{width}}', height: 512, batch_size: 1 } } } as Workflow;
    assert.deepEqual(comfyCapabilities({ edit: half, generation: null }).sizes, { kind: 'none' });
    // only exact strings count: text around a placeholder is left alone
    assert.deepEqual([...placeholdersOf({ '1': { class_type: 'CLIPTextEncode', inputs: { text: 'a {{prompt}} b' } } } as Workflow)], []);
  });

  test('a generation workflow: its own capabilities for generations, batches with {{batch_size}}, 1024x1024 for auto', () => {
    const txt2img = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'txt2img.json'), 'utf8')) as Workflow;
    const both = { edit: inpaint, generation: txt2img };
    const gen = comfyCapabilities(both, 'generation');
    assert.deepEqual([gen.operations, gen.maxImages, gen.mask, gen.maxImagesPerCall, gen.sizes.kind], [['edit', 'generation'], 0, null, 4, 'exact']);
    const edit = comfyCapabilities(both, 'edit');
    assert.deepEqual([edit.maxImages, edit.mask, edit.maxImagesPerCall], [1, 'image-alpha', 1]);
    assert.deepEqual(comfyCapabilities({ edit: null, generation: txt2img }, 'edit').operations, ['generation']);
    assert.deepEqual(comfyCapabilities({ edit: img2img, generation: null }, 'generation').operations, ['edit']);
    const filled = fillWorkflow(txt2img, substitutions(call({ images: [], operation: 'generation' }, { n: 3 }), ''));
    assert.deepEqual(filled['2'].inputs, { width: 1024, height: 1024, batch_size: 3 });
    assert.equal(filled['5'].inputs.seed, 424242);
  });

  test('filling: a deep copy, exact strings replaced, numbers for seed and size', () => {
    const c = call({ size: { width: 1536, height: 1024 } });
    const filled = fillWorkflow(inpaint, substitutions(c, 'imagegate-req-2.png'));
    assert.equal(filled['2'].inputs.image, 'imagegate-req-2.png');
    assert.equal(filled['3'].inputs.image, 'imagegate-req-2.png');
    assert.equal(filled['5'].inputs.text, 'a cat');
    assert.equal(filled['8'].inputs.seed, 424242);
    assert.deepEqual([filled['4'].inputs.width, filled['4'].inputs.height], [1536, 1024]);
    assert.deepEqual(filled['7'].inputs.mask, ['3', 1], 'links untouched');
    assert.equal(inpaint['2'].inputs.image, '{{image}}', 'the configured workflow is not changed');
    // auto: the first image's size
    const auto = fillWorkflow(inpaint, substitutions(call(), 'x.png'));
    assert.deepEqual([auto['4'].inputs.width, auto['4'].inputs.height], [640, 480]);
    // a prompt that looks like a placeholder is text, not a placeholder
    const tricky = fillWorkflow(inpaint, substitutions(call({ prompt: '{{seed}}' }), 'x.png'));
    assert.equal(tricky['5'].inputs.text, '{{seed}}');
  });

  test('output nodes: configured, else every SaveImage', () => {
    assert.deepEqual(outputNodes(inpaint, null), ['10']);
    assert.deepEqual(outputNodes(inpaint, ['9', '10']), ['9', '10']);
    const two = { ...img2img, '9': { class_type: 'SaveImage', inputs: { images: ['7', 0], filename_prefix: 'b' } } } as Workflow;
    assert.deepEqual(outputNodes(two, null), ['8', '9']);
  });

  test('upload names and the prompt id', () => {
    assert.equal(uploadBasename(call()), 'imagegate-req_abc123-2');
    assert.equal(uploadedName({ name: 'a (1).png', subfolder: '', type: 'input' }), 'a (1).png');
    assert.equal(uploadedName({ name: 'a.png', subfolder: 'gate/', type: 'input' }), 'gate/a.png');
    assert.throws(() => uploadedName({ subfolder: '' }), (e: UpstreamError) => e.kind === 'retryable' && /no "name"/.test(e.message));
    assert.equal(promptId({ prompt_id: 'p1', number: 3, node_errors: {} }), 'p1');
    assert.throws(() => promptId({ error: 'x' }), (e: UpstreamError) => e.kind === 'retryable');
  });

  test('history: pending, done with the output node images, failed with the execution error', () => {
    assert.deepEqual(readHistory({}, 'p1', ['10']), { state: 'pending' });
    const done = {
      p1: {
        outputs: { '10': { images: [{ filename: 'imagegate_00001_.png', subfolder: '', type: 'output' }] }, '11': { images: [{ filename: 'preview.png', subfolder: '', type: 'temp' }] } },
        status: { status_str: 'success', completed: true, messages: [] },
      },
    };
    assert.deepEqual(readHistory(done, 'p1', ['10']), { state: 'done', images: [{ filename: 'imagegate_00001_.png', subfolder: '', type: 'output' }] });
    assert.deepEqual((readHistory(done, 'p1', ['11', '10']) as { images: unknown[] }).images.length, 2);
    // an old server: no status, outputs are the answer
    assert.equal(readHistory({ p1: { outputs: done.p1.outputs } }, 'p1', ['10']).state, 'done');
    const failed = readHistory(
      {
        p1: {
          outputs: {},
          status: {
            status_str: 'error',
            completed: false,
            messages: [['execution_start', {}], ['execution_error', { node_id: '8', node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError', exception_message: 'CUDA out of memory' }]],
          },
        },
      },
      'p1',
      ['10'],
    );
    assert.equal(failed.state, 'failed');
    const err = (failed as { error: UpstreamError }).error;
    assert.equal(err.kind, 'retryable');
    assert.equal(err.message, 'ComfyUI run failed: node 8 (KSampler): torch.OutOfMemoryError: CUDA out of memory');
    // done, but the output node wrote nothing (a wrong outputNode, or a PreviewImage only)
    assert.throws(() => readHistory(done, 'p1', ['9']), (e: UpstreamError) => e.kind === 'retryable' && /without an image in output node 9/.test(e.message));
    assert.throws(() => readHistory([], 'p1', ['10']), (e: UpstreamError) => e.kind === 'retryable');
  });

  test('errors: a validation failure is rejected with the node, input and reason; other statuses as usual', () => {
    const validation = JSON.stringify({
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: 'Value not in list: ckpt_name', extra_info: {} },
      node_errors: { '1': { errors: [{ type: 'value_not_in_list', message: 'Value not in list', details: "ckpt_name: 'x.safetensors' not in ['a.safetensors']", extra_info: {} }], dependent_outputs: ['10'], class_type: 'CheckpointLoaderSimple' } },
    });
    const rows: Array<[number, string, Record<string, string>, string, string, number | null]> = [
      [400, validation, {}, 'rejected', "HTTP 400: Prompt outputs failed validation: node 1 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'x.safetensors' not in ['a.safetensors']", null],
      [400, JSON.stringify({ error: { type: 'missing_node_type', message: "Node 'Foo' not found. The custom node may not be installed.", details: "Node ID '#3'", extra_info: {} }, node_errors: {} }), {}, 'rejected', "HTTP 400: Node 'Foo' not found. The custom node may not be installed.: Node ID '#3'", null],
      [400, JSON.stringify({ error: 'no prompt', node_errors: [] }), {}, 'rejected', 'HTTP 400: no prompt', null],
      [400, '', {}, 'rejected', 'HTTP 400', null],
      [413, 'Request Entity Too Large', {}, 'rejected', 'HTTP 413: Request Entity Too Large', null],
      [429, 'slow down', { 'retry-after': '2' }, 'retryable', 'HTTP 429: slow down', 2000],
      [500, '500 Internal Server Error\n\nServer got itself in trouble', {}, 'retryable', 'HTTP 500: 500 Internal Server Error Server got itself in trouble', null],
      [401, '401 Unauthorized', {}, 'unavailable', 'HTTP 401: 401 Unauthorized', null],
      [403, '', {}, 'unavailable', 'HTTP 403', null],
    ];
    for (const [status, body, headers, kind, message, retry] of rows) {
      const e = classifyError(status, body, headers);
      assert.deepEqual([e.kind, e.message, e.retryAfterMs, e.status], [kind, message, retry, status], `${status} ${body.slice(0, 40)}`);
    }
  });

  test('config: outputNode must name a node of the workflow', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-comfy-'));
    try {
      const file = path.join(dir, 'c.yaml');
      const write = (outputNode: string) =>
        fs.writeFileSync(file, `providers:\n  c:\n    type: comfyui\n    workflow: ${path.join(EXAMPLES, 'inpaint.json')}\n    outputNode: "${outputNode}"\n`);
      write('10');
      assert.deepEqual(loadConfig({ IMAGEGATE_CONFIG: file }).providers.c.outputNode, ['10']);
      write('99');
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }), /providers\.c\.outputNode.*names node '99', which the workflow .*inpaint\.json does not have/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
