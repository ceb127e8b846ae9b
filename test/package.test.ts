/** The package as users consume it: `import('klpkit')` after the build, and the `klp` bin. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

test('docs/cli.md: the line that puts klp on the PATH works (run from the page, into a scratch prefix)', () => {
  const page = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
  const line = /## Running it from a checkout\n\n```sh\n(.+)\n```/.exec(page)?.[1];
  assert.ok(line, 'the command is on the page');
  // npm ci and the build have run (npm test builds first); the install step is the one to prove.
  const install = line.split('&&').map((x) => x.trim()).find((x) => x.startsWith('npm install -g'));
  assert.equal(install, 'npm install -g .');
  const prefix = mkdtempSync(join(tmpdir(), 'klpkit-prefix-'));
  try {
    const r = runStatus('npm', [...install.split(' ').slice(1), '--prefix', prefix, '--no-audit', '--no-fund'], { cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    const v = runStatus(join(prefix, 'bin', 'klp'), ['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    assert.equal(runStatus(join(prefix, 'bin', 'klp'), ['elf', join(ROOT, 'examples/klp_demo.ko'), '-m']).status, 0);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});
