/**
 * deploy/compose.yaml sets nothing on an imagegate node that OPERATOR.md does
 * not name, mounts a config file made only of OPERATOR.md's keys, routes
 * through a load balancer that asks /readyz, and lets a node drain before
 * Docker kills it. No container runtime runs here, so this reads the files;
 * dockerfile.test.ts runs the image's steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { DEPLOY_DIR, durationMs, exampleEnv, interpolated, mounts, nodeServices, readCompose, readEnvFile, serviceEnv, type Service } from './compose.js';
import { readDockerfile, stageEnv, last } from './dockerfile.js';

/**
 * The environment variables OPERATOR.md (../shared/OPERATOR.md, the
 * operator's contract) names, by its section. Copied here on purpose: a
 * name added to the compose file must be added to the contract first.
 */
const OPERATOR_ENV = new Set([
  // "The config file"
  'IMAGEGATE_CONFIG',
  // "The config file", "Environment for scale-out"
  'DATABASE_URL',
  'REDIS_URL',
  'IMAGEGATE_S3_BUCKET',
  'IMAGEGATE_S3_ENDPOINT',
  'IMAGEGATE_S3_REGION',
  'IMAGEGATE_S3_FORCE_PATH_STYLE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  // "When a store fails, and on shutdown"
  'IMAGEGATE_SHUTDOWN_GRACE_MS',
]);

/**
 * Set on every node but not (yet) named in OPERATOR.md: the shared master
 * key and URL-signing secret (without them each node makes its own) and the
 * public base of hosted links (else they name the node, not the load
 * balancer). README's "Configuration" table documents them; a test below
 * holds them to it and to src/config. They belong in OPERATOR.md.
 */
const README_ONLY_ENV = new Set(['IMAGEGATE_MASTER_KEY', 'IMAGEGATE_URL_SECRET', 'IMAGEGATE_PUBLIC_URL']);

/** What the deploy item asks every node to get. */
const REQUIRED_ENV = [
  'IMAGEGATE_CONFIG',
  'DATABASE_URL',
  'REDIS_URL',
  'IMAGEGATE_S3_BUCKET',
  'IMAGEGATE_S3_ENDPOINT',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'IMAGEGATE_MASTER_KEY',
  'IMAGEGATE_URL_SECRET',
  'IMAGEGATE_SHUTDOWN_GRACE_MS',
];

/** Values that are secrets: they come from deploy/.env, never from compose.yaml itself. */
const SECRET_ENV = ['DATABASE_URL', 'REDIS_URL', 'AWS_SECRET_ACCESS_KEY', 'IMAGEGATE_MASTER_KEY', 'IMAGEGATE_URL_SECRET'];

/**
 * The config file's keys as OPERATOR.md names them: "The config file" (the
 * example and its notes), "Per provider type" (the keys every type takes and
 * each type's own) and "When a store fails, and on shutdown" (maxInFlight,
 * engine.maxQueue). `*` is a name of the operator's choosing (a provider, a
 * model, a group); `true` takes any value; arrays are checked item by item.
 */
type Shape = true | { [key: string]: Shape };
const CONFIG_KEYS: Shape = {
  providers: {
    '*': {
      type: true,
      baseUrl: true,
      apiKey: true,
      timeouts: { connectMs: true, firstByteMs: true, totalMs: true },
      maxRetries: true,
      breaker: { failures: true, cooldownMs: true },
      trustedHosts: true,
      dropUnsupported: true,
      organization: true,
      project: true,
      apiVersion: true,
      fillModel: true,
      workflow: true,
      outputNode: true,
      params: true,
    },
  },
  models: { '*': { deployments: { provider: true, model: true } } },
  prices: { '*': { tokens: { textInput: true, imageInput: true, imageOutput: true }, perImage: true } },
  groups: { '*': { priceMultiplier: true, rpm: true, maxConcurrent: true } },
  strictModels: true,
  maxInFlight: true,
  engine: { maxQueue: true },
};

