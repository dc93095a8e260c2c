/**
 * The `imagegate` command: `serve` (the default), keys, groups and usage
 * reports, and `config check`. `edit` and `generate` (a client of a running
 * gateway) are dispatched by bin.ts before this module is loaded.
 */
import { createRequire } from 'node:module';
import { loadConfig, ConfigError, type Config } from '../config/index.js';
import { startApp } from '../app.js';
import { accountsCommand, ACCOUNTS_HELP } from './accounts.js';
import { configCheck } from './config-check.js';
import { CLIENT_HELP } from './client/args.js';
import { steadyHeapGrowth } from './heap.js';

const HELP = `imagegate — a self-hosted, OpenAI-compatible image-editing gateway

usage:
  imagegate [serve]                 start the server (HOST, PORT, IMAGEGATE_DATA_DIR, IMAGEGATE_CONFIG, ...)
${CLIENT_HELP}
${ACCOUNTS_HELP}
  imagegate config check [FILE] [--ping]
                                    validate a config file; --ping calls each provider once
  imagegate --version | --help
`;

type Out = (line: string) => void;

/** how long past the grace a shutdown may take to release reservations and close stores */
const STUCK_MS = 10_000;
/** how long idle kept-alive connections stay open on a shutdown, to answer what they send 503 with Connection: close */
const DRAIN_IDLE_WINDOW_MS = 1_000;

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
  if (cmd === 'keys' || cmd === 'groups' || cmd === 'usage') return accountsCommand(cmd, sub, rest, config, out);
  if (cmd !== 'serve') {
    out(`unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  await serve(config);
  return 0;
}

async function serve(config: Config): Promise<void> {
  steadyHeapGrowth();
  const app = await startApp(config, {
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: draining (up to ${config.shutdownGraceMs} ms for requests in flight), then exiting`);
    // the app aborts what is left when the grace runs out; this only guards against a close that never ends
    const force = setTimeout(() => {
      console.error(`shutdown still not done ${STUCK_MS} ms after the grace; exiting anyway`);
      process.exit(1);
    }, config.shutdownGraceMs + STUCK_MS);
    force.unref();
    app.close(config.shutdownGraceMs, DRAIN_IDLE_WINDOW_MS).then(
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

