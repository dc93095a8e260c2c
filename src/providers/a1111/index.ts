/**
 * The `a1111` provider type: one synchronous img2img request per call (an
 * edit), or txt2img (a generation).
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { UpstreamError } from '../errors.js';
import { pingGet } from '../ping.js';
import type { Provider } from '../types.js';
import { a1111Capabilities, authHeaders, checkpointMismatch, classifyError, img2imgBody, parseImg2Img, txt2imgBody } from './translate.js';

export function createA1111Provider(config: ProviderConfig): Provider {
  const caps = a1111Capabilities();
  const headers = authHeaders(config);
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: () => caps,

    async edit(call, io) {
      let url: string;
      let json: Record<string, unknown>;
      if (call.request.operation === 'generation') {
        url = '/sdapi/v1/txt2img';
        json = txt2imgBody(call, config.params);
      } else {
        const image = await io.read(asPrepared(call.request.images[0]));
        const mask = call.mask ? await io.read(call.mask) : null;
        url = '/sdapi/v1/img2img';
        json = img2imgBody(call, config.params, image, mask);
      }
      const res = await io.http.send({ method: 'POST', url, headers: { ...headers, accept: 'application/json' }, json });
      if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      const answer = parseImg2Img(res.json(), call.n);
      const mismatch = checkpointMismatch(call.model, answer.info);
      if (mismatch) throw new UpstreamError({ kind: 'unavailable', status: 200, reason: mismatch });
      return { images: answer.images, usage: null, partialImagesSent: 0, warnings: [] };
    },

    ping(io) {
      return pingGet(io, { url: '/sdapi/v1/sd-models', headers });
    },
  };
}
