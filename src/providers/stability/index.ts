/**
 * The `stability` provider type: one synchronous multipart request per image
 * to the deployment's v2beta edit endpoint (or the one `auto` chooses), or,
 * for a generate deployment (core, ultra, sd3…), to its generate endpoint;
 * the image's bytes back. The pipeline splits `n` into calls and converts the
 * mask to white-means-edit before this runs.
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { UpstreamError } from '../errors.js';
import { pingGet } from '../ping.js';
import type { Provider } from '../types.js';
import { checkParams, editRequest, endpointFor, ENDPOINTS, GENERATE_ENDPOINTS, generateRequest, generateTarget, parseEditResponse, SD3_MODELS, stabilityCapabilities, stabilityPreflight } from './translate.js';

/** An image answer is one picture; a 4K PNG is far below this. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export function createStabilityProvider(config: ProviderConfig): Provider {
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: stabilityCapabilities,
    preflight: stabilityPreflight,

    async edit(call, io) {
      const gen = generateTarget(call.model);
      if (gen) {
        // the plan refused anything but a generation before this call was made
        const problems = checkParams(config.params);
        if (problems.length > 0) throw new UpstreamError({ kind: 'unavailable', reason: `provider ${config.name}: ${problems.join('; ')}` });
        const r = generateRequest(call, config, gen);
        const res = await io.http.send({ method: 'POST', url: r.path, headers: r.headers, body: r.body, maxBytes: MAX_ANSWER_BYTES });
        return { images: [parseEditResponse(res.status, res.headers, res.body)], usage: null, partialImagesSent: 0, warnings: [] };
      }
      const chosen = endpointFor(call.model, call.request);
      if (chosen.endpoint === null) {
        // the plan refuses a request `auto` cannot serve; only a misconfigured model gets here
        throw new UpstreamError({
          kind: 'unavailable',
          reason: `'${call.model}' is not a Stability endpoint the gateway speaks (edits: ${[...ENDPOINTS, 'auto'].join(', ')}; generations: ${[...GENERATE_ENDPOINTS, ...SD3_MODELS].join(', ')})`,
        });
      }
      const problems = checkParams(config.params);
      if (problems.length > 0) throw new UpstreamError({ kind: 'unavailable', reason: `provider ${config.name}: ${problems.join('; ')}` });
      const r = editRequest(call, config, chosen.endpoint, asPrepared(call.request.images[0]));
      const res = await io.http.send({ method: 'POST', url: r.path, headers: r.headers, body: r.body, maxBytes: MAX_ANSWER_BYTES });
      const image = parseEditResponse(res.status, res.headers, res.body);
      return {
        images: [image],
        usage: null,
        // the gateway flattens it when the client asked for opaque
        background: chosen.endpoint === 'remove-background' && call.request.background !== 'opaque' ? 'transparent' : undefined,
        partialImagesSent: 0,
        warnings: [],
      };
    },

    ping(io) {
      return pingGet(io, { url: '/v1/user/account', headers: config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {} });
    },
  };
}
