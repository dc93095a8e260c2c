/**
 * The pixel work the local-engine emulators (ComfyUI, A1111) do instead of a
 * diffusion model: decode what they were sent, read a mask the way the real
 * server does, and "inpaint" by painting the masked area a colour derived
 * from the seed, so a test can tell on decoded pixels which area was edited
 * and which seed did it.
 */
import sharp from 'sharp';

export interface Rgba {
  width: number;
  height: number;
  /** 4 channels */
  data: Buffer;
}

/** A single-channel mask, 0..255 (255 = edit). */
export interface Gray {
  width: number;
  height: number;
  data: Buffer;
}

export async function decodeRgba(bytes: Buffer): Promise<{ image: Rgba; hadAlpha: boolean }> {
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { image: { width: info.width, height: info.height, data }, hadAlpha: Boolean(meta.hasAlpha) };
}

export async function resizeRgba(img: Rgba, width: number, height: number): Promise<Rgba> {
  if (img.width === width && img.height === height) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } }).resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return { width, height, data };
}

export async function resizeGray(m: Gray, width: number, height: number): Promise<Gray> {
  if (m.width === width && m.height === height) return m;
  const data = await sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } }).resize(width, height, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
  return { width, height, data };
}

/** The colour a seed paints with (every seed a distinct, saturated one). */
export function seedColour(seed: number): [number, number, number] {
  const h = ((seed * 47) % 360) / 60;
  const x = Math.round(255 * (1 - Math.abs((h % 2) - 1)));
  const table: Array<[number, number, number]> = [[255, x, 0], [x, 255, 0], [0, 255, x], [0, x, 255], [x, 0, 255], [255, 0, x]];
  return table[Math.floor(h) % 6];
}

/** Paints the pixels where `mask` ≥ 128 (all of them without a mask) with the seed's colour; opaque result. */
export function paint(img: Rgba, mask: Gray | null, seed: number): Rgba {
  const [r, g, b] = seedColour(seed);
  const out = Buffer.from(img.data);
  for (let i = 0; i < img.width * img.height; i++) {
    if (mask === null || mask.data[i] >= 128) {
      out[i * 4] = r;
      out[i * 4 + 1] = g;
      out[i * 4 + 2] = b;
    }
    out[i * 4 + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

export function encodePng(img: Rgba): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } }).removeAlpha().png().toBuffer();
}

export function encodeGray(m: Gray): Promise<Buffer> {
  return sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } }).png().toBuffer();
}
