/**
 * Response bodies and stream events of the edit contract, built from the
 * neutral request and result. Pure: storing images for `url` answers happens
 * in the pipeline, which passes the URLs in.
 */
import type { EditRequest, EditResult, PartialImage, Usage } from '../types.js';
import { rulesFor, sizeKey } from './models.js';
import { uniqueHex } from '../ids.js';

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
  // DALL·E answers carry only created and data, as OpenAI's do; a variation is DALL·E 2's whatever the model is called
  if (!rulesFor(req.model.id, req.operation).reportsUsage) return body;
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
    b64_json: img.base64 ?? img.bytes.toString('base64'),
    created_at: createdSeconds,
    size: `${img.width}x${img.height}`,
    quality: result.quality,
    background: result.background,
    output_format: img.format,
    usage,
  }));
}

/** b64_json strings at least this long are copied into the JSON text rather than passed through JSON.stringify */
const SPLICE_FROM = 16 * 1024;

/**
 * JSON.stringify(value) as UTF-8 bytes, exactly, made faster for answers
 * that hold images: JSON.stringify, turning the text into bytes and writing
 * it out each scan and copy megabytes of base64, milliseconds per image. Long
 * `b64_json` strings are left out of JSON.stringify (a random placeholder
 * stands in) and copied into the bytes as the ASCII they are. Every
 * `b64_json` must be base64 text, which JSON never escapes (the pipeline's
 * own encoding, or an upstream's checked by reusableBase64).
 */
export function jsonBytes(value: unknown): Buffer {
  const long: string[] = [];
  let mark = '';
  const text = JSON.stringify(value, (key: string, v: unknown) => {
    if (key !== 'b64_json' || typeof v !== 'string' || v.length < SPLICE_FROM) return v;
    mark ||= uniqueHex(12);
    long.push(v);
    return `${mark}:${long.length - 1}`;
  });
  if (long.length === 0) return Buffer.from(text);
  // the text between placeholders as UTF-8, each base64 string in place of its placeholder
  const pieces: Array<{ s: string; encoding: 'utf8' | 'latin1' }> = [];
  let at = 0;
  long.forEach((b64, i) => {
    const placeholder = `"${mark}:${i}"`;
    const found = text.indexOf(placeholder, at);
    pieces.push({ s: text.slice(at, found + 1), encoding: 'utf8' }, { s: b64, encoding: 'latin1' });
    at = found + placeholder.length - 1;
  });
  pieces.push({ s: text.slice(at), encoding: 'utf8' });
  const size = pieces.reduce((n, p) => n + (p.encoding === 'latin1' ? p.s.length : Buffer.byteLength(p.s)), 0);
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const p of pieces) offset += out.write(p.s, offset, p.encoding);
  return out;
}
