/**
 * The content-aware fill lives in ./fill/ (multi-scale PatchMatch, written
 * separately). This is the one place the engine takes it from, checked
 * against the signature both sides agreed on.
 *
 * A static import on purpose: under tsx, piscina loads worker modules through
 * require(), where a dynamic import() would bypass tsx's resolver.
 */
import type { RgbaImage } from './types.js';
import { contentAwareFill } from './fill/index.js';

export interface ContentAwareFillOptions {
  seed: number;
  /** coarse-scale results upsampled to full size, already composited (pixels outside the hole unchanged) */
  onScale?: (result: RgbaImage, scaleIndex: number, scaleCount: number) => void;
}

/** hole: 1 = fill, one byte per pixel (width × height). Synchronous. */
export type ContentAwareFill = (image: RgbaImage, hole: Uint8Array, options: ContentAwareFillOptions) => RgbaImage;

export const defaultFill: ContentAwareFill = contentAwareFill;
