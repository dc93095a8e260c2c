/**
 * Response bodies and stream events of the edit contract, built from the
 * neutral request and result. Pure: storing images for `url` answers happens
 * in the pipeline, which passes the URLs in.
 */
import type { EditRequest, EditResult, PartialImage, Usage } from '../types.js';
import { rulesFor, sizeKey } from './models.js';

export type ImageDatum = { b64_json: string } | { url: string };

export interface ImagesResponse {
  created: number;
  data: ImageDatum[];
  background?: string;
  output_format?: string;
  size?: string;
  quality?: string;
  usage?: Usage;
}

export function buildImagesResponse(
  req: EditRequest,
  result: EditResult,
  usage: Usage,
  data: ImageDatum[],
  createdSeconds: number,
): ImagesResponse {
  const body: ImagesResponse = { created: createdSeconds, data };
  // DALL·E answers carry only created and data, as OpenAI's do
  if (!rulesFor(req.model.id).reportsUsage) return body;
  body.background = result.background;
  body.output_format = result.outputFormat;
  body.size = sizeKey(result.size);
  body.quality = result.quality;
  body.usage = usage;
  return body;
}

/** a stream's event names: edits' and generations' (OpenAI's ImageEditStreamEvent, ImageGenStreamEvent) */
const EVENT_PREFIX = { edit: 'image_edit', generation: 'image_generation', variation: 'image_variation' } as const;

export interface PartialImageEvent {
  type: 'image_edit.partial_image' | 'image_generation.partial_image';
  b64_json: string;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: string;
  partial_image_index: number;
}

export interface CompletedEvent {
  type: 'image_edit.completed' | 'image_generation.completed';
  b64_json: string;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: string;
  usage: Usage;
}

/** Partials come before the result is known: they carry the requested quality and background (may be 'auto'). */
export function partialImageEvent(req: EditRequest, partial: PartialImage, createdSeconds: number): PartialImageEvent {
  return {
    type: `${EVENT_PREFIX[req.operation]}.partial_image` as PartialImageEvent['type'],
    b64_json: partial.image.bytes.toString('base64'),
    created_at: createdSeconds,
    size: `${partial.image.width}x${partial.image.height}`,
    quality: req.quality,
    background: req.background,
    output_format: partial.image.format,
    partial_image_index: partial.partialIndex,
  };
}

/** One completed event per image delivered; each carries the whole request's usage. */
export function completedEvents(req: EditRequest, result: EditResult, usage: Usage, createdSeconds: number): CompletedEvent[] {
  return result.images.map((img) => ({
    type: `${EVENT_PREFIX[req.operation]}.completed` as CompletedEvent['type'],
    b64_json: img.bytes.toString('base64'),
    created_at: createdSeconds,
    size: `${img.width}x${img.height}`,
    quality: result.quality,
    background: result.background,
    output_format: img.format,
    usage,
  }));
}
