/**
 * ComfyUI's HTTP API as the real server answers and refuses (provider-apis.md
 * §7, §10.7; server.py and execution.py): `POST /upload/image` (multipart,
 * a file name required, no path traversal, a clash renamed `name (1).png`
 * unless the bytes are the same), `POST /prompt` validating the API-format
 * graph the way ComfyUI does (class_type present and known, required inputs
 * present, links `[node_id, slot]` to existing nodes of the right output
 * type, INT/FLOAT inputs that Python's int()/float() accept within min/max,
 * list values in their list, LoadImage naming an uploaded file; errors in
 * ComfyUI's `{"error":{type,message,details,extra_info},"node_errors":{…}}`
 * with status 400), `GET /history/{id}` `{}` until the run ends, then the
 * entry with outputs and a status (success, or error with an
 * execution_error message), `GET /view` serving the files, and
 * `GET /system_stats`. Every route also answers under `/api`.
 *
 * "Running" a graph: LoadImage reads the upload and derives
 * MASK = 1 − alpha (an all-zero 64×64 mask without alpha), as nodes.py does;
 * the mask each run derived is recorded so tests can check its polarity.
 * KSampler paints the area where the mask is set with its seed's colour
 * (everything without a mask); on an EmptyLatentImage of batch_size b it
 * makes b pictures, the i-th painted with seed + i (one seed, b distinct
 * images, as ComfyUI's batch noise gives); SaveImage writes one PNG per
 * picture, served by /view.
 * ComfyUI has no auth; `apiKey` makes the emulator a reverse proxy in front
 * of it that wants `Authorization: Bearer`.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { EmulatorBase, sendJson, type Recorded } from './base.js';
import { decodeRgba, encodePng, paint, resizeGray, resizeRgba, type Gray, type Rgba } from './pixels.js';

export interface ComfyUiEmulatorOptions {
  /** a reverse proxy's Bearer key (ComfyUI itself has none) */
  apiKey?: string;
  /** checkpoints in models/checkpoints */
  checkpoints?: string[];
  /** history polls that still find nothing before a run is done */
  pollsBeforeDone?: number;
}

type InputSpec =
  | { kind: 'INT' | 'FLOAT'; min?: number; max?: number }
  | { kind: 'STRING' | 'BOOLEAN' }
  | { kind: 'list'; values: () => string[] }
  | { kind: 'file' }
  | { kind: 'link'; type: string };

interface NodeSpec {
  required: Record<string, InputSpec>;
  outputs: string[];
  output?: boolean;
}

const SAMPLERS = ['euler', 'euler_ancestral', 'heun', 'dpm_2', 'dpmpp_2m', 'dpmpp_sde', 'ddim', 'uni_pc'];
const SCHEDULERS = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform'];
const MAX_RES = 16384;
const link = (type: string): InputSpec => ({ kind: 'link', type });

interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

interface GraphNode {
  class_type: string;
  inputs: Record<string, unknown>;
}

export interface ComfyRun {
  promptId: string;
  graph: Record<string, GraphNode>;
  /** the MASK each LoadImage derived (255 = 1.0 = inpaint), by node id */
  masks: Record<string, Gray>;
  outputs: Record<string, Array<{ filename: string; subfolder: string; type: string }>>;
  status: 'success' | 'error';
}

interface HistoryItem {
  run: ComfyRun | null;
  /** the output nodes to execute, as validation found them */
  outputs: string[];
  polls: number;
  number: number;
  extra: Record<string, unknown>;
  error?: { node: string; type: string; message: string };
}

class Refusal extends Error {
  constructor(readonly error: ComfyError, readonly nodeErrors: unknown = {}) {
    super(error.message);
  }
}

interface Latent {
  pixels: Rgba | null;
  mask: Gray | null;
  width: number;
  height: number;
  /** EmptyLatentImage's batch_size (1 elsewhere) */
  batch?: number;
  /** the batch's pictures after sampling (pixels is the first) */
  frames?: Rgba[];
}
type Value = { image?: Rgba; images?: Rgba[]; mask?: Gray | null; latent?: Latent; text?: string };

