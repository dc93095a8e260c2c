/**
 * Takes the screenshots of docs/console/ (and the README's) from a real
 * gateway with real traffic: an OpenAI emulator as the main upstream, a
 * backup provider nobody listens on (so fallbacks, failures and an open
 * breaker show), the built-in engine last, a few keys with budgets and
 * limits, and about fifty requests spread over the last hour. The gateway's
 * clock runs behind the wall clock and catches up batch by batch, so the
 * requests land at different minutes; latencies are real.
 *
 *   npm run build:console && npx tsx scripts/console-screenshots.ts
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeLandscape } from '../bench/lib/photo.js';
import { startOpenAiEmulator } from '../test/emulators/openai.js';
import { launchChromium, chromiumMissing } from '../test/console/browser.js';
import { startTestApp } from '../test/helpers/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs', 'console');
const UPSTREAM_KEY = 'sk-demo-upstream-0123456789abcdef';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  fs.mkdirSync(outDir, { recursive: true });
  const photo = makeLandscape(512);
  const png = await sharp(Buffer.from(photo.data.buffer, photo.data.byteOffset, photo.data.byteLength), { raw: { width: photo.width, height: photo.height, channels: 4 } })
    .png()
    .toBuffer();
  const small = await sharp(png).resize(160, 160).png().toBuffer();

  let offset = 55 * 60_000;
  const clock = { now: () => Date.now() - offset };
  const emu = await startOpenAiEmulator({ apiKey: UPSTREAM_KEY });
  const t = await startTestApp({
    clock,
    env: { UPSTREAM_KEY },
    config: {
      providers: {
        'openai-main': { type: 'openai', baseUrl: emu.baseUrl, apiKey: 'env:UPSTREAM_KEY', maxRetries: 1, breaker: { failures: 3, cooldownMs: 600_000 } },
        'openai-backup': { type: 'openai-compatible', baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, apiKey: 'env:UPSTREAM_KEY', maxRetries: 0, breaker: { failures: 3, cooldownMs: 600_000 } },
      },
      models: {
        'gpt-image-1': {
          deployments: [
            { provider: 'openai-main', model: 'gpt-image-1' },
            { provider: 'openai-backup', model: 'gpt-image-1' },
            { provider: 'local' },
          ],
        },
        'gpt-image-1-mini': { deployments: [{ provider: 'openai-main', model: 'gpt-image-1-mini' }, { provider: 'local' }] },
        'flux-kontext-pro': { deployments: [{ provider: 'local' }] },
      },
      prices: {
        'gpt-image-1': { tokens: { textInput: '5.00', imageInput: '10.00', imageOutput: '40.00' } },
        'gpt-image-1-mini': { tokens: { textInput: '2.00', imageInput: '2.50', imageOutput: '8.00' } },
        'flux-kontext-pro': { perImage: { default: '0.04' } },
      },
      groups: { partners: { priceMultiplier: '0.8', rpm: 600, maxConcurrent: 20 }, internal: { priceMultiplier: '0', rpm: 60 } },
    },
  });
  const keys = {
    mobile: await t.app.stores.keys.create({ name: 'mobile-app', group: 'partners', creditMicros: 25_000_000 }),
    batch: await t.app.stores.keys.create({ name: 'batch-jobs', group: 'internal', rpm: 3 }),
    site: await t.app.stores.keys.create({ name: 'marketing-site', models: ['flux-*', 'gpt-image-1-mini'], creditMicros: 5_000_000 }),
  };
  await t.app.stores.ledger.grant(keys.mobile.id, 10_000_000, 'December top-up');

  const edit = async (key: string, fields: Record<string, string>, image: Buffer | null = small) => {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    if (image) fd.append('image', new Blob([image], { type: 'image/png' }), 'photo.png');
    const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: fd });
    await res.arrayBuffer();
    return res.status;
  };

  const prompts = ['make it black and white', 'add a border', 'make it warmer', 'add the text "SALE" at the top', 'sepia', 'blur it slightly'];
  for (let batch = 0; batch < 11; batch++) {
    offset = Math.max(0, 55 * 60_000 - batch * 5 * 60_000);
    const p = prompts[batch % prompts.length];
    await edit(keys.mobile.key, { model: 'gpt-image-1', prompt: p, quality: 'low' });
    await edit(keys.mobile.key, { model: 'gpt-image-1-mini', prompt: p, quality: 'low', response_format: 'url' });
    await edit(keys.site.key, { model: 'flux-kontext-pro', prompt: p, response_format: 'url' });
    await edit(t.masterKey, { model: 'gpt-image-1', prompt: p, quality: 'medium', n: batch % 3 === 0 ? '2' : '1' });
    if (batch % 2 === 0) await edit(keys.batch.key, { model: 'flux-kontext-pro', prompt: p });
    if (batch % 4 === 1) await edit(keys.site.key, { model: 'gpt-image-1', prompt: p }); // 403: not one of its models
    if (batch % 5 === 2) await edit(keys.mobile.key, { model: 'gpt-image-1', prompt: p }, null); // 400: no image
    if (batch === 7) {
      // an upstream outage: the main deployment fails, the backup is down, the built-in engine answers
      emu.fault({ kind: 'status', status: 503, body: { error: { message: 'The server is overloaded' } } }, { times: 4 });
      await edit(keys.mobile.key, { model: 'gpt-image-1', prompt: p, quality: 'low' });
      await edit(t.masterKey, { model: 'gpt-image-1', prompt: p, quality: 'low' });
    }
  }
  for (let i = 0; i < 4; i++) await edit(keys.batch.key, { model: 'flux-kontext-pro', prompt: 'make it black and white' }); // over its rpm: 429s
  offset = 0;

  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, deviceScaleFactor: 1, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  const shot = async (name: string) => {
    await page.waitForTimeout(300);
    // a 256-colour palette: a third of the bytes, no visible loss for a UI
    const png = await sharp(await page.screenshot()).png({ palette: true, quality: 95, effort: 10, compressionLevel: 9 }).toBuffer();
    fs.writeFileSync(path.join(outDir, `${name}.png`), png);
    console.log(`docs/console/${name}.png`);
  };
  try {
    await page.goto(`${t.url}/console/`);
    await page.locator('input[name=key]').waitFor();
    await shot('signin');
    await page.fill('input[name=key]', t.masterKey);
    await page.click('button[type=submit]');
    await page.getByTestId('deployments').getByText('openai-main/gpt-image-1', { exact: true }).waitFor();
    await shot('overview');

    // one key's log, its outage request opened, the page scrolled back up to the filters
    await page.setViewportSize({ width: 1360, height: 1020 });
    await page.goto(`${t.url}/console/#/requests?keyId=${keys.mobile.id}`);
    const outage = page.locator('tr.row', { hasText: '4 attempts' }).first();
    await outage.waitFor();
    await outage.click();
    await page.getByTestId('attempts').waitFor();
    await page.locator('img.thumb').first().waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('requests');
    await page.setViewportSize({ width: 1360, height: 860 });

    await page.goto(`${t.url}/console/#/keys`);
    await page.getByTestId('keys').getByText('mobile-app').waitFor();
    await shot('keys');
    const form = page.getByRole('form', { name: 'create a key' });
    await form.locator('input[name=name]').fill('partner-acme');
    await form.locator('select[name=group]').selectOption('partners');
    await form.locator('input[name=credit]').fill('50.00');
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByTestId('new-key').waitFor();
    await shot('new-key');
    await page.getByTestId('new-key').getByRole('button', { name: 'Done' }).click();

    await page.goto(`${t.url}/console/#/models`);
    await page.getByTestId('models').waitFor();
    await page.getByTestId('ping').click();
    await page.getByTestId('ping-table').waitFor();
    await shot('models');

    await page.goto(`${t.url}/console/#/playground`);
    await page.getByTestId('images').setInputFiles({ name: 'landscape.png', mimeType: 'image/png', buffer: png });
    const canvas = page.getByTestId('mask-canvas');
    await canvas.waitFor();
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.15, box.y + box.height * 0.7);
    await page.mouse.down();
    for (const [fx, fy] of [[0.4, 0.62], [0.6, 0.75], [0.85, 0.66]]) await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy, { steps: 10 });
    await page.mouse.up();
    await page.fill('textarea[name=prompt]', 'make it black and white');
    await page.selectOption('select[name=model]', 'flux-kontext-pro');
    await page.selectOption('select[name=partial_images]', '2');
    await page.getByTestId('run').click();
    await page.getByTestId('result-image').waitFor({ timeout: 60_000 });
    await page.setViewportSize({ width: 1360, height: 1000 });
    await page.evaluate('window.scrollTo(0, 0)');
    await shot('playground');
  } finally {
    await browser.close();
    await t.close();
    await emu.close();
  }
}

await main();
