#!/usr/bin/env node
// Builds the web console (console/) into dist/console: one ES module and one
// stylesheet, minified, named by content hash, and index.html pointing at
// them. esbuild (not Vite): it runs on every Node version the gateway
// supports, and `npm ci` runs this through `prepare`.
//   node scripts/build-console.mjs            build once, print the sizes
//   node scripts/build-console.mjs --watch    rebuild on every change
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'console');
const out = path.join(root, 'dist', 'console');
const watch = process.argv.includes('--watch');

/** index.html from the template, with the built asset names in place */
function writeIndex(metafile) {
  const outputs = Object.keys(metafile.outputs).map((f) => path.basename(f));
  const js = outputs.find((f) => /^app-.*\.js$/.test(f));
  const css = outputs.find((f) => /^app-.*\.css$/.test(f));
  if (!js || !css) throw new Error(`console build: expected app-*.js and app-*.css, got ${outputs.join(', ')}`);
  const html = fs
    .readFileSync(path.join(src, 'index.html'), 'utf8')
    .replace('%APP_JS%', `assets/${js}`)
    .replace('%APP_CSS%', `assets/${css}`);
  fs.writeFileSync(path.join(out, 'index.html'), html);
  return [js, css];
}

function report(files) {
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(out, 'assets', f));
    const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(`  dist/console/assets/${f}  ${kb(bytes.length)} (${kb(zlib.gzipSync(bytes, { level: 9 }).length)} gzip)`);
  }
}

const options = {
  entryPoints: { app: path.join(src, 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome111', 'firefox111', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
};

// old hashed files would pile up otherwise
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });

if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [
      {
        name: 'index-html',
        setup(build) {
          build.onEnd((result) => {
            if (result.metafile) report(writeIndex(result.metafile));
          });
        },
      },
    ],
  });
  await ctx.watch();
  console.log('console: watching console/ (reload /console after each build)');
} else {
  const result = await esbuild.build(options);
  console.log('console built:');
  report(writeIndex(result.metafile));
}
