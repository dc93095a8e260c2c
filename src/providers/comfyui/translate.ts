/**
 * ComfyUI's HTTP API (provider-apis.md §7): the operator's API-format
 * workflow with placeholders, filled per call. Pure translation: which
 * placeholders a workflow holds (and so what it can honour), the filled
 * graph, the `/prompt` answer and its 400 validation error, a `/history`
 * entry read as pending, failed or done with its output images.
 *
 * How a call maps (the decisions, documented once here):
 * - The image is uploaded with `POST /upload/image` (type=input, no
 *   overwrite: a name clash is renamed by the server, and an identical
 *   re-upload on a retry gets the existing name back). With a mask, the
 *   upload is the pipeline's 'image-alpha' picture — the image's RGB with the
 *   client's mask as its alpha — which ComfyUI's LoadImage reads as
 *   IMAGE + MASK (1 − alpha, so transparent = 1 = inpaint, OpenAI's own
 *   convention). `/upload/mask` is not used: it would need a second upload to
 *   do the same alpha merge the gateway already did.
 * - `{{image}}` and `{{mask}}` both become that one uploaded name; a workflow
 *   takes the mask from the MASK output (slot 1) of the LoadImage that
 *   holds `{{mask}}`.
 * - A masked edit needs a workflow with `{{mask}}` (OPERATOR.md): without
 *   it the deployment declares no mask support and the pipeline answers 400
 *   'mask' before anything is sent. A workflow with `{{mask}}` is an inpaint
 *   workflow: an edit without a mask is refused by the adapter before
 *   anything is sent (an all-zero mask would silently return the input).
 * - `{{seed}}`, `{{width}}`, `{{height}}` become numbers: the call's seed,
 *   the requested size or, for 'auto', the first image's size. Without both
 *   size placeholders an explicit size cannot be honoured (declared so).
 * - n: one prompt per image (maxImagesPerCall 1), each with its own seed.
 * - Outputs: the images of the `outputNode` nodes, or of every SaveImage
 *   node, fetched with `GET /view` from the provider's own host (ComfyUI
 *   answers file names, never URLs). SaveImage writes PNG; the pipeline
 *   converts to any other format.
 * - Generations run the operator's `generationWorkflow` (a text-to-image
 *   graph: EmptyLatentImage → KSampler → VAEDecode → SaveImage), filled the
 *   same way; nothing is uploaded. `{{width}}`/`{{height}}` are the asked
 *   size, 1024x1024 for 'auto'. With `{{batch_size}}` (EmptyLatentImage's
 *   batch_size) one prompt makes up to 4 images from one seed; without it,
 *   one prompt per image, each with its own seed. Its output nodes are every
 *   SaveImage node (`outputNode` names the edit workflow's).
 */
import type { ProviderConfig } from '../../config/index.js';
import type { Operation, Size } from '../../types.js';
import { excerpt, httpFailure, malformed, UpstreamError } from '../errors.js';
import type { Capabilities, ProviderCall } from '../types.js';

export type Workflow = NonNullable<ProviderConfig['workflow']>['graph'];

export const PLACEHOLDERS = ['image', 'mask', 'prompt', 'seed', 'width', 'height', 'batch_size'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const token = (p: Placeholder): string => `{{${p}}}`;

/** Every string value anywhere in a JSON value (node inputs, nested lists, `_meta`). */
function* strings(v: unknown): Generator<string> {
  if (typeof v === 'string') yield v;
  else if (Array.isArray(v)) for (const x of v) yield* strings(x);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) yield* strings(x);
}

/** The placeholders a workflow holds (a string value exactly equal to one). */
export function placeholdersOf(graph: Workflow): Set<Placeholder> {
  const found = new Set<Placeholder>();
  const all = new Set(PLACEHOLDERS.map(token));
  for (const s of strings(graph)) if (all.has(s)) found.add(s.slice(2, -2) as Placeholder);
  return found;
}

/** images one generation prompt makes when its workflow takes `{{batch_size}}` */
export const MAX_BATCH = 4;
/** a generation's size for 'auto': there is no input to follow */
export const GENERATION_AUTO_SIZE: Size = { width: 1024, height: 1024 };

/** The deployment's workflows: the edit one, the text-to-image one, or both. */
export interface Workflows {
  edit: Workflow | null;
  generation: Workflow | null;
}

