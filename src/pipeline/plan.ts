/**
 * What a deployment will be asked, decided before anything is sent: every
 * parameter the request sets is checked against the deployment's declared
 * capabilities. One it cannot honour is refused with a 400 naming the
 * parameter and the model — never silently dropped — unless the provider
 * lists it under `dropUnsupported`, and then the drop is said in a warning.
 * Pure: tested by tables.
 */
import { arrayTooLong, badRequest, type GatewayError } from '../errors.js';
import type { OutputWanted } from '../images/convert.js';
import type { Capabilities, Deployment } from '../providers/types.js';
import type { EditRequest, ImageFormat } from '../types.js';

export interface Plan {
  deployment: Deployment;
  caps: Capabilities;
  /** the request as the deployment sees it, with dropped parameters back at their defaults */
  request: EditRequest;
  /** parameters dropped under dropUnsupported */
  dropped: string[];
  /** images each call returns; their sum is n */
  calls: number[];
  /** the format the provider is asked for */
  askFormat: ImageFormat;
  /** what the gateway makes of each answer image */
  want: OutputWanted;
}

export type PlanOutcome = { ok: true; plan: Plan } | { ok: false; refusal: GatewayError };

function unsupported(param: string, req: EditRequest, d: Deployment, value: string): GatewayError {
  return badRequest(
    'unsupported_parameter',
    param,
    `Unsupported parameter: '${param}'${value ? ` (${value})` : ''} is not supported by model '${req.model.id}' (deployment ${d.name}).`,
  );
}

/** Splits n into calls of at most `perCall` images. */
export function splitN(n: number, perCall: number): number[] {
  const calls: number[] = [];
  for (let left = n; left > 0; left -= perCall) calls.push(Math.min(left, Math.max(1, perCall)));
  return calls;
}

/**
 * The format to ask for: the client's when the provider makes it (and can
 * apply the compression asked); otherwise a lossless one it makes, which the
 * gateway then encodes as asked.
 */
export function chooseAskFormat(req: EditRequest, caps: Capabilities): ImageFormat {
  const own = caps.outputFormats.includes(req.outputFormat);
  if (own && (req.outputCompression === null || caps.outputCompression || req.outputFormat === 'png')) return req.outputFormat;
  for (const f of ['png', 'webp', 'jpeg'] as const) if (caps.outputFormats.includes(f)) return f;
  return caps.outputFormats[0] ?? 'png';
}

const OPERATION_NAMES = { edit: 'image edits', generation: 'image generations', variation: 'image variations' } as const;

export function planFor(d: Deployment, req: EditRequest, caps: Capabilities): PlanOutcome {
  if (!caps.operations.includes(req.operation)) {
    return {
      ok: false,
      refusal: badRequest('unsupported_operation', 'model', `Model '${req.model.id}' (deployment ${d.name}) does not do ${OPERATION_NAMES[req.operation]}.`),
    };
  }
  if (caps.refusal) {
    const r = caps.refusal;
    return { ok: false, refusal: badRequest(r.code, r.param, `Model '${req.model.id}' (deployment ${d.name}) ${r.message}`) };
  }
  const drop = new Set<string>(d.provider.config.dropUnsupported);
  const dropped: string[] = [];
  const request: EditRequest = { ...req };
  // each check either passes, drops (when allowed) or refuses
  const check = (param: string, ok: boolean, what: string, reset: () => void): GatewayError | null => {
    if (ok) return null;
    if (!drop.has(param)) return unsupported(param, req, d, what);
    dropped.push(param);
    reset();
    return null;
  };

  if (req.images.length > caps.maxImages) {
    if (caps.maxImages === 0 || !drop.has('image')) {
      if (caps.maxImages === 0) return { ok: false, refusal: unsupported('image', req, d, 'input images') };
      const err = arrayTooLong('image', caps.maxImages, req.images.length);
      return {
        ok: false,
        refusal: badRequest(
          err.code!,
          req.images[caps.maxImages].param,
          `${err.message} Model '${req.model.id}' (deployment ${d.name}) takes at most ${caps.maxImages} input image${caps.maxImages === 1 ? '' : 's'}.`,
        ),
      };
    }
    dropped.push('image');
    request.images = req.images.slice(0, caps.maxImages);
  }

  const refusal =
    check('mask', req.mask === null || caps.mask !== null, '', () => (request.mask = null)) ??
    check('size', req.size === 'auto' || caps.sizes.kind !== 'none', req.size === 'auto' ? '' : `'${req.size.width}x${req.size.height}'`, () => (request.size = 'auto')) ??
    check('quality', req.quality === 'auto' || caps.quality.includes(req.quality), `'${req.quality}'`, () => (request.quality = 'auto')) ??
    check('background', req.background === 'auto' || caps.background.includes(req.background), `'${req.background}'`, () => (request.background = 'auto')) ??
    check('input_fidelity', req.inputFidelity === null || caps.inputFidelity, `'${req.inputFidelity}'`, () => (request.inputFidelity = null)) ??
    check('moderation', req.moderation === 'auto' || caps.moderation, `'${req.moderation}'`, () => (request.moderation = 'auto'));
  if (refusal) return { ok: false, refusal };

  return {
    ok: true,
    plan: {
      deployment: d,
      caps,
      request,
      dropped,
      calls: splitN(req.n, caps.maxImagesPerCall),
      askFormat: chooseAskFormat(request, caps),
      want: {
        format: req.outputFormat,
        compression: req.outputCompression,
        size: request.size === 'auto' ? null : request.size,
        opaque: request.background === 'opaque',
      },
    },
  };
}
