/**
 * The `comfyui` provider type: upload the image, queue the filled workflow,
 * poll its history, fetch the output images from `/view`. A generation
 * queues the text-to-image workflow, with nothing to upload.
 */
import crypto from 'node:crypto';
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { UpstreamError } from '../errors.js';
import { MultipartBody } from '../multipart.js';
import { pingGet } from '../ping.js';
import { pollUntil } from '../poll.js';
import type { Provider, ProviderIO } from '../types.js';
import {
  authHeaders,
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
  viewQuery,
  type OutputFile,
} from './translate.js';

/** An output image of a workflow; far above what SaveImage writes for any size the contract allows. */
const MAX_OUTPUT_BYTES = 128 * 1024 * 1024;

async function view(io: ProviderIO, headers: Record<string, string>, f: OutputFile): Promise<Buffer> {
  const res = await io.http.send({ url: '/view', query: viewQuery(f), headers, maxBytes: MAX_OUTPUT_BYTES });
  if (res.status !== 200) {
    // the run said it wrote this file: a missing one is the run's problem, tried again
    throw new UpstreamError({ kind: 'retryable', status: res.status, reason: `GET /view of ${f.filename} answered HTTP ${res.status}` });
  }
  return res.body;
}

export function createComfyUiProvider(config: ProviderConfig): Provider {
  if (!config.workflow && !config.generationWorkflow) throw new Error(`provider '${config.name}' (comfyui) has no workflow`);
  const workflows = { edit: config.workflow?.graph ?? null, generation: config.generationWorkflow?.graph ?? null };
  const caps = { edit: comfyCapabilities(workflows, 'edit'), generation: comfyCapabilities(workflows, 'generation') };
  const inpaint = workflows.edit !== null && placeholdersOf(workflows.edit).has('mask');
  const nodes = {
    edit: workflows.edit ? outputNodes(workflows.edit, config.outputNode) : [],
    generation: workflows.generation ? outputNodes(workflows.generation, null) : [],
  };
  const headers = authHeaders(config);

  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (_model, request) => (request.operation === 'generation' ? caps.generation : caps.edit),

    async edit(call, io) {
      const generating = call.request.operation === 'generation';
      const graph = generating ? workflows.generation : workflows.edit;
      if (!graph) throw new UpstreamError({ kind: 'unavailable', reason: `${config.name} has no ${generating ? 'generationWorkflow' : 'workflow'}` });
      let name = '';
      if (!generating) {
        if (inpaint && !call.maskedImage) {
          throw new UpstreamError({
            kind: 'rejected',
            reason: `the workflow of ${config.name} is an inpaint workflow ({{mask}}) and needs a mask`,
            param: 'mask',
          });
        }
        const image = call.maskedImage ?? asPrepared(call.request.images[0]);
        const upload = new MultipartBody().file('image', image, uploadBasename(call)).field('type', 'input');
        const up = await io.http.send({ method: 'POST', url: '/upload/image', headers: { ...headers, accept: 'application/json' }, body: upload });
        if (up.status !== 200) throw classifyError(up.status, up.text(), up.headers);
        name = uploadedName(up.json());
      }
      const outputs = generating ? nodes.generation : nodes.edit;

      const prompt = fillWorkflow(graph, substitutions(call, name));
      const queued = await io.http.send({ method: 'POST', url: '/prompt', headers, json: { prompt, client_id: crypto.randomUUID() } });
      if (queued.status !== 200) throw classifyError(queued.status, queued.text(), queued.headers);
      const id = promptId(queued.json());

      const files = await pollUntil<OutputFile[]>(io, {
        intervalMs: 250,
        maxIntervalMs: 2000,
        check: async () => {
          const res = await io.http.send({ url: `/history/${encodeURIComponent(id)}`, headers });
          if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
          const h = readHistory(res.json(), id, outputs);
          if (h.state === 'failed') throw h.error;
          return h.state === 'done' ? { done: true, value: h.images } : { done: false };
        },
      });
      const images: Buffer[] = [];
      for (const f of files.slice(0, call.n)) images.push(await view(io, headers, f));
      return { images, usage: null, partialImagesSent: 0, warnings: [] };
    },

    ping(io) {
      return pingGet(io, { url: '/system_stats', headers });
    },
  };
}
