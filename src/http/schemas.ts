/**
 * Request bodies of the admin API (OPERATOR.md, "Admin API"), as zod
 * schemas: strict (an unknown field is a 400), the same ones the API
 * document is generated from.
 */
import { z } from 'zod';

const usd = z.string().regex(/^\d{1,9}(\.\d{1,6})?$/, 'a decimal string of US dollars such as "1.00"');
const signedUsd = z.string().regex(/^-?\d{1,9}(\.\d{1,6})?$/, 'a decimal string of US dollars such as "0.50" or "-0.50"');
const modelPatterns = z.array(z.string().min(1).max(200)).max(100);

const keySettings = {
  group: z.string().min(1).max(100).optional(),
  models: modelPatterns.nullable().optional(),
  rpm: z.number().int().min(1).max(10_000_000).nullable().optional(),
  maxConcurrent: z.number().int().min(1).max(1_000_000).nullable().optional(),
  /** unix seconds */
  expiresAt: z.number().int().min(0).max(253402300799).nullable().optional(),
};

export const createKeyBody = z.strictObject({
  name: z.string().min(1).max(200),
  ...keySettings,
  creditUsd: usd.optional(),
});

export const patchKeyBody = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  ...keySettings,
  enabled: z.boolean().optional(),
});

export const creditBody = z.strictObject({
  amountUsd: signedUsd,
  reason: z.string().min(1).max(500),
});
