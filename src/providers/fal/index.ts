/**
 * The `fal` provider type: submit to the queue on the full endpoint id, poll
 * the returned `status_url` until COMPLETED, fetch the `response_url`, then
 * download the images. Up to 4 images per submit.
 */
import crypto from 'node:crypto';
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { dataUris, decodeDataUri } from '../data-uri.js';
import { UpstreamError } from '../errors.js';
import { pingGet } from '../ping.js';
import { pollUntil } from '../poll.js';
import type { Provider } from '../types.js';
import { authHeaders, classifyError, endpointFor, falCapabilities, parseEndpoint, parseResult, parseStatus, parseSubmit, submitBody } from './translate.js';

/** an output image larger than this is refused */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** the first look comes soon (fast jobs end in a second or two); the wait then grows by half each time, to 5 s */
const POLL_MS = 250;
/** the app the ping asks about: any app answers 404 for an unknown request once the key is accepted */
const PING_APP = 'fal-ai/flux-pro';

export function createFalProvider(config: ProviderConfig): Provider {
  const headers = { ...authHeaders(config), accept: 'application/json' };
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (model) => falCapabilities(model),

    async edit(call, io) {
      const endpoint = parseEndpoint(endpointFor(call.model, call.request.operation));
      if (!endpoint) throw new UpstreamError({ kind: 'unavailable', reason: `'${call.model}' is not a fal endpoint id (owner/alias[/path])` });
      const images = await dataUris(io, call.request.images.map(asPrepared));
      const id = [endpoint.owner, endpoint.alias, ...endpoint.path.split('/')].filter(Boolean).map(encodeURIComponent).join('/');
      const res = await io.http.send({ method: 'POST', url: `/${id}`, headers, json: submitBody(call, images) });
      if (res.status < 200 || res.status > 299) throw classifyError(res.status, res.text(), res.headers);
      const queued = parseSubmit(res.json(), endpoint, io.http.baseUrl);
      // both refused here, before any wait, when they are not on a trusted host
      io.http.resolve(queued.statusUrl);
      io.http.resolve(queued.responseUrl);

      await pollUntil(io, {
        intervalMs: POLL_MS,
        maxIntervalMs: 5000,
        tolerateTransient: 3,
        check: async () => {
          const s = await io.http.send({ url: queued.statusUrl, headers });
          // 202 while the request waits or runs, 200 once it is done
          if (s.status !== 200 && s.status !== 202) throw classifyError(s.status, s.text(), s.headers);
          return parseStatus(s.json()) === 'COMPLETED' ? { done: true, value: null } : { done: false };
        },
      });

      // a request that failed is COMPLETED too: its result answers the error
      const result = await io.http.send({ url: queued.responseUrl, headers });
      if (result.status < 200 || result.status > 299) throw classifyError(result.status, result.text(), result.headers);
      const out: Buffer[] = [];
      for (const url of parseResult(result.json(), call.n)) out.push(decodeDataUri(url) ?? (await io.http.download(url, MAX_OUTPUT_BYTES)));
      return { images: out, usage: null, partialImagesSent: 0, warnings: [] };
    },

    ping(io) {
      // a made-up request id: 404 means the key was accepted, 401/403 that it was not
      return pingGet(io, { url: `/${PING_APP}/requests/${crypto.randomUUID()}/status`, headers }, [404]);
    },
  };
}
