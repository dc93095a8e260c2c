/**
 * The config file: YAML or JSON, `env:NAME` secrets, strict keys, and errors
 * that name the file, the key path and the line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { parseConfigText } from '../../src/config/file.js';

function withFile(name: string, text: string, env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-config-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  try {
    return loadConfig({ IMAGEGATE_CONFIG: file, IMAGEGATE_DATA_DIR: dir, ...env }, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function errorOf(name: string, text: string, env: Record<string, string> = {}): string {
  try {
    withFile(name, text, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
    return e.message.replace(/^.*[\\/]/, '');
  }
  assert.fail('expected a config error');
}

const YAML = `# two providers, two models
providers:
  openai-main:
    type: openai
    apiKey: env:OPENAI_API_KEY
    timeouts: { connectMs: 5000, firstByteMs: 60000, totalMs: 120000 }
    maxRetries: 1
  bfl:
    type: bfl
    apiKey: env:BFL_API_KEY

models:
  gpt-image-1:
    deployments:
      - { provider: openai-main, model: gpt-image-1 }
      - { provider: local }
  flux-kontext-pro:
    deployments:
      - { provider: bfl, model: flux-kontext-pro }

prices:
  gpt-image-1:
    tokens: { textInput: "5.00", imageInput: "10.00", imageOutput: "40.00" }
  dall-e-2:
    perImage: { "256x256": "0.016", "512x512": "0.018", "1024x1024": "0.020" }

groups:
  partners: { priceMultiplier: "0.8", rpm: 600, maxConcurrent: 20 }
`;

describe('config file', () => {
  test('YAML: providers with defaults by type, models in order, env: secrets resolved', () => {
    const c = withFile('imagegate.yaml', YAML, { OPENAI_API_KEY: 'sk-live-abcdef123456', BFL_API_KEY: 'bfl-secret-987654' });
    assert.equal(c.providers['openai-main'].baseUrl, 'https://api.openai.com/v1');
    assert.equal(c.providers['openai-main'].apiKey, 'sk-live-abcdef123456');
    assert.deepEqual(c.providers['openai-main'].timeouts, { connectMs: 5000, firstByteMs: 60000, totalMs: 120000 });
    assert.equal(c.providers['openai-main'].maxRetries, 1);
    assert.deepEqual(c.providers['openai-main'].breaker, { failures: 5, cooldownMs: 30000 });
    assert.equal(c.providers.bfl.baseUrl, 'https://api.bfl.ai');
    assert.deepEqual(c.providers.bfl.trustedHosts, ['*.bfl.ai', 'bfldelivery*.blob.core.windows.net']);
    assert.deepEqual(c.providers.bfl.timeouts, { connectMs: 10000, firstByteMs: 120000, totalMs: 300000 });
    assert.equal(c.providers.bfl.fillModel, 'flux-pro-1.0-fill');
    assert.deepEqual(c.models!['gpt-image-1'].deployments, [
      { provider: 'openai-main', model: 'gpt-image-1' },
      { provider: 'local', model: null },
    ]);
    assert.deepEqual(c.prices['dall-e-2'].perImage, { '256x256': '0.016', '512x512': '0.018', '1024x1024': '0.020' });
    assert.equal(c.groups.partners.priceMultiplier, '0.8');
    assert.ok(c.secrets.includes('sk-live-abcdef123456') && c.secrets.includes('bfl-secret-987654'));
  });

  test('JSON is read the same way', () => {
    const c = withFile('imagegate.json', JSON.stringify({ providers: { up: { type: 'openai-compatible', baseUrl: 'https://gw.example.com/v1/' } }, models: { m: { deployments: [{ provider: 'up', model: 'gpt-image-1' }] } }, port: 9000 }));
    assert.equal(c.providers.up.baseUrl, 'https://gw.example.com/v1');
    assert.equal(c.port, 9000);
  });

  test('a missing env variable is a start-up error naming it, the key path and the line', () => {
    assert.equal(errorOf('c.yaml', YAML, { OPENAI_API_KEY: 'x' }), 'c.yaml:10: providers.bfl.apiKey: environment variable BFL_API_KEY is not set');
  });

  test('an unknown provider names the key path with the deployment index, and the line', () => {
    const text = YAML.replace('{ provider: local }', '{ provider: openai-mian, model: gpt-image-1 }');
    assert.equal(
      errorOf('c.yaml', text, { OPENAI_API_KEY: 'x', BFL_API_KEY: 'y' }),
      "c.yaml:16: models.gpt-image-1.deployments[1].provider: unknown provider 'openai-mian'; the providers are 'openai-main', 'bfl', 'local'",
    );
  });

  test('unknown keys are refused, not ignored', () => {
    assert.equal(errorOf('c.yaml', 'port: 8080\nengine:\n  thread: 4\n'), "c.yaml:3: engine: unknown key 'thread'");
    assert.equal(errorOf('c.yaml', 'providers:\n  a:\n    type: openai\n    apiKey: k\n    retries: 3\n'), "c.yaml:5: providers.a: unknown key 'retries'");
  });

  test('wrong types and values name the key', () => {
    assert.match(errorOf('c.yaml', 'port: "eighty"\n'), /^c\.yaml:1: port: expected number/);
    assert.match(errorOf('c.yaml', 'providers:\n  a:\n    type: opneai\n'), /^c\.yaml:3: providers\.a\.type: must be one of "openai", "azure-openai"/);
    assert.equal(errorOf('c.yaml', 'prices:\n  m:\n    perImage: { default: 0.04 }\n'), 'c.yaml:3: prices.m.perImage.default: expected string, received number');
    assert.equal(
      errorOf('c.yaml', 'providers:\n  a:\n    type: openai\n    apiKey: k\n    dropUnsupported: [mask, colour]\n'),
      'c.yaml:5: providers.a.dropUnsupported[1]: must be one of "image", "mask", "size", "quality", "background", "input_fidelity", "moderation", "output_compression"',
    );
  });

  test('required per type: a baseUrl for azure and compatible hosts, a key for cloud APIs, a model for upstream deployments', () => {
    assert.equal(errorOf('c.yaml', 'providers:\n  az:\n    type: azure-openai\n    apiKey: k\n'), "c.yaml:3: providers.az.baseUrl: is required for type 'azure-openai'");
    assert.equal(errorOf('c.yaml', 'providers:\n  g:\n    type: gemini\n'), "c.yaml:3: providers.g.apiKey: is required for type 'gemini' (write it as env:VARIABLE_NAME)");
    assert.equal(
      errorOf('c.yaml', 'providers:\n  g:\n    type: openai\n    apiKey: k\nmodels:\n  x:\n    deployments:\n      - provider: g\n'),
      "c.yaml:8: models.x.deployments[0].model: is required: the upstream model of provider 'g'",
    );
  });

  test('a YAML syntax error names the line', () => {
    assert.match(errorOf('c.yaml', 'providers:\n  a: [unclosed\n'), /^c\.yaml:\d+: not valid YAML or JSON: /);
    assert.match(errorOf('c.yaml', 'a: 1\na: 2\n'), /^c\.yaml:2: not valid YAML or JSON: Map keys must be unique/);
  });

  test('several problems are listed together', () => {
    const msg = errorOf('c.yaml', 'port: -1\nlogLevel: loud\n');
    assert.match(msg, /^2 problems:\n  .*c\.yaml:1: port: .*\n  .*c\.yaml:2: logLevel: must be one of/);
  });

  test('a comfyui workflow is loaded relative to the file and must carry {{image}} and {{prompt}}', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-config-'));
    try {
      fs.writeFileSync(path.join(dir, 'wf.json'), JSON.stringify({ '1': { class_type: 'LoadImage', inputs: { image: '{{image}}' } }, '2': { class_type: 'CLIPTextEncode', inputs: { text: 'fixed' } } }));
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, 'providers:\n  comfy:\n    type: comfyui\n    workflow: wf.json\n');
      assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, dir), (e: Error) => /c\.yaml:4: providers\.comfy\.workflow: the workflow .*wf\.json has no \{\{prompt\}\} placeholder/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('parseConfigText on an empty file is an empty config', () => {
    assert.deepEqual(parseConfigText('x.yaml', '# nothing yet\n', {}).config, {});
  });
});
