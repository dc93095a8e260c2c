/**
 * Billing through the whole gateway with the official openai client: what
 * each answer costs (x-imagegate-cost-usd, the request log, the ledger),
 * worked by hand; credit held and refused; models a key may not use; rate
 * and concurrency limits; the admin API for keys and credit; what a key sees
 * of itself (/v1/account and the dashboard billing routes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import OpenAI, { toFile } from 'openai';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { gateway, pictures, type Pictures, type TestApp } from '../providers/helpers.js';

let pics: Pictures;
let up: OpenAiEmulator;
let t: TestApp;

before(async () => {
  pics = await pictures();
  up = await startOpenAiEmulator({ apiKey: 'sk-up-0123456789abcdef' });
  t = await gateway(
    {
      providers: {
        up: { type: 'openai', baseUrl: up.baseUrl, apiKey: 'env:UP_KEY' },
        compat: { type: 'openai-compatible', baseUrl: up.baseUrl, apiKey: 'env:UP_KEY', maxRetries: 0 },
      },
      models: {
        'gpt-image-1': { deployments: [{ provider: 'local' }] },
        'gpt-image-1-mini': { deployments: [{ provider: 'local' }] },
        'dall-e-2': { deployments: [{ provider: 'up', model: 'dall-e-2' }] },
        'flux-kontext-pro': { deployments: [{ provider: 'compat', model: 'gpt-image-1' }] },
      },
      prices: {
        'gpt-image-1': { tokens: { textInput: '5.00', imageInput: '10.00', imageOutput: '40.00' } },
        'gpt-image-1-mini': { tokens: { textInput: '2.00', imageInput: '2.50', imageOutput: '8.00' } },
        'dall-e-2': { perImage: { '256x256': '0.016', '512x512': '0.018', '1024x1024': '0.020' } },
        'flux-kontext-pro': { perImage: { default: '0.04' } },
      },
      groups: { partners: { priceMultiplier: '0.8', rpm: 600, maxConcurrent: 20 } },
    },
    { env: { UP_KEY: 'sk-up-0123456789abcdef' } },
  );
});

after(async () => {
  await t.close();
  await up.close();
  pics.cleanup();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${t.url}${path}`, { ...init, headers: { authorization: `Bearer ${t.masterKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function newKey(body: Record<string, unknown>): Promise<{ id: string; key: string; [k: string]: unknown }> {
  const res = await admin('/admin/keys', { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; key: string };
}

const sdk = (key: string) => new OpenAI({ apiKey: key, baseURL: `${t.url}/v1`, maxRetries: 0 });

/** the 10-token prompt of the hand-worked figure */
const PROMPT10 = 'make it black and white and add a red border';

async function costOf(raw: Response): Promise<string | null> {
  return raw.headers.get('x-imagegate-cost-usd');
}

