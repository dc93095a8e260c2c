/**
 * The `bfl` provider type: one task per image. Submit the JSON body to
 * `/v1/{endpoint}`, poll the `polling_url` the submit returned (wherever it
 * points, as long as the host is trusted: http.ts refuses others before
 * connecting), then download `result.sample`, a signed URL that expires in
 * about ten minutes, without credentials and under a size cap. BFL reports
 * no usage; the gateway counts it.
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { pingGet } from '../ping.js';
import { pollUntil } from '../poll.js';
import type { Provider, ProviderIO } from '../types.js';
import { bflCapabilities, classifyError, keyGoesTo, NOT_FOUND_POLLS, parseSubmit, readPoll, submitRequest, taskLost } from './translate.js';

/** BFL's own examples poll every 0.5 s; start a little sooner and back off to 2.5 s for long jobs. */
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2500;
/** submit and poll answers are small JSON documents */
const MAX_JSON_BYTES = 4 * 1024 * 1024;
/** a 4 MP PNG is about 12 MB; anything far larger is not an image BFL made */
const MAX_RESULT_BYTES = 64 * 1024 * 1024;

export function createBflProvider(config: ProviderConfig): Provider {
  const headers = (withKey = true): Record<string, string> => ({ accept: 'application/json', ...(config.apiKey && withKey ? { 'x-key': config.apiKey } : {}) });

  const poll = async (io: ProviderIO, task: { id: string; pollingUrl: string }): Promise<string> => {
    let notFound = 0;
    return pollUntil<string>(io, {
      intervalMs: POLL_FIRST_MS,
      maxIntervalMs: POLL_MAX_MS,
      check: async () => {
        const res = await io.http.send({ url: task.pollingUrl, headers: headers(keyGoesTo(task.pollingUrl, config.baseUrl)), maxBytes: MAX_JSON_BYTES });
        // get_result answers 200 with a status; a 404 is the same "no such task" said differently
        const verdict = res.status === 404 ? ({ kind: 'not-found' } as const) : res.status === 200 ? readPoll(res.json()) : null;
        if (verdict === null) throw classifyError(res.status, res.text(), res.headers);
        if (verdict.kind === 'ready') return { done: true, value: verdict.sample };
        if (verdict.kind === 'not-found') {
          if (++notFound >= NOT_FOUND_POLLS) throw taskLost(task.id, notFound);
        } else {
          notFound = 0;
        }
        return { done: false };
      },
    });
  };

  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (model, request) => bflCapabilities(model, request),

    async edit(call, io) {
      const images = await Promise.all(call.request.images.map(async (img) => (await io.read(asPrepared(img))).toString('base64')));
      const mask = call.mask ? (await io.read(call.mask)).toString('base64') : null;
      const submit = submitRequest(call, config.fillModel, images, mask);
      const res = await io.http.send({ method: 'POST', url: submit.path, headers: headers(), json: submit.body, maxBytes: MAX_JSON_BYTES });
      if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      const task = parseSubmit(res.json());
      const sample = await poll(io, task);
      const bytes = await io.http.download(sample, MAX_RESULT_BYTES);
      return { images: [bytes], usage: null, partialImagesSent: 0, warnings: [] };
    },

    ping(io) {
      return pingGet(io, { url: '/v1/credits', headers: headers() });
    },
  };
}