/** What the workflow that serves `operation` honours; `operations` lists those a workflow is configured for. */
export function comfyCapabilities(workflows: Workflows, operation: Operation = 'edit'): Capabilities {
  const operations: Operation[] = [...(workflows.edit ? (['edit'] as const) : []), ...(workflows.generation ? (['generation'] as const) : [])];
  const generating = operation === 'generation' ? workflows.generation !== null : workflows.edit === null;
  const has = placeholdersOf((generating ? workflows.generation : workflows.edit) ?? {});
  return {
    maxImages: generating ? 0 : 1,
    mask: !generating && has.has('mask') ? 'image-alpha' : null,
    sizes: has.has('width') && has.has('height') ? { kind: 'exact', sizes: 'free' } : { kind: 'none' },
    outputFormats: ['png'],
    outputCompression: false,
    background: [],
    quality: [],
    inputFidelity: false,
    moderation: false,
    partialImages: false,
    maxImagesPerCall: generating && has.has('batch_size') ? MAX_BATCH : 1,
    mode: 'polling',
    operations,
  };
}

/** The size the workflow is asked for: as requested, or the first image's for 'auto' (1024x1024 for a generation). */
export function targetSize(call: ProviderCall): Size {
  const size = call.request.size;
  if (size !== 'auto') return size;
  const first = call.request.images[0];
  return first ? { width: first.width, height: first.height } : GENERATION_AUTO_SIZE;
}

export interface Substitutions {
  image: string;
  mask: string;
  prompt: string;
  seed: number;
  width: number;
  height: number;
  /** images this call makes */
  batch_size: number;
}

/** The values of one call; `uploadedName` is '' for a generation (its workflow has no {{image}} or {{mask}}). */
export function substitutions(call: ProviderCall, uploadedName: string): Substitutions {
  const { width, height } = targetSize(call);
  return { image: uploadedName, mask: uploadedName, prompt: call.request.prompt, seed: call.seed, width, height, batch_size: call.n };
}

/** A deep copy of the workflow with every exact placeholder string replaced. */
export function fillWorkflow(graph: Workflow, values: Substitutions): Workflow {
  const byToken = new Map<string, string | number>(PLACEHOLDERS.map((p) => [token(p), values[p]]));
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') return byToken.has(v) ? byToken.get(v) : v;
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(graph) as Workflow;
}

/** The nodes whose images are the answer: `outputNode`, else every SaveImage node. */
export function outputNodes(graph: Workflow, configured: readonly string[] | null): string[] {
  if (configured && configured.length > 0) return [...configured];
  return Object.entries(graph)
    .filter(([, node]) => node.class_type === 'SaveImage')
    .map(([id]) => id);
}

/** The file name LoadImage takes for an upload: `subfolder/name` when the server put it in one. */
export function uploadedName(json: unknown): string {
  const j = json as { name?: unknown; subfolder?: unknown };
  if (!j || typeof j !== 'object' || typeof j.name !== 'string' || j.name === '') throw malformed('the upload answer has no "name"');
  const sub = typeof j.subfolder === 'string' ? j.subfolder.replace(/\/+$/, '') : '';
  return sub ? `${sub}/${j.name}` : j.name;
}

/** The `/prompt` answer: the id to poll. */
export function promptId(json: unknown): string {
  const j = json as { prompt_id?: unknown };
  if (!j || typeof j !== 'object' || typeof j.prompt_id !== 'string' || j.prompt_id === '') throw malformed('the /prompt answer has no "prompt_id"');
  return j.prompt_id;
}

interface ComfyErrorObject {
  type?: unknown;
  message?: unknown;
  details?: unknown;
}

