#!/usr/bin/env node
// Runs the test suite with node's own runner. Files are listed explicitly: `node --test DIR`
// silently runs zero .ts files under tsx (see docs/testing.md).
//   node test/run.mjs                 every test
//   node test/run.mjs --corpus-only   only test/corpus (the Debian module corpus)
//   node test/run.mjs FILE...         the named files
// dist/ is rebuilt first when src/ is newer (the CLI tests run the built command).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const walk = (d) => readdirSync(d).sort().flatMap((e) => {
  const p = join(d, e);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
});
let files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  files = walk(join(root, 'test'));
  if (args.includes('--corpus-only')) files = files.filter((f) => f.includes('/test/corpus/'));
}
if (files.length === 0) {
  console.error('test/run.mjs: no test files found');
  process.exit(1);
}
// The CLI tests run the built `klp` (dist/), as users do: rebuild it when any source is newer, so
// that a single test file run after an edit never tests stale code.
const newest = (d) => readdirSync(d).reduce((m, e) => {
  const p = join(d, e);
  const st = statSync(p);
  return Math.max(m, st.isDirectory() ? newest(p) : st.mtimeMs);
}, 0);
// The bundle the launcher runs (scripts/bundle.ts) is made from dist/ and is the last thing built.
const newestSource = Math.max(newest(join(root, 'src')), statSync(join(root, 'scripts/bundle.ts')).mtimeMs);
let built = 0;
try {
  built = Math.min(statSync(join(root, 'dist/cli/main.js')).mtimeMs, statSync(join(root, 'dist/klp.cjs')).mtimeMs);
} catch {
  built = 0;
}
if (newestSource > built) {
  console.log('test/run.mjs: dist/ is older than src/: building first');
  const b = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit', cwd: root });
  if (b.status !== 0) process.exit(b.status ?? 1);
  const u = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/bundle.ts')], { stdio: 'inherit', cwd: root });
  if (u.status !== 0) process.exit(u.status ?? 1);
}
// The launcher's code caches (src/cli/launch.cts) in a folder of this run's: the suite runs the
// command thousands of times, from the caches its first runs leave, and leaves none behind.
const codeCache = process.env.KLPKIT_CODE_CACHE ? undefined : mkdtempSync(join(tmpdir(), 'klpkit-code-cache-'));
console.log(`running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}`);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit', cwd: root, env: codeCache ? { ...process.env, KLPKIT_CODE_CACHE: codeCache } : process.env,
});
if (codeCache) rmSync(codeCache, { recursive: true, force: true });
process.exit(r.status ?? 1);
