/**
 * What a request may do and what it costs, for one key: the models it may
 * use, the most it can cost (held before any engine runs), and the charge for
 * what was delivered, after its group's price multiplier. The ledger keeps
 * the money; this module decides the amounts.
 */
import type { Config } from '../config/index.js';
import { forbidden, GatewayError, invalidValue } from '../errors.js';
import type { ApiKeyInfo, Ledger } from '../store/types.js';
import type { EditRequest, Size, Usage } from '../types.js';
import { applyMultiplier, formatUsd, parseMultiplier } from './money.js';
import { costOf, loadPrices, maxCostOf, priceFor, type PriceTable, type PricedDeployment } from './prices.js';
import { uniqueHex } from '../ids.js';

export interface Account {
  /** 'master' or the key's id */
  keyId: string;
  /** null for the master key */
  key: ApiKeyInfo | null;
}

/** A hold on a key's credit for one request; settle or release it exactly once. */
export interface Hold {
  keyId: string | null;
  reservationId: string | null;
  /** micro-USD held (after the multiplier) */
  amount: number;
}

export interface GroupPolicy {
  /** parts per million: 1,000,000 = ×1 */
  multiplierPpm: number;
  rpm: number | null;
  maxConcurrent: number | null;
}

/** `gpt-image-*` style patterns: `*` matches any run of characters. */
export function modelAllowed(patterns: string[] | null, model: string): boolean {
  if (patterns === null) return true;
  return patterns.some((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(model));
}

export class Billing {
  readonly prices: PriceTable;
  private readonly groups: Map<string, GroupPolicy>;

  constructor(
    config: Pick<Config, 'prices' | 'groups'>,
    private readonly ledger: Ledger,
  ) {
    this.prices = loadPrices(config.prices);
    this.groups = new Map(
      Object.entries(config.groups).map(([name, g]) => [
        name,
        { multiplierPpm: parseMultiplier(g.priceMultiplier ?? '1'), rpm: g.rpm ?? null, maxConcurrent: g.maxConcurrent ?? null },
      ]),
    );
  }

  /** a group's policy; 'default' exists even when the config does not name it */
  group(name: string): GroupPolicy | null {
    return this.groups.get(name) ?? (name === 'default' ? { multiplierPpm: 1_000_000, rpm: null, maxConcurrent: null } : null);
  }

  groupNames(): string[] {
    return [...new Set(['default', ...this.groups.keys()])];
  }

  /** the group a key may be put in: one the config names */
  checkGroup(name: string): void {
    if (!this.group(name)) {
      throw invalidValue('group', `Unknown group '${name}'. The groups are ${this.groupNames().map((g) => `'${g}'`).join(', ')}.`);
    }
  }

  /** the key's own limits, else its group's */
  limitsOf(account: Account): { rpm: number | null; maxConcurrent: number | null } {
    if (!account.key) return { rpm: null, maxConcurrent: null };
    const g = this.group(account.key.group);
    return { rpm: account.key.rpm ?? g?.rpm ?? null, maxConcurrent: account.key.maxConcurrent ?? g?.maxConcurrent ?? null };
  }

  private multiplier(account: Account): number {
    return account.key ? (this.group(account.key.group)?.multiplierPpm ?? 1_000_000) : 1_000_000;
  }

  /** 403 when the key may not use the model */
  checkModel(account: Account, model: string): void {
    if (account.key && !modelAllowed(account.key.models, model)) {
      throw forbidden('model_not_allowed', `This API key may not use the model '${model}'.`, 'model');
    }
  }

  /** what the request could cost at most on any of its deployments, after the multiplier */
  maxCost(account: Account, req: EditRequest, deployments: PricedDeployment[]): number {
    const bound = {
      model: req.model.id,
      prompt: req.prompt,
      images: req.images,
      inputFidelity: req.inputFidelity,
      n: req.n,
      size: req.size,
      quality: req.quality,
      partialImages: req.stream ? req.partialImages : 0,
    };
    const most = Math.max(0, ...deployments.map((d) => maxCostOf(priceFor(this.prices, req.model.id, d), bound)));
    return applyMultiplier(most, this.multiplier(account));
  }

  /** what delivered images cost, after the multiplier */
  cost(account: Account, model: string, deployment: PricedDeployment, delivered: { usage: Usage; images: number; size: Size }): number {
    return applyMultiplier(costOf(priceFor(this.prices, model, deployment), delivered), this.multiplier(account));
  }

  /**
   * Holds the most the request can cost on a budgeted key; 429
   * insufficient_quota when its balance cannot cover it. Unlimited keys and
   * the master key hold nothing.
   */
  async reserve(account: Account, requestId: string, amount: number, ttlMs: number, now: number): Promise<Hold> {
    if (!account.key?.budgeted) return { keyId: account.key?.id ?? null, reservationId: null, amount: 0 };
    const id = `res_${requestId}_${uniqueHex(4)}`;
    const ok = await this.ledger.reserve({ id, keyId: account.key.id, amount, requestId, expiresAt: now + ttlMs });
    if (!ok) {
      const balance = await this.ledger.balance(account.key.id);
      throw new GatewayError({
        status: 429,
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        message: `You exceeded your current quota: this request can cost up to $${formatUsd(amount)} and the key's balance is $${formatUsd(balance.available)}.`,
      });
    }
    return { keyId: account.key.id, reservationId: id, amount };
  }

  /** charges what was delivered (capped by the balance on budgeted keys); returns what was charged */
  async settle(hold: Hold, requestId: string, amount: number): Promise<number> {
    if (hold.keyId === null) return amount; // the master key: logged, never held
    if (hold.reservationId === null && amount === 0) return 0;
    return this.ledger.settle({ keyId: hold.keyId, reservationId: hold.reservationId, requestId, amount });
  }

  async release(hold: Hold, reason: string): Promise<void> {
    if (hold.reservationId) await this.ledger.release(hold.reservationId, reason);
  }
}
