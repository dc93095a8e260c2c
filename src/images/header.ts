/**
 * Width, height and alpha of a PNG, JPEG or WebP read from its first bytes,
 * in plain JS: no libvips call, so nothing queues on the libuv threadpool on
 * every request (uploads when they are validated, every upstream answer).
 *
 * It answers only when sure that libvips (sharp.metadata(), the reference
 * this must agree with) would read the same header the same way: a
 * well-formed, common layout. Anything unusual — a damaged or truncated
 * header, a chunk or marker it does not check, an animation, a number out of
 * range — is `null`, and the caller asks libvips, which gives today's exact
 * verdict and error. test/images/header.test.ts holds it to that against
 * sharp on valid files and on thousands of damaged ones.
 */
import zlib from 'node:zlib';

export interface HeaderFacts {
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
  hasAlpha: boolean;
  /** EXIF orientation 1-8 (JPEG); 1 when absent */
  orientation: number;
}

/**
 * `more`: the bytes given end before the header does (the caller may read
 * further into the file); `null`: ask libvips.
 */
export type HeaderVerdict = HeaderFacts | 'more' | null;

/**
 * How much of a file's start intake keeps for this reader: a JPEG's EXIF
 * block with its thumbnail fits. (probe.ts reads further from the file when
 * a header goes on.)
 */
export const HEAD_BYTES = 64 * 1024;

/** libvips refuses images with a side above this (VIPS_MAX_COORD) */
const MAX_COORD = 10_000_000;

/**
 * @param head the file's first bytes (or all of it)
 * @param total the file's whole size in bytes
 */
export function readHeader(head: Buffer, total: number): HeaderVerdict {
  if (head.length >= 8 && head.readUInt32BE(0) === 0x89504e47 && head.readUInt32BE(4) === 0x0d0a1a0a) return png(head);
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return jpeg(head);
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return webp(head, total);
  return null;
}

// ---------------------------------------------------------------- PNG

/** bit depths allowed per colour type (PNG spec, table 11.1) */
const PNG_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const U31 = 0x7fffffff;

/**
 * Chunks up to the first IDAT, as libspng reads them for the header: IHDR,
 * PLTE, tRNS and a few fixed-size ancillary chunks checked as it checks
 * them, every CRC verified. Any other chunk before IDAT means `null`.
 */
function png(b: Buffer): HeaderVerdict {
  let at = 8;
  let width = 0;
  let height = 0;
  let colour = -1;
  let depth = 0;
  let paletteEntries = 0;
  let trns = false;
  const seen = new Set<string>();
  for (let index = 0; ; index++) {
    if (at + 8 > b.length) return 'more';
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (len > U31 || ![4, 5, 6, 7].every((k) => isLetter(b[at + k]!))) return null;
    if (index === 0 && (type !== 'IHDR' || len !== 13)) return null;
    if (type === 'IDAT') {
      if (colour === 3 && paletteEntries === 0) return null;
      if (width > MAX_COORD || height > MAX_COORD) return null;
      return { format: 'png', width, height, hasAlpha: colour === 4 || colour === 6 || trns, orientation: 1 };
    }
    const end = at + 12 + len;
    if (end > b.length) return 'more';
    if (zlib.crc32(b.subarray(at + 4, at + 8 + len)) !== b.readUInt32BE(at + 8 + len)) return null;
    const d = at + 8;
    // a chunk twice (a second IHDR, PLTE, gAMA, …) is refused or ignored by libspng: not decided here
    if (seen.has(type)) return null;
    seen.add(type);
    switch (type) {
      case 'IHDR':
        if (index !== 0) return null;
        width = b.readUInt32BE(d);
        height = b.readUInt32BE(d + 4);
        depth = b[d + 8]!;
        colour = b[d + 9]!;
        if (width === 0 || height === 0 || width > U31 || height > U31) return null;
        if (!PNG_DEPTHS[colour]?.includes(depth)) return null;
        if (b[d + 10] !== 0 || b[d + 11] !== 0 || b[d + 12]! > 1) return null;
        break;
      case 'PLTE':
        if (trns || colour === 0 || colour === 4) return null;
        if (len === 0 || len % 3 !== 0 || len / 3 > 256 || (colour === 3 && len / 3 > 2 ** depth)) return null;
        paletteEntries = len / 3;
        break;
      case 'tRNS':
        if (colour === 0 && len !== 2) return null;
        if (colour === 2 && len !== 6) return null;
        if (colour === 3 && (paletteEntries === 0 || len === 0 || len > paletteEntries)) return null;
        if (colour === 4 || colour === 6) return null;
        trns = true;
        break;
      case 'gAMA':
        if (len !== 4 || paletteEntries > 0 || b.readUInt32BE(d) === 0 || b.readUInt32BE(d) > U31) return null;
        break;
      case 'sRGB':
        if (len !== 1 || paletteEntries > 0 || b[d]! > 3) return null;
        break;
      case 'pHYs':
        if (len !== 9 || b.readUInt32BE(d) > U31 || b.readUInt32BE(d + 4) > U31 || b[d + 8]! > 1) return null;
        break;
      default:
        // iCCP, text, eXIf, … are read (and may be refused) by libspng in ways not repeated here
        return null;
    }
    at = end;
  }
}

