/**
 * The `local` provider: the built-in offline engine behind the provider
 * specification. It resolves what OpenAI would resolve ('auto' quality; the
 * engine resolves 'auto' size from the edited picture's shape), runs the
 * engine and reports what it did.
 */
import { badRequest, GatewayError, invalidImageFile, serviceUnavailable } from '../../errors.js';
import { isEngineBusyError, isEngineInputError } from '../../engine/errors.js';
import type { AutoSize, Engine, EngineInput, EngineJobKind } from '../../engine/types.js';
import type { ProviderConfig } from '../../config/index.js';
import type { EditRequest, InputImage, Operation, Size } from '../../types.js';
import type { Capabilities, Provider, ProviderCall, ProviderIO, ProviderResult } from '../types.js';
import { drawingWarnings, ENGINE_CAN_DO, ENGINE_CAN_DRAW, instructionWarnings, parseInstructions, type ParsedInstructions } from '../../engine/instructions.js';

/** GPT image models' allowed sizes, the candidates of size=auto. */
export const AUTO_SIZES: readonly Size[] = [
  { width: 1024, height: 1024 },
  { width: 1536, height: 1024 },
  { width: 1024, height: 1536 },
];

/** The engine's name for what the request asks. */
const JOB_KIND: Record<Operation, EngineJobKind> = { edit: 'edit', generation: 'generate', variation: 'vary' };

/** A fixed size stays; 'auto' lets the engine pick the candidate nearest the edited picture's shape (square for a generation). */
export function jobSize(req: EditRequest): Size | AutoSize {
  return req.size === 'auto' ? { auto: AUTO_SIZES } : req.size;
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
 * The prompt read once per request: the preflight's warnings, the refusal
 * check and the engine job (which then does not read it again in its worker)
 * share one parse.
 */
const parses = new WeakMap<EditRequest, ParsedInstructions>();

function parsedPrompt(req: EditRequest): ParsedInstructions {
  let parsed = parses.get(req);
  if (!parsed) {
    parsed = parseInstructions(req.prompt, { generation: req.operation === 'generation' });
    parses.set(req, parsed);
  }
  return parsed;
}

/**
 * The 400 for a prompt the engine cannot fully do, or null when it can. Pure:
 * the same prompt and request always give the same answer, before any work.
 */
export function unsupportedInstruction(req: EditRequest): GatewayError | null {
  // a variation reads no prompt
  if (req.operation === 'variation') return null;
  const drawing = req.operation === 'generation';
  const parsed = parsedPrompt(req);
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
    drawing
      ? `The built-in engine cannot draw this prompt: ${problems.join('; ')}. It can draw: ${ENGINE_CAN_DRAW}.`
      : `The built-in engine cannot do this instruction: ${problems.join('; ')}. It can: ${ENGINE_CAN_DO}.`,
  );
}

/** What the client is told before the job runs (x-imagegate-warning, also on a stream). */
function promptWarnings(req: EditRequest): string[] {
  if (req.operation === 'variation') return [];
  if (req.operation === 'generation') return drawingWarnings(parsedPrompt(req), req.prompt);
  return instructionWarnings(parsedPrompt(req), req.prompt, isMasked(req));
}

/** The engine names a bad input by position or 'mask'; the client knows it by its parameter. */
function inputParam(req: EditRequest, input: number | 'mask'): string | null {
  if (input === 'mask') return req.mask?.param ?? 'mask';
  if (req.images[input]) return req.images[input].param;
  return null;
}

/** The engine reads a spooled file itself, or gets the bytes intake held in memory. */
const engineInput = (img: InputImage): EngineInput => (img.data ? { path: img.path, bytes: img.data.buffer } : { path: img.path });

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
  generationWorkflow: null,
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
  // generations draw on an empty canvas; variations vary the one picture (engine/run.ts)
  operations: ['edit', 'generation', 'variation'],
};

export function createLocalProvider(engine: Engine, settings: LocalProviderOptions = {}, name = 'local'): Provider {
  const reject = settings.unknownInstructions === 'reject';
  return {
    name,
    type: 'local',
    config: { ...LOCAL_CONFIG, name },
    capabilities: () => CAPABILITIES,

    preflight(_model, req) {
      return promptWarnings(req);
    },

    async edit(call: ProviderCall, io: ProviderIO): Promise<ProviderResult> {
      const req = call.request;
      // before any work, and before a stream opens: a plain 400
      const refusal = reject ? unsupportedInstruction(req) : null;
      if (refusal) throw refusal;
      let partialImagesSent = 0;
      try {
        const result = await engine.run(
          {
            kind: JOB_KIND[req.operation],
            prompt: req.prompt,
            ...(req.operation === 'variation' ? {} : { parsed: parsedPrompt(req) }),
            images: req.images.map(engineInput),
            mask: req.mask ? engineInput(req.mask) : null,
            maskFromAlpha: req.model.family === 'dall-e' && req.mask === null,
            n: call.n,
            size: jobSize(req),
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
          size: result.size,
          background: result.background,
          usage: null,
          partialImagesSent,
          warnings: result.warnings,
        };
      } catch (e) {
        if (isEngineBusyError(e)) {
          throw serviceUnavailable(`The built-in engine is busy (${e.queued} edits waiting); retry shortly.`);
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
