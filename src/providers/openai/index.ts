/**
 * The `openai`, `azure-openai` and `openai-compatible` provider types: one
 * multipart request per call, a JSON answer or (when the client streams) the
 * upstream's events passed on as they come.
 */
import type { ProviderConfig } from '../../config/index.js';
import { asPrepared } from '../../images/mask.js';
import { malformed } from '../errors.js';
import type { UpstreamStream } from '../http.js';
import { pingGet } from '../ping.js';
import { readSse } from '../sse.js';
import type { Provider, ProviderCall, ProviderIO, ProviderResult } from '../types.js';
import {
  classifyError,
  editBody,
  generationBody,
  OP_OF,
  variationBody,
  openAiCapabilities,
  parseImagesResponse,
  parseStreamEvent,
  target,
  type OpenAiFlavour,
  type ParsedImages,
} from './translate.js';

async function streamed(call: ProviderCall, res: UpstreamStream): Promise<ProviderResult> {
  const out: ProviderResult = { images: [], usage: null, partialImagesSent: 0, warnings: [] };
  for await (const msg of readSse(res.body)) {
    const ev = parseStreamEvent(msg.data);
    if (ev.kind === 'error') throw ev.error;
    if (ev.kind === 'partial') {
      // partials belong to the image being drawn: the one after those completed so far
      call.onPartial?.({ imageIndex: out.images.length, partialIndex: ev.partialIndex, bytes: ev.bytes });
      out.partialImagesSent++;
    } else if (ev.kind === 'completed') {
      out.images.push(ev.bytes);
      (out.base64 ??= [])[out.images.length - 1] = ev.base64;
      // each completed event carries the request's usage so far; the last one is the whole
      out.usage = ev.usage ?? out.usage;
      out.size ??= ev.size;
      out.quality ??= ev.quality;
      out.background ??= ev.background;
    }
  }
  if (out.images.length === 0) throw malformed('the stream ended without a completed image');
  return out;
}

async function collect(parsed: ParsedImages, io: ProviderIO): Promise<ProviderResult> {
  const images: Buffer[] = [];
  const base64: Array<string | undefined> = [];
  for (const img of parsed.images) {
    images.push('bytes' in img ? img.bytes : await io.http.download(img.url));
    base64.push('bytes' in img ? img.base64 : undefined);
  }
  return { images, base64, usage: parsed.usage, size: parsed.size, quality: parsed.quality, background: parsed.background, partialImagesSent: 0, warnings: [] };
}

export function createOpenAiProvider(config: ProviderConfig): Provider {
  const flavour = config.type as OpenAiFlavour;
  return {
    name: config.name,
    type: config.type,
    config,
    capabilities: (model) => openAiCapabilities(flavour, model),

    async edit(call, io) {
      const caps = openAiCapabilities(flavour, call.model);
      const op = call.request.operation;
      const t = target(flavour, config, call.model, OP_OF[op]);
      const headers = { ...t.headers, accept: 'application/json' };
      const req =
        op === 'generation'
          ? { method: 'POST' as const, url: t.path, query: t.query, headers, json: generationBody(call, caps, t.sendsModel) }
          : op === 'variation'
            ? { method: 'POST' as const, url: t.path, query: t.query, headers, body: variationBody(call, caps, t.sendsModel, asPrepared(call.request.images[0])) }
            : { method: 'POST' as const, url: t.path, query: t.query, headers, body: editBody(call, caps, t.sendsModel, (i) => asPrepared(call.request.images[i])) };
      if (call.request.stream && caps.partialImages) {
        const res = await io.http.open(req);
        const type = res.headers['content-type'] ?? '';
        if (res.status === 200 && type.includes('text/event-stream')) return streamed(call, res);
        // an error, or a host that answered JSON instead of events
        const chunks: Buffer[] = [];
        for await (const c of res.body) chunks.push(c);
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.status !== 200) throw classifyError(res.status, text, res.headers);
        try {
          return await collect(parseImagesResponse(JSON.parse(text)), io);
        } catch (e) {
          if (e instanceof SyntaxError) throw malformed('the answer is neither events nor JSON', e);
          throw e;
        }
      }
      const res = await io.http.send(req);
      if (res.status !== 200) throw classifyError(res.status, res.text(), res.headers);
      return collect(parseImagesResponse(res.json()), io);
    },

    ping(io) {
      const t = target(flavour, config, '', 'models');
      return pingGet(io, { url: t.path, query: t.query, headers: t.headers });
    },
  };
}
