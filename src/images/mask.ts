/**
 * The client's mask (OpenAI's convention: a PNG whose fully transparent
 * pixels, alpha 0, mark the area to edit) in the convention a provider reads.
 * Mask polarity is the trap peers fall into; these are the only conversions,
 * and they are tested on decoded pixels.
 */
import sharp from 'sharp';
import type { InputImage } from '../types.js';
import type { PreparedImage } from '../providers/types.js';

async function alphaOf(mask: InputImage): Promise<{ alpha: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(mask.data?.buffer ?? mask.path).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
  return { alpha: data, width: info.width, height: info.height };
}

/**
 * A grayscale PNG, white (255) where the client's mask is fully transparent
 * (edit) and black (0) elsewhere (keep): BFL Fill, Stability, AUTOMATIC1111.
 * Binary on purpose: OpenAI edits only alpha 0, and A1111 thresholds anyway.
 */
export async function whiteMeansEdit(mask: InputImage): Promise<PreparedImage> {
  const { alpha, width, height } = await alphaOf(mask);
  const out = Buffer.allocUnsafe(alpha.length);
  for (let i = 0; i < alpha.length; i++) out[i] = alpha[i] === 0 ? 255 : 0;
  // without b-w, libvips writes the one band as an RGB PNG
  const bytes = await sharp(out, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return { bytes, size: bytes.length, format: 'png', width, height };
}

/**
 * The first image as an RGBA PNG carrying the mask as its own alpha
 * (transparent = edit), which is how ComfyUI's LoadImage turns an upload
 * into a MASK (1 − alpha).
 */
export async function imageWithMaskAlpha(image: InputImage, mask: InputImage): Promise<PreparedImage> {
  const { alpha, width, height } = await alphaOf(mask);
  // decoded to raw RGB first: sharp applies removeAlpha() after joinChannel(), which would drop the joined mask
  const { data: rgb, info } = await sharp(image.data?.buffer ?? image.path)
    .rotate() // EXIF orientation, so pixels line up with the mask the client drew on the displayed picture
    .removeAlpha()
    .resize(width, height, { fit: 'fill' }) // a no-op unless the orientation turned the picture away from the mask's shape
    .raw()
    .toBuffer({ resolveWithObject: true });
  const bytes = await sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } })
    .joinChannel(alpha, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
  return { bytes, size: bytes.length, format: 'png', width, height };
}

/** An uploaded image as it is: the bytes intake kept in memory, or the spooled file. */
export function asPrepared(image: InputImage): PreparedImage {
  const where = image.data ? { held: image.data } : { path: image.path };
  return { ...where, size: image.bytes, format: image.format, width: image.width, height: image.height };
}
