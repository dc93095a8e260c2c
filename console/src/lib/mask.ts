/**
 * The playground's mask, as OpenAI's edits API wants it: a PNG the size of
 * the first image, transparent (alpha 0) where the user painted, opaque
 * elsewhere. Painting happens on a canvas of the image's own pixel size (it
 * is only displayed scaled), so the mask needs no resampling.
 */

/** A PNG mask from the painted layer: alpha 0 wherever the layer has paint. */
export async function maskFromPaint(paint: HTMLCanvasElement): Promise<Blob> {
  const out = document.createElement('canvas');
  out.width = paint.width;
  out.height = paint.height;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, out.width, out.height);
  // paint is opaque where painted: cutting it out leaves alpha 0 there
  ctx.globalCompositeOperation = 'destination-out';
  ctx.drawImage(paint, 0, 0);
  return new Promise((resolve, reject) => out.toBlob((b) => (b ? resolve(b) : reject(new Error('the mask could not be encoded'))), 'image/png'));
}

/** Whether anything is painted (a mask of no area would change nothing). */
export function hasPaint(paint: HTMLCanvasElement): boolean {
  const { data } = paint.getContext('2d')!.getImageData(0, 0, paint.width, paint.height);
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
  return false;
}
