/**
 * The instruction corpus: prompts as people write them, each with the exact
 * operations parseInstructions must produce (and the words it must report as
 * not understood). A change to the parser that alters any line here changes
 * what users get.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstructions, type Op, type TextPosition } from '../../src/engine/instructions.js';

type Rgb = readonly [number, number, number];
type TextOp = Extract<Op, { kind: 'text' }>;

/** The colours the corpus names, written out here rather than taken from the code under test. */
const COLOURS: Record<string, Rgb> = {
  red: [255, 0, 0], white: [255, 255, 255], black: [0, 0, 0], gold: [255, 215, 0], pink: [255, 192, 203],
  yellow: [255, 255, 0], darkgreen: [0, 100, 0], lightgray: [211, 211, 211], cornsilk: [255, 248, 220],
  navy: [0, 0, 128], orange: [255, 165, 0], brown: [165, 42, 42], green: [0, 128, 0], grey: [128, 128, 128],
  lightblue: [173, 216, 230], blue: [0, 0, 255], '#3366ff': [0x33, 0x66, 0xff], '#ff8800': [0xff, 0x88, 0x00],
};

const col = (name: string): { color: Rgb; colorName: string } => {
  const rgb = COLOURS[name];
  if (!rgb) throw new Error(`corpus colour missing: ${name}`);
  return { color: rgb, colorName: name };
};

const text = (t: string, position: TextPosition, more: Partial<TextOp> = {}): TextOp => ({
  kind: 'text',
  text: t,
  position,
  color: null,
  colorName: null,
  size: 'medium',
  weight: 'bold',
  outline: { color: null, colorName: null, width: 1 },
  ...more,
});