interface NodeError {
  errors?: ComfyErrorObject[];
  class_type?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * ComfyUI's error answers: a validation failure is
 * `{"error":{type,message,details},"node_errors":{id:{errors:[…],class_type}}}`
 * (400), a missing prompt `{"error":"no prompt"}`; the upload routes answer
 * a bare 400. A 400 is the workflow as filled for this request failing
 * validation: rejected with ComfyUI's own words (node, input, reason), never
 * retried. Other statuses keep their usual meaning.
 */
export function classifyError(status: number, bodyText: string, headers: Record<string, string>): UpstreamError {
  let message = '';
  try {
    const body = JSON.parse(bodyText) as { error?: ComfyErrorObject | string; node_errors?: Record<string, NodeError> };
    if (typeof body.error === 'string') message = body.error;
    else if (body.error && typeof body.error === 'object') {
      const e = body.error;
      message = [str(e.message), str(e.details)].filter(Boolean).join(': ');
    }
    const nodes = body.node_errors && typeof body.node_errors === 'object' && !Array.isArray(body.node_errors) ? Object.entries(body.node_errors) : [];
    const perNode = nodes.flatMap(([id, ne]) =>
      (Array.isArray(ne?.errors) ? ne.errors : []).map((e) => `node ${id} (${str(ne.class_type) || '?'}): ${[str(e.message), str(e.details)].filter(Boolean).join(': ')}`),
    );
    // the node errors say more than the summary, which repeats them without the node
    if (perNode.length > 0) message = `${str((body.error as ComfyErrorObject)?.message) || message}: ${perNode.join('; ')}`;
  } catch {
    message = excerpt(bodyText, 200);
  }
  return httpFailure(status, message, headers);
}

/** One look at `/history/{id}`: not there yet, failed, or done with its output images. */
export type HistoryState =
  | { state: 'pending' }
  | { state: 'failed'; error: UpstreamError }
  | { state: 'done'; images: OutputFile[] };

export interface OutputFile {
  filename: string;
  subfolder: string;
  type: string;
}

interface HistoryEntry {
  outputs?: Record<string, { images?: unknown }>;
  status?: { status_str?: unknown; completed?: unknown; messages?: unknown };
}

/** The execution_error message of a failed run, as a sentence. */
function executionError(messages: unknown): string {
  if (!Array.isArray(messages)) return 'the workflow failed';
  for (const m of messages) {
    if (!Array.isArray(m) || (m[0] !== 'execution_error' && m[0] !== 'execution_interrupted')) continue;
    const d = (m[1] ?? {}) as Record<string, unknown>;
    if (m[0] === 'execution_interrupted') return `the run was interrupted${d.node_id ? ` at node ${str(d.node_id)}` : ''}`;
    const where = d.node_id ? `node ${str(d.node_id) || String(d.node_id)}${d.node_type ? ` (${str(d.node_type)})` : ''}: ` : '';
    const what = [str(d.exception_type), str(d.exception_message)].filter(Boolean).join(': ');
    return `${where}${what || 'execution error'}`;
  }
  return 'the workflow failed';
}

export function readHistory(json: unknown, id: string, nodes: readonly string[]): HistoryState {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw malformed('the /history answer is not an object');
  const entry = (json as Record<string, HistoryEntry>)[id];
  if (entry === undefined) return { state: 'pending' };
  if (!entry || typeof entry !== 'object') throw malformed(`the /history entry of ${id} is not an object`);
  const status = entry.status;
  if (status && status.status_str === 'error') {
    // a failed run (often out of memory): the whole call is tried again
    return { state: 'failed', error: new UpstreamError({ kind: 'retryable', reason: `ComfyUI run failed: ${excerpt(executionError(status.messages))}` }) };
  }
  // an entry appears once the run ended; older servers write no status at all
  if (status && status.completed === false && status.status_str !== 'success') return { state: 'pending' };
  const outputs = entry.outputs && typeof entry.outputs === 'object' ? entry.outputs : {};
  const images: OutputFile[] = [];
  for (const node of nodes) {
    const list = outputs[node]?.images;
    if (!Array.isArray(list)) continue;
    for (const f of list as Array<Record<string, unknown>>) {
      if (!f || typeof f.filename !== 'string' || f.filename === '') throw malformed(`an output image of node ${node} has no filename`);
      images.push({ filename: f.filename, subfolder: typeof f.subfolder === 'string' ? f.subfolder : '', type: typeof f.type === 'string' && f.type ? f.type : 'output' });
    }
  }
  if (images.length === 0) {
    throw malformed(`the run finished without an image in output node${nodes.length === 1 ? '' : 's'} ${nodes.join(', ')}`);
  }
  return { state: 'done', images };
}

/** The query of `GET /view` for one output file. */
export function viewQuery(f: OutputFile): Record<string, string> {
  return { filename: f.filename, subfolder: f.subfolder, type: f.type };
}

/** Headers for every request: a Bearer key only when configured (a proxy in front of ComfyUI). */
export function authHeaders(config: Pick<ProviderConfig, 'apiKey'>): Record<string, string> {
  return config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};
}

/** The upload's file name: unique per request and call, so parallel calls never clash and a retry re-finds its own. */
export function uploadBasename(call: ProviderCall): string {
  return `imagegate-${call.request.id.replace(/[^\w-]/g, '')}-${call.index}`;
}
