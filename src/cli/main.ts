/**
 * The `imagegate` command: `serve` (the default) and `keys create|list|revoke`.
 */
import { createRequire } from 'node:module';
import { loadConfig, ConfigError, type Config } from '../config/index.js';
import { startApp } from '../app.js';
import { openStores } from '../store/index.js';
import { configCheck } from './config-check.js';

const HELP = `imagegate — a self-hosted, OpenAI-compatible image-editing gateway

usage:
  imagegate [serve]                 start the server (HOST, PORT, IMAGEGATE_DATA_DIR, IMAGEGATE_CONFIG, ...)
  imagegate keys create --name N    create a virtual API key (printed once)
  imagegate keys list               list keys (never their secrets)
  imagegate keys revoke KEY_ID      revoke a key
  imagegate config check [FILE] [--ping]
                                    validate a config file; --ping calls each provider once
  imagegate --version | --help
`;

type Out = (line: string) => void;

export async function runCli(argv: string[], config: Config, out: Out = console.log): Promise<number> {
  const [cmd = 'serve', sub, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    out(pkg.version);
    return 0;
  }
  if (cmd === 'keys') return keysCommand(sub, rest, config, out);
  if (cmd !== 'serve') {
    out(`unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  await serve(config);
  return 0;
}

function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

async function keysCommand(sub: string | undefined, args: string[], config: Config, out: Out): Promise<number> {
  const stores = await openStores({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (sub === 'create') {
      const name = flag(args, '--name');
      if (!name) {
        out('usage: imagegate keys create --name NAME');
        return 2;
      }
      const key = await stores.keys.create({ name });
      out(`created key ${key.id} (${key.name})`);
      out(`  ${key.key}`);
      out('store it now: it is not shown again.');
      return 0;
    }
    if (sub === 'list') {
      const keys = await stores.keys.list();
      if (keys.length === 0) out('no keys');
      for (const k of keys) {
        const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : 'active';
        out(`${k.id}\t${k.prefix}…\t${k.name}\t${state}\tcreated ${new Date(k.createdAt).toISOString()}`);
      }
      return 0;
    }
    if (sub === 'revoke') {
      const id = args[0];
      if (!id) {
        out('usage: imagegate keys revoke KEY_ID');
        return 2;
      }
      const existing = await stores.keys.get(id);
      if (!existing) {
        out(`no key with id ${id}`);
        return 1;
      }
      const revoked = await stores.keys.revoke(id);
      out(revoked ? `revoked ${id}` : `${id} was already revoked`);
      return 0;
    }
    out(`usage: imagegate keys create --name N | keys list | keys revoke KEY_ID`);
    return 2;
  } finally {
    await stores.close();
  }
}

async function serve(config: Config): Promise<void> {
  const app = await startApp(config, {
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: finishing in-flight requests, then exiting`);
    const force = setTimeout(() => {
      console.error(`still busy after ${config.shutdownGraceMs} ms; exiting anyway`);
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('shutdown failed:', e);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // config check loads the file itself, to report its errors rather than stop on them
  if (argv[0] === 'config') {
    if (argv[1] !== 'check') {
      console.log('usage: imagegate config check [FILE] [--ping]');
      process.exit(2);
    }
    process.exit(await configCheck(argv.slice(2), process.env, console.log));
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const code = await runCli(argv, config);
  if (code !== 0) process.exit(code);
}