// ---------------------------------------------------------------- JPEG

/** markers libjpeg reads in the header that carry nothing this needs, only a length */
const isApp = (m: number): boolean => m >= 0xe0 && m <= 0xef;

/**
 * Markers up to the first SOS, checked the way libjpeg's jpeg_read_header
 * checks them (jdmarker.c), for baseline, extended and progressive Huffman
 * JPEGs with 1, 3 or 4 components of 8 bits. Anything else (arithmetic or
 * lossless coding, stray bytes between markers, a second SOF, several EXIF
 * blocks) is `null`.
 */
function jpeg(b: Buffer): HeaderVerdict {
  let at = 2;
  let sof: { width: number; height: number; ids: number[] } | null = null;
  let orientation = 1;
  let exifSeen = false;
  for (;;) {
    if (at + 2 > b.length) return 'more';
    if (b[at] !== 0xff) return null;
    // fill bytes: any number of 0xFF before a marker
    let m = b[at + 1]!;
    while (m === 0xff) {
      at++;
      if (at + 2 > b.length) return 'more';
      m = b[at + 1]!;
    }
    at += 2;
    if (m === 0x00 || m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01 || m === 0xd9) return null; // stray, SOI again, RSTn, TEM, EOI
    if (at + 2 > b.length) return 'more';
    const len = b.readUInt16BE(at);
    if (len < 2) return null;
    const end = at + len;
    if (end > b.length) return 'more';
    const d = at + 2;
    const n = len - 2;
    if (m === 0xc0 || m === 0xc1 || m === 0xc2) {
      if (sof) return null;
      if (n < 6) return null;
      const precision = b[d]!;
      const height = b.readUInt16BE(d + 1);
      const width = b.readUInt16BE(d + 3);
      const nc = b[d + 5]!;
      if (precision !== 8 || width === 0 || height === 0 || width > 65500 || height > 65500) return null;
      if (nc !== 1 && nc !== 3 && nc !== 4) return null;
      if (n !== 6 + 3 * nc) return null;
      const ids: number[] = [];
      for (let c = 0; c < nc; c++) {
        const o = d + 6 + 3 * c;
        const hs = b[o + 1]! >> 4;
        const vs = b[o + 1]! & 15;
        // repeated component ids get libjpeg-turbo's made-up ids: not decided here
        if (hs < 1 || hs > 4 || vs < 1 || vs > 4 || b[o + 2]! > 3 || ids.includes(b[o]!)) return null;
        ids.push(b[o]!);
      }
      sof = { width, height, ids };
    } else if (m === 0xc4) {
      if (!huffmanTablesOk(b, d, end)) return null;
    } else if (m === 0xdb) {
      if (!quantTablesOk(b, d, end)) return null;
    } else if (m === 0xdd) {
      if (n !== 2) return null;
    } else if (m === 0xda) {
      if (!sof || n < 1) return null;
      const ns = b[d]!;
      if (ns < 1 || ns > 4 || n !== 4 + 2 * ns) return null;
      const seen = new Set<number>();
      for (let k = 0; k < ns; k++) {
        const id = b[d + 1 + 2 * k]!;
        const tables = b[d + 2 + 2 * k]!;
        if (!sof.ids.includes(id) || seen.has(id) || tables >> 4 > 3 || (tables & 15) > 3) return null;
        seen.add(id);
      }
      return { format: 'jpeg', width: sof.width, height: sof.height, hasAlpha: false, orientation };
    } else if (m === 0xe0) {
      // JFIF with a major version other than 1 is a libjpeg warning
      if (n >= 5 && b.toString('latin1', d, d + 5) === 'JFIF\0' && (n < 7 || b[d + 5] !== 1)) return null;
    } else if (m === 0xe1) {
      if (n >= 6 && b.toString('latin1', d, d + 6) === 'Exif\0\0') {
        if (exifSeen) return null;
        exifSeen = true;
        const o = exifOrientation(b.subarray(d + 6, end));
        if (o === null) return null;
        orientation = o;
      }
    } else if (!isApp(m) && m !== 0xfe) {
      // SOF3 and SOF5-15 (lossless, hierarchical, arithmetic), DAC, DNL, JPG, reserved markers
      return null;
    }
    at = end;
  }
}