function unknownKeys(value: unknown, shape: Shape, at: string): string[] {
  if (shape === true) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownKeys(v, shape, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [`${at}: expected an object`];
  return Object.entries(value).flatMap(([k, v]) => {
    const sub = shape[k] ?? shape['*'];
    const where = at ? `${at}.${k}` : k;
    return sub === undefined ? [where] : unknownKeys(v, sub, where);
  });
}

/** The file with its commented-out examples switched on: comment lines whose text is YAML (`key:` or `- {`), as an operator would uncomment them. */
function uncommented(text: string): string {
  return text
    .split('\n')
    .map((l) => {
      const m = /^(\s*)# (\s*(?:[\w-]+:(?:\s|$)|- \{).*)$/.exec(l);
      return m ? m[1] + m[2] : l;
    })
    .join('\n');
}

const { text: composeText, compose } = readCompose();
const nodes = nodeServices(compose);
const vars = exampleEnv();
const stages = readDockerfile(path.resolve('.'));
const runtime = stages[stages.length - 1];
const imageEnv = stageEnv(runtime);

function configMount(service: Service, env: Record<string, string>): string {
  const m = mounts(service).find((v) => v.target === env.IMAGEGATE_CONFIG);
  assert.ok(m, `IMAGEGATE_CONFIG=${env.IMAGEGATE_CONFIG} is mounted`);
  assert.ok(m.bind && m.readOnly, `${m.source} is a read-only file of the host`);
  return path.resolve(DEPLOY_DIR, m.source);
}

/** Every string value of a parsed YAML document (comments are not values). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** The variables a config file reads through env:NAME (OPERATOR.md, "The config file"). */
const envRefs = (text: string) => strings(YAML.parse(text)).flatMap((v) => /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(v)?.[1] ?? []);

test('two imagegate nodes, built from the Dockerfile, on PostgreSQL, Redis, MinIO and a load balancer', () => {
  assert.deepEqual(nodes.map(([n]) => n).sort(), ['node1', 'node2']);
  const images = Object.values(compose.services).map((s) => s.image ?? '');
  for (const want of [/^postgres:/, /^redis:/, /minio\/minio:/, /minio\/mc:/, /^haproxy:/]) {
    assert.ok(images.some((i) => want.test(i)), `a service runs ${want}`);
  }
  for (const [name, s] of nodes) {
    assert.equal((s.build as { context: string }).context, '..', `${name} is built from the repository's root`);
    assert.equal(s.ports, undefined, `${name} is reached through the load balancer only`);
    assert.equal(s.env_file, undefined, `${name}: every variable is listed, none comes in unseen from a file`);
  }
});

test('every variable set on a node is one OPERATOR.md names (or README documents and src/config reads)', () => {
  const configText = fs.readFileSync(path.join(DEPLOY_DIR, 'imagegate.yaml'), 'utf8');
  const named = new Set([...OPERATOR_ENV, ...README_ONLY_ENV, ...envRefs(configText)]);
  for (const [name, s] of nodes) {
    const env = serviceEnv(s, vars);
    const unknown = Object.keys(env).filter((k) => !named.has(k));
    assert.deepEqual(unknown, [], `${name} sets variables OPERATOR.md does not name`);
    for (const k of REQUIRED_ENV) assert.ok(env[k], `${name} sets ${k}`);
  }
  // one master key, one signing secret, one of everything: a request may land on either node
  assert.deepEqual(serviceEnv(nodes[0][1], vars), serviceEnv(nodes[1][1], vars));
});

test('the variables not yet in OPERATOR.md are ones README documents and the config loader reads', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const loader = fs.readFileSync('src/config/index.ts', 'utf8');
  for (const k of README_ONLY_ENV) {
    assert.match(readme, new RegExp(`\\| \`${k}\``), `README's Configuration table documents ${k}`);
    assert.match(loader, new RegExp(`env\\.${k}\\b`), `src/config reads ${k}`);
  }
  // and the image's own: where it listens and keeps its data
  for (const k of Object.keys(imageEnv)) assert.match(loader, new RegExp(`env\\.${k}\\b`), `the Dockerfile's ENV ${k} is read by src/config`);
});

