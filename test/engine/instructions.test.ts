import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstructions, type Op } from '../../src/engine/instructions.js';

const kinds = (prompt: string): string[] => parseInstructions(prompt).ops.map((o) => o.kind);
const one = <K extends Op['kind']>(prompt: string, kind: K): Extract<Op, { kind: K }> => {
  const { ops } = parseInstructions(prompt);
  assert.equal(ops.length, 1, `${prompt}: ${JSON.stringify(ops)}`);
  assert.equal(ops[0]!.kind, kind, prompt);
  return ops[0] as Extract<Op, { kind: K }>;
};

test('grayscale synonyms', () => {
  for (const p of ['grayscale', 'greyscale', 'black and white', 'Make it Black & White', 'b&w please', 'monochrome', 'desaturate', 'remove the colors', 'make the image black-and-white']) {
    assert.deepEqual(kinds(p), ['grayscale'], p);
    assert.deepEqual(parseInstructions(p).unmatched, [], p);
  }
});

test('high contrast black and white = grayscale + contrast', () => {
  const { ops } = parseInstructions('high contrast black and white');
  assert.deepEqual(ops.map((o) => o.kind), ['grayscale', 'contrast']);
  assert.ok((ops[1] as Extract<Op, { kind: 'contrast' }>).amount > 0);
});

test('sepia, vintage, warm, cool, invert', () => {
  assert.equal(one('sepia', 'sepia').amount, 1);
  assert.equal(one('slightly sepia', 'sepia').amount, 0.5);
  one('make it vintage', 'vintage');
  one('retro look', 'vintage');
  assert.ok(one('make it warmer', 'temperature').amount > 0);
  assert.ok(one('warm', 'temperature').amount > 0);
  assert.ok(one('cooler please', 'temperature').amount < 0);
  assert.ok(one('make it cool', 'temperature').amount < 0);
  one('invert', 'invert');
  one('invert the colours', 'invert');
  one('negative', 'invert');
});

test('blur amounts', () => {
  const nominal = one('blur', 'blur');
  assert.equal(nominal.sigma, null);
  assert.equal(nominal.strength, 1);
  assert.equal(one('blur it slightly', 'blur').strength, 0.5);
  assert.ok(one('blur a lot', 'blur').strength > 1);
  assert.ok(one('heavily blur the image', 'blur').strength > 1);
  assert.equal(one('blur by 5px', 'blur').sigma, 5);
  assert.equal(one('blur 3 px', 'blur').sigma, 3);
  one('sharpen', 'sharpen');
  one('make it sharper', 'sharpen');
});

test('brightness with amounts', () => {
  assert.equal(one('brighten', 'brightness').amount, 0.2);
  assert.equal(one('make it brighter', 'brightness').amount, 0.2);
  assert.equal(one('lighten', 'brightness').amount, 0.2);
  assert.equal(one('brighten by 30%', 'brightness').amount, 0.3);
  assert.equal(one('slightly brighter', 'brightness').amount, 0.1);
  assert.equal(one('darken', 'brightness').amount, -0.2);
  assert.equal(one('make it much darker', 'brightness').amount, -0.4);
  assert.equal(one('darker by 50%', 'brightness').amount, -0.5);
});

test('contrast and saturation', () => {
  assert.ok(one('more contrast', 'contrast').amount > 0);
  assert.ok(one('increase the contrast', 'contrast').amount > 0);
  assert.ok(one('less contrast', 'contrast').amount < 0);
  assert.equal(one('reduce contrast by 20%', 'contrast').amount, -0.2);
  assert.ok(one('saturate', 'saturation').amount > 0);
  assert.ok(one('more vivid', 'saturation').amount > 0);
  assert.ok(one('make the colors pop', 'saturation').amount > 0);
  const slight = one('desaturate slightly', 'saturation').amount;
  assert.ok(slight < 0 && slight > -0.5);
  assert.ok(one('muted', 'saturation').amount < 0);
  assert.ok(one('less saturation', 'saturation').amount < 0);
});

