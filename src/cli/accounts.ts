/**
 * `imagegate keys …`, `imagegate groups list` and `imagegate usage`: the
 * admin API's key, credit and usage operations on the command line, working
 * on the same database with the same checks (the admin API's schemas).
 */
import { Billing } from '../billing/accounts.js';
import { groupViews } from '../billing/group-view.js';
import { keyView, type KeyView } from '../billing/key-view.js';
import { formatUsd, parseUsd } from '../billing/money.js';
import type { Config } from '../config/index.js';
import { isGatewayError } from '../errors.js';
import { parseBody } from '../http/body.js';
import { createKeyBody, creditBody, patchKeyBody } from '../http/schemas.js';
import { openStores, type OpenedStores } from '../store/index.js';
import { table } from './config-check.js';

type Out = (line: string) => void;

export const ACCOUNTS_HELP = `  imagegate keys create --name N [--group G] [--models 'gpt-image-*,dall-e-2'] [--rpm N]
                        [--max-concurrent N] [--expires 2027-01-01|UNIX] [--credit USD]
                                    create a virtual API key (printed once)
  imagegate keys list [--format table|json|csv]
                                    keys with their group, limits and balance (never their secrets)
  imagegate keys show KEY_ID        one key, and its last ledger entries
  imagegate keys update KEY_ID [--name N] [--group G] [--models …|all] [--rpm N|none]
                        [--max-concurrent N|none] [--expires …|never] [--enable|--disable]
  imagegate keys credit KEY_ID AMOUNT_USD --reason R
                                    grant credit (negative to take it back)
  imagegate keys revoke KEY_ID      revoke a key
  imagegate groups list             the config's groups: price multiplier and default limits
  imagegate usage [--by key,model,day] [--since 2026-12-01] [--until 2027-01-01] [--key KEY_ID]
                  [--format table|json|csv]
                                    served requests, images, tokens and spend`;

export class UsageError extends Error {}

function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
      return v;
    }
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

const has = (args: string[], name: string) => args.includes(name);

