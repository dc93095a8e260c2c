/**
 * The `gemini` provider type: one synchronous generateContent call per image,
 * the input images inline in the JSON, the image part of the answer back.
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { pingGet } from '../ping.js';
import type { Provider } from '../types.js';
import { checkRequestSize, classifyError, geminiCapabilities, generateContentRequest, parseGenerateContent, pingRequest } from './translate.js';

/** Google's way of refusing a wrong key: 400 with ErrorInfo API_KEY_INVALID, not a 401. */
const keyRefused = (status: number, body: string): boolean => status === 400 && body.includes('API_KEY_INVALID');

export function createGeminiProvider(config: ProviderConfig): Provider {
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (model) => geminiCapabilities(model),

    async edit(call, io) {
      const inputs = call.request.images;
      checkRequestSize(inputs.map((img) => img.bytes), Buffer.byteLength(call.request.prompt));
      const images = [];
      for (const img of inputs) images.push({ format: img.format, bytes: await io.read(asPrepared(img)) });
      const res = await io.http.send(generateContentRequest(config, call, images));
      if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      const answer = parseGenerateContent(res.json());
      return {
        images: answer.images,
        // usageMetadata counts Gemini's tokens per modality, text and thinking output included, which
        // Google prices apart from image output; OpenAI's usage has one output count priced as image
        // output, so any mapping would drop or misprice billed tokens: the gateway counts instead
        usage: null,
        partialImagesSent: 0,
        warnings: [],
      };
    },

    ping(io) {
      return pingGet(io, pingRequest(config), [], keyRefused);
    },
  };
}
