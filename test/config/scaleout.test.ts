/** The scale-out settings: S3 (environment over file, key by key), REDIS_URL, IMAGEGATE_URL_SECRET. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

function withFile<T>(content: unknown, run: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-config-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.yaml'), JSON.stringify(content));
    return run(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('no bucket, no S3: hosted images stay on disk', () => {
  assert.equal(loadConfig({}).s3, null);
  assert.equal(loadConfig({ IMAGEGATE_S3_ENDPOINT: 'http://127.0.0.1:9000' }).s3, null);
});

test('IMAGEGATE_S3_* with the standard AWS credentials', () => {
  const config = loadConfig({
    IMAGEGATE_S3_BUCKET: 'images',
    IMAGEGATE_S3_ENDPOINT: 'http://127.0.0.1:9000',
    IMAGEGATE_S3_REGION: 'eu-central-1',
    IMAGEGATE_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  });
  assert.deepEqual(config.s3, {
    bucket: 'images',
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-central-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  });
  assert.ok(config.secrets.includes('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'), 'the secret key is scrubbed from output');
});

test('defaults: AWS itself, us-east-1 (or AWS_REGION), virtual-hosted style, the SDK credential chain', () => {
  assert.deepEqual(loadConfig({ IMAGEGATE_S3_BUCKET: 'b' }).s3, {
    bucket: 'b',
    endpoint: null,
    region: 'us-east-1',
    forcePathStyle: false,
    credentials: null,
  });
  assert.equal(loadConfig({ IMAGEGATE_S3_BUCKET: 'b', AWS_REGION: 'ap-south-1' }).s3?.region, 'ap-south-1');
  assert.deepEqual(loadConfig({ IMAGEGATE_S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }).s3?.credentials, {
    accessKeyId: 'a',
    secretAccessKey: 's',
    sessionToken: 't',
  });
});

test('the file keys s3.{bucket,endpoint,region,forcePathStyle}; the environment wins key by key', () => {
  const file = { s3: { bucket: 'from-file', endpoint: 'https://minio.internal:9000', region: 'file-region', forcePathStyle: true } };
  withFile(file, (dir) => {
    assert.deepEqual(loadConfig({ IMAGEGATE_CONFIG: 'c.yaml' }, dir).s3, { ...file.s3, credentials: null });
    assert.deepEqual(
      loadConfig({ IMAGEGATE_CONFIG: 'c.yaml', IMAGEGATE_S3_BUCKET: 'from-env', IMAGEGATE_S3_FORCE_PATH_STYLE: 'false' }, dir).s3,
      { ...file.s3, bucket: 'from-env', forcePathStyle: false, credentials: null },
    );
  });
  withFile({ s3: { bucket: 'b', pathStyle: true } }, (dir) => {
    assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: 'c.yaml' }, dir), /s3/);
  });
});

test('bad S3 settings are start-up errors that quote no secret', () => {
  const bad = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadConfig({ IMAGEGATE_S3_BUCKET: 'b', ...env }), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  bad({ IMAGEGATE_S3_ENDPOINT: 'minio:9000' }, /IMAGEGATE_S3_ENDPOINT must be an http\(s\) URL/);
  bad({ IMAGEGATE_S3_ENDPOINT: 'http://user:hunter2@minio:9000' }, /^(?!.*hunter2).*without credentials/);
  bad({ IMAGEGATE_S3_FORCE_PATH_STYLE: 'maybe' }, /IMAGEGATE_S3_FORCE_PATH_STYLE must be true or false/);
  bad({ AWS_ACCESS_KEY_ID: 'only-the-id' }, /must be set together/);
});

test('REDIS_URL: a redis:// or rediss:// URL, its password scrubbed; anything else refused without quoting it', () => {
  assert.equal(loadConfig({}).redisUrl, null);
  const config = loadConfig({ REDIS_URL: 'redis://:s3cr%40t-pass@127.0.0.1:6379/2' });
  assert.equal(config.redisUrl, 'redis://:s3cr%40t-pass@127.0.0.1:6379/2');
  assert.ok(config.secrets.includes('s3cr@t-pass'));
  assert.equal(loadConfig({ REDIS_URL: 'rediss://cache.example.com:6380' }).redisUrl, 'rediss://cache.example.com:6380');
  withFile({ redisUrl: 'redis://127.0.0.1:6379/1' }, (dir) => {
    assert.equal(loadConfig({ IMAGEGATE_CONFIG: 'c.yaml' }, dir).redisUrl, 'redis://127.0.0.1:6379/1');
    assert.equal(loadConfig({ IMAGEGATE_CONFIG: 'c.yaml', REDIS_URL: 'redis://other:6379' }, dir).redisUrl, 'redis://other:6379');
  });
  for (const wrong of ['http://h:1', '127.0.0.1:6379', 'redis//:pw-9f8e7d@h']) {
    assert.throws(
      () => loadConfig({ REDIS_URL: wrong }),
      (e: unknown) => e instanceof ConfigError && /REDIS_URL must look like/.test(e.message) && !e.message.includes(wrong),
    );
  }
});

test('IMAGEGATE_URL_SECRET: at least 32 bytes, scrubbed; unset means the per-node file', () => {
  assert.equal(loadConfig({}).urlSecret, null);
  const secret = 'a'.repeat(31) + 'Z';
  const config = loadConfig({ IMAGEGATE_URL_SECRET: secret });
  assert.equal(config.urlSecret, secret);
  assert.ok(config.secrets.includes(secret));
  assert.throws(
    () => loadConfig({ IMAGEGATE_URL_SECRET: 'too-short-secret' }),
    (e: unknown) => e instanceof ConfigError && /at least 32 bytes/.test(e.message) && !e.message.includes('too-short-secret'),
  );
});