const CORPUS: [prompt: string, ops: Op[], unmatched?: string[]][] = [
  ['rotate it 90 degrees to the right', [{ kind: 'rotate', degrees: 90 }]],
  ["add 'SALE' in big red letters at the top", [text('SALE', 'top', { ...col('red'), size: 'large' })]],
  ["add 'Hello' in small white text bottom-right", [text('Hello', 'bottom-right', { ...col('white'), size: 'small' })]],
  ["add a caption 'Hello' in #3366ff", [text('Hello', 'bottom', { ...col('#3366ff') })]],
  ["make it black and white and add the text 'Hello' at the bottom", [{ kind: 'grayscale' }, text('Hello', 'bottom')]],
  ['rotate it ninety degrees', [{ kind: 'rotate', degrees: 90 }]],
  ['blur by five pixels', [{ kind: 'blur', sigma: 5, strength: 1 }]],
  ['Put on glasses', [], ["Put on glasses"]],
  ['watercolor', [], ["watercolor"]],
  ['Can you make this black and white and put "Grand Opening" across the top in big gold letters?', [{ kind: 'grayscale' }, text('Grand Opening', 'top', { ...col('gold'), size: 'large' })]],
  ["write 'Happy Birthday!' in pink at the bottom with a white outline", [text('Happy Birthday!', 'bottom', { ...col('pink'), outline: { ...col('white'), width: 1 } })]],
  ['add the caption “Summer Vibes” in the centre, large, bold, yellow', [text('Summer Vibes', 'center', { ...col('yellow'), size: 'large' })]],
  ["put 'NEW' in the top left corner in small red letters", [text('NEW', 'top-left', { ...col('red'), size: 'small' })]],
  ["small white text bottom-right saying '© 2024 Jane Doe'", [text('© 2024 Jane Doe', 'bottom-right', { ...col('white'), size: 'small' })]],
  ["add 'FOR SALE' at the bottom in white capital letters with a thick black outline", [text('FOR SALE', 'bottom', { ...col('white'), outline: { ...col('black'), width: 2 } })]],
  ["add the text 'Menu' at the top in dark green with no outline", [text('Menu', 'top', { ...col('darkgreen'), outline: null })]],
  ['rotate the photo 90° counterclockwise and crop it to a square', [{ kind: 'rotate', degrees: -90 }, { kind: 'crop-square' }]],
  ['turn it a quarter turn to the left', [{ kind: 'rotate', degrees: -90 }]],
  ['flip it horizontally, then rotate 180 degrees', [{ kind: 'flip', axis: 'horizontal' }, { kind: 'rotate', degrees: 180 }]],
  ['make it a bit brighter and add more contrast', [{ kind: 'brightness', amount: 0.1 }, { kind: 'contrast', amount: 0.3 }]],
  ['brighten by twenty percent', [{ kind: 'brightness', amount: 0.2 }]],
  ['darken it by 10%', [{ kind: 'brightness', amount: -0.1 }]],
  ["blur the image slightly and add the text 'Draft' in the center in light gray", [{ kind: 'blur', sigma: null, strength: 0.5 }, text('Draft', 'center', { ...col('lightgray') })]],
  ['sharpen it a lot', [{ kind: 'sharpen', strength: 2 }]],
  ['pixelate with blocks of twelve pixels', [{ kind: 'pixelate', block: 12, strength: 1 }]],
  ['zoom in two times', [{ kind: 'zoom', factor: 2 }]],
  ['zoom in twice and make it sepia', [{ kind: 'zoom', factor: 2 }, { kind: 'sepia', amount: 1 }]],
  ["add a thin white border and write 'Home' at the top", [{ kind: 'border', ...col('white'), thickness: null, strength: 0.5 }, text('Home', 'top')]],
  ['add a ten pixel navy border', [{ kind: 'border', ...col('navy'), thickness: 10, strength: 1 }]],
  ['tint it slightly orange and make the colours pop', [{ kind: 'tint', ...col('orange'), amount: 0.2 }, { kind: 'saturation', amount: 0.4 }]],
  ['make it warmer and a little more vivid', [{ kind: 'temperature', amount: 0.12 }, { kind: 'saturation', amount: 0.2 }]],
  ['cool it down, reduce the saturation by 30 percent', [{ kind: 'temperature', amount: -0.12 }, { kind: 'saturation', amount: -0.3 }]],
  ["give it a vintage look with a caption 'Memories' in cream at the bottom", [{ kind: 'vintage', strength: 1 }, text('Memories', 'bottom', { ...col('cornsilk') })]],
  ['invert the colors and mirror it', [{ kind: 'invert' }, { kind: 'flip', axis: 'horizontal' }]],
  ['remove the background and add a white border', [{ kind: 'remove-background' }, { kind: 'border', ...col('white'), thickness: null, strength: 1 }]],
  ['replace the background with light blue', [{ kind: 'replace-background', ...col('lightblue') }]],
  ["put it on a white background, then add 'Product' in black at the bottom", [{ kind: 'replace-background', ...col('white') }, text('Product', 'bottom', { ...col('black') })]],
  ['make the background transparent', [{ kind: 'remove-background' }]],
  ["merge these two photos side by side and add the title 'Before / After' at the top", [{ kind: 'merge', layout: 'row' }, text('Before / After', 'top')]],
  ['stack them vertically', [{ kind: 'merge', layout: 'column' }]],
  ['make a collage of the images', [{ kind: 'merge', layout: 'grid' }]],
  ['remove the person on the left', [{ kind: 'fill', target: 'the person on the left' }]],
  ['erase the car and make it black and white', [{ kind: 'fill', target: 'the car' }, { kind: 'grayscale' }]],
  ['rotate it by forty five degrees clockwise', [{ kind: 'rotate', degrees: 45 }]],
  ['rotate 30 degrees anticlockwise', [{ kind: 'rotate', degrees: -30 }]],
  ['turn it upside down', [{ kind: 'rotate', degrees: 180 }]],
  ['crop to square and add a red frame', [{ kind: 'crop-square' }, { kind: 'border', ...col('red'), thickness: null, strength: 1 }]],
  ["make it square, sepia, and write 'Antique' at the bottom in brown", [{ kind: 'crop-square' }, { kind: 'sepia', amount: 1 }, text('Antique', 'bottom', { ...col('brown') })]],
  ['increase the contrast by fifteen percent and decrease the brightness by 5%', [{ kind: 'contrast', amount: 0.15 }, { kind: 'brightness', amount: -0.05 }]],
  ['change the colour to #ff8800', [{ kind: 'recolor', ...col('#ff8800') }]],
  ['recolor it to navy blue', [{ kind: 'recolor', ...col('navy') }]],
  ["make it grayscale, then add a yellow caption 'CAUTION' at the top", [{ kind: 'grayscale' }, text('CAUTION', 'top', { ...col('yellow') })]],
  ["add large white bold text 'WELCOME' in the middle", [text('WELCOME', 'center', { ...col('white'), size: 'large' })]],
  ['write Sale at the top in big red letters', [text('Sale', 'top', { ...col('red'), size: 'large' })]],
  ['add the text Open 24 Hours at the bottom in green', [text('Open 24 Hours', 'bottom', { ...col('green') })]],
  ['Add "50% OFF" at the top right in red, with a black outline', [text('50% OFF', 'top-right', { ...col('red'), outline: { ...col('black'), width: 1 } })]],
  ["please add the words 'Thank you' at the bottom in light weight white letters", [text('Thank you', 'bottom', { ...col('white'), weight: 'light' })]],
  ['add “Chapter One” in huge black letters in the center', [text('Chapter One', 'center', { ...col('black'), size: 'huge' })]],
  ["add 'caption here' in regular weight at the bottom left", [text('caption here', 'bottom-left', { weight: 'regular' })]],
  ["At the top, write 'Breaking News' in red", [text('Breaking News', 'top', { ...col('red') })]],
  ["put some text saying 'Limited Edition' in gold at the bottom right corner", [text('Limited Edition', 'bottom-right', { ...col('gold') })]],
  ['make it look like a watercolor painting', [], ["make it look like a watercolor painting"]],
  ['add a dog next to the house', [], ["add a dog next to the house"]],
  ["high contrast black and white with the text 'NOIR' in red at the bottom", [{ kind: 'grayscale' }, { kind: 'contrast', amount: 0.5 }, text('NOIR', 'bottom', { ...col('red') })]],
  ['rotate it 90 degrees and fit the whole picture', [{ kind: 'rotate', degrees: 90 }, { kind: 'fit', mode: 'contain' }]],
  ['crop to fit', [{ kind: 'fit', mode: 'cover' }]],
  ['blur by three px, then pixelate', [{ kind: 'blur', sigma: 3, strength: 1 }, { kind: 'pixelate', block: null, strength: 1 }]],
  ["make it a lot cooler and add 'Winter' at the top in white", [{ kind: 'temperature', amount: -0.24 }, text('Winter', 'top', { ...col('white') })]],
  ["add 'Hi' in blue and make it black and white", [text('Hi', 'bottom', { ...col('blue') }), { kind: 'grayscale' }]],
  ["add 'Hi' with a red border", [text('Hi', 'bottom'), { kind: 'border', ...col('red'), thickness: null, strength: 1 }]],
  ["add 'Sunny' at the top and tint it yellow", [text('Sunny', 'top'), { kind: 'tint', ...col('yellow'), amount: 0.35 }]],
  ['Make the photo brighter by 25% and add a soft blur', [{ kind: 'brightness', amount: 0.25 }, { kind: 'blur', sigma: null, strength: 0.5 }]],
  ['could you rotate this image 180 degrees please', [{ kind: 'rotate', degrees: 180 }]],
  ['mirror the picture and add a thick black border', [{ kind: 'flip', axis: 'horizontal' }, { kind: 'border', ...col('black'), thickness: null, strength: 2 }]],
  ['add a 5px white border', [{ kind: 'border', ...col('white'), thickness: 5, strength: 1 }]],
  ['make it more red', [{ kind: 'tint', ...col('red'), amount: 0.35 }]],
  ['give the image a blue tint', [{ kind: 'tint', ...col('blue'), amount: 0.35 }]],
  ['remove the watermark', [{ kind: 'fill', target: 'the watermark' }]],
  ['get rid of the power lines, then sharpen slightly', [{ kind: 'fill', target: 'the power lines' }, { kind: 'sharpen', strength: 0.5 }]],
  ["Add text 'Open' top left", [text('Open', 'top-left')]],
  ["add a white caption at the bottom that says 'See you soon'", [text('See you soon', 'bottom', { ...col('white') })]],
  ["label it 'Sample' in the top right corner in tiny grey text", [text('Sample', 'top-right', { ...col('grey'), size: 'tiny' })]],
  ['pixelate it a lot', [{ kind: 'pixelate', block: null, strength: 2 }]],
  ['zoom in 150%', [{ kind: 'zoom', factor: 1.5 }]],
  ['crop it square and make it black and white', [{ kind: 'crop-square' }, { kind: 'grayscale' }]],
  ["add 'Hello' in #3366ff at the top and rotate it ninety degrees", [text('Hello', 'top', { ...col('#3366ff') }), { kind: 'rotate', degrees: 90 }]],
  ["Rotate 90 degrees left, make it sepia and write 'Old Town' at the bottom in bold white letters", [{ kind: 'rotate', degrees: -90 }, { kind: 'sepia', amount: 1 }, text('Old Town', 'bottom', { ...col('white') })]],
  ['make it pop', [{ kind: 'saturation', amount: 0.4 }]],
  ["add 'sale' in capital letters at the top", [text('SALE', 'top')]],
  ["write 'open late' in all caps, bottom right, small", [text('OPEN LATE', 'bottom-right', { size: 'small' })]],
  ["add 'x' at the top, sepia", [text('x', 'top'), { kind: 'sepia', amount: 1 }]],
];