/** DHT: classes 0-1, ids 0-3, at most 256 codes each, the lengths adding up exactly. */
function huffmanTablesOk(b: Buffer, at: number, end: number): boolean {
  if (at >= end) return false;
  while (at < end) {
    if (at + 17 > end) return false;
    const tc = b[at]! >> 4;
    const th = b[at]! & 15;
    if (tc > 1 || th > 3) return false;
    let count = 0;
    for (let i = 1; i <= 16; i++) count += b[at + i]!;
    if (count > 256 || at + 17 + count > end) return false;
    at += 17 + count;
  }
  return at === end;
}

/** DQT: 8- or 16-bit tables, ids 0-3, whole tables only. */
function quantTablesOk(b: Buffer, at: number, end: number): boolean {
  if (at >= end) return false;
  while (at < end) {
    const pq = b[at]! >> 4;
    const tq = b[at]! & 15;
    if (pq > 1 || tq > 3) return false;
    const size = 1 + 64 * (pq + 1);
    if (at + size > end) return false;
    for (let i = 0; i < 64; i++) if ((pq === 0 ? b[at + 1 + i]! : b.readUInt16BE(at + 1 + 2 * i)) === 0) return false;
    at += size;
  }
  return at === end;
}

/**
 * The orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block:
 * 1 when there is none; null when the block is not cleanly readable (then
 * libexif's leniency decides, through libvips).
 */
function exifOrientation(t: Buffer): number | null {
  if (t.length < 8) return null;
  const order = t.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const u16 = (o: number): number => (le ? t.readUInt16LE(o) : t.readUInt16BE(o));
  const u32 = (o: number): number => (le ? t.readUInt32LE(o) : t.readUInt32BE(o));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > t.length) return null;
  const count = u16(ifd);
  if (count === 0 || ifd + 2 + 12 * count + 4 > t.length) return null;
  let orientation = 1;
  let seen = false;
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + 12 * k;
    if (u16(e) !== 0x0112) continue;
    // SHORT, one value, stored in the first two bytes of the value field
    if (seen || u16(e + 2) !== 3 || u32(e + 4) !== 1) return null;
    seen = true;
    const v = u16(e + 8);
    if (v < 1 || v > 8) return null;
    orientation = v;
  }
  return orientation;
}

// ---------------------------------------------------------------- WebP

const fourcc = (b: Buffer, at: number): string => b.toString('latin1', at, at + 4);

/** A lossy (VP8) key frame header: its size, or null when libwebp would refuse it. */
function vp8Size(b: Buffer, at: number, size: number): { width: number; height: number } | null {
  if (size < 10 || at + 10 > b.length) return null;
  const bits = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
  const keyFrame = (bits & 1) === 0;
  const profile = (bits >> 1) & 7;
  const show = (bits >> 4) & 1;
  const partition = bits >>> 5;
  if (!keyFrame || profile > 3 || !show || partition >= size) return null;
  if (b[at + 3] !== 0x9d || b[at + 4] !== 0x01 || b[at + 5] !== 0x2a) return null;
  const width = b.readUInt16LE(at + 6) & 0x3fff;
  const height = b.readUInt16LE(at + 8) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : null;
}