test('tint with named and hex colours', () => {
  assert.deepEqual(one('tint it blue', 'tint').color, [0, 0, 255]);
  assert.deepEqual(one('blue tint', 'tint').color, [0, 0, 255]);
  assert.deepEqual(one('make it more red', 'tint').color, [255, 0, 0]);
  assert.deepEqual(one('give it a slight orange tint', 'tint').color, [255, 165, 0]);
  assert.deepEqual(one('tint it #00ff00', 'tint').color, [0, 255, 0]);
  assert.deepEqual(one('tint with #f0a', 'tint').color, [255, 0, 170]);
  for (const [name, rgb] of [['teal', [0, 128, 128]], ['navy', [0, 0, 128]], ['gold', [255, 215, 0]], ['pink', [255, 192, 203]], ['purple', [128, 0, 128]], ['brown', [165, 42, 42]]] as const) {
    assert.deepEqual(one(`tint it ${name}`, 'tint').color, rgb, name);
  }
  assert.ok(one('a strong red tint', 'tint').amount > one('red tint', 'tint').amount);
});

test('recolour keeps luminance (op only names the colour)', () => {
  assert.deepEqual(one('make it red', 'recolor').color, [255, 0, 0]);
  assert.deepEqual(one('change the colour to #3366ff', 'recolor').color, [0x33, 0x66, 0xff]);
  assert.deepEqual(one('recolor to green', 'recolor').color, [0, 128, 0]);
  assert.deepEqual(one('make it light blue', 'recolor').color, [0xad, 0xd8, 0xe6]);
  assert.deepEqual(one('turn it navy blue', 'recolor').color, [0, 0, 128]);
  assert.deepEqual(one('Change the color of the image to Dark Green', 'recolor').color, [0, 100, 0]);
});

test('pixelate', () => {
  assert.equal(one('pixelate', 'pixelate').block, null);
  assert.equal(one('pixelate with 16px blocks', 'pixelate').block, 16);
  assert.equal(one('pixelate 8', 'pixelate').block, 8);
});

test('rotate', () => {
  assert.equal(one('rotate 90 degrees', 'rotate').degrees, 90);
  assert.equal(one('rotate right', 'rotate').degrees, 90);
  assert.equal(one('rotate left', 'rotate').degrees, -90);
  assert.equal(one('rotate 180', 'rotate').degrees, 180);
  assert.equal(one('upside down', 'rotate').degrees, 180);
  assert.equal(one('turn it upside down', 'rotate').degrees, 180);
  assert.equal(one('rotate 45°', 'rotate').degrees, 45);
  assert.equal(one('rotate 30 degrees counterclockwise', 'rotate').degrees, -30);
  assert.equal(one('rotate it by 15 degrees anti-clockwise', 'rotate').degrees, -15);
});

test('flip and mirror', () => {
  assert.equal(one('flip', 'flip').axis, 'vertical');
  assert.equal(one('flip vertically', 'flip').axis, 'vertical');
  assert.equal(one('flip it upside down', 'flip').axis, 'vertical');
  assert.equal(one('flip horizontally', 'flip').axis, 'horizontal');
  assert.equal(one('mirror', 'flip').axis, 'horizontal');
  assert.equal(one('mirror the image', 'flip').axis, 'horizontal');
  assert.equal(one('mirror vertically', 'flip').axis, 'vertical');
});

test('text: quote styles, positions, unquoted, colour', () => {
  const cases: [string, string, string][] = [
    ["add the text 'SALE' at the top", 'SALE', 'top'],
    ['add the text "SALE" at the top', 'SALE', 'top'],
    ['write “Hello there” at the bottom', 'Hello there', 'bottom'],
    ['write ‘Hi’ in the centre', 'Hi', 'center'],
    ['add «Bonjour» in the middle', 'Bonjour', 'center'],
    ["write 'Hello'", 'Hello', 'bottom'],
    ["add text 'Big News' centered", 'Big News', 'center'],
    ["put the words 'Top Left' in the top left corner", 'Top Left', 'top-left'],
    ["add 'x' at the top-right", 'x', 'top-right'],
    ["add a caption 'Summer 2024' at the bottom left", 'Summer 2024', 'bottom-left'],
    ["caption: 'Don't panic'", "Don't panic", 'bottom'],
    ['add the text SALE at the top', 'SALE', 'top'],
    ['write Hello World at the bottom right', 'Hello World', 'bottom-right'],
    ["add 'it's here' on the bottom", "it's here", 'bottom'],
  ];
  for (const [prompt, text, pos] of cases) {
    const op = one(prompt, 'text');
    assert.equal(op.text, text, prompt);
    assert.equal(op.position, pos, prompt);
    assert.deepEqual(parseInstructions(prompt).unmatched, [], prompt);
  }
  assert.deepEqual(one("add red text 'Hot' at the top", 'text').color, [255, 0, 0]);
  assert.deepEqual(one("add the text 'Hi' at the top in red", 'text').color, [255, 0, 0]);
  assert.equal(one("at the top, write 'Sale'", 'text').position, 'top');
  assert.equal(one("On the top left, put the words 'A B'", 'text').position, 'top-left');
  assert.equal(one("add the title 'Welcome' centered at the top", 'text').position, 'top');
  assert.equal(one("add 'Hot' in yellow at the top", 'text').colorName, 'yellow');
  // words inside the quotes are never instructions
  assert.deepEqual(kinds("write 'make it black and white'"), ['text']);
});

