/**
 * The one place that sequences an edit once it is a valid EditRequest:
 * route → call → count usage → store outputs for `url` answers.
 * (Credit reservation and settlement join here when billing arrives.)
 */
import { countUsage } from '../billing/tokens.js';
import { GatewayError, modelNotFound } from '../errors.js';
import type { ImageDatum } from '../contract/response.js';
import type { Deployment } from '../providers/types.js';
import type { Router } from '../routing/router.js';
import type { CallOptions, EditRequest, EditResult, OutputImage, Usage } from '../types.js';

export interface HostedImageSaver {
  save(bytes: Buffer, format: OutputImage['format']): Promise<{ url: string; expiresAt: number }>;
}

export interface PipelineDeps {
  router: Router;
  hosted: HostedImageSaver;
}

export interface EditOutcome {
  deployment: string;
  result: EditResult;
  usage: Usage;
}

/** The deployment that will serve a request (the first in route order for now). */
export function chooseDeployment(deps: PipelineDeps, req: EditRequest): Deployment {
  const [first] = deps.router.route(req.model.id);
  if (!first) throw modelNotFound(req.model.id);
  return first;
}

export async function executeEdit(
  deps: PipelineDeps,
  req: EditRequest,
  deployment: Deployment,
  options: CallOptions,
): Promise<EditOutcome> {
  const result = await deployment.provider.edit(req, options);
  if (result.images.length === 0) {
    throw new GatewayError({ status: 502, type: 'api_error', code: 'upstream_empty_result', message: `Deployment '${deployment.name}' returned no image.` });
  }
  const usage =
    result.usage ??
    countUsage({
      model: req.model.id,
      prompt: req.prompt,
      images: req.images,
      inputFidelity: req.inputFidelity,
      quality: result.quality,
      size: result.size,
      outputCount: result.images.length,
      partialImagesSent: result.partialImagesSent,
    });
  return { deployment: deployment.name, result, usage };
}

/** The `data` array: base64 inline, or links to the gateway's own stored copies. */
export async function responseData(deps: PipelineDeps, req: EditRequest, result: EditResult): Promise<ImageDatum[]> {
  if (req.responseFormat === 'b64_json') return result.images.map((img) => ({ b64_json: img.bytes.toString('base64') }));
  const out: ImageDatum[] = [];
  for (const img of result.images) out.push({ url: (await deps.hosted.save(img.bytes, img.format)).url });
  return out;
}