/** A lossless (VP8L) header: size and whether alpha is used, or null. */
function vp8lInfo(b: Buffer, at: number, size: number): { width: number; height: number; alpha: boolean } | null {
  if (size < 5 || at + 5 > b.length || b[at] !== 0x2f) return null;
  const bits = b.readUInt32LE(at + 1);
  if (bits >>> 29 !== 0) return null;
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
}

/**
 * Still WebPs whose RIFF size is exactly the file's: one VP8 or VP8L chunk,
 * or VP8X with an optional ICCP, then ALPH+VP8 or VP8L, nothing else
 * (libwebp's demuxer checks the whole chunk layout; animations, EXIF and XMP
 * chunks, trailing bytes or a short file are left to it).
 */
function webp(b: Buffer, total: number): HeaderVerdict {
  const riffEnd = b.readUInt32LE(4) + 8;
  if (riffEnd !== total || riffEnd < 20 || riffEnd % 2 !== 0) return null;
  const chunk = (at: number): { type: string; size: number; data: number; next: number } | 'more' | null => {
    if (at + 8 > b.length) return at + 8 > riffEnd ? null : 'more';
    const size = b.readUInt32LE(at + 4);
    const next = at + 8 + size + (size & 1);
    if (next > riffEnd) return null;
    return { type: fourcc(b, at), size, data: at + 8, next };
  };
  const first = chunk(12);
  if (first === null || first === 'more') return first;
  if (first.type === 'VP8 ' || first.type === 'VP8L') {
    if (first.next !== riffEnd) return null;
    if (first.data + 10 > b.length) return 'more';
    if (first.type === 'VP8 ') {
      const s = vp8Size(b, first.data, first.size);
      return s && { format: 'webp', ...s, hasAlpha: false, orientation: 1 };
    }
    const l = vp8lInfo(b, first.data, first.size);
    return l && { format: 'webp', width: l.width, height: l.height, hasAlpha: l.alpha, orientation: 1 };
  }
  if (first.type !== 'VP8X' || first.size !== 10) return null;
  if (first.data + 10 > b.length) return 'more';
  const flags = b[first.data]!;
  // reserved bits, or animation (0x02), EXIF (0x08), XMP (0x04): libwebp's business
  if ((flags & ~0x30) !== 0 || b.readUIntLE(first.data + 1, 3) !== 0) return null;
  const width = b.readUIntLE(first.data + 4, 3) + 1;
  const height = b.readUIntLE(first.data + 7, 3) + 1;
  const iccFlag = (flags & 0x20) !== 0;
  const alphaFlag = (flags & 0x10) !== 0;
  let at = first.next;
  let c = chunk(at);
  if (c === null || c === 'more') return c;
  if (c.type === 'ICCP') {
    if (!iccFlag) return null;
    at = c.next;
    c = chunk(at);
    if (c === null || c === 'more') return c;
  } else if (iccFlag) return null;
  let frame: { width: number; height: number } | null;
  let hasAlpha: boolean;
  if (c.type === 'ALPH') {
    if (!alphaFlag || c.size < 1) return null;
    c = chunk(c.next);
    if (c === null || c === 'more') return c;
    if (c.type !== 'VP8 ') return null;
    if (c.data + 10 > b.length) return 'more';
    frame = vp8Size(b, c.data, c.size);
    hasAlpha = true;
  } else if (c.type === 'VP8 ') {
    if (alphaFlag) return null;
    if (c.data + 10 > b.length) return 'more';
    frame = vp8Size(b, c.data, c.size);
    hasAlpha = false;
  } else if (c.type === 'VP8L') {
    if (c.data + 5 > b.length) return 'more';
    const l = vp8lInfo(b, c.data, c.size);
    if (l && l.alpha !== alphaFlag) return null;
    frame = l;
    hasAlpha = alphaFlag;
  } else return null;
  if (!frame || c.next !== riffEnd || frame.width !== width || frame.height !== height) return null;
  return { format: 'webp', width, height, hasAlpha, orientation: 1 };
}