export class ComfyUiEmulator extends EmulatorBase {
  /** every output image, in order: a client must get exactly these bytes */
  readonly emitted: Buffer[] = [];
  /** runs, finished or failed */
  readonly runs: ComfyRun[] = [];
  /** files by type, then `subfolder/name` */
  readonly files = { input: new Map<string, Buffer>(), output: new Map<string, Buffer>(), temp: new Map<string, Buffer>() };
  private readonly history = new Map<string, HistoryItem>();
  private readonly graphs = new Map<string, Record<string, GraphNode>>();
  private readonly failures: Array<{ type: string; message: string }> = [];
  /** per history entry: make an entry's outputs point elsewhere (a test of what the adapter follows) */
  rewriteOutput: ((f: { filename: string; subfolder: string; type: string }) => { filename: string; subfolder: string; type: string }) | null = null;
  private number = 0;
  private saved = 0;

  constructor(readonly options: ComfyUiEmulatorOptions = {}) {
    super((req, res) => this.serve(req, res));
  }

  get baseUrl(): string {
    return this.url;
  }

  /** The next `times` runs end in an execution error (e.g. torch.OutOfMemoryError). */
  failRuns(times: number, type = 'torch.OutOfMemoryError', message = 'Allocation on device 0 would exceed allowed memory. (out of memory)'): void {
    for (let i = 0; i < times; i++) this.failures.push({ type, message });
  }

  override reset(): void {
    super.reset();
    this.failures.length = 0;
    this.rewriteOutput = null;
  }

