/** Real image files for tests, made with sharp (no binary fixtures in the repo). */
import sharp from 'sharp';
import zlib from 'node:zlib';

/** A photo-like picture: a diagonal gradient with a red disc and a blue bar, so edits are visible. */
export async function makePng(width: number, height: number, opts: { alpha?: boolean } = {}): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#2a6f97"/><stop offset="1" stop-color="#f4d35e"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <circle cx="${width * 0.35}" cy="${height * 0.4}" r="${Math.min(width, height) * 0.18}" fill="#d62828"/>
    <rect x="${width * 0.55}" y="${height * 0.6}" width="${width * 0.3}" height="${height * 0.15}" fill="#1d3557"/>
  </svg>`;
  let img = sharp(Buffer.from(svg)).resize(width, height, { fit: 'fill' });
  img = opts.alpha ? img.ensureAlpha() : img.removeAlpha();
  return img.png().toBuffer();
}

export async function makeJpeg(width: number, height: number): Promise<Buffer> {
  return sharp(await makePng(width, height)).jpeg({ quality: 90 }).toBuffer();
}

/** A mask: opaque everywhere except a transparent rectangle (the area to edit). */
export async function makeMask(
  width: number,
  height: number,
  hole: { left: number; top: number; width: number; height: number },
): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4, 255);
  for (let y = hole.top; y < hole.top + hole.height; y++) {
    for (let x = hole.left; x < hole.left + hole.width; x++) data[(y * width + x) * 4 + 3] = 0;
  }
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A small file whose valid PNG header declares width x height RGBA pixels
 * (e.g. 40000 x 40000): decoding it would need gigabytes, probing must not.
 */
export function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const idat = zlib.deflateSync(Buffer.alloc(1024));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export async function makeGif(): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } }).gif().toBuffer();
}

export async function decode(bytes: Buffer): Promise<{ width: number; height: number; channels: number; data: Buffer; format: string }> {
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data, format: meta.format ?? 'unknown' };
}
