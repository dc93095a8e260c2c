/**
 * The `replicate` provider type: create a prediction (held open with
 * `Prefer: wait` as long as the attempt allows), poll its `urls.get` while it
 * runs, then download its output. One prediction per image.
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { dataUris } from '../data-uri.js';
import { UpstreamError } from '../errors.js';
import { pingGet } from '../ping.js';
import { pollUntil } from '../poll.js';
import type { Provider, ProviderIO } from '../types.js';
import {
  authHeaders,
  classifyError,
  createRequest,
  isFinished,
  outputUrls,
  parseModel,
  parsePrediction,
  predictionFailure,
  predictionInput,
  replicateCapabilities,
  type Prediction,
} from './translate.js';

/** an output image larger than this is refused (a 4 MP PNG is about 16 MB) */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** the first look comes soon (a prediction that outlived Prefer: wait may end any moment); the wait then grows by half each time, to 5 s */
const POLL_MS = 250;

async function waitForEnd(first: Prediction, io: ProviderIO, config: ProviderConfig): Promise<Prediction> {
  if (isFinished(first)) return first;
  if (!first.getUrl) throw new UpstreamError({ kind: 'retryable', reason: `malformed response: the prediction ${first.id} is ${first.status} and has no urls.get` });
  const getUrl = first.getUrl;
  // refused here, before any wait, when the polling URL is not on a trusted host
  io.http.resolve(getUrl);
  return pollUntil<Prediction>(io, {
    intervalMs: POLL_MS,
    maxIntervalMs: 5000,
    tolerateTransient: 3,
    check: async () => {
      const res = await io.http.send({ url: getUrl, headers: { ...authHeaders(config), accept: 'application/json' } });
      if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      const p = parsePrediction(res.json());
      return isFinished(p) ? { done: true, value: p } : { done: false };
    },
  });
}

export function createReplicateProvider(config: ProviderConfig): Provider {
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (model) => replicateCapabilities(model),

    async edit(call, io) {
      const model = parseModel(call.model);
      if (!model) {
        throw new UpstreamError({ kind: 'unavailable', reason: `'${call.model}' is not a Replicate model (owner/name or owner/name:version)` });
      }
      const images = await dataUris(io, call.request.images.map(asPrepared));
      const req = createRequest(config, model, predictionInput(call, images));
      const res = await io.http.send({ method: 'POST', url: req.path, headers: req.headers, json: req.body });
      if (res.status !== 201 && res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      const end = await waitForEnd(parsePrediction(res.json()), io, config);
      if (end.status !== 'succeeded') throw predictionFailure(end);
      const out: Buffer[] = [];
      for (const url of outputUrls(end.output).slice(0, call.n)) out.push(await io.http.download(url, MAX_OUTPUT_BYTES));
      return { images: out, usage: null, partialImagesSent: 0, warnings: [] };
    },

    ping(io) {
      return pingGet(io, { url: '/account', headers: authHeaders(config) });
    },
  };
}