test('background remove and replace', () => {
  one('remove the background', 'remove-background');
  one('make the background transparent', 'remove-background');
  one('transparent background', 'remove-background');
  one('remove the white background', 'remove-background');
  assert.deepEqual(one('replace the background with white', 'replace-background').color, [255, 255, 255]);
  assert.deepEqual(one('replace the background with blue', 'replace-background').color, [0, 0, 255]);
  assert.deepEqual(one('replace the background with #112233', 'replace-background').color, [0x11, 0x22, 0x33]);
  assert.deepEqual(one('make the background red', 'replace-background').color, [255, 0, 0]);
  assert.deepEqual(one('put it on a green background', 'replace-background').color, [0, 128, 0]);
});

test('crop, zoom, border', () => {
  one('crop to square', 'crop-square');
  one('crop it to a square', 'crop-square');
  one('make it square', 'crop-square');
  assert.equal(one('zoom in', 'zoom').factor, 1.5);
  assert.equal(one('zoom in 2x', 'zoom').factor, 2);
  assert.equal(one('zoom in by 3 times', 'zoom').factor, 3);
  assert.equal(one('zoom in 150%', 'zoom').factor, 1.5);
  assert.deepEqual(kinds('zoom out'), []);
  const b = one('add a border', 'border');
  assert.deepEqual(b.color, [0, 0, 0]);
  assert.equal(b.thickness, null);
  assert.deepEqual(one('add a red border', 'border').color, [255, 0, 0]);
  assert.equal(one('add a thick border', 'border').strength, 2);
  const f = one('add a 20px gold frame', 'border');
  assert.deepEqual([f.color, f.thickness], [[255, 215, 0], 20]);
  assert.deepEqual(one('add a border in navy', 'border').color, [0, 0, 128]);
});

test('merge phrases and layouts', () => {
  assert.equal(one('merge them in one image', 'merge').layout, 'grid');
  assert.equal(one('combine the two images', 'merge').layout, 'grid');
  assert.equal(one('make a collage', 'merge').layout, 'grid');
  assert.equal(one('put them side by side', 'merge').layout, 'row');
  assert.equal(one('combine the images side by side', 'merge').layout, 'row');
  assert.equal(one('merge them, side by side', 'merge').layout, 'row');
  assert.equal(one('stack them vertically', 'merge').layout, 'column');
});

test('remove / erase / clean up → fill, and the background is not a fill', () => {
  for (const p of ['remove the person', 'erase the car', 'delete that', 'get rid of the text', 'clean up', 'clean up the scratches', 'remove it']) {
    assert.deepEqual(kinds(p), ['fill'], p);
  }
  assert.equal(one('remove the person on the left', 'fill').target, 'the person on the left');
  assert.equal(one('make the logo disappear', 'fill').target, 'the logo');
  assert.equal(one('erase', 'fill').target, null);
  assert.deepEqual(kinds('remove the background'), ['remove-background']);
});

