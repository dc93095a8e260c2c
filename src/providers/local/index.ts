/**
 * The `local` provider: the built-in offline engine behind the provider
 * specification. It resolves what OpenAI would resolve ('auto' size and
 * quality), runs the engine and reports what it did.
 */
import { aspectClass } from '../../billing/tokens.js';
import { GatewayError, invalidImageFile } from '../../errors.js';
import { isEngineBusyError, isEngineInputError } from '../../engine/errors.js';
import type { Engine } from '../../engine/types.js';
import type { ProviderConfig } from '../../config/index.js';
import type { EditRequest, Size } from '../../types.js';
import type { Capabilities, Provider, ProviderCall, ProviderIO, ProviderResult } from '../types.js';
import { instructionWarnings, parseInstructions } from '../../engine/instructions.js';

const AUTO_SIZES: Record<ReturnType<typeof aspectClass>, Size> = {
  square: { width: 1024, height: 1024 },
  landscape: { width: 1536, height: 1024 },
  portrait: { width: 1024, height: 1536 },
};

/** 'auto': the allowed GPT image size whose shape is nearest the first input's. */
export function resolveSize(req: EditRequest): Size {
  if (req.size !== 'auto') return req.size;
  const first = req.images[0];
  return first ? AUTO_SIZES[aspectClass(first.width, first.height)] : AUTO_SIZES.square;
}

/** The engine names a bad input by position or 'mask'; the client knows it by its parameter. */
function inputParam(req: EditRequest, input: number | 'mask'): string | null {
  if (input === 'mask') return req.mask?.param ?? 'mask';
  if (req.images[input]) return req.images[input].param;
  return null;
}

const LOCAL_CONFIG: ProviderConfig = {
  name: 'local',
  type: 'local',
  baseUrl: '',
  apiKey: null,
  timeouts: { connectMs: 1, firstByteMs: 3_600_000, totalMs: 3_600_000 },
  maxRetries: 0,
  // the engine refuses work it cannot take (busy) rather than failing: nothing for a breaker to learn
  breaker: { failures: 1_000_000, cooldownMs: 1 },
  trustedHosts: [],
  dropUnsupported: [],
  organization: null,
  project: null,
  apiVersion: '',
  fillModel: '',
  workflow: null,
  outputNode: null,
  params: {},
};

const CAPABILITIES: Capabilities = {
  maxImages: 16,
  mask: 'alpha',
  sizes: { kind: 'exact', sizes: 'free' },
  outputFormats: ['png', 'jpeg', 'webp'],
  outputCompression: true,
  background: ['transparent', 'opaque'],
  quality: ['low', 'medium', 'high', 'standard'],
  inputFidelity: true,
  moderation: true,
  partialImages: true,
  maxImagesPerCall: 10,
  mode: 'sync',
};

export function createLocalProvider(engine: Engine, name = 'local'): Provider {
  return {
    name,
    type: 'local',
    config: { ...LOCAL_CONFIG, name },
    capabilities: () => CAPABILITIES,

    preflight(_model, req) {
      const masked = req.mask !== null || (req.model.family === 'dall-e' && req.images[0]?.hasAlpha === true);
      return instructionWarnings(parseInstructions(req.prompt), req.prompt, masked);
    },

    async edit(call: ProviderCall, io: ProviderIO): Promise<ProviderResult> {
      const req = call.request;
      const size = resolveSize(req);
      let partialImagesSent = 0;
      try {
        const result = await engine.run(
          {
            prompt: req.prompt,
            images: req.images.map((i) => ({ path: i.path })),
            mask: req.mask ? { path: req.mask.path } : null,
            maskFromAlpha: req.model.family === 'dall-e' && req.mask === null,
            n: call.n,
            size,
            background: req.background,
            outputFormat: call.outputFormat,
            outputCompression: req.outputCompression,
            partialImages: req.stream ? req.partialImages : 0,
          },
          {
            signal: io.signal,
            onPartial: call.onPartial
              ? (imageIndex, partialIndex, image) => {
                  partialImagesSent++;
                  call.onPartial!({ imageIndex, partialIndex, bytes: image.bytes });
                }
              : undefined,
          },
        );
        return {
          images: result.images.map((img) => img.bytes),
          size,
          background: result.background,
          usage: null,
          partialImagesSent,
          warnings: result.warnings,
        };
      } catch (e) {
        if (isEngineBusyError(e)) {
          throw new GatewayError({
            status: 503,
            code: 'engine_overloaded',
            message: `The built-in engine is busy (${e.queued} edits waiting); retry shortly.`,
            headers: { 'retry-after': '1' },
          });
        }
        if (isEngineInputError(e)) {
          const param = inputParam(req, e.inputIndex) ?? req.images[0]?.param ?? 'image';
          throw invalidImageFile(param, `Invalid image file '${param}': it could not be decoded (corrupt or truncated image data).`);
        }
        throw e;
      }
    },

    close: () => engine.close(),
  };
}