test(`the corpus: ${CORPUS.length} prompts give exactly their operations`, () => {
  assert.ok(CORPUS.length >= 60);
  const failures: string[] = [];
  for (const [prompt, ops, unmatched = []] of CORPUS) {
    const got = parseInstructions(prompt);
    try {
      assert.deepEqual(got.ops, ops);
      assert.deepEqual(got.unmatched, unmatched);
      assert.equal(got.understood, ops.length > 0);
    } catch {
      failures.push(`${JSON.stringify(prompt)}\n  got ${JSON.stringify(got.ops)} unmatched ${JSON.stringify(got.unmatched)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('text attributes in any order give the same caption', () => {
  const want = text('SALE', 'top', { ...col('red'), size: 'large' });
  for (const p of [
    "add 'SALE' in big red letters at the top",
    "add 'SALE' at the top in big red letters",
    "add big red text 'SALE' at the top",
    "at the top, add 'SALE' in large red letters",
    "add 'SALE' at the top, big, red",
    "put the text 'SALE' in red at the top in big letters",
    "add a big red caption at the top saying 'SALE'",
  ]) {
    assert.deepEqual(parseInstructions(p).ops, [want], p);
    assert.deepEqual(parseInstructions(p).unmatched, [], p);
  }
});

test('number words are quantities, but only where a quantity can be', () => {
  const rot = (p: string) => (parseInstructions(p).ops[0] as { degrees?: number }).degrees;
  assert.equal(rot('rotate it ninety degrees'), 90);
  assert.equal(rot('rotate a hundred and eighty degrees'), 180);
  assert.equal(rot('rotate one hundred eighty degrees'), 180);
  assert.equal(rot('rotate it forty-five degrees left'), -45);
  assert.equal(rot('rotate by one degree'), 1);
  assert.deepEqual(parseInstructions('brighten by twenty-five percent').ops, [{ kind: 'brightness', amount: 0.25 }]);
  assert.deepEqual(parseInstructions('stack them one above the other').ops, [{ kind: 'merge', layout: 'column' }]);
  assert.deepEqual(parseInstructions('merge them in one image').ops, [{ kind: 'merge', layout: 'grid' }]);
  // inside a caption the words stay words, quoted or not
  assert.deepEqual(parseInstructions("write 'ninety nine' at the top").ops, [text('ninety nine', 'top')]);
  assert.deepEqual(parseInstructions('write Top Ten at the top').ops, [text('Top Ten', 'top')]);
});