test('combinations keep prompt order', () => {
  assert.deepEqual(kinds("make it black and white and add the text 'Hello' at the bottom"), ['grayscale', 'text']);
  assert.deepEqual(kinds("add the text 'Hello' at the bottom and make it black and white"), ['text', 'grayscale']);
  assert.deepEqual(kinds('please, make it brighter, and rotate left; then add "Hi" at the top.'), ['brightness', 'rotate', 'text']);
  assert.deepEqual(kinds('erase the car, then make it sepia and add a red border'), ['fill', 'sepia', 'border']);
  assert.deepEqual(kinds('blur slightly, increase contrast, tint it teal, flip horizontally, crop to square'), ['blur', 'contrast', 'tint', 'flip', 'crop-square']);
  assert.deepEqual(kinds('merge them side by side and make it black and white'), ['merge', 'grayscale']);
  // a direction before a caption stays with its own verb
  const rl = parseInstructions("rotate left, add 'x'");
  assert.deepEqual(rl.ops.map((o) => o.kind), ['rotate', 'text']);
  assert.equal((rl.ops[0] as { degrees: number }).degrees, -90);
  assert.deepEqual(kinds("write 'A' at the bottom, then write 'B' at the top"), ['text', 'text']);
  const p = parseInstructions('Please make it warmer and zoom in 2x, thanks!');
  assert.deepEqual(p.ops.map((o) => o.kind), ['temperature', 'zoom']);
  assert.deepEqual(p.unmatched, []);
});

test('unknown words are reported, filler is not', () => {
  const none = parseInstructions('make it look like a cat');
  assert.equal(none.understood, false);
  assert.deepEqual(none.ops, []);
  assert.deepEqual(none.unmatched, ['make it look like a cat']);
  const part = parseInstructions('make it look like a cat and blur it');
  assert.equal(part.understood, true);
  assert.deepEqual(part.ops.map((o) => o.kind), ['blur']);
  assert.deepEqual(part.unmatched, ['make it look like a cat']);
  assert.deepEqual(parseInstructions('add a dog at the top').unmatched, ['add a dog at the top']);
  assert.deepEqual(parseInstructions('Please, make the image sepia. Thanks!').unmatched, []);
  const empty = parseInstructions('   ');
  assert.deepEqual([empty.understood, empty.ops, empty.unmatched], [false, [], []]);
  // a quotation with no verb is meaningful text nobody used
  assert.deepEqual(parseInstructions("sepia 'hello'").unmatched, ["'hello'"]);
});

test('more of the documented phrasings', () => {
  const table: [string, string[]][] = [
    ['dim', ['brightness']], ['turn it left', ['rotate']], ['no color', ['grayscale']], ['reverse the colors', ['invert']],
    ['exposure up', ['brightness']], ['colorize in purple', ['recolor']], ['paint it gold', ['recolor']],
    ['with a white frame', ['border']], ['on a white backdrop', ['replace-background']], ['zoom in a lot', ['zoom']],
    ['put them in a grid', ['merge']], ['next to each other', ['merge']], ['cut out the subject', ['remove-background']],
    ['soft focus', ['blur']], ['tinted teal', ['tint']], ['a slight orange cast', ['tint']], ['close-up', ['zoom']],
    ['flip left to right', ['flip']], ['1:1', ['crop-square']], ['8-bit', ['pixelate']], ['antique', ['vintage']],
    ['golden hour', ['temperature']], ['icy', ['temperature']], ['washed out', ['saturation']], ['enhance the details', ['sharpen']],
    ['punchy', ['contrast']], ['flatter', ['contrast']], ['in sepia', ['sepia']], ['noir', ['grayscale']], ['b/w', ['grayscale']],
    ['retouch', ['fill']], ['inpaint', ['fill']], ['turn it upside down and tint it #f0a', ['rotate', 'tint']],
  ];
  for (const [prompt, expected] of table) {
    assert.deepEqual(kinds(prompt), expected, prompt);
    assert.deepEqual(parseInstructions(prompt).unmatched, [], prompt);
  }
  assert.equal(one('zoom in a lot', 'zoom').factor, 2);
  assert.equal(one('blur radius 4', 'blur').sigma, 4);
  assert.equal((parseInstructions('brighten by 1%').ops[0] as { amount: number }).amount, 0.01);
});

test('parser is case-insensitive and pure', () => {
  const a = parseInstructions('MAKE IT SEPIA AND ROTATE LEFT');
  const b = parseInstructions('make it sepia and rotate left');
  assert.deepEqual(a, b);
  assert.deepEqual(parseInstructions('make it sepia and rotate left'), b);
});
