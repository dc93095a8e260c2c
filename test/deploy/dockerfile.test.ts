/**
 * The Dockerfile's steps, run on this machine (it has no container runtime):
 * a fresh copy of the repository filtered by .dockerignore is the build
 * context; each stage gets a directory standing for its filesystem root; the
 * build stage's RUN steps run there as written, the runtime stage copies
 * from it and runs its own; then ENTRYPOINT + CMD start the server with the
 * environment deploy/compose.yaml gives a node (but on SQLite, without Redis
 * or S3, whose hosts exist only inside Compose), as the image's user when
 * this runs as root. Its HEALTHCHECK must pass, an edit must work, SIGTERM
 * must end it with exit code 0.
 *
 * The build (npm ci, compiling better-sqlite3, tsc) takes minutes, so it
 * runs only with IMAGEGATE_DEPLOY_TEST=1, which .ci/run sets. The checks of
 * the Dockerfile's text run always.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makePng } from '../helpers/images.js';
import { DEPLOY_DIR, exampleEnv, mounts, nodeServices, readCompose, serviceEnv } from './compose.js';
import { copyArgs, dockerignore, envPairs, execForm, healthcheck, last, readDockerfile, stageEnv, substitute, type Stage } from './dockerfile.js';

const REPO = path.resolve('.');
const stages = readDockerfile(REPO);
const [build, runtime] = stages;
const BUILD_TEST = process.env.IMAGEGATE_DEPLOY_TEST === '1';

test('two stages: a build with dev dependencies, a slim Node 20 runtime from the same Debian release', () => {
  assert.equal(stages.length, 2);
  assert.match(build.image, /^node:20-bookworm$/, 'the build has python3, make and g++ for better-sqlite3');
  assert.match(runtime.image, /^node:20-bookworm-slim$/, 'the runtime: glibc like the build, so its native modules load');
  const runs = build.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs, /npm ci\b/);
  assert.match(runs, /npm run build\b/);
  assert.match(runs, /npm prune --omit=dev\b/, 'the runtime gets the production tree only');
  const copied = runtime.instructions.filter((i) => i.cmd === 'COPY').map((i) => copyArgs(i.args));
  assert.ok(copied.every((c) => c.from === build.name), 'the runtime stage takes everything from the build stage');
  assert.deepEqual(copied.flatMap((c) => c.sources).sort(), ['/app/dist', '/app/node_modules', '/app/package-lock.json', '/app/package.json']);
});

test('the runtime: non-root, data dir a volume, listening on all interfaces, HEALTHCHECK by node on /healthz, node as PID 1', () => {
  const env = stageEnv(runtime);
  assert.equal(env.HOST, '0.0.0.0');
  const user = last(runtime, 'USER')!.args;
  assert.ok(!/^(0|root)(:|$)/.test(user), `USER ${user} is not root`);
  assert.deepEqual(JSON.parse(last(runtime, 'VOLUME')!.args), [env.IMAGEGATE_DATA_DIR]);
  assert.equal(last(runtime, 'EXPOSE')!.args, env.PORT);
  const hc = healthcheck(last(runtime, 'HEALTHCHECK')!.args);
  assert.equal(hc.command[0], 'node', 'the slim image has no curl: node asks');
  assert.match(hc.command.join(' '), /\/healthz/);
  const entrypoint = execForm(last(runtime, 'ENTRYPOINT')!.args, 'ENTRYPOINT');
  assert.deepEqual(entrypoint.slice(0, 1), ['node'], 'exec form, node itself: SIGTERM reaches it with no shell or npm between');
  assert.deepEqual(execForm(last(runtime, 'CMD')!.args, 'CMD'), ['serve']);
});

// ---- running the steps

/** The files a fresh clone would have, plus new ones not yet committed, without what .gitignore or .dockerignore leave out. */
function buildContext(dir: string): number {
  const ignored = dockerignore(fs.readFileSync(path.join(REPO, '.dockerignore'), 'utf8'));
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  let n = 0;
  for (const rel of listed.split('\0').filter(Boolean)) {
    if (ignored(rel) || !fs.existsSync(path.join(REPO, rel))) continue;
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(REPO, rel), path.join(dir, rel));
    n++;
  }
  return n;
}

/** This machine's environment for a build step, without what the test runner (npm, NODE_ENV=test) put in it. */
function hostEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|NODE_ENV$|NODE_OPTIONS$|INIT_CWD$|IMAGEGATE_)/i.test(k)) continue;
    out[k] = v;
  }
  // npm put this checkout's node_modules/.bin first: the copy must use its own tools
  if (out.PATH) out.PATH = out.PATH.split(':').filter((p) => !p.endsWith(`node_modules${path.sep}.bin`)).join(':');
  return out;
}

