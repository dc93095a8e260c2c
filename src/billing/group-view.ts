/**
 * The config's groups as operators see them, for `imagegate groups list` and
 * GET /admin/groups alike: the multiplier as written ("0.8"), the limits a
 * group gives each of its keys by default.
 */
import type { Billing } from './accounts.js';
import { formatUsd } from './money.js';

export interface GroupView {
  name: string;
  priceMultiplier: string;
  rpm: number | null;
  maxConcurrent: number | null;
}

export function groupViews(billing: Billing): GroupView[] {
  return billing.groupNames().map((name) => {
    const p = billing.group(name)!;
    // parts per million read as a decimal, without trailing zeros: 800000 → "0.8"
    const priceMultiplier = formatUsd(p.multiplierPpm).replace(/0+$/, '').replace(/\.$/, '');
    return { name, priceMultiplier, rpm: p.rpm, maxConcurrent: p.maxConcurrent };
  });
}
