/**
 * The web console in a real headless Chromium (Debian's chromium driven by
 * playwright-core), against a real gateway: signing in, every page, creating
 * a key (read once, copied), granting credit and revoking, a virtual key's
 * narrower view, and a playground edit with a painted mask on the built-in
 * engine, asserted by what the user sees and by the pixels that came back.
 * Skipped, saying why, where /usr/bin/chromium is absent (.ci/run installs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startOpenAiEmulator, type OpenAiEmulator } from '../emulators/openai.js';
import { gateway, type TestApp } from '../providers/helpers.js';
import { chromiumMissing, launchChromium } from './browser.js';

// .ci/run sets IMAGEGATE_REQUIRE_CHROMIUM once it installed Chromium: there a missing browser fails instead
const skip = process.env.IMAGEGATE_REQUIRE_CHROMIUM ? false : chromiumMissing();
const UPSTREAM_KEY = 'sk-upstream-console-0123456789SECRET';

/** A 320×200 picture in saturated red and blue halves: a grayscale edit shows exactly where it applied. */
function picture(): Promise<Buffer> {
  const w = 320;
  const h = 200;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const red = x < w / 2;
      px[i] = red ? 210 : 30;
      px[i + 1] = 40;
      px[i + 2] = red ? 40 : 200;
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

describe('web console in Chromium', { skip }, () => {
  let emu: OpenAiEmulator;
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  let created: { id: string; key: string } | null = null;

  before(async () => {
    // the tests run the console as built from the sources now, not an older build
    const build = spawnSync(process.execPath, [path.resolve('scripts/build-console.mjs')], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    emu = await startOpenAiEmulator({ apiKey: UPSTREAM_KEY });
    t = await gateway(
      {
        providers: { up: { type: 'openai', baseUrl: emu.baseUrl, apiKey: 'env:UPSTREAM_KEY', maxRetries: 0 } },
        models: {
          'gpt-image-1': { deployments: [{ provider: 'local' }] },
          'gpt-image-1-up': { deployments: [{ provider: 'up', model: 'gpt-image-1' }, { provider: 'local' }] },
        },
        groups: { partners: { priceMultiplier: '0.8', rpm: 600 } },
      },
      { env: { UPSTREAM_KEY } },
    );
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1360, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    await emu?.close();
  });

  const open = async (hash: string) => {
    await page.goto(`${t.url}/console/#${hash}`);
  };

  test('the gateway serves it at /console, with a strict content policy', async () => {
    const redirect = await fetch(`${t.url}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/console/');
    const html = await fetch(`${t.url}/console/`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
    assert.equal(html.headers.get('cache-control'), 'no-cache');
    const asset = /src="(assets\/app-[^"]+\.js)"/.exec(await html.text())?.[1];
    assert.ok(asset);
    const js = await fetch(`${t.url}/console/${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${t.url}/console/assets/..%2Fimagegate.db`)).status, 404);
    assert.equal((await fetch(`${t.url}/console/assets/nothing.js`)).status, 404);
  });

  test('sign-in: a wrong key is refused; the master key opens the overview, and is kept only in sessionStorage', async () => {
    await open('/overview');
    await page.fill('input[name=key]', 'sk-ig-not-a-key');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await page.fill('input[name=key]', t.masterKey);
    await page.click('button[type=submit]');
    await page.getByTestId('card-rpm').waitFor();
    assert.equal(await page.getByTestId('who').textContent(), 'master key');
    // evaluated in the page (a string: the test's own TypeScript has no DOM types)
    const storage = await page.evaluate('({ session: { ...sessionStorage }, local: localStorage.length, cookies: document.cookie })');
    assert.deepEqual(storage, { session: { 'imagegate.key': t.masterKey }, local: 0, cookies: '' });
    assert.ok(!page.url().includes(t.masterKey));
    // a reload keeps the session (the key is checked again)
    await page.reload();
    await page.getByTestId('card-rpm').waitFor();
  });

  test('each page opens with its content', async () => {
    await page.getByRole('link', { name: 'Requests' }).click();
    await page.getByTestId('request-log').waitFor();
    await page.getByRole('link', { name: 'Keys and groups' }).click();
    await page.getByTestId('groups').getByRole('cell', { name: 'partners' }).waitFor();
    await page.getByRole('link', { name: 'Models and providers' }).click();
    const models = page.getByTestId('models');
    await models.getByText('gpt-image-1-up').waitFor();
    assert.match((await models.locator('tr', { hasText: 'gpt-image-1-up' }).textContent()) ?? '', /up\/gpt-image-1 → local/);
    const providers = await page.getByTestId('providers').textContent();
    assert.match(providers ?? '', /••••••/);
    assert.ok(!(await page.content()).includes(UPSTREAM_KEY), 'the upstream key is not on the page');
    await page.getByTestId('ping').click();
    const row = page.getByTestId('ping-table').locator('tr', { hasText: 'up' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /openaiyesyes/);
    await page.getByRole('link', { name: 'Playground' }).click();
    await page.locator('select[name=model] option', { hasText: 'gpt-image-1-up' }).waitFor({ state: 'attached' });
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByTestId('deployments').getByText('up/gpt-image-1').waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('create a key: shown once with a copy button, then only its prefix', async () => {
    await open('/keys');
    const form = page.getByRole('form', { name: 'create a key' });
    await form.locator('input[name=name]').fill('console-team');
    await form.locator('select[name=group]').selectOption('partners');
    await form.locator('input[name=credit]').fill('5.00');
    await form.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByTestId('new-key');
    await dialog.waitFor();
    const key = await page.getByTestId('new-key-value').inputValue();
    assert.match(key, /^sk-ig-[A-Za-z0-9]{40}$/);
    await page.getByTestId('copy-key').click();
    await page.getByTestId('copy-key').filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), key);
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByTestId('keys').locator('tr', { hasText: 'console-team' });
    await row.waitFor();
    assert.equal((await row.getByTestId('balance').textContent())?.trim(), '$5.00');
    assert.match((await row.textContent()) ?? '', /partners/);
    assert.ok(!(await page.content()).includes(key), 'the key is shown once');
    const id = await row.getAttribute('data-key-id');
    assert.ok(id);
    created = { id, key };
    // the key works, for its own account only
    const account = await fetch(`${t.url}/v1/account`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(((await account.json()) as { balanceUsd: string }).balanceUsd, '5.000000');
    assert.equal((await fetch(`${t.url}/admin/keys`, { headers: { authorization: `Bearer ${key}` } })).status, 403);
  });

  test('a virtual key sees its balance and its own requests, not the admin pages', async () => {
    assert.ok(created);
    const own = await fetch(`${t.url}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}` },
      body: (() => {
        const fd = new FormData();
        fd.append('prompt', 'make it warmer');
        return fd;
      })(),
    });
    assert.equal(own.status, 400);
    const ownId = own.headers.get('x-request-id');
    const other = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    try {
      const p = await other.newPage();
      await p.goto(`${t.url}/console/`);
      await p.fill('input[name=key]', created.key);
      await p.click('button[type=submit]');
      await p.getByTestId('card-balance').getByText('$5.00').waitFor();
      assert.equal(await p.getByTestId('who').textContent(), 'key: console-team');
      const nav = await p.getByRole('navigation', { name: 'pages' }).textContent();
      assert.ok(!nav?.includes('Keys') && !nav?.includes('Models'), nav ?? '');
      await p.goto(`${t.url}/console/#/keys`);
      await p.getByText('This page needs the master key.').waitFor();
      await p.goto(`${t.url}/console/#/requests`);
      const rows = p.getByTestId('request-log').locator('tr.row');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute('data-request-id'), ownId);
    } finally {
      await other.close();
    }
  });

  test('credit granted with a reason, then the key revoked', async () => {
    assert.ok(created);
    await open('/keys');
    const row = page.getByTestId('keys').locator(`tr[data-key-id="${created.id}"]`);
    await row.getByRole('button', { name: 'Credit' }).click();
    const dialog = page.getByTestId('credit-dialog');
    await dialog.locator('input[name=amountUsd]').fill('2.50');
    await dialog.locator('input[name=reason]').fill('console test top-up');
    await dialog.getByRole('button', { name: 'Grant' }).click();
    await row.getByTestId('balance').getByText('$7.50').waitFor();
    const grants = (await t.app.stores.ledger.entries(created.id)).filter((e) => e.kind === 'grant');
    assert.ok(grants.some((g) => g.reason === 'console test top-up' && g.amount === 2_500_000));

    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByTestId('revoke-dialog').getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${t.url}/v1/account`, { headers: { authorization: `Bearer ${created.key}` } })).status, 401);
  });

  test('playground: a painted mask, partial images, the result, and the request in the log', async () => {
    await open('/playground');
    await page.getByTestId('images').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await picture() });
    const canvas = page.getByTestId('mask-canvas');
    await canvas.waitFor();
    const box = (await canvas.boundingBox())!;
    // one stroke across the middle, from a quarter to three quarters of the width
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.5, { steps: 12 });
    await page.mouse.up();
    await page.fill('textarea[name=prompt]', 'make it black and white');
    await page.selectOption('select[name=model]', 'gpt-image-1');
    await page.selectOption('select[name=partial_images]', '2');
    assert.match((await page.getByTestId('snippet').textContent()) ?? '', /-F 'mask=@mask\.png'/);
    await page.getByTestId('run').click();

    const result = page.getByTestId('result-image');
    await result.waitFor({ timeout: 60_000 });
    assert.ok((await page.getByTestId('partial-image').count()) >= 1, 'partial images arrived before the result');
    const requestId = (await page.getByTestId('request-id').textContent())?.trim();
    assert.match(requestId ?? '', /^req_/);

    // what came back: gray where painted, the colours elsewhere
    // redrawn on a canvas (the page's content policy keeps fetch() off blob: URLs)
    const dataUrl = await result.evaluate((img: { naturalWidth: number; naturalHeight: number }) => {
      const canvas = (globalThis as any).document.createElement('canvas'); // eslint-disable-line @typescript-eslint/no-explicit-any
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d').drawImage(img, 0, 0);
      return canvas.toDataURL('image/png') as string;
    });
    const b64 = dataUrl.replace(/^data:image\/png;base64,/, '');
    const { data, info } = await sharp(Buffer.from(b64, 'base64')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // size=auto: the model's landscape size, the picture's shape
    assert.deepEqual([info.width, info.height], [1536, 1024]);
    const at = (fx: number, fy: number) => {
      const i = (Math.round(fy * (info.height - 1)) * info.width + Math.round(fx * (info.width - 1))) * 3;
      return Array.from(data.subarray(i, i + 3));
    };
    const [r1, g1, b1] = at(0.4, 0.5);
    assert.ok(Math.abs(r1 - g1) < 10 && Math.abs(g1 - b1) < 10, `painted: gray, got ${[r1, g1, b1]}`);
    const [r2, g2] = at(0.06, 0.1);
    assert.ok(r2 - g2 > 100, `not painted: still red, got ${at(0.06, 0.1)}`);
    const [, , b3] = at(0.94, 0.9);
    assert.ok(b3 > 150, `not painted: still blue, got ${at(0.94, 0.9)}`);

    // the request shows in the log, first, with its attempt
    await page.getByRole('link', { name: 'request log' }).click();
    const row = page.locator(`tr.row[data-request-id="${requestId}"]`);
    await row.waitFor();
    assert.equal(await page.locator('tr.row').first().getAttribute('data-request-id'), requestId);
    assert.match((await row.textContent()) ?? '', /gpt-image-1.*local.*200/);
    await row.click();
    await page.getByTestId('attempts').getByText('local').waitFor();
    assert.deepEqual(pageErrors, []);
  });

  test('a url answer: its hosted output shows as a thumbnail in the log', async () => {
    await open('/playground');
    await page.getByTestId('images').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await picture() });
    await page.fill('textarea[name=prompt]', 'add a border');
    await page.uncheck('input[name=stream]');
    await page.selectOption('select[name=response_format]', 'url');
    await page.getByTestId('run').click();
    const result = page.getByTestId('result-image');
    await result.waitFor({ timeout: 60_000 });
    const src = await result.getAttribute('src');
    assert.match(src ?? '', /\/v1\/images\/files\/[A-Za-z0-9]+\.png\?expires=\d+&sig=/);
    const requestId = (await page.getByTestId('request-id').textContent())?.trim();
    await open('/requests?status=2xx');
    const thumb = page.locator(`tr.row[data-request-id="${requestId}"] img.thumb`);
    await thumb.waitFor();
    assert.equal(await thumb.getAttribute('src'), src);
    assert.ok(await thumb.evaluate((img: { decode(): Promise<void>; naturalWidth: number }) => img.decode().then(() => img.naturalWidth > 0)));
  });

  test('the overview counts the traffic', async () => {
    await open('/overview');
    await page.getByTestId('card-rpm').getByText(/^[1-9]\d* requests$/).waitFor();
    const local = page.getByTestId('deployments').locator('tr', { hasText: 'local' }).first();
    assert.match((await local.textContent()) ?? '', /closed/);
    assert.deepEqual(pageErrors, []);
  });
});
