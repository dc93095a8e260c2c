/**
 * The `prices` table of the config, in micro-USD: token prices for GPT image
 * models (per 1M tokens: text in, image in, image out) and per-image prices
 * by size for the others. An entry's name is a public model (`gpt-image-1`),
 * a deployment (`openai-main/gpt-image-1`) or `local`. A request served by
 * an upstream pays its deployment's price, else its public model's. The
 * built-in engine is free unless priced: by a `local` entry, or by the
 * model's price when the config routes that model (so out of the box, with
 * no `models`, nothing costs anything). Pure.
 */
import type { Config } from '../config/index.js';
import type { Quality, Size, Usage } from '../types.js';
import { countUsage, outputImageTokens, PARTIAL_IMAGE_TOKENS } from './tokens.js';
import { parseUsd, tokensCost } from './money.js';

export interface TokenPrices {
  /** micro-USD per 1M tokens */
  textInput: number;
  imageInput: number;
  imageOutput: number;
}

export interface ModelPrice {
  tokens: TokenPrices | null;
  /** 'WxH' or 'default' → micro-USD per image */
  perImage: Map<string, number> | null;
}

export type PriceTable = Map<string, ModelPrice>;

export function loadPrices(prices: Config['prices']): PriceTable {
  const table: PriceTable = new Map();
  for (const [name, p] of Object.entries(prices)) {
    table.set(name, {
      tokens: p.tokens
        ? {
            textInput: parseUsd(p.tokens.textInput ?? '0'),
            imageInput: parseUsd(p.tokens.imageInput ?? '0'),
            imageOutput: parseUsd(p.tokens.imageOutput ?? '0'),
          }
        : null,
      perImage: p.perImage ? new Map(Object.entries(p.perImage).map(([k, v]) => [k, parseUsd(v)])) : null,
    });
  }
  return table;
}

export interface PricedDeployment {
  name: string;
  /** the built-in engine */
  local: boolean;
  /** the config's `models` lists the public model (not the out-of-the-box default route) */
  routed: boolean;
}

/** The price a deployment charges for a public model; null: free. */
export function priceFor(table: PriceTable, publicModel: string, deployment: PricedDeployment): ModelPrice | null {
  if (deployment.local) return table.get('local') ?? (deployment.routed ? table.get(publicModel) : undefined) ?? null;
  return table.get(deployment.name) ?? table.get(publicModel) ?? null;
}

/** Per-image price of a size: the exact size, else 'default', else the dearest listed (never free by accident). */
export function perImagePrice(prices: Map<string, number>, size: Size | 'auto'): number {
  if (size !== 'auto') {
    const exact = prices.get(`${size.width}x${size.height}`);
    if (exact !== undefined) return exact;
  }
  return prices.get('default') ?? Math.max(0, ...prices.values());
}

/**
 * What a delivered answer costs: token prices on its usage (text in, image in,
 * image out; partial images are output tokens), or per image delivered.
 */
export function costOf(price: ModelPrice | null, delivered: { usage: Usage; images: number; size: Size }): number {
  if (!price) return 0;
  if (price.tokens) {
    const u = delivered.usage;
    return tokensCost([
      [u.input_tokens_details.text_tokens, price.tokens.textInput],
      [u.input_tokens_details.image_tokens, price.tokens.imageInput],
      [u.output_tokens, price.tokens.imageOutput],
    ]);
  }
  if (price.perImage) return delivered.images * perImagePrice(price.perImage, delivered.size);
  return 0;
}

const LARGEST_GPT_SIZES: Size[] = [
  { width: 1024, height: 1536 },
  { width: 1536, height: 1024 },
  { width: 1024, height: 1024 },
];

export interface CostBound {
  model: string;
  prompt: string;
  images: Array<{ width: number; height: number }>;
  inputFidelity: 'low' | 'high' | null;
  n: number;
  size: Size | 'auto';
  quality: 'auto' | Quality;
  partialImages: number;
}

/**
 * The most a request can cost, reserved before any engine runs: n images of
 * the largest output its size and quality allow ('auto' counts as high and
 * the dearest shape), every partial image, and its input tokens as counted.
 * An upstream that reports more than this is still charged what it reported.
 */
export function maxCostOf(price: ModelPrice | null, r: CostBound): number {
  if (!price) return 0;
  if (price.tokens) {
    const quality = r.quality === 'auto' ? 'high' : r.quality;
    const sizes = r.size === 'auto' ? LARGEST_GPT_SIZES : [r.size];
    const perImage = Math.max(...sizes.map((s) => outputImageTokens(quality, s)));
    const input = countUsage({ model: r.model, prompt: r.prompt, images: r.images, inputFidelity: r.inputFidelity, quality, size: sizes[0], outputCount: 0, partialImagesSent: 0 });
    const output = r.n * (perImage + PARTIAL_IMAGE_TOKENS * r.partialImages);
    return costOf(price, { usage: { ...input, output_tokens: output, total_tokens: input.input_tokens + output }, images: r.n, size: sizes[0] });
  }
  if (price.perImage) return r.n * perImagePrice(price.perImage, r.size);
  return 0;
}