  private spec(cls: string): NodeSpec | undefined {
    const ckpts = () => this.options.checkpoints ?? ['sd-v1-5-inpainting.safetensors', 'sd_xl_base_1.0.safetensors'];
    const table: Record<string, NodeSpec> = {
      CheckpointLoaderSimple: { required: { ckpt_name: { kind: 'list', values: ckpts } }, outputs: ['MODEL', 'CLIP', 'VAE'] },
      LoadImage: { required: { image: { kind: 'file' } }, outputs: ['IMAGE', 'MASK'] },
      CLIPTextEncode: { required: { text: { kind: 'STRING' }, clip: link('CLIP') }, outputs: ['CONDITIONING'] },
      KSampler: {
        required: {
          model: link('MODEL'),
          seed: { kind: 'INT', min: 0, max: 0xffffffffffffffff },
          steps: { kind: 'INT', min: 1, max: 10000 },
          cfg: { kind: 'FLOAT', min: 0, max: 100 },
          sampler_name: { kind: 'list', values: () => SAMPLERS },
          scheduler: { kind: 'list', values: () => SCHEDULERS },
          positive: link('CONDITIONING'),
          negative: link('CONDITIONING'),
          latent_image: link('LATENT'),
          denoise: { kind: 'FLOAT', min: 0, max: 1 },
        },
        outputs: ['LATENT'],
      },
      VAEDecode: { required: { samples: link('LATENT'), vae: link('VAE') }, outputs: ['IMAGE'] },
      VAEEncode: { required: { pixels: link('IMAGE'), vae: link('VAE') }, outputs: ['LATENT'] },
      VAEEncodeForInpaint: { required: { pixels: link('IMAGE'), vae: link('VAE'), mask: link('MASK'), grow_mask_by: { kind: 'INT', min: 0, max: 64 } }, outputs: ['LATENT'] },
      InpaintModelConditioning: {
        required: { positive: link('CONDITIONING'), negative: link('CONDITIONING'), vae: link('VAE'), pixels: link('IMAGE'), mask: link('MASK'), noise_mask: { kind: 'BOOLEAN' } },
        outputs: ['CONDITIONING', 'CONDITIONING', 'LATENT'],
      },
      SetLatentNoiseMask: { required: { samples: link('LATENT'), mask: link('MASK') }, outputs: ['LATENT'] },
      EmptyLatentImage: {
        required: { width: { kind: 'INT', min: 16, max: MAX_RES }, height: { kind: 'INT', min: 16, max: MAX_RES }, batch_size: { kind: 'INT', min: 1, max: 4096 } },
        outputs: ['LATENT'],
      },
      ImageScale: {
        required: {
          image: link('IMAGE'),
          upscale_method: { kind: 'list', values: () => ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos'] },
          width: { kind: 'INT', min: 0, max: MAX_RES },
          height: { kind: 'INT', min: 0, max: MAX_RES },
          crop: { kind: 'list', values: () => ['disabled', 'center'] },
        },
        outputs: ['IMAGE'],
      },
      SaveImage: { required: { images: link('IMAGE'), filename_prefix: { kind: 'STRING' } }, outputs: [], output: true },
      PreviewImage: { required: { images: link('IMAGE') }, outputs: [], output: true },
    };
    return table[cls];
  }

  private authorised(req: Recorded, res: http.ServerResponse): boolean {
    if (!this.options.apiKey || req.headers.authorization === `Bearer ${this.options.apiKey}`) return true;
    res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
    res.end('401 Unauthorized');
    return false;
  }

  private async serve(req: Recorded, res: http.ServerResponse): Promise<void> {
    if (!this.authorised(req, res)) return;
    const path = req.path.startsWith('/api/') ? req.path.slice(4) : req.path;
    const text = (status: number, body = '') => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method === 'GET' && path === '/system_stats') {
      return sendJson(res, 200, {
        system: { os: 'posix', ram_total: 32e9, ram_free: 16e9, comfyui_version: '0.3.40', python_version: '3.11', pytorch_version: '2.5', embedded_python: false, argv: ['main.py'] },
        devices: [{ name: 'cpu', type: 'cpu', index: null, vram_total: 0, vram_free: 0, torch_vram_total: 0, torch_vram_free: 0 }],
      });
    }
    if (req.method === 'POST' && path === '/upload/image') return this.upload(req, res);
    if (req.method === 'POST' && path === '/prompt') return this.prompt(req, res);
    const hist = /^\/history\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && hist) return this.historyOf(decodeURIComponent(hist[1]), res);
    if (req.method === 'GET' && path === '/view') return this.view(req, res);
    text(404, '404: Not Found');
  }

  private upload(req: Recorded, res: http.ServerResponse): void {
    const file = req.files?.find((f) => f.name === 'image');
    const field = (name: string) => req.fields?.find(([k]) => k === name)?.[1];
    // aiohttp answers a bare 400 for a missing file or file name, and for a path outside the folder
    if (!file || !file.filename) return void res.writeHead(400).end();
    const type = (field('type') ?? 'input') as 'input' | 'temp' | 'output';
    if (!(type in this.files)) return void res.writeHead(400).end();
    const subfolder = field('subfolder') ?? '';
    if (/(^|[\\/])\.\.([\\/]|$)/.test(`${subfolder}/${file.filename}`) || file.filename.startsWith('/') || subfolder.startsWith('/')) return void res.writeHead(400).end();
    const store = this.files[type];
    const overwrite = field('overwrite') === 'true' || field('overwrite') === '1';
    const key = (n: string) => (subfolder ? `${subfolder}/${n}` : n);
    let name = file.filename;
    if (!overwrite) {
      const dot = name.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
      for (let i = 1; store.has(key(name)); i++) {
        if (store.get(key(name))!.equals(file.bytes)) break; // the same bytes: the existing name
        name = `${stem} (${i})${ext}`;
      }
    }
    store.set(key(name), file.bytes);
    sendJson(res, 200, { name, subfolder, type });
  }

  private prompt(req: Recorded, res: http.ServerResponse): void {
    const body = req.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('500 Internal Server Error\n\nServer got itself in trouble');
      return;
    }
    if (!('prompt' in body)) return sendJson(res, 400, { error: 'no prompt', node_errors: [] });
    // validation converts values in place, as ComfyUI does; the recorded request keeps what was sent
    const graph = structuredClone(body.prompt) as Record<string, GraphNode>;
    let outputs: string[];
    try {
      outputs = this.validate(graph);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return sendJson(res, 400, { error: e.error, node_errors: e.nodeErrors });
    }
    const id = crypto.randomUUID();
    const number = typeof body.number === 'number' ? body.number : this.number++;
    const extra = { ...((body.extra_data as Record<string, unknown>) ?? {}), ...(typeof body.client_id === 'string' ? { client_id: body.client_id } : {}) };
    this.graphs.set(id, graph);
    this.history.set(id, { run: null, polls: 0, number, extra, outputs });
    sendJson(res, 200, { prompt_id: id, number, node_errors: {} });
  }

  /** ComfyUI's validate_prompt, for the node table above; returns the output nodes to run. */
  private validate(graph: unknown): string[] {
    const err = (type: string, message: string, details: string, extra_info: Record<string, unknown> = {}): ComfyError => ({ type, message, details, extra_info });
    if (!graph || typeof graph !== 'object' || Array.isArray(graph)) throw new Refusal(err('invalid_prompt', 'Cannot execute because the prompt is not an object.', ''));
    const nodes = graph as Record<string, GraphNode>;
    for (const [id, node] of Object.entries(nodes)) {
      if (!node || typeof node !== 'object' || typeof node.class_type !== 'string') {
        throw new Refusal(err('invalid_prompt', 'Cannot execute because a node is missing the class_type property.', `Node ID '#${id}'`));
      }
      if (!this.spec(node.class_type)) {
        throw new Refusal(err('missing_node_type', `Node '${node.class_type}' not found. The custom node may not be installed.`, `Node ID '#${id}'`, { node_id: id, class_type: node.class_type }));
      }
      if (!node.inputs || typeof node.inputs !== 'object' || Array.isArray(node.inputs)) {
        throw new Refusal(err('invalid_prompt', 'Cannot execute because a node is missing the inputs property.', `Node ID '#${id}'`));
      }
    }
    const outputs = Object.keys(nodes).filter((id) => this.spec(nodes[id].class_type)!.output);
    if (outputs.length === 0) throw new Refusal(err('prompt_no_outputs', 'Prompt has no outputs', ''));
    const validated = new Map<string, ComfyError[] | null>();
    const check = (id: string): boolean => {
      if (validated.has(id)) return validated.get(id) === null;
      validated.set(id, null);
      const node = nodes[id];
      const spec = this.spec(node.class_type)!;
      const errors: ComfyError[] = [];
      let ok = true;
      for (const [name, s] of Object.entries(spec.required)) {
        if (!(name in node.inputs)) {
          errors.push(err('required_input_missing', 'Required input is missing', name, { input_name: name }));
          continue;
        }
        const val = node.inputs[name];
        if (Array.isArray(val)) {
          if (val.length !== 2) {
            errors.push(err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name, received_value: val }));
            continue;
          }
          const [from, slot] = val as [unknown, unknown];
          const source = typeof from === 'string' || typeof from === 'number' ? nodes[String(from)] : undefined;
          if (!source) {
            errors.push(err('exception_during_inner_validation', 'Exception when validating inner node', `'${String(from)}'`, { input_name: name, linked_node: val }));
            continue;
          }
          const got = this.spec(source.class_type)!.outputs[Number(slot)];
          if (s.kind !== 'link' || got !== s.type) {
            errors.push(err('return_type_mismatch', 'Return type mismatch between linked nodes', `${name}, ${got} != ${s.kind === 'link' ? s.type : s.kind}`, { input_name: name, received_type: got, linked_node: val }));
            continue;
          }
          if (!check(String(from))) ok = false;
          continue;
        }
        if (s.kind === 'link') {
          errors.push(err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', name, { input_name: name, received_value: val }));
          continue;
        }
        if (s.kind === 'INT' || s.kind === 'FLOAT') {
          const n = pythonNumber(val, s.kind);
          if (n === null) {
            const what = s.kind === 'INT' ? `invalid literal for int() with base 10: '${String(val)}'` : `could not convert string to float: '${String(val)}'`;
            errors.push(err('invalid_input_type', `Failed to convert an input value to a ${s.kind} value`, `${name}, ${String(val)}, ${what}`, { input_name: name, received_value: val }));
            continue;
          }
          if (s.min !== undefined && n < s.min) {
            errors.push(err('value_smaller_than_min', `Value ${n} smaller than min of ${s.min}`, name, { input_name: name, received_value: val }));
            continue;
          }
          if (s.max !== undefined && n > s.max) {
            errors.push(err('value_bigger_than_max', `Value ${n} bigger than max of ${s.max}`, name, { input_name: name, received_value: val }));
            continue;
          }
          node.inputs[name] = n;
        } else if (s.kind === 'list') {
          const values = s.values();
          if (!values.includes(val as string)) {
            errors.push(err('value_not_in_list', 'Value not in list', `${name}: '${String(val)}' not in ${JSON.stringify(values)}`, { input_name: name, received_value: val }));
          }
        } else if (s.kind === 'file') {
          if (typeof val !== 'string' || !this.files.input.has(val)) {
            errors.push(err('custom_validation_failed', 'Custom validation failed for node', `${name} - Invalid image file: ${String(val)}`, { input_name: name, received_value: val }));
          }
        } else if (s.kind === 'STRING') {
          node.inputs[name] = typeof val === 'string' ? val : JSON.stringify(val);
        }
      }
      validated.set(id, errors.length > 0 ? errors : ok ? null : []);
      return errors.length === 0 && ok;
    };
    const good: string[] = [];
    const failed: Array<[string, ComfyError[]]> = [];
    const nodeErrors: Record<string, { errors: ComfyError[]; dependent_outputs: string[]; class_type: string }> = {};
    for (const o of outputs) {
      if (check(o)) {
        good.push(o);
        continue;
      }
      failed.push([o, validated.get(o) ?? []]);
      for (const [id, errs] of validated) {
        if (errs && errs.length > 0) {
          nodeErrors[id] ??= { errors: errs, dependent_outputs: [], class_type: nodes[id].class_type };
          nodeErrors[id].dependent_outputs.push(o);
        }
      }
    }
    if (good.length === 0) {
      const details = Object.values(nodeErrors)
        .flatMap((n) => n.errors)
        .map((e) => `${e.message}: ${e.details}`)
        .join('\n');
      throw new Refusal(err('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details), nodeErrors);
    }
    return good;
  }

  private async historyOf(id: string, res: http.ServerResponse): Promise<void> {
    const item = this.history.get(id);
    if (!item) return sendJson(res, 200, {});
    if (!item.run) {
      if (item.polls++ < (this.options.pollsBeforeDone ?? 1)) return sendJson(res, 200, {});
      item.run = await this.execute(id, item);
    }
    const run = item.run;
    const ts = 1_700_000_000_000;
    const messages: unknown[] = [['execution_start', { prompt_id: id, timestamp: ts }], ['execution_cached', { nodes: [], prompt_id: id, timestamp: ts }]];
    if (run.status === 'success') messages.push(['execution_success', { prompt_id: id, timestamp: ts + 1000 }]);
    else {
      messages.push([
        'execution_error',
        {
          prompt_id: id,
          node_id: item.error!.node,
          node_type: run.graph[item.error!.node]?.class_type ?? 'KSampler',
          executed: [],
          exception_message: item.error!.message,
          exception_type: item.error!.type,
          traceback: ['  File "execution.py", line 327, in execute\n'],
          current_inputs: {},
          current_outputs: {},
          timestamp: ts + 1000,
        },
      ]);
    }
    const rewrite = this.rewriteOutput;
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([node, images]) => [node, { images: rewrite ? images.map(rewrite) : images }]));
    sendJson(res, 200, {
      [id]: {
        prompt: [item.number, id, run.graph, item.extra, item.outputs],
        outputs: run.status === 'success' ? outputs : {},
        status: { status_str: run.status, completed: run.status === 'success', messages },
        meta: Object.fromEntries(Object.keys(run.outputs).map((n) => [n, { node_id: n, display_node: n, parent_node: null, real_node_id: n }])),
      },
    });
  }

  /** Runs the graph for its output nodes. */
  private async execute(id: string, item: HistoryItem): Promise<ComfyRun> {
    const outputs = item.outputs;
    const nodes = this.graphs.get(id) ?? {};
    const run: ComfyRun = { promptId: id, graph: nodes, masks: {}, outputs: {}, status: 'success' };
    this.runs.push(run);
    const failure = this.failures.shift();
    if (failure) {
      run.status = 'error';
      item.error = { node: Object.keys(nodes).find((n) => nodes[n].class_type === 'KSampler') ?? outputs[0], ...failure };
      return run;
    }
    const memo = new Map<string, Value[]>();
    const input = async (node: GraphNode, name: string): Promise<Value> => {
      const v = node.inputs[name];
      if (Array.isArray(v)) return (await evalNode(String(v[0])))[Number(v[1])];
      return { text: String(v) };
    };
    const evalNode = async (nid: string): Promise<Value[]> => {
      const hit = memo.get(nid);
      if (hit) return hit;
      const node = nodes[nid];
      const num = (name: string) => Number(node.inputs[name]);
      let out: Value[];
      switch (node.class_type) {
        case 'LoadImage': {
          const bytes = this.files.input.get(String(node.inputs.image))!;
          const { image, hadAlpha } = await decodeRgba(bytes);
          // nodes.py: mask = 1 - alpha; without an alpha channel an all-zero 64x64 mask
          let mask: Gray;
          if (hadAlpha) {
            const data = Buffer.alloc(image.width * image.height);
            for (let i = 0; i < data.length; i++) data[i] = 255 - image.data[i * 4 + 3];
            mask = { width: image.width, height: image.height, data };
          } else mask = { width: 64, height: 64, data: Buffer.alloc(64 * 64) };
          run.masks[nid] = mask;
          out = [{ image }, { mask }];
          break;
        }
        case 'ImageScale': {
          const v = await input(node, 'image');
          const all = await Promise.all((v.images ?? [v.image!]).map((img) => resizeRgba(img, num('width') || img.width, num('height') || img.height)));
          out = [{ image: all[0], images: all }];
          break;
        }
        case 'CheckpointLoaderSimple':
          out = [{}, {}, {}];
          break;
        case 'CLIPTextEncode':
          out = [{ text: String(node.inputs.text) }];
          break;
        case 'EmptyLatentImage':
          out = [{ latent: { pixels: null, mask: null, width: num('width'), height: num('height'), batch: num('batch_size') || 1 } }];
          break;
        case 'VAEEncode': {
          const px = (await input(node, 'pixels')).image!;
          out = [{ latent: { pixels: px, mask: null, width: px.width, height: px.height } }];
          break;
        }
        case 'VAEEncodeForInpaint':
        case 'InpaintModelConditioning': {
          const px = (await input(node, 'pixels')).image!;
          const m = (await input(node, 'mask')).mask!;
          const latent = { latent: { pixels: px, mask: await resizeGray(m, px.width, px.height), width: px.width, height: px.height } };
          out = node.class_type === 'VAEEncodeForInpaint' ? [latent] : [{}, {}, latent];
          break;
        }
        case 'SetLatentNoiseMask': {
          const l = (await input(node, 'samples')).latent!;
          const m = (await input(node, 'mask')).mask!;
          out = [{ latent: { ...l, mask: await resizeGray(m, l.width, l.height) } }];
          break;
        }
        case 'KSampler': {
          const l = (await input(node, 'latent_image')).latent!;
          const base = l.pixels ?? { width: l.width, height: l.height, data: Buffer.alloc(l.width * l.height * 4, 128) };
          const frames = Array.from({ length: l.batch ?? 1 }, (_, i) => paint(base, l.mask, num('seed') + i));
          out = [{ latent: { ...l, pixels: frames[0], frames, mask: null } }];
          break;
        }
        case 'VAEDecode': {
          const l = (await input(node, 'samples')).latent!;
          out = [{ image: l.pixels!, images: l.frames ?? [l.pixels!] }];
          break;
        }
        case 'SaveImage':
        case 'PreviewImage': {
          const v = await input(node, 'images');
          const type = node.class_type === 'SaveImage' ? 'output' : 'temp';
          const prefix = node.class_type === 'SaveImage' ? String(node.inputs.filename_prefix) : 'ComfyUI_temp';
          run.outputs[nid] = [];
          for (const img of v.images ?? [v.image!]) {
            const png = await encodePng(img);
            const filename = `${prefix}_${String(++this.saved).padStart(5, '0')}_.png`;
            this.files[type].set(filename, png);
            if (type === 'output') this.emitted.push(png);
            run.outputs[nid].push({ filename, subfolder: '', type });
          }
          out = [];
          break;
        }
        default:
          out = [];
      }
      memo.set(nid, out);
      return out;
    };
    try {
      for (const o of outputs) await evalNode(o);
    } catch (e) {
      run.status = 'error';
      item.error = { node: outputs[0], type: 'PIL.UnidentifiedImageError', message: (e as Error).message };
    }
    return run;
  }

  private view(req: Recorded, res: http.ServerResponse): void {
    const filename = req.query.get('filename');
    if (filename === null) return void res.writeHead(404).end();
    if (filename.startsWith('/') || filename.includes('..')) return void res.writeHead(400).end();
    const type = (req.query.get('type') ?? 'output') as keyof ComfyUiEmulator['files'];
    const store = this.files[type];
    if (!store) return void res.writeHead(400).end();
    const sub = req.query.get('subfolder') ?? '';
    if (sub.includes('..')) return void res.writeHead(403).end();
    const bytes = store.get(sub ? `${sub}/${filename}` : filename);
    if (!bytes) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length), 'content-disposition': `filename="${filename}"` });
    res.end(bytes);
  }

  /** the graph a prompt was queued with (as validated: numbers converted) */
  graphOf(id: string): Record<string, GraphNode> | undefined {
    return this.graphs.get(id);
  }
}

/** Python's int() / float() of a JSON value, or null when they raise. */
function pythonNumber(v: unknown, kind: 'INT' | 'FLOAT'): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return kind === 'INT' ? Math.trunc(v) : v;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (kind === 'INT') return /^[+-]?\d+$/.test(s) ? Number(s) : null;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : null;
}

export async function startComfyUiEmulator(options: ComfyUiEmulatorOptions = {}): Promise<ComfyUiEmulator> {
  return new ComfyUiEmulator(options).start();
}
