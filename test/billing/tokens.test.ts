import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aspectClass,
  countUsage,
  highFidelitySurcharge,
  inputImageTokens,
  outputImageTokens,
  textTokens,
} from '../../src/billing/tokens.js';

test('text tokens use o200k and never throw on special-token text', () => {
  assert.equal(textTokens('make it black and white'), 5);
  assert.equal(textTokens(''), 0);
  // "<|endoftext|>" is plain text from a client: counted, not refused
  assert.equal(textTokens('hi <|endoftext|> x'), 9);
});

test('input image tokens: shortest side to 512, 65 + 129 per tile', () => {
  assert.equal(inputImageTokens(1024, 1024), 194); // 512x512: 1 tile (the figure OpenAI reports)
  assert.equal(inputImageTokens(1536, 1024), 323); // 768x512: 2 tiles
  assert.equal(inputImageTokens(1024, 1536), 323);
  assert.equal(inputImageTokens(4096, 1024), 65 + 129 * 4); // fit 2048x512, 4 tiles
  assert.equal(inputImageTokens(256, 256), 194); // never enlarged: still 1 tile
  assert.equal(inputImageTokens(600, 300), 65 + 129 * 2); // 600x300 stays: 2x1 tiles
  assert.equal(inputImageTokens(8000, 8000), 194); // 2048 then 512
});

test('aspect classes and the high-fidelity surcharge', () => {
  assert.equal(aspectClass(1024, 1024), 'square');
  assert.equal(aspectClass(1100, 1000), 'square');
  assert.equal(aspectClass(1536, 1024), 'landscape');
  assert.equal(aspectClass(1024, 1536), 'portrait');
  assert.equal(highFidelitySurcharge(1000, 1000), 4160);
  assert.equal(highFidelitySurcharge(1600, 900), 6240);
});

test('output tokens follow the quality x size table', () => {
  assert.equal(outputImageTokens('low', { width: 1024, height: 1024 }), 272);
  assert.equal(outputImageTokens('medium', { width: 1024, height: 1536 }), 1584);
  assert.equal(outputImageTokens('high', { width: 1536, height: 1024 }), 6208);
  assert.equal(outputImageTokens('high', { width: 2048, height: 2048 }), 4160 * 4);
});

test('a whole request: partial images add 100 each, n multiplies the output', () => {
  const u = countUsage({
    model: 'gpt-image-1',
    prompt: 'make it black and white',
    images: [{ width: 1536, height: 1024 }, { width: 1024, height: 1024 }],
    inputFidelity: 'high',
    quality: 'medium',
    size: { width: 1024, height: 1024 },
    outputCount: 2,
    partialImagesSent: 3,
  });
  // text 5; images 323 + 194 + 6240 (first image, landscape, high fidelity); output 2*1056 + 300
  assert.deepEqual(u, {
    input_tokens: 5 + 323 + 194 + 6240,
    input_tokens_details: { text_tokens: 5, image_tokens: 323 + 194 + 6240 },
    output_tokens: 2412,
    total_tokens: 5 + 323 + 194 + 6240 + 2412,
  });
  // gpt-image-1.5 preserves the first five images: both pay the surcharge
  const u15 = countUsage({ ...{ model: 'gpt-image-1.5', prompt: '', images: [{ width: 1024, height: 1024 }, { width: 1024, height: 1024 }] }, inputFidelity: 'high', quality: 'low', size: { width: 1024, height: 1024 }, outputCount: 1, partialImagesSent: 0 });
  assert.equal(u15.input_tokens_details.image_tokens, 2 * (194 + 4160));
});
