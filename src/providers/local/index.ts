/**
 * The `local` provider: the built-in offline engine behind the provider
 * specification. It resolves what OpenAI would resolve ('auto' quality; the
 * engine resolves 'auto' size from the edited picture's shape), runs the
 * engine and reports what it did.
 */
import { badRequest, GatewayError, invalidImageFile } from '../../errors.js';
import { isEngineBusyError, isEngineInputError } from '../../engine/errors.js';
import type { AutoSize, Engine } from '../../engine/types.js';
import type { EditRequest, EditResult, CallOptions, Quality, Size } from '../../types.js';
import type { Provider } from '../types.js';
import { ENGINE_CAN_DO, instructionWarnings, parseInstructions } from '../../engine/instructions.js';

/** GPT image models' allowed sizes, the candidates of size=auto. */
export const AUTO_SIZES: readonly Size[] = [
  { width: 1024, height: 1024 },
  { width: 1536, height: 1024 },
  { width: 1024, height: 1536 },
];

/** A fixed size stays; 'auto' lets the engine pick the candidate nearest the edited picture's shape. */
export function jobSize(req: EditRequest): Size | AutoSize {
  return req.size === 'auto' ? { auto: AUTO_SIZES } : req.size;
}

/** 'auto' quality resolves to the family's best: high for GPT image models, standard for DALL·E. */
export function resolveQuality(req: EditRequest): Quality {
  if (req.quality !== 'auto') return req.quality;
  return req.model.family === 'dall-e' ? 'standard' : 'high';
}

export interface LocalProviderOptions {
  /**
   * An instruction the engine cannot do: 'warn' edits what it understood and
   * says the rest in x-imagegate-warning; 'reject' answers 400
   * unsupported_instruction before any work.
   */
  unknownInstructions?: 'warn' | 'reject';
}

/** Whether the edit has a region to work in: a mask, or (DALL·E) the image's own transparency. */
const isMasked = (req: EditRequest): boolean =>
  req.mask !== null || (req.model.family === 'dall-e' && req.images[0]?.hasAlpha === true);

/**
 * The 400 for a prompt the engine cannot fully do, or null when it can. Pure:
 * the same prompt and request always give the same answer, before any work.
 */
export function unsupportedInstruction(req: EditRequest): GatewayError | null {
  const parsed = parseInstructions(req.prompt);
  const problems: string[] = [];
  if (parsed.unmatched.length > 0) {
    problems.push(`it did not understand ${parsed.unmatched.map((u) => `'${u}'`).join(', ')}`);
  } else if (!parsed.understood) {
    problems.push('it found no instruction in the prompt');
  }
  const fill = parsed.ops.find((o) => o.kind === 'fill');
  if (fill && !isMasked(req)) {
    problems.push(`'${fill.target ? `remove ${fill.target}` : 'remove'}' needs a mask marking what to remove (alpha 0)`);
  }
  if (problems.length === 0) return null;
  return badRequest(
    'unsupported_instruction',
    'prompt',
    `The built-in engine cannot do this instruction: ${problems.join('; ')}. It can: ${ENGINE_CAN_DO}.`,
  );
}

/** The engine names a bad input by position or 'mask'; the client knows it by its parameter. */
function inputParam(req: EditRequest, input: number | 'mask'): string | null {
  if (input === 'mask') return req.mask?.param ?? 'mask';
  if (req.images[input]) return req.images[input].param;
  return null;
}

export function createLocalProvider(engine: Engine, settings: LocalProviderOptions = {}): Provider {
  const reject = settings.unknownInstructions === 'reject';
  const refuse = (req: EditRequest): void => {
    const err = reject ? unsupportedInstruction(req) : null;
    if (err) throw err;
  };
  return {
    kind: 'local',
    capabilities: { maxImages: 16, mask: true, partialImages: true, n: 'native' },

    // throwing here (streaming answers call it before the stream opens) makes the refusal a plain 400
    preflight(req) {
      refuse(req);
      return { warnings: instructionWarnings(parseInstructions(req.prompt), req.prompt, isMasked(req)) };
    },

    async edit(req: EditRequest, options: CallOptions): Promise<EditResult> {
      refuse(req);
      let partialImagesSent = 0;
      try {
        const result = await engine.run(
          {
            prompt: req.prompt,
            images: req.images.map((i) => ({ path: i.path })),
            mask: req.mask ? { path: req.mask.path } : null,
            maskFromAlpha: req.model.family === 'dall-e' && req.mask === null,
            n: req.n,
            size: jobSize(req),
            background: req.background,
            outputFormat: req.outputFormat,
            outputCompression: req.outputCompression,
            partialImages: req.stream ? req.partialImages : 0,
          },
          {
            signal: options.signal,
            onPartial: options.onPartial
              ? (imageIndex, partialIndex, image) => {
                  partialImagesSent++;
                  options.onPartial!({ imageIndex, partialIndex, image: { ...image, format: req.outputFormat } });
                }
              : undefined,
          },
        );
        return {
          images: result.images.map((img) => ({ ...img, format: req.outputFormat })),
          size: result.size,
          quality: resolveQuality(req),
          background: result.background,
          outputFormat: req.outputFormat,
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