function int(name: string, v: string | undefined, none = false): number | null | undefined {
  if (v === undefined) return undefined;
  if (none && v === 'none') return null;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a whole number${none ? " or 'none'" : ''}`);
  return Number(v);
}

/** a date (YYYY-MM-DD, ISO) or unix seconds, as unix seconds */
function when(name: string, v: string | undefined, never = false): number | null | undefined {
  if (v === undefined) return undefined;
  if (never && v === 'never') return null;
  if (/^\d{9,12}$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`${name} must be a date (2027-01-01), an ISO time or unix seconds${never ? ", or 'never'" : ''}`);
  return Math.floor(ms / 1000);
}

function models(v: string | undefined, all = false): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (all && v === 'all') return null;
  return v.split(',').map((m) => m.trim()).filter(Boolean);
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** rows in the format asked: an aligned table, JSON lines' array, or CSV with a header */
export function printRows(out: Out, format: string, columns: string[], rows: Array<Record<string, unknown>>): void {
  if (format === 'json') out(JSON.stringify(rows, null, 2));
  else if (format === 'csv') {
    out(columns.join(','));
    for (const r of rows) out(columns.map((c) => csvCell(r[c])).join(','));
  } else if (format === 'table') {
    if (rows.length === 0) out('(none)');
    else for (const line of table(columns, rows.map((r) => columns.map((c) => csvCell(r[c]) || '-')))) out(line);
  } else throw new UsageError(`--format must be table, json or csv`);
}

const KEY_COLUMNS: Array<keyof KeyView> = ['id', 'name', 'group', 'models', 'rpm', 'maxConcurrent', 'expiresAt', 'enabled', 'revoked', 'balanceUsd', 'reservedUsd', 'spentUsd', 'createdAt'];

async function keys(sub: string | undefined, args: string[], stores: OpenedStores, billing: Billing, out: Out): Promise<number> {
  const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--') && !args[i - 1].includes('=') && !['--enable', '--disable'].includes(args[i - 1])));
  const existing = async (id: string | undefined) => {
    if (!id) throw new UsageError('a KEY_ID is needed');
    const k = await stores.keys.get(id);
    if (!k) throw new UsageError(`no key with id ${id}`);
    return k;
  };
  switch (sub) {
    case 'create': {
      const body = parseBody(createKeyBody, {
        name: flag(args, '--name'),
        group: flag(args, '--group'),
        models: models(flag(args, '--models')),
        rpm: int('--rpm', flag(args, '--rpm')),
        maxConcurrent: int('--max-concurrent', flag(args, '--max-concurrent')),
        expiresAt: when('--expires', flag(args, '--expires')),
        creditUsd: flag(args, '--credit'),
      });
      if (body.group !== undefined) billing.checkGroup(body.group);
      const k = await stores.keys.create({
        ...body,
        expiresAt: body.expiresAt === undefined || body.expiresAt === null ? body.expiresAt : body.expiresAt * 1000,
        creditMicros: body.creditUsd === undefined ? undefined : parseUsd(body.creditUsd),
      });
      out(`created key ${k.id} (${k.name}, group ${k.group}${k.budgeted ? `, credit $${body.creditUsd}` : ', no credit limit'})`);
      out(`  ${k.key}`);
      out('store it now: it is not shown again.');
      return 0;
    }
    case 'list': {
      const views = await Promise.all((await stores.keys.list()).map((k) => keyView(stores.ledger, k)));
      printRows(out, flag(args, '--format') ?? 'table', KEY_COLUMNS, views as unknown as Array<Record<string, unknown>>);
      return 0;
    }
    case 'show': {
      const k = await existing(positional[0]);
      out(JSON.stringify(await keyView(stores.ledger, k), null, 2));
      const entries = await stores.ledger.entries(k.id, 20);
      if (entries.length > 0) {
        out('');
        printRows(out, 'table', ['createdAt', 'kind', 'amountUsd', 'requestId', 'reason'], entries.map((e) => ({ ...e, createdAt: new Date(e.createdAt).toISOString(), amountUsd: formatUsd(e.amount) })));
      }
      return 0;
    }
    case 'update': {
      const k = await existing(positional[0]);
      if (has(args, '--enable') && has(args, '--disable')) throw new UsageError('--enable or --disable, not both');
      const body = parseBody(patchKeyBody, {
        name: flag(args, '--name'),
        group: flag(args, '--group'),
        models: models(flag(args, '--models'), true),
        rpm: int('--rpm', flag(args, '--rpm'), true),
        maxConcurrent: int('--max-concurrent', flag(args, '--max-concurrent'), true),
        expiresAt: when('--expires', flag(args, '--expires'), true),
        enabled: has(args, '--enable') ? true : has(args, '--disable') ? false : undefined,
      });
      if (body.group !== undefined) billing.checkGroup(body.group);
      const updated = await stores.keys.update(k.id, { ...body, expiresAt: body.expiresAt === undefined || body.expiresAt === null ? body.expiresAt : body.expiresAt * 1000 });
      out(JSON.stringify(await keyView(stores.ledger, updated!), null, 2));
      return 0;
    }
    case 'credit': {
      const k = await existing(positional[0]);
      const body = parseBody(creditBody, { amountUsd: positional[1], reason: flag(args, '--reason') });
      const balance = await stores.ledger.grant(k.id, parseUsd(body.amountUsd, { signed: true }), body.reason);
      if (!balance) {
        out(`cannot take back $${body.amountUsd.replace(/^-/, '')}: the balance is $${formatUsd((await stores.ledger.balance(k.id)).available)}`);
        return 1;
      }
      out(`${k.id}: balance $${formatUsd(balance.available)}`);
      return 0;
    }
    case 'revoke': {
      const k = await existing(positional[0]);
      out((await stores.keys.revoke(k.id)) ? `revoked ${k.id}` : `${k.id} was already revoked`);
      return 0;
    }
    default:
      throw new UsageError('usage:\n' + ACCOUNTS_HELP);
  }
}

const DAY = 86_400_000;

async function usage(args: string[], stores: OpenedStores, out: Out): Promise<number> {
  const by = (flag(args, '--by') ?? 'key,model,day').split(',').map((s) => s.trim());
  for (const b of by) if (!['key', 'model', 'day'].includes(b)) throw new UsageError(`--by takes key, model and day, not '${b}'`);
  const since = when('--since', flag(args, '--since'));
  const until = when('--until', flag(args, '--until'));
  const rows = await stores.requestLog.usage({
    since: since == null ? undefined : since * 1000,
    until: until == null ? undefined : until * 1000,
    keyId: flag(args, '--key'),
  });
  // grouped by the columns asked, summed over the others
  const groups = new Map<string, Record<string, unknown> & { requests: number; images: number; tokens: number; micros: number }>();
  for (const r of rows) {
    const head: Record<string, unknown> = {};
    if (by.includes('key')) head.key = r.keyId;
    if (by.includes('model')) head.model = r.model;
    if (by.includes('day')) head.day = r.day;
    const id = JSON.stringify(head);
    const g = groups.get(id) ?? { ...head, requests: 0, images: 0, tokens: 0, micros: 0 };
    g.requests += r.requests;
    g.images += r.images;
    g.tokens += r.totalTokens;
    g.micros += r.costMicros;
    groups.set(id, g);
  }
  const list = [...groups.values()].map(({ micros, ...g }) => ({ ...g, costUsd: formatUsd(micros) }));
  const total = list.reduce((n, g) => n + parseUsd(g.costUsd), 0);
  printRows(out, flag(args, '--format') ?? 'table', [...by, 'requests', 'images', 'tokens', 'costUsd'], list);
  if ((flag(args, '--format') ?? 'table') === 'table' && list.length > 0) out(`total: $${formatUsd(total)}${since ? ` since ${new Date(since * 1000).toISOString().slice(0, 10)}` : ''}${until ? ` until ${new Date(until * 1000 - DAY).toISOString().slice(0, 10)}` : ''}`);
  return 0;
}

/** `keys …`, `groups list` and `usage`; returns the exit code */
function groups(sub: string | undefined, billing: Billing, out: Out): number {
  if (sub !== 'list') throw new UsageError('usage: imagegate groups list');
  printRows(out, 'table', ['group', 'priceMultiplier', 'rpm', 'maxConcurrent'], groupViews(billing).map(({ name, ...g }) => ({ group: name, ...g })));
  return 0;
}

export async function accountsCommand(cmd: string, sub: string | undefined, args: string[], config: Config, out: Out): Promise<number> {
  const stores = await openStores({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const billing = new Billing(config, stores.ledger);
    if (cmd === 'groups') return groups(sub, billing, out);
    return cmd === 'usage' ? await usage(sub ? [sub, ...args] : args, stores, out) : await keys(sub, args, stores, billing, out);
  } catch (e) {
    if (e instanceof UsageError) {
      out(e.message);
      return 2;
    }
    if (isGatewayError(e)) {
      // the admin API's own refusal, in the terminal's words
      out(`${e.param ? `${e.param}: ` : ''}${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    await stores.close();
  }
}
