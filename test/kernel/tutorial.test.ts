/**
 * docs/tutorial.md, run as written: every ```sh block of the page, in order, in one bash with
 * `set -euo pipefail`, `klp` on the PATH as docs/cli.md installs it (here: a wrapper around the
 * build). The page's own "prints" blocks are the expected output, compared line for line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KLP } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/tools.js';

test('docs/tutorial.md: every command on the page, on Debian\'s kernel under QEMU, prints what the page says', () => {
  const page = readFileSync(join(ROOT, 'docs/tutorial.md'), 'utf8');
  const blocks = [...page.matchAll(/```(sh)?\n([\s\S]*?)```/g)].map((m) => ({ sh: m[1] === 'sh', text: m[2]! }));
  const commands = blocks.filter((b) => b.sh).map((b) => b.text);
  assert.ok(commands.length >= 6, 'the page has its commands');
  // The expected output: each "prints" block, in order.
  const expected = blocks.filter((b) => !b.sh).map((b) => b.text.trimEnd().split('\n')).flat();
  const { dir, cleanup } = tempDir('klpkit-tutorial-');
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'klp'), `#!/bin/sh\nexec "${process.execPath}" "${KLP}" "$@"\n`);
    chmodSync(join(bin, 'klp'), 0o755);
    const script = ['set -euo pipefail', ...commands].join('\n');
    const r = spawnSync('bash', ['-c', script], {
      cwd: ROOT, encoding: 'latin1', timeout: 900_000, maxBuffer: 1 << 26,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    assert.equal(r.status, 0, `the page's commands failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    // What the two boots printed (the grep lines), whole lines in order.
    const printed = r.stdout.split('\n').filter((l) => /^(insmod \w+: |status: )/.test(l));
    assert.deepEqual(printed, expected);
    // The steps before the boots said what the page says they say.
    assert.match(r.stdout, /^binfmt_misc +0 +1 .* not exported$/m);
    assert.match(r.stdout, /\.klp\.sym\.binfmt_misc\.enabled,0 +1 relocation\(s\) +\(unique\)/);
    assert.match(r.stdout, /emulated kernel, design 6\.1: insmod livepatch_binfmt, then binfmt_misc -> 0 \(loaded\)/);
    assert.match(r.stdout, /emulated kernel, design 6\.1: insmod binfmt_misc, then livepatch_binfmt -> 0 \(loaded\)/);
    assert.match(r.stdout, /livepatch: applying patch 'livepatch_binfmt' to loading module 'binfmt_misc'/);
  } finally {
    cleanup();
  }
});