describe('what an edit costs', () => {
  test('gpt-image-1, 1024² high, one 1024² input, 10-token prompt, high fidelity: $0.209990 charged to the ledger', async () => {
    const k = await newKey({ name: 'figures', creditUsd: '1.00' });
    const raw = await sdk(k.key).images
      .edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: PROMPT10, size: '1024x1024', quality: 'high', input_fidelity: 'high' })
      .asResponse();
    assert.equal(raw.status, 200);
    const body = (await raw.json()) as { usage: { input_tokens_details: { text_tokens: number; image_tokens: number }; output_tokens: number } };
    // text 10; image 65 + 129 (one 512 tile) + 4160 (high fidelity, square); output 4160 (high, 1024²)
    assert.deepEqual([body.usage.input_tokens_details.text_tokens, body.usage.input_tokens_details.image_tokens, body.usage.output_tokens], [10, 4354, 4160]);
    // 10 × 5 + 4354 × 10 + 4160 × 40 = 209,990 micro-USD
    assert.equal(await costOf(raw), '0.209990');
    const e = await t.app.stores.requestLog.get(raw.headers.get('x-request-id')!);
    assert.equal(e?.costMicros, 209_990);
    const balance = await t.app.stores.ledger.balance(k.id);
    assert.deepEqual(balance, { granted: 1_000_000, charged: 209_990, reserved: 0, available: 790_010 });
    const info = (await (await admin(`/admin/keys/${k.id}`)).json()) as any;
    assert.equal(info.balanceUsd, '0.790010');
    assert.equal(info.reservedUsd, '0.000000');
  });

  test('gpt-image-1-mini, 1024² low, one 1024² input, 3-token prompt: $0.002667', async () => {
    const raw = await sdk(t.masterKey).images.edit({ model: 'gpt-image-1-mini', image: fs.createReadStream(pics.square), prompt: 'make it warmer', size: '1024x1024', quality: 'low' }).asResponse();
    // 3 × 2 + 194 × 2.5 + 272 × 8 = 6 + 485 + 2176
    assert.equal(await costOf(raw), '0.002667');
  });

  test('dall-e-2 512²: $0.018 per image', async () => {
    const raw = await sdk(t.masterKey).images.edit({ model: 'dall-e-2', image: fs.createReadStream(pics.small), prompt: 'a hat', size: '512x512', n: 2 }).asResponse();
    assert.equal(await costOf(raw), '0.036000');
  });

  test('a Kontext edit: $0.04 per image', async () => {
    const raw = await sdk(t.masterKey).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'put a hat on it' }).asResponse();
    assert.equal(await costOf(raw), '0.040000');
  });

  test('a stream with 2 partial images: 200 more output tokens, $0.008 more, said in a trailer', async () => {
    const res = await fetch(`${t.url}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.masterKey}` },
      body: (() => {
        const fd = new FormData();
        fd.append('model', 'gpt-image-1');
        fd.append('prompt', PROMPT10);
        fd.append('size', '1024x1024');
        fd.append('quality', 'high');
        fd.append('input_fidelity', 'high');
        fd.append('stream', 'true');
        fd.append('partial_images', '2');
        fd.append('image', new Blob([fs.readFileSync(pics.square)], { type: 'image/png' }), 'a.png');
        return fd;
      })(),
    });
    const text = await res.text();
    const events = text.split('\n\n').filter((b) => b.includes('data: ')).map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)));
    assert.deepEqual(events.map((e) => e.type), ['image_edit.partial_image', 'image_edit.partial_image', 'image_edit.completed']);
    assert.equal(events[2].usage.output_tokens, 4360);
    const e = await t.app.stores.requestLog.get(res.headers.get('x-request-id')!);
    assert.equal(e?.costMicros, 217_990);
  });

  test('a group multiplier of 0.8: $0.167992 for the first figure', async () => {
    const k = await newKey({ name: 'partner', group: 'partners', creditUsd: '1.00' });
    const raw = await sdk(k.key).images
      .edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: PROMPT10, size: '1024x1024', quality: 'high', input_fidelity: 'high' })
      .asResponse();
    assert.equal(await costOf(raw), '0.167992');
    assert.equal((await t.app.stores.ledger.balance(k.id)).charged, 167_992);
  });

  test('the built-in engine answering an unconfigured model is free', async () => {
    const raw = await sdk(t.masterKey).images.edit({ model: 'gpt-image-1.5', image: fs.createReadStream(pics.square), prompt: 'make it warmer' }).asResponse();
    assert.equal(await costOf(raw), '0.000000');
  });
});

describe('credit and limits', () => {
  test('a balance that cannot cover the most a request can cost: 429 insufficient_quota, nothing charged', async () => {
    const k = await newKey({ name: 'poor', creditUsd: '0.10' });
    await assert.rejects(sdk(k.key).images.edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: 'make it warmer' }), (e: { status: number; code: string; type: string }) => {
      assert.equal(e.status, 429);
      assert.equal(e.code, 'insufficient_quota');
      assert.equal(e.type, 'insufficient_quota');
      return true;
    });
    assert.deepEqual(await t.app.stores.ledger.balance(k.id), { granted: 100_000, charged: 0, reserved: 0, available: 100_000 });
  });

  test('a model the key may not use: 403 model_not_allowed', async () => {
    const k = await newKey({ name: 'only-dalle', models: ['dall-e-*'] });
    await assert.rejects(sdk(k.key).images.edit({ model: 'gpt-image-1', image: fs.createReadStream(pics.square), prompt: 'x' }), (e: { status: number; code: string; param: string }) => {
      assert.deepEqual([e.status, e.code, e.param], [403, 'model_not_allowed', 'model']);
      return true;
    });
  });

  test('requests per minute: the third of 2/min is 429 rate_limit_exceeded with the reset headers', async () => {
    const k = await newKey({ name: 'slow', rpm: 2 });
    const send = () => fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } }).then(() =>
      fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) }),
    );
    assert.equal((await send()).status, 400); // counted, refused later for the missing image
    assert.equal((await send()).status, 400);
    const third = await send();
    assert.equal(third.status, 429);
    const body = (await third.json()) as { error: { code: string; type: string } };
    assert.deepEqual([body.error.type, body.error.code], ['requests', 'rate_limit_exceeded']);
    assert.equal(third.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(third.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(third.headers.get('x-ratelimit-reset-requests')!, /^\d+s$/);
    assert.ok(Number(third.headers.get('retry-after')) >= 1);
  });

  test('requests at once: a second while the first runs is 429 concurrency_limit_exceeded, Retry-After: 1', async () => {
    const k = await newKey({ name: 'one-at-a-time', maxConcurrent: 1 });
    up.fault({ kind: 'delay', ms: 1500 });
    const first = sdk(k.key).images.edit({ model: 'dall-e-2', image: fs.createReadStream(pics.small), prompt: 'x' });
    await new Promise((r) => setTimeout(r, 300));
    const second = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) });
    assert.equal(second.status, 429);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'concurrency_limit_exceeded');
    assert.equal(second.headers.get('retry-after'), '1');
    await first;
    // the slot is free again
    const third = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) });
    assert.equal(third.status, 400);
  });

  test('disabled and expired keys are refused', async () => {
    const k = await newKey({ name: 'off' });
    await admin(`/admin/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ enabled: false }) });
    const off = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
    assert.equal(off.status, 401);
    assert.equal(((await off.json()) as { error: { code: string } }).error.code, 'api_key_disabled');
    const old = await newKey({ name: 'old', expiresAt: Math.floor(Date.now() / 1000) - 60 });
    const gone = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${old.key}` } });
    assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'api_key_expired');
  });
});

