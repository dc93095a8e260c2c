/**
 * Captions as users ask for them, read back off the output pixels: colour,
 * place, size, weight and outline. Letter cores are painted at full coverage,
 * so the asked colour appears exactly.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TempDir, bbox, edit, landscape, type Px } from './helpers.js';

const tmp = new TempDir();
after(() => tmp.remove());

const W = 480, H = 360;
const scene = landscape(W, H);
const exactly = (c: readonly number[]) => (p: Px): boolean => p[0] === c[0] && p[1] === c[1] && p[2] === c[2] && p[3] === 255;

test("'SALE' in big red letters at the top: big, red, at the top", async () => {
  const { out, result } = await edit(tmp, scene, "add 'SALE' in big red letters at the top");
  assert.deepEqual(result.operations, ["text 'SALE' at top in red (large)"]);
  assert.deepEqual(result.warnings, []);
  const red = bbox(out, exactly([255, 0, 0]))!;
  assert.ok(red, 'red letters');
  // inside the top band: below the 4% margin, above a third of the height
  assert.ok(red.y0 >= 14 && red.y1 < H / 3, `top band: ${JSON.stringify(red)}`);
  // centred
  assert.ok(Math.abs((red.x0 + red.x1) / 2 - W / 2) < W * 0.03, `centred: ${JSON.stringify(red)}`);
  // big: the letters are more than 1.4x the height of the same caption at the default size, and at least 15% of the picture
  const plain = bbox((await edit(tmp, scene, "add 'SALE' in red at the top")).out, exactly([255, 0, 0]))!;
  const tall = red.y1 - red.y0 + 1, plainTall = plain.y1 - plain.y0 + 1;
  assert.ok(tall > 1.4 * plainTall && tall >= 0.15 * H, `big ${tall}px vs default ${plainTall}px`);
});

test("'Hello' in small white text bottom-right: small, white, in the bottom-right corner", async () => {
  const { out, result } = await edit(tmp, scene, "add 'Hello' in small white text bottom-right");
  assert.deepEqual(result.operations, ["text 'Hello' at bottom right in white (small)"]);
  const white = bbox(out, exactly([255, 255, 255]))!;
  assert.ok(white.x0 > W * 0.6 && white.x1 < W - 10, `right: ${JSON.stringify(white)}`);
  assert.ok(white.y0 > H * 0.85 && white.y1 < H - 10, `bottom: ${JSON.stringify(white)}`);
  // small: about half the default size in that corner
  const plain = bbox((await edit(tmp, scene, "add 'Hello' in white text bottom-right")).out, exactly([255, 255, 255]))!;
  const tall = white.y1 - white.y0 + 1, plainTall = plain.y1 - plain.y0 + 1;
  assert.ok(tall <= 0.65 * plainTall && tall <= H * 0.07, `small ${tall}px vs default ${plainTall}px`);
});

test("a caption in #3366ff is exactly that colour, at the bottom by default, centred", async () => {
  const { out } = await edit(tmp, scene, "add a caption 'Hello' in #3366ff");
  const blue = bbox(out, exactly([0x33, 0x66, 0xff]))!;
  assert.ok(blue.count > 200, `${blue.count} pixels of #3366ff`);
  assert.ok(blue.y0 > H * 0.75, `bottom: ${JSON.stringify(blue)}`);
  assert.ok(Math.abs((blue.x0 + blue.x1) / 2 - W / 2) < W * 0.03);
});

test('outline: a named colour around the letters, none when asked, dark by default around light letters', async () => {
  const region = (b: NonNullable<ReturnType<typeof bbox>>) => (p: Px, x: number, y: number) => x >= b.x0 - 6 && x <= b.x1 + 6 && y >= b.y0 - 6 && y <= b.y1 + 6;
  const countIn = (img: typeof scene, inside: (p: Px, x: number, y: number) => boolean, pred: (p: Px) => boolean): number => {
    let n = 0;
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      const p: Px = [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!, img.data[i + 3]!];
      if (inside(p, x, y) && pred(p)) n++;
    }
    return n;
  };
  const black = (p: Px): boolean => p[0] < 30 && p[1] < 30 && p[2] < 30;
  const red = await edit(tmp, scene, "write 'Hi' in yellow at the top with a red outline");
  const yellow = bbox(red.out, exactly([255, 255, 0]))!;
  assert.ok(countIn(red.out, region(yellow), exactly([255, 0, 0])) > 100, 'red ring');
  const none = await edit(tmp, scene, "write 'Hi' in yellow at the top with no outline");
  const plain = bbox(none.out, exactly([255, 255, 0]))!;
  assert.equal(countIn(none.out, region(plain), black), 0, 'no dark ring');
  assert.deepEqual(none.result.operations, ["text 'Hi' at top in yellow (no outline)"]);
  const auto = await edit(tmp, scene, "write 'Hi' in yellow at the top");
  assert.ok(countIn(auto.out, region(bbox(auto.out, exactly([255, 255, 0]))!), black) > 100, 'dark ring by default');
});

test('weight: light letters carry much less ink than the bold default', async () => {
  const ink = async (prompt: string) => bbox((await edit(tmp, scene, prompt)).out, exactly([255, 255, 255]))!.count;
  const bold = await ink("write 'Hello' in the centre in white");
  const light = await ink("write 'Hello' in the centre in light weight white letters");
  assert.ok(light < 0.7 * bold, `light ${light} vs bold ${bold}`);
});

test('capitals: "in capital letters" writes the caption in upper case', async () => {
  const { result } = await edit(tmp, scene, "add 'sale' in capital letters at the top");
  assert.deepEqual(result.operations, ["text 'SALE' at top"]);
});
