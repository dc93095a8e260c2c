/**
 * The `bfl` provider type's configuration: its defaults, the example file,
 * and the trusted-host patterns its result URLs need (BFL's signed samples
 * are served from its own hosts and from Azure storage accounts named
 * bfldeliveryprod…, one per region).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { hostMatches, isTrustedUrl } from '../../src/providers/http.js';

const EXAMPLE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../examples/bfl.yaml');

function withConfig<T>(yaml: string, fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-bfl-config-'));
  try {
    const file = path.join(dir, 'imagegate.yaml');
    fs.writeFileSync(file, yaml);
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('bfl config', () => {
  test('defaults: api.bfl.ai, the Fill endpoint, BFL\'s hosts and its delivery storage trusted', () => {
    const c = withConfig('providers:\n  bfl:\n    type: bfl\n    apiKey: env:BFL_API_KEY\n', (f) => loadConfig({ IMAGEGATE_CONFIG: f, BFL_API_KEY: 'k' }));
    const p = c.providers.bfl;
    assert.equal(p.baseUrl, 'https://api.bfl.ai');
    assert.equal(p.fillModel, 'flux-pro-1.0-fill');
    assert.deepEqual(p.trustedHosts, ['*.bfl.ai', 'bfldelivery*.blob.core.windows.net']);
    const trusted = (u: string) => isTrustedUrl(new URL(u), p.baseUrl, p.trustedHosts);
    assert.ok(trusted('https://api.eu1.bfl.ai/v1/get_result?id=1'));
    assert.ok(trusted('https://delivery-eu1.bfl.ai/results/a/sample.jpeg?sig=x'));
    assert.ok(trusted('https://bfldeliveryprodeu4.blob.core.windows.net/results/2026/04/24/a_sample.jpeg?se=x&sig=y'));
    assert.ok(trusted('https://bfldeliveryscus.blob.core.windows.net/results/a.png'));
    assert.ok(!trusted('https://attacker.blob.core.windows.net/a.png'));
    assert.ok(!trusted('https://bfl.ai.example.com/a.png'));
    assert.ok(!trusted('http://169.254.169.254/latest/meta-data'));
  });

  test('the example file is a valid config', () => {
    const c = loadConfig({ IMAGEGATE_CONFIG: EXAMPLE, BFL_API_KEY: 'bfl-key' });
    assert.equal(c.providers.bfl.type, 'bfl');
    assert.equal(c.providers.bfl.apiKey, 'bfl-key');
    assert.deepEqual(c.providers['bfl-lenient'].dropUnsupported, ['moderation']);
    assert.deepEqual(Object.keys(c.models ?? {}).sort(), ['flux-2-klein', 'flux-2-pro', 'flux-kontext-max', 'flux-kontext-pro', 'flux-pro-1.1', 'flux-pro-1.1-ultra']);
    assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: EXAMPLE }), (e: unknown) => e instanceof ConfigError && /BFL_API_KEY/.test(e.message));
  });

  test('host patterns: "*.domain", and a first label ending in "*"; anything looser is a config error', () => {
    const table: Array<[string, string, boolean]> = [
      ['https://bfldeliveryprod.blob.core.windows.net/x', 'bfldelivery*.blob.core.windows.net', true],
      ['https://bfldelivery.blob.core.windows.net/x', 'bfldelivery*.blob.core.windows.net', true],
      ['https://evil.blob.core.windows.net/x', 'bfldelivery*.blob.core.windows.net', false],
      ['https://a.bfldeliveryprod.blob.core.windows.net/x', 'bfldelivery*.blob.core.windows.net', false],
      ['https://bfldeliveryprod.blob.core.windows.net.evil.com/x', 'bfldelivery*.blob.core.windows.net', false],
      ['https://api.bfl.ai/x', '*.bfl.ai', true],
      ['https://bfl.ai/x', '*.bfl.ai', false],
      ['http://127.0.0.1:8080/x', '127.0.0.1:8080', true],
      ['http://127.0.0.1:8081/x', '127.0.0.1:8080', false],
    ];
    for (const [url, pattern, want] of table) assert.equal(hostMatches(new URL(url), pattern), want, `${url} ~ ${pattern}`);
    const ok = (pattern: string) => withConfig(`providers:\n  bfl:\n    type: bfl\n    apiKey: k\n    trustedHosts: ["${pattern}"]\n`, (f) => loadConfig({ IMAGEGATE_CONFIG: f }));
    assert.deepEqual(ok('bfldelivery*.blob.core.windows.net').providers.bfl.trustedHosts, ['bfldelivery*.blob.core.windows.net']);
    for (const bad of ['*', '*bfl.ai', 'a*b.bfl.ai', 'bfl*', '**.bfl.ai', 'https://api.bfl.ai']) {
      const yaml = `providers:\n  bfl:\n    type: bfl\n    apiKey: k\n    trustedHosts: ["${bad}"]\n`;
      assert.throws(() => withConfig(yaml, (f) => loadConfig({ IMAGEGATE_CONFIG: f })), ConfigError, bad);
    }
  });
});