describe('the admin API for keys and credit', () => {
  test('create: the key once, the flat object; list and get never show it', async () => {
    const k = await newKey({ name: 'full', group: 'partners', models: ['gpt-image-*'], rpm: 30, maxConcurrent: 3, expiresAt: 4102444800, creditUsd: '2.50' });
    assert.match(k.key, /^sk-ig-/);
    assert.deepEqual(
      { ...k, key: undefined, id: undefined, prefix: undefined, createdAt: undefined },
      { key: undefined, id: undefined, prefix: undefined, createdAt: undefined, name: 'full', group: 'partners', models: ['gpt-image-*'], rpm: 30, maxConcurrent: 3, expiresAt: 4102444800, enabled: true, revoked: false, balanceUsd: '2.500000', reservedUsd: '0.000000', spentUsd: '0.000000', lastUsedAt: null },
    );
    const listed = await (await admin('/admin/keys')).json();
    assert.ok(!JSON.stringify(listed).includes(k.key));
  });

  test('credits: grants and take-backs with a reason; never below zero; PATCH does not set credit', async () => {
    const k = await newKey({ name: 'credit', creditUsd: '1.00' });
    const grant = await admin(`/admin/keys/${k.id}/credits`, { method: 'POST', body: JSON.stringify({ amountUsd: '0.50', reason: 'top-up' }) });
    assert.deepEqual(await grant.json(), { balanceUsd: '1.500000' });
    const back = await admin(`/admin/keys/${k.id}/credits`, { method: 'POST', body: JSON.stringify({ amountUsd: '-2.00', reason: 'oops' }) });
    assert.equal(back.status, 400);
    assert.equal(((await back.json()) as { error: { param: string } }).error.param, 'amountUsd');
    const entries = await t.app.stores.ledger.entries(k.id);
    assert.deepEqual(entries.map((e) => [e.kind, e.amount, e.reason]).reverse(), [['grant', 1_000_000, 'initial credit'], ['grant', 500_000, 'top-up']]);
    const patch = await admin(`/admin/keys/${k.id}`, { method: 'PATCH', body: JSON.stringify({ creditUsd: '9.00' }) });
    assert.equal(patch.status, 400);
  });

  test('bad bodies name the field; an unknown group is refused', async () => {
    const cases: Array<[unknown, string, string]> = [
      [{}, 'missing_required_parameter', 'name'],
      [{ name: 'x', rpm: 'fast' }, 'invalid_type', 'rpm'],
      [{ name: 'x', creditUsd: 1 }, 'invalid_type', 'creditUsd'],
      [{ name: 'x', creditUsd: '1.0000001' }, 'invalid_value', 'creditUsd'],
      [{ name: 'x', colour: 'red' }, 'unknown_parameter', 'colour'],
      [{ name: 'x', group: 'vip' }, 'invalid_value', 'group'],
    ];
    for (const [body, code, param] of cases) {
      const res = await admin('/admin/keys', { method: 'POST', body: JSON.stringify(body) });
      const err = ((await res.json()) as { error: { code: string; param: string } }).error;
      assert.deepEqual([res.status, err.code, err.param], [400, code, param], JSON.stringify(body));
    }
  });
});

describe('what a key sees of itself', () => {
  test('/v1/account, and the dashboard billing routes front-ends read', async () => {
    const k = await newKey({ name: 'me', group: 'partners', creditUsd: '1.00', rpm: 50 });
    await sdk(k.key).images.edit({ model: 'flux-kontext-pro', image: fs.createReadStream(pics.square), prompt: 'x' });
    const account = await (await fetch(`${t.url}/v1/account`, { headers: { authorization: `Bearer ${k.key}` } })).json();
    // 0.04 × 0.8 = 0.032
    assert.deepEqual(account, { name: 'me', group: 'partners', balanceUsd: '0.968000', rpm: 50, maxConcurrent: 20, usage: { month: { requests: 1, costUsd: '0.032000' } } });
    const sub = (await (await fetch(`${t.url}/v1/dashboard/billing/subscription`, { headers: { authorization: `Bearer ${k.key}` } })).json()) as any;
    assert.equal(sub.object, 'billing_subscription');
    assert.equal(sub.hard_limit_usd, 1);
    const usage = (await (await fetch(`${t.url}/v1/dashboard/billing/usage?start_date=2026-01-01&end_date=2026-12-31`, { headers: { authorization: `Bearer ${k.key}` } })).json()) as any;
    assert.deepEqual(usage, { object: 'list', total_usage: 3.2 });
    // what front-ends show: limit − usage/100 = the balance
    assert.equal(sub.hard_limit_usd - usage.total_usage / 100, 0.968);
  });
});
