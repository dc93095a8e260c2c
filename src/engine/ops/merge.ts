/**
 * Composing several inputs into one picture: a grid (or one row / one column)
 * laid over the whole canvas, each input scaled to fit its cell with its
 * aspect ratio kept and centred in it.
 */
import type { RgbaImage } from '../types.js';
import { blit, createImage } from '../image.js';
import type { Rgba } from './geometry.js';
import { resize } from './sharp-raw.js';

export type MergeLayout = 'grid' | 'row' | 'column';

export interface Rect { x: number; y: number; width: number; height: number }

export interface Placement {
  /** the cell given to the input */
  cell: Rect;
  /** where the scaled input lands inside the cell */
  content: Rect;
}

function contained(w: number, h: number, cw: number, ch: number): { width: number; height: number } {
  const s = Math.min(cw / w, ch / h);
  return { width: Math.max(1, Math.min(cw, Math.round(w * s))), height: Math.max(1, Math.min(ch, Math.round(h * s))) };
}

/**
 * Cells for `sizes` on a canvasWidth×canvasHeight canvas. 'grid' tries every
 * column count and keeps the one whose scaled inputs cover the most canvas
 * (ties: fewer rows). Gutters and margins are 2% of the shorter canvas side.
 * A last row with fewer inputs is centred.
 */
export function mergeLayout(
  sizes: readonly { width: number; height: number }[],
  canvasWidth: number,
  canvasHeight: number,
  layout: MergeLayout,
): Placement[] {
  const n = sizes.length;
  if (n === 0) return [];
  const gap = Math.round(0.02 * Math.min(canvasWidth, canvasHeight));
  const candidates = layout === 'row' ? [n] : layout === 'column' ? [1] : Array.from({ length: n }, (_, i) => i + 1);
  let best: { cols: number; rows: number; area: number } | null = null;
  for (const cols of candidates) {
    const rows = Math.ceil(n / cols);
    const cw = Math.floor((canvasWidth - gap * (cols + 1)) / cols);
    const ch = Math.floor((canvasHeight - gap * (rows + 1)) / rows);
    if (cw < 1 || ch < 1) continue;
    let area = 0;
    for (const s of sizes) {
      const c = contained(s.width, s.height, cw, ch);
      area += c.width * c.height;
    }
    if (!best || area > best.area * 1.0001) best = { cols, rows, area };
  }
  const cols = best?.cols ?? n;
  const rows = best?.rows ?? 1;
  const cw = Math.max(1, Math.floor((canvasWidth - gap * (cols + 1)) / cols));
  const ch = Math.max(1, Math.floor((canvasHeight - gap * (rows + 1)) / rows));
  // centre the whole grid (floor() above leaves a few pixels)
  const gridW = cols * cw + (cols + 1) * gap;
  const gridH = rows * ch + (rows + 1) * gap;
  const ox = Math.floor((canvasWidth - gridW) / 2);
  const oy = Math.floor((canvasHeight - gridH) / 2);
  const out: Placement[] = [];
  for (let i = 0; i < n; i++) {
    const row = Math.floor(i / cols);
    const inRow = row === rows - 1 ? n - row * cols : cols;
    const shift = Math.floor(((cols - inRow) * (cw + gap)) / 2);
    const col = i - row * cols;
    const cell = { x: ox + gap + col * (cw + gap) + shift, y: oy + gap + row * (ch + gap), width: cw, height: ch };
    const c = contained(sizes[i]!.width, sizes[i]!.height, cw, ch);
    out.push({
      cell,
      content: {
        x: cell.x + Math.floor((cw - c.width) / 2),
        y: cell.y + Math.floor((ch - c.height) / 2),
        width: c.width,
        height: c.height,
      },
    });
  }
  return out;
}

/** Compose the images on a canvas of the given size and colour. */
export async function merge(
  images: readonly RgbaImage[],
  canvasWidth: number,
  canvasHeight: number,
  layout: MergeLayout,
  background: Rgba,
): Promise<{ image: RgbaImage; placements: Placement[] }> {
  const placements = mergeLayout(images, canvasWidth, canvasHeight, layout);
  return { image: await composeAt(images, placements, canvasWidth, canvasHeight, background), placements };
}

/** Draw each image scaled into its placement's content rectangle. */
export async function composeAt(
  images: readonly RgbaImage[],
  placements: readonly Placement[],
  canvasWidth: number,
  canvasHeight: number,
  background: Rgba,
): Promise<RgbaImage> {
  const canvas = createImage(canvasWidth, canvasHeight, background);
  for (let i = 0; i < images.length; i++) {
    const pl = placements[i]!;
    const scaled = await resize(images[i]!, pl.content.width, pl.content.height);
    overBlit(canvas, scaled, pl.content.x, pl.content.y);
  }
  return canvas;
}

/** Draw src over dst at (dx, dy) with alpha compositing (straight alpha). */
export function overBlit(dst: RgbaImage, src: RgbaImage, dx: number, dy: number): void {
  const opaque = (() => {
    for (let i = 3; i < src.data.length; i += 4) if (src.data[i] !== 255) return false;
    return true;
  })();
  if (opaque) return blit(dst, src, dx, dy);
  const d = dst.data;
  const s = src.data;
  for (let y = 0; y < src.height; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= dst.height) continue;
    for (let x = 0; x < src.width; x++) {
      const tx = x + dx;
      if (tx < 0 || tx >= dst.width) continue;
      const sp = (y * src.width + x) * 4;
      const dp = (ty * dst.width + tx) * 4;
      const sa = s[sp + 3]! / 255;
      if (sa === 0) continue;
      const da = d[dp + 3]! / 255;
      const oa = sa + da * (1 - sa);
      for (let c = 0; c < 3; c++) d[dp + c] = (s[sp + c]! * sa + d[dp + c]! * da * (1 - sa)) / oa;
      d[dp + 3] = oa * 255;
    }
  }
}
