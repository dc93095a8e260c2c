#!/usr/bin/env node
import process from 'node:process';

const argv = process.argv.slice(2);

// the image client needs none of the server's modules (sharp, SQLite, the
// engine), which take seconds to load: it is dispatched before they are
const run =
  argv[0] === 'edit' || argv[0] === 'generate'
    ? import('./client/index.js').then(async ({ clientMain }) => {
        process.exitCode = await clientMain(argv[0] as 'edit' | 'generate', argv.slice(1));
      })
    : import('./main.js').then(({ main }) => main());

run.catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
