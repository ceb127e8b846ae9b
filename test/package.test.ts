/** The package as users consume it: `import('klpkit')` after the build, and the `klp` bin. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runStatus } from './helpers/tools.js';

test("import('klpkit') resolves to the built library", () => {
  const script = "import('klpkit').then(m => console.log(typeof m.readElf, typeof m.writeElf, typeof m.loadElf, m.SHN.LIVEPATCH))";
  const r = runStatus(process.execPath, ['-e', script], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'function function function 65312');
});

test('package.json declares the klp bin and ESM entry points that exist after the build', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { type: string; bin: { klp: string }; exports: { '.': { import: string } } };
  assert.equal(pkg.type, 'module');
  assert.match(readFileSync(join(ROOT, pkg.bin.klp), 'utf8'), /^#!\/usr\/bin\/env node/);
  assert.ok(readFileSync(join(ROOT, pkg.exports['.'].import), 'utf8').length > 0);
});
