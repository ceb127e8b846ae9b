/**
 * Bundle the built CLI (dist/cli/main.js and every module it loads, commander and the codecs
 * included) into one CommonJS script, dist/klp.cjs, which `klp` runs (src/cli/launch.cts): one file
 * read and compiled from V8's code cache, instead of some 45 ES modules resolved, read, linked and
 * compiled at every start (docs/performance.md, ninth round). `npm run build` runs it after tsc.
 *
 * The bundle is made from tsc's output, so it is the same code as dist/; what changes on the way
 * is here:
 *  - `import.meta.url`, which CommonJS has not: each module's own URL, the one it has in dist/
 *    (workers and the bundled examples are found next to it), made from the bundle's __dirname;
 *  - the entry's `#!` line, which a script compiled by vm.Script may not start with;
 *  - import() of Node's built-in modules, and commander's child_process (below).
 *
 * Usage: node --import tsx scripts/bundle.ts   (from the repository root, after tsc)
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const BUNDLE = join(DIST, 'klp.cjs');

/** Each dist module's `import.meta.url`, as the URL of that module's file in dist/. */
const ownUrl: Plugin = {
  name: 'klp-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = relative(DIST, args.path).split('\\').join('/');
      return { contents: text.replaceAll('import.meta.url', `__klpModuleUrl(${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

/**
 * commander's `require('node:child_process')`, made when first used: commander needs it only to
 * run a subcommand as its own executable, which klp never does, and loading it at every start
 * brings in net, dgram and the streams (some 9 ms of a small command's 140, measured).
 */
const lazyChildProcess: Plugin = {
  name: 'klp-lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'klp-lazy' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'klp-lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

async function main(): Promise<void> {
  const result = await build({
    entryPoints: [join(DIST, 'cli/main.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    outfile: BUNDLE,
    legalComments: 'inline',
    logLevel: 'warning',
    plugins: [ownUrl, lazyChildProcess],
    banner: { js: '// klpkit: the klp command bundled into one script by scripts/bundle.ts (npm run build); src/cli/launch.cts runs it.' },
    // A declaration (hoisted) after the code: before it, it would end the "use strict" prologue.
    footer: { js: "function __klpModuleUrl(rel) { return require('node:url').pathToFileURL(require('node:path').join(__dirname, rel)).href; }" },
  });
  const out = result.outputFiles.find((f) => f.path === BUNDLE);
  if (!out) throw new Error(`esbuild made no ${BUNDLE}`);
  // The entry's "#!/usr/bin/env node", if esbuild kept it: a compiled script cannot start with it.
  // Node's built-in modules that the code loads when first needed by import() (zlib for the
  // codecs, child_process for an external decompressor)
  // are required there instead: a script compiled from a code cache has no loader for import()
  // on Node 20 ("A dynamic import callback was not specified").
  const text = out.text.replace(/^#![^\n]*\n/, '').replace(/\bimport\(("node:[a-z_/]+")\)/g, 'Promise.resolve(require($1))');
  // ASCII only (esbuild's default charset escapes the rest), which the launcher reads as latin1.
  const left = /^#!|import\.meta|\bimport\("|[^\x00-\x7f]/m.exec(text);
  if (left) throw new Error(`${BUNDLE}: "${left[0]}" is left in the bundle (at ${left.index})`);
  const tmp = `${BUNDLE}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, BUNDLE);
}

await main();