test('secrets come from deploy/.env: required there, never written in compose.yaml or filled in the example', () => {
  const example = readEnvFile(path.join(DEPLOY_DIR, '.env.example'));
  // what Compose interpolates: values, not comments
  const used = strings(YAML.parse(composeText)).flatMap(interpolated);
  for (const { name } of used) assert.ok(name in example, `\${${name}} is listed in deploy/.env.example`);
  for (const [name, value] of Object.entries(example)) {
    if (!/PASSWORD|SECRET|MASTER_KEY/.test(name)) continue;
    assert.equal(value, '', `deploy/.env.example ships no value for ${name}`);
    assert.ok(used.some((u) => u.name === name && u.required), `compose.yaml refuses to start without ${name} (\${${name}:?...})`);
  }
  for (const [name, s] of nodes) {
    const raw = s.environment as Record<string, string>;
    for (const k of SECRET_ENV) assert.match(String(raw[k]), /\$\{[A-Z0-9_]+:\?/, `${name}: ${k} comes from deploy/.env`);
  }
  assert.match(fs.readFileSync('.gitignore', 'utf8'), /^deploy\/\.env$/m, 'deploy/.env is never committed');
});

test('the mounted config file uses only keys OPERATOR.md names, and loads, also with its examples uncommented', () => {
  for (const [name, s] of nodes) {
    const env = serviceEnv(s, vars);
    const file = configMount(s, env);
    const text = fs.readFileSync(file, 'utf8');
    for (const [label, body] of [['as shipped', text], ['uncommented', uncommented(text)]] as const) {
      assert.deepEqual(unknownKeys(YAML.parse(body), CONFIG_KEYS, ''), [], `${name}: ${path.basename(file)} (${label}) has keys OPERATOR.md does not name`);
      const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-deploy-config-')), 'imagegate.yaml');
      fs.writeFileSync(copy, body);
      const refs = Object.fromEntries(envRefs(body).map((r) => [r, `test-value-of-${r}`]));
      try {
        const config = loadConfig({ ...env, ...refs, IMAGEGATE_CONFIG: copy });
        assert.equal(config.shutdownGraceMs, Number(env.IMAGEGATE_SHUTDOWN_GRACE_MS));
        assert.ok(config.models && Object.values(config.models).every((m) => m.deployments.some((d) => d.provider === 'local')), 'the built-in engine serves');
      } finally {
        fs.rmSync(path.dirname(copy), { recursive: true, force: true });
      }
      // a provider key the file names must be one the operator is told to set
      for (const r of envRefs(body)) {
        assert.match(composeText, new RegExp(`\\b${r}\\b`), `compose.yaml mentions ${r}`);
        assert.match(fs.readFileSync(path.join(DEPLOY_DIR, '.env.example'), 'utf8'), new RegExp(`\\b${r}=`), `.env.example mentions ${r}`);
      }
    }
    assert.ok(envRefs(uncommented(text)).length > 0, 'the commented provider reads its key through env:');
  }
});

test('each node keeps its data dir (the image VOLUME) in a volume of its own', () => {
  const volume = JSON.parse(last(runtime, 'VOLUME')!.args) as string[];
  assert.deepEqual(volume, [imageEnv.IMAGEGATE_DATA_DIR]);
  const sources = nodes.map(([name, s]) => {
    const m = mounts(s).find((v) => v.target === imageEnv.IMAGEGATE_DATA_DIR);
    assert.ok(m && !m.bind, `${name} mounts a named volume at ${imageEnv.IMAGEGATE_DATA_DIR}`);
    assert.ok(compose.volumes && m.source in compose.volumes, `${m.source} is declared`);
    return m.source;
  });
  assert.equal(new Set(sources).size, nodes.length, 'no two nodes share a data dir');
});

test('Docker waits longer than a node drains: stop_grace_period > IMAGEGATE_SHUTDOWN_GRACE_MS', () => {
  for (const [name, s] of nodes) {
    const grace = Number(serviceEnv(s, vars).IMAGEGATE_SHUTDOWN_GRACE_MS);
    assert.ok(Number.isInteger(grace) && grace > 0, `${name}: IMAGEGATE_SHUTDOWN_GRACE_MS is set`);
    assert.ok(s.stop_grace_period, `${name} has a stop_grace_period`);
    const stop = durationMs(s.stop_grace_period!);
    // room for the last settlements and the stores to close after the grace runs out
    assert.ok(stop >= grace + 10_000, `${name}: stop_grace_period ${s.stop_grace_period} leaves at least 10 s past ${grace} ms`);
    assert.equal(s.stop_signal ?? 'SIGTERM', 'SIGTERM');
  }
});

test('the load balancer routes only to nodes whose /readyz answers 200, with timeouts long enough for an edit', () => {
  const [lbName, lb] = Object.entries(compose.services).find(([, s]) => /^haproxy:/.test(s.image ?? ''))!;
  const cfgMount = mounts(lb).find((m) => m.target === '/usr/local/etc/haproxy/haproxy.cfg');
  assert.ok(cfgMount?.bind && cfgMount.readOnly, `${lbName} mounts its config read-only`);
  const cfg = fs.readFileSync(path.resolve(DEPLOY_DIR, cfgMount.source), 'utf8').replace(/#.*$/gm, '');
  const backend = /^backend\s+\S+\n((?:[ \t]+.*\n|\n)*)/m.exec(cfg)?.[1] ?? '';
  assert.match(backend, /^\s+option httpchk\s*$/m);
  assert.match(backend, /^\s+http-check send meth GET uri \/readyz\b/m, 'the health check asks /readyz');
  assert.match(backend, /^\s+http-check expect status 200\s*$/m, 'only 200 is ready (503: database down or draining)');
  assert.match(backend, /^\s+default-server\s.*\bcheck\b/m, 'every server is checked');
  const servers = [...backend.matchAll(/^\s+server\s+(\S+)\s+([^\s:]+):(\d+)/gm)].map((m) => ({ host: m[2], port: m[3] }));
  assert.deepEqual(servers.map((s) => s.host).sort(), nodes.map(([n]) => n).sort(), 'each node is a server');
  for (const s of servers) assert.equal(s.port, imageEnv.PORT, 'on the port the image listens on');
  // an edit may take minutes (a provider attempt may run 300 s); streams are not buffered, bodies not capped
  for (const t of ['client', 'server']) {
    const m = new RegExp(`^\\s+timeout ${t}\\s+(\\S+)`, 'm').exec(cfg);
    assert.ok(m, `timeout ${t} is set`);
    const ms = durationMs(m[1]);
    assert.ok(ms >= 300_000 && ms <= 600_000, `timeout ${t} ${m[1]} is 300–600 s`);
  }
  assert.doesNotMatch(cfg, /http-buffer-request|^\s*compression\b|tune\.bufsize|req\.body_size|content-length/m, 'nothing buffers or caps a body');
  assert.ok(lb.ports?.length, 'the load balancer is published');
});

test('haproxy -c accepts the load balancer config (when haproxy is installed)', (t) => {
  const which = spawnSync('sh', ['-c', 'command -v haproxy']);
  if (which.status !== 0) {
    t.skip('haproxy is not installed (apt-get install haproxy)');
    return;
  }
  // the node names resolve only inside Compose's network: their warnings are expected
  const out = execFileSync('haproxy', ['-c', '-f', path.join(DEPLOY_DIR, 'haproxy.cfg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /Configuration file is valid/);
});
