/**
 * How the contract's output options become encoder settings, for every place
 * that writes an answer image (the built-in engine, the gateway converting an
 * upstream's bytes): `output_compression` 0–100 is a JPEG/WebP quality and a
 * PNG zlib level (PNG stays lossless).
 */
import type { Sharp } from 'sharp';
import type { ImageFormat } from '../types.js';

/** PNG zlib level: compression 0-100 → 0-9 (always lossless); default 6. */
export const pngLevel = (compression: number | null): number =>
  compression === null ? 6 : Math.max(0, Math.min(9, Math.round((compression * 9) / 100)));

/** Quality for the lossy formats: 100 when not given, as OpenAI's default. */
export const lossyQuality = (compression: number | null): number => Math.max(1, Math.min(100, compression ?? 100));

/** The encoder step; JPEG has no alpha, so transparency is flattened onto white first. */
export function encodeAs(s: Sharp, format: ImageFormat, compression: number | null): Sharp {
  switch (format) {
    case 'png':
      return s.png({ compressionLevel: pngLevel(compression), adaptiveFiltering: false, palette: false });
    case 'jpeg': {
      const q = lossyQuality(compression);
      return s.flatten({ background: '#ffffff' }).jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0' });
    }
    case 'webp':
      return s.webp({ quality: lossyQuality(compression), alphaQuality: 100, effort: 4 });
  }
}
