/**
 * Money and prices, worked by hand: integer micro-USD, one rounding per
 * request, token prices for GPT image models and per-image prices for the
 * others, the most a request can cost, and group multipliers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMultiplier, formatUsd, parseMultiplier, parseUsd, tokensCost } from '../../src/billing/money.js';
import { costOf, loadPrices, maxCostOf, perImagePrice, priceFor } from '../../src/billing/prices.js';
import { modelAllowed } from '../../src/billing/accounts.js';

const table = loadPrices({
  'gpt-image-1': { tokens: { textInput: '5.00', imageInput: '10.00', imageOutput: '40.00' } },
  'gpt-image-1-mini': { tokens: { textInput: '2.00', imageInput: '2.50', imageOutput: '8.00' } },
  'dall-e-2': { perImage: { '256x256': '0.016', '512x512': '0.018', '1024x1024': '0.020' } },
  'flux-kontext-pro': { perImage: { default: '0.04' } },
  'bfl/flux-kontext-max': { perImage: { default: '0.08' } },
});

const usage = (text: number, image: number, output: number) => ({
  input_tokens: text + image,
  input_tokens_details: { text_tokens: text, image_tokens: image },
  output_tokens: output,
  total_tokens: text + image + output,
});
const square = { width: 1024, height: 1024 };

describe('money', () => {
  test('parse and format integer micro-USD', () => {
    assert.equal(parseUsd('0.04'), 40_000);
    assert.equal(parseUsd('40.00'), 40_000_000);
    assert.equal(parseUsd('0.000001'), 1);
    assert.equal(parseUsd('-0.5', { signed: true }), -500_000);
    assert.throws(() => parseUsd('-0.5'));
    assert.throws(() => parseUsd('0.0000001'));
    assert.throws(() => parseUsd('1e3'));
    assert.equal(formatUsd(20_000), '0.020000');
    assert.equal(formatUsd(209_990), '0.209990');
    assert.equal(formatUsd(-1_500_000), '-1.500000');
    assert.equal(formatUsd(0), '0.000000');
  });

  test('multipliers in parts per million, rounded half up', () => {
    assert.equal(parseMultiplier('0.8'), 800_000);
    assert.equal(applyMultiplier(209_990, 800_000), 167_992);
    assert.equal(applyMultiplier(5, 500_000), 3); // 2.5 → 3
    assert.equal(tokensCost([[1, 1]]), 0); // 1 token at $1/M = 0.000001 USD... below half a micro-USD
    assert.equal(tokensCost([[1, 500_000]]), 1);
  });
});

describe('prices', () => {
  test('gpt-image-1, 1024² high, one 1024² input, a 10-token prompt, high fidelity: $0.209990', () => {
    // input image: 1024² → shortest side 512 → 1 tile → 65 + 129 = 194; high fidelity (square) + 4160 = 4354
    // output: high 1024² = 4160
    // 10 × $5/M + 4354 × $10/M + 4160 × $40/M = 50 + 43,540 + 166,400 micro-USD
    const cost = costOf(table.get('gpt-image-1')!, { usage: usage(10, 4354, 4160), images: 1, size: square });
    assert.equal(cost, 209_990);
  });

  test('gpt-image-1-mini, 1024² low, one 1024² input, a 3-token prompt: $0.002667', () => {
    // 3 × $2/M + 194 × $2.50/M + 272 × $8/M = 6 + 485 + 2176
    assert.equal(costOf(table.get('gpt-image-1-mini')!, { usage: usage(3, 194, 272), images: 1, size: square }), 2_667);
  });

  test('per image: dall-e-2 512² $0.018; Kontext $0.04 each; a deployment\'s own price wins', () => {
    assert.equal(costOf(table.get('dall-e-2')!, { usage: usage(0, 0, 0), images: 1, size: { width: 512, height: 512 } }), 18_000);
    assert.equal(costOf(table.get('flux-kontext-pro')!, { usage: usage(0, 0, 0), images: 3, size: square }), 120_000);
    assert.equal(priceFor(table, 'flux-kontext-max', { name: 'bfl/flux-kontext-max', local: false, routed: true })?.perImage?.get('default'), 80_000);
    assert.equal(priceFor(table, 'gpt-image-1', { name: 'local', local: true, routed: false }), null, 'the built-in engine as the out-of-the-box default is free');
    assert.ok(priceFor(table, 'gpt-image-1', { name: 'local', local: true, routed: true }), 'a model the config routes to it pays its price');
    assert.equal(perImagePrice(table.get('dall-e-2')!.perImage!, { width: 1536, height: 1024 }), 20_000, 'an unlisted size: the dearest, never free');
  });

  test('a stream with 2 partial images: 200 more output tokens', () => {
    const plain = costOf(table.get('gpt-image-1')!, { usage: usage(10, 4354, 4160), images: 1, size: square });
    const streamed = costOf(table.get('gpt-image-1')!, { usage: usage(10, 4354, 4360), images: 1, size: square });
    assert.equal(streamed - plain, 8_000); // 200 × $40/M
  });

  test('the most a request can cost: n × the largest output its size and quality allow, its partials and its inputs', () => {
    const bound = { model: 'gpt-image-1', prompt: 'make it black and white and add a red border', images: [square], inputFidelity: 'high' as const, n: 2, partialImages: 2 };
    // auto quality and size: high, the dearest shape (portrait 6240) — 2 × (6240 + 200) = 12,880 output tokens
    assert.equal(maxCostOf(table.get('gpt-image-1')!, { ...bound, size: 'auto', quality: 'auto' }), tokensCost([[10, 5_000_000], [4354, 10_000_000], [12_880, 40_000_000]]));
    assert.equal(maxCostOf(table.get('gpt-image-1')!, { ...bound, size: square, quality: 'low', partialImages: 0 }), tokensCost([[10, 5_000_000], [4354, 10_000_000], [544, 40_000_000]]));
    assert.equal(maxCostOf(table.get('dall-e-2')!, { ...bound, size: { width: 256, height: 256 }, quality: 'auto' }), 32_000);
  });

  test('model patterns', () => {
    assert.equal(modelAllowed(null, 'anything'), true);
    assert.equal(modelAllowed(['gpt-image-*'], 'gpt-image-1-mini'), true);
    assert.equal(modelAllowed(['gpt-image-*'], 'dall-e-2'), false);
    assert.equal(modelAllowed(['flux-kontext-pro', 'dall-e-?'], 'dall-e-?'), true, '? is a literal');
    assert.equal(modelAllowed(['a.b'], 'axb'), false, '. is a literal');
  });
});
