/**
 * Money is integer micro-USD (1 USD = 1,000,000) end to end: parsed from the
 * config's and the admin API's decimal strings, summed and multiplied as
 * integers, printed back with six decimals. Never a float.
 */

export const MICROS_PER_USD = 1_000_000;

/** "0.04" → 40000; "-0.5" → -500000 (signed only when allowed). Throws on anything else. */
export function parseUsd(text: string, options: { signed?: boolean } = {}): number {
  const m = /^(-)?(\d{1,9})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m || (m[1] && !options.signed)) throw new Error(`not a USD amount: ${JSON.stringify(text)}`);
  const micros = Number(m[2]) * MICROS_PER_USD + Number((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -micros : micros;
}

/** 20000 → "0.020000" */
export function formatUsd(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / MICROS_PER_USD)}.${String(abs % MICROS_PER_USD).padStart(6, '0')}`;
}

/** A multiplier ("0.8") in parts per million (800000), so applying it stays integer. */
export function parseMultiplier(text: string): number {
  return parseUsd(text);
}

/** amount × multiplier, rounded half up to the micro-USD. */
export function applyMultiplier(micros: number, ppm: number): number {
  return Math.floor((micros * ppm + MICROS_PER_USD / 2) / MICROS_PER_USD);
}

/** tokens × (micro-USD per 1M tokens) summed, then divided once and rounded half up: one rounding per request. */
export function tokensCost(parts: Array<[tokens: number, microsPerMillion: number]>): number {
  let scaled = 0;
  for (const [tokens, price] of parts) scaled += tokens * price;
  return Math.floor((scaled + 500_000) / 1_000_000);
}