interface Built {
  /** the directory standing for each stage's filesystem root */
  roots: Record<string, string>;
  env: Record<string, string>;
  workdir: string;
  user: string | null;
}

/** An image path inside a stage's root. */
const inRoot = (root: string, p: string) => path.join(root, p);

/** ENV values that are absolute paths point into the stage's root, as they would inside the image. */
function mapped(env: Record<string, string>, root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('/') ? inRoot(root, v) : v]));
}

function sh(command: string, cwd: string, env: Record<string, string>, label: string): void {
  try {
    execFileSync('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { status: number; stdout?: Buffer; stderr?: Buffer };
    const tail = `${err.stdout ?? ''}${err.stderr ?? ''}`.split('\n').slice(-40).join('\n');
    throw new Error(`${label} exited with ${err.status}:\n${tail}`);
  }
}

/** COPY as Docker does it: a file to a file or into a directory, a directory's contents into the destination. */
function copy(src: string, dest: string, intoDir: boolean): void {
  const stat = fs.statSync(src);
  if (stat.isDirectory()) {
    fs.cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
    return;
  }
  const target = intoDir ? path.join(dest, path.basename(src)) : dest;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(src, target);
}

function runStage(stage: Stage, context: string, roots: Record<string, string>, timings: string[]): Built {
  const root = roots[stage.name];
  const env: Record<string, string> = {};
  let workdir = '/';
  let user: string | null = null;
  for (const i of stage.instructions) {
    const started = Date.now();
    switch (i.cmd) {
      case 'WORKDIR':
        workdir = path.posix.resolve(workdir, substitute(i.args, env));
        fs.mkdirSync(inRoot(root, workdir), { recursive: true });
        break;
      case 'ENV':
        for (const [k, v] of envPairs(i.args)) env[k] = substitute(v, env);
        break;
      case 'COPY': {
        const c = copyArgs(substitute(i.args, env));
        const dest = inRoot(root, path.posix.resolve(workdir, c.dest));
        const intoDir = c.dest.endsWith('/') || c.sources.length > 1;
        for (const s of c.sources) copy(c.from ? inRoot(roots[c.from], s) : path.join(context, s), dest, intoDir);
        break;
      }
      case 'RUN':
        sh(i.args, inRoot(root, workdir), { ...hostEnv(), ...mapped(env, root) }, `Dockerfile:${i.line} RUN`);
        break;
      case 'USER':
        user = substitute(i.args, env);
        break;
      default:
        // VOLUME, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD: used when the container runs
        break;
    }
    const ms = Date.now() - started;
    if (ms > 1000) timings.push(`${stage.name} line ${i.line} ${i.cmd}: ${(ms / 1000).toFixed(0)} s`);
  }
  return { roots, env, workdir, user };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** uid and gid for USER n:m when this runs as root (then the server really runs as the image's user); otherwise as this user. */
function identity(user: string | null): { uid?: number; gid?: number } {
  if (user === null || process.getuid?.() !== 0) return {};
  const [uid, gid] = user.split(':').map(Number);
  assert.ok(Number.isInteger(uid) && Number.isInteger(gid), `USER ${user} is numeric uid:gid`);
  return { uid, gid };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

let workspace: string | null = null;
let server: ChildProcess | null = null;
after(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
});

test(
  "the Dockerfile's steps build a runnable server; its HEALTHCHECK passes and SIGTERM ends it with 0",
  { skip: !BUILD_TEST && 'set IMAGEGATE_DEPLOY_TEST=1 to build the image here (.ci/run does; takes minutes)', timeout: 15 * 60_000 },
  async (t) => {
    const began = Date.now();
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'imagegate-dockerfile-'));
    // the image's user must reach /app in the runtime root, as it does in the image
    fs.chmodSync(workspace, 0o755);
    const context = path.join(workspace, 'context');
    const files = buildContext(context);
    t.diagnostic(`build context: ${files} files`);
    for (const name of ['package.json', 'package-lock.json', 'src/cli/bin.ts']) assert.ok(fs.existsSync(path.join(context, name)), `${name} is in the context`);
    for (const name of ['node_modules', 'dist', 'deploy', 'test', 'data']) assert.ok(!fs.existsSync(path.join(context, name)), `${name} stays out of the context`);

    const roots = Object.fromEntries(stages.map((s) => [s.name, path.join(workspace!, s.name)]));
    for (const r of Object.values(roots)) fs.mkdirSync(r, { mode: 0o755 });
    const timings: string[] = [];
    const built = runStage(build, context, roots, timings);

    // the pruned tree is the lockfile's production tree: what `npm ci --omit=dev` would install
    const app = inRoot(roots[build.name], built.workdir);
    const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const leftDev: string[] = [];
    const missing: string[] = [];
    for (const [p, meta] of Object.entries(lock.packages)) {
      if (!p.startsWith('node_modules/')) continue;
      const there = fs.existsSync(path.join(app, p));
      if ((meta.dev || meta.devOptional) && there) leftDev.push(p);
      if (!meta.dev && !meta.devOptional && !meta.optional && !there) missing.push(p);
    }
    assert.deepEqual(leftDev, [], 'no dev dependency is left in the runtime tree');
    assert.deepEqual(missing, [], 'every production dependency is there');

    const run = runStage(runtime, context, roots, timings);
    const root = roots[runtime.name];
    t.diagnostic(`steps: ${timings.join('; ')}`);

    // the container: the image's env, then what compose.yaml gives node1, its bind mounts in place
    const { compose } = readCompose();
    const [, node] = nodeServices(compose)[0];
    const vars = exampleEnv();
    const composeEnv = serviceEnv(node, vars);
    for (const k of Object.keys(composeEnv)) {
      // SQLite in the data dir, limits in process, hosted images on disk: those hosts exist only inside Compose
      if (/^(DATABASE_URL|REDIS_URL|IMAGEGATE_S3_|AWS_)/.test(k)) delete composeEnv[k];
    }
    for (const m of mounts(node).filter((v) => v.bind)) {
      fs.mkdirSync(path.dirname(inRoot(root, m.target)), { recursive: true });
      fs.copyFileSync(path.resolve(DEPLOY_DIR, m.source), inRoot(root, m.target));
    }
    const port = await freePort();
    const containerEnv = { PATH: hostEnv().PATH ?? '/usr/local/bin:/usr/bin:/bin', ...mapped({ ...run.env, ...composeEnv }, root), PORT: String(port) };
    const who = identity(run.user);
    const command = [...execForm(last(runtime, 'ENTRYPOINT')!.args, 'ENTRYPOINT'), ...execForm(last(runtime, 'CMD')!.args, 'CMD')];
    const cwd = inRoot(root, run.workdir);

    const startedAt = Date.now();
    server = spawn(command[0], command.slice(1), { cwd, env: containerEnv, ...who, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout!.on('data', (d: Buffer) => (output += d));
    server.stderr!.on('data', (d: Buffer) => (output += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after 60 s:\n${output}`)), 60_000);
      server!.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      server!.stdout!.on('data', () => {
        if (/imagegate listening on/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    t.diagnostic(`listening ${Date.now() - startedAt} ms after start`);
    assert.match(output, new RegExp(`data in ${inRoot(root, '/data').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const hc = healthcheck(last(runtime, 'HEALTHCHECK')!.args);
    const probe = () =>
      new Promise<number | null>((resolve) => {
        const c = spawn(hc.command[0], hc.command.slice(1), { cwd, env: containerEnv, ...who, stdio: 'ignore' });
        c.once('exit', (code) => resolve(code));
      });
    assert.equal(await probe(), 0, 'HEALTHCHECK passes');

    // an edit through the built-in engine: sharp, the engine's worker threads and SQLite load from the pruned tree
    const form = new FormData();
    form.append('image', new Blob([await makePng(64, 48)], { type: 'image/png' }), 'photo.png');
    form.append('prompt', 'make it black and white');
    const res = await fetch(`http://127.0.0.1:${port}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${vars.IMAGEGATE_MASTER_KEY}` },
      body: form,
    });
    const body = (await res.json()) as { data?: { b64_json: string }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(Buffer.from(body.data![0].b64_json, 'base64').subarray(1, 4).toString('latin1'), 'PNG');

    // the web console was bundled in the build stage and is served from the runtime image
    const consolePage = await fetch(`http://127.0.0.1:${port}/console`);
    assert.equal(consolePage.status, 200);
    const html = await consolePage.text();
    const script = /src="([^"]*assets\/app-[^"]+\.js)"/.exec(html);
    assert.ok(script, `the console page links its bundle:\n${html.slice(0, 400)}`);
    const asset = await fetch(new URL(script[1], `http://127.0.0.1:${port}/console/`));
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);

    // the data dir is written by the image's user, and only it can read it
    const dataDir = inRoot(root, '/data');
    assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
    if (who.uid !== undefined) {
      for (const f of fs.readdirSync(dataDir)) assert.equal(fs.statSync(path.join(dataDir, f)).uid, who.uid, `${f} belongs to uid ${who.uid}`);
    }

    const stopAt = Date.now();
    server.kill('SIGTERM');
    assert.equal(await exited(server), 0, `SIGTERM ends it with 0:\n${output.slice(-2000)}`);
    t.diagnostic(`stopped ${Date.now() - stopAt} ms after SIGTERM`);
    assert.notEqual(await probe(), 0, 'HEALTHCHECK fails once it is gone');
    t.diagnostic(`whole test: ${((Date.now() - began) / 1000).toFixed(0)} s`);
  },
);
