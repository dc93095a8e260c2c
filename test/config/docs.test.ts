/**
 * docs/config.md cannot drift from the code: every key the config file's
 * schema accepts is in its tables and no other, every environment variable
 * the loader reads is named, and the defaults written as plain numbers or
 * booleans are the ones the loader applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { loadConfig } from '../../src/config/index.js';
import { fileSchema } from '../../src/config/schema.js';
import { ROOT } from '../helpers/cli.js';

const DOC = fs.readFileSync(path.join(ROOT, 'docs/config.md'), 'utf8');

/** what a record's keys are called in the document, by the key that holds the record */
const PLACEHOLDER: Record<string, string> = { providers: '<name>', models: '<model>', prices: '<model>', groups: '<group>', perImage: '<size>' };

/** Every leaf key path of a schema: `engine.threads`, `models.<model>.deployments[].provider`, … */
function leaves(schema: z.core.$ZodType, at: string, last: string): string[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    innerType?: z.core.$ZodType;
    shape?: Record<string, z.core.$ZodType>;
    valueType?: z.core.$ZodType;
    element?: z.core.$ZodType;
  };
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
      return leaves(def.innerType!, at, last);
    case 'object':
      return Object.entries(def.shape!).flatMap(([k, v]) => leaves(v, at ? `${at}.${k}` : k, k));
    case 'record': {
      // a record of free-form values (a1111 `params`) is one key
      const value = def.valueType!._zod.def.type;
      if (value === 'unknown' || value === 'any') return [at];
      return leaves(def.valueType!, `${at}.${PLACEHOLDER[last] ?? '<key>'}`, '');
    }
    case 'array': {
      const element = def.element!._zod.def.type;
      return element === 'object' ? leaves(def.element!, `${at}[]`, last) : [at];
    }
    default:
      return [at];
  }
}

/** `fn` with a fresh temporary directory, removed afterwards */
function inTempDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-docs-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `engine.threads` of a loaded config */
const valueAt = (config: unknown, key: string): unknown => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], config);

interface Row {
  key: string;
  env: string[];
  defaultCell: string;
}

/** the rows of the key tables: a key path in backticks first, then the environment and the default */
function rows(): Row[] {
  const out: Row[] = [];
  for (const line of DOC.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!key || cells.length < 4 || /^[A-Z_]+$/.test(key)) continue;
    out.push({ key, env: [...cells[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]), defaultCell: cells[2] });
  }
  return out;
}

test('every key of the config file is documented, and nothing else', () => {
  const schemaKeys = leaves(fileSchema, '', '').sort();
  const documented = rows().map((r) => r.key).sort();
  assert.deepEqual(
    { missing: schemaKeys.filter((k) => !documented.includes(k)), unknown: documented.filter((k) => !schemaKeys.includes(k)) },
    { missing: [], unknown: [] },
  );
  assert.equal(new Set(documented).size, documented.length, 'each key once');
});

test('every environment variable the loader reads is named', () => {
  const source = fs.readFileSync(path.join(ROOT, 'src/config/index.ts'), 'utf8');
  const read = [...new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]))].sort();
  assert.ok(read.includes('IMAGEGATE_SHUTDOWN_GRACE_MS') && read.includes('IMAGEGATE_IMAGE_URL_CA_FILE'), read.join(' '));
  const missing = read.filter((name) => !DOC.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});

test('the variable beside a key sets that key', () => {
  inTempDir((dir) => {
    // each documented pair, one at a time: the variable's value must land where the file key would
    const probes: Record<string, [string, unknown]> = {
      HOST: ['0.0.0.0', '0.0.0.0'],
      PORT: ['9999', 9999],
      IMAGEGATE_URL_TTL_SECONDS: ['77', 77],
      IMAGEGATE_MAX_IN_FLIGHT: ['5', 5],
      IMAGEGATE_SHUTDOWN_GRACE_MS: ['1234', 1234],
      IMAGEGATE_IMAGE_URL_CA_FILE: ['/etc/ca.pem', '/etc/ca.pem'],
      IMAGEGATE_ENGINE_THREADS: ['3', 3],
      IMAGEGATE_MAX_IMAGE_BYTES: ['2048', 2048],
      IMAGEGATE_LOCAL_UNKNOWN: ['reject', 'reject'],
    };
    for (const row of rows()) {
      for (const name of row.env) {
        const probe = probes[name];
        if (!probe) continue;
        assert.deepEqual(valueAt(loadConfig({ IMAGEGATE_DATA_DIR: dir, [name]: probe[0] }), row.key), probe[1], `${name} → ${row.key}`);
        delete probes[name];
      }
    }
    assert.deepEqual(Object.keys(probes), [], 'every probed variable is in a row');
  });
});

test("defaults written as numbers or booleans are the loader's", () => {
  inTempDir((dir) => {
    // a provider and a bucket, so that their defaults show too
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'providers:\n  p:\n    type: openai-compatible\n    baseUrl: http://127.0.0.1:1\n');
    const c = loadConfig({ IMAGEGATE_DATA_DIR: dir, IMAGEGATE_CONFIG: file, IMAGEGATE_S3_BUCKET: 'b' });
    let checked = 0;
    for (const row of rows()) {
      const literal = /^`(\d+|true|false)`/.exec(row.defaultCell)?.[1];
      if (literal === undefined) continue;
      assert.equal(String(valueAt(c, row.key.replace('providers.<name>.', 'providers.p.'))), literal, `the default of ${row.key}`);
      checked++;
    }
    assert.ok(checked >= 25, `${checked} defaults checked`);
  });
});

test('a key that is not in this document stops the start, naming the file, line and key', () => {
  inTempDir((dir) => {
    const file = path.join(dir, 'imagegate.yaml');
    fs.writeFileSync(file, 'port: 8080\ndataDirectory: /srv/imagegate\n');
    assert.throws(() => loadConfig({ IMAGEGATE_CONFIG: file }, dir), { message: `${file}:2: (top level): unknown key 'dataDirectory'` });
  });
});
