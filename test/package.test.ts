/** The package as users consume it: `import('klpkit')` after the build, and the `klp` bin. */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureDb } from './helpers/fixture-db.js';
import { buildObject, ROOT, runStatus } from './helpers/tools.js';

test("import('klpkit') resolves to the built library", () => {
  const script = "import('klpkit').then(m => console.log(typeof m.readElf, typeof m.writeElf, typeof m.loadElf, m.SHN.LIVEPATCH))";
  const r = runStatus(process.execPath, ['-e', script], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'function function function 65312');
});

test('package.json declares the klp bin and ESM entry points that exist after the build', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { type: string; bin: { klp: string }; exports: { '.': { import: string } } };
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.bin.klp, './bin/klp');
  assert.match(readFileSync(join(ROOT, pkg.bin.klp), 'utf8'), /^#!\/bin\/sh\n/);
  assert.match(readFileSync(join(ROOT, 'dist/cli/main.js'), 'utf8'), /^#!\/usr\/bin\/env node/);
  assert.ok(readFileSync(join(ROOT, pkg.exports['.'].import), 'utf8').length > 0);
});

test('bin/klp runs the launcher dist/cli/launch.cjs with its arguments, through a symlink, with its malloc tunables before any GLIBC_TUNABLES of the caller, without NODE_EXTRA_CA_CERTS, and convert with its heap settings', () => {
  // A `node` of our own first on the PATH shows what the launcher runs, and with what.
  const dir = mkdtempSync(join(tmpdir(), 'klpkit-launcher-'));
  try {
    writeFileSync(join(dir, 'node'), '#!/bin/sh\nprintf "%s|" "$GLIBC_TUNABLES" "$@"\n', { mode: 0o755 });
    symlinkSync(join(ROOT, 'bin/klp'), join(dir, 'klp'));
    const env = (tunables?: string): NodeJS.ProcessEnv => {
      const e: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      if (tunables === undefined) delete e.GLIBC_TUNABLES;
      else e.GLIBC_TUNABLES = tunables;
      return e;
    };
    const main = join(realpathSync(ROOT), 'dist/cli/launch.cjs');
    // Huge pages for malloc's large blocks, and the blocks up to 32 MiB kept in its heap, which
    // grows 64 MiB at a time and is not given back under 256 MiB (bin/klp says why).
    const malloc = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=67108864:glibc.malloc.trim_threshold=268435456';
    const plain = runStatus(join(dir, 'klp'), ['symbols', 'find', 'a b'], { env: env() });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, `${malloc}|${main}|symbols|find|a b|`);
    // convert, and only convert, runs with a small young generation, a larger first old one,
    // gc() exposed, one thread for V8's background work and less inlining by TurboFan.
    const convert = runStatus(join(dir, 'klp'), ['convert', 'in.ko', '-o', 'out.ko'], { env: env() });
    assert.equal(convert.stdout, `${malloc}|--max-semi-space-size=4|--initial-old-space-size=64|--expose-gc|--v8-pool-size=1|--max-inlined-bytecode-size-cumulative=200|${main}|convert|in.ko|-o|out.ko|`);
    const theirs = runStatus(join(dir, 'klp'), ['--version'], { env: env('glibc.malloc.hugetlb=0') });
    assert.equal(theirs.stdout, `${malloc}:glibc.malloc.hugetlb=0|${main}|--version|`);
    // And the real thing, through the symlink.
    const real = runStatus(join(dir, 'klp'), ['--version'], { env: { ...process.env } });
    assert.equal(real.status, 0, real.stderr);
    assert.equal(real.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    // NODE_EXTRA_CA_CERTS is not passed on (Node reads that bundle at its start; bin/klp says
    // why). A bundle that is not there shows it: Node warns of it, klp is quiet.
    const ca = { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'no-such-ca.pem') };
    assert.match(runStatus(process.execPath, ['-e', '0'], { env: ca }).stderr, /Ignoring extra certs from .*no-such-ca\.pem/);
    const quiet = runStatus(join(dir, 'klp'), ['--version'], { env: ca });
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

test('bin/klp convert (the bundle, from its code cache too), run with its heap settings, writes the module and the report that node dist/cli/main.js convert writes', async () => {
  const { dir, dbFile } = await fixtureDb('package-launcher');
  const lp = buildObject(dir, ['lp_main.c'], 'lp.o');
  const viaLauncher = runStatus(join(ROOT, 'bin/klp'), ['convert', lp, '--db', dbFile, '-o', join(dir, 'a.ko')]);
  const plain = runStatus(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'convert', lp, '--db', dbFile, '-o', join(dir, 'b.ko')]);
  assert.equal(viaLauncher.status, 0, viaLauncher.stderr);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(viaLauncher.stdout, /^converted: [1-9]\d* livepatch relocation/);
  assert.equal(viaLauncher.stdout, plain.stdout);
  assert.deepEqual(readFileSync(join(dir, 'a.ko')), readFileSync(join(dir, 'b.ko')));
  // Again, now that a cache of convert is there (test/run.mjs gives the suite a folder of its own).
  const again = runStatus(join(ROOT, 'bin/klp'), ['convert', lp, '--db', dbFile, '-o', join(dir, 'c.ko')]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, plain.stdout);
  assert.deepEqual(readFileSync(join(dir, 'c.ko')), readFileSync(join(dir, 'b.ko')));
});

test('the launcher runs the bundle from a code cache a command, which a run that did its work writes, V8 refusing a damaged one, only from files and folders of the user\'s own, and runs dist/cli/main.js without the bundle', () => {
  const cache = mkdtempSync(join(tmpdir(), 'klpkit-code-cache-'));
  const launcher = join(ROOT, 'dist/cli/launch.cjs');
  const demo = join(ROOT, 'examples/klp_demo.ko');
  const env = (dir: string): NodeJS.ProcessEnv => ({ ...process.env, KLPKIT_CODE_CACHE: dir });
  const run = (args: string[], dir = cache) => runStatus(process.execPath, [launcher, ...args], { env: env(dir) });
  const caches = (): string[] => readdirSync(cache).sort();
  try {
    const plain = runStatus(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'elf', demo, '-S']);
    assert.equal(plain.status, 0, plain.stderr);
    // Help, the version and a failed run leave no cache: they compile little of the command.
    assert.equal(run(['elf', '--help']).status, 0);
    assert.equal(run(['--version']).status, 0);
    assert.equal(run(['elf', join(cache, 'missing.ko')]).status, 2);
    assert.deepEqual(caches(), []);
    // The first run of `elf` writes its cache; the next runs from it, and leaves it as it was.
    const first = run(['elf', demo, '-S']);
    assert.equal(first.stdout, plain.stdout);
    const [file] = caches();
    assert.match(file ?? '', /^elf-[0-9a-f]{16}\.v8$/);
    const written = readFileSync(join(cache, file!));
    const time = statSync(join(cache, file!), { bigint: true }).mtimeNs;
    const second = run(['elf', demo, '-S']);
    assert.equal(second.stdout, plain.stdout);
    assert.equal(second.stderr, '');
    assert.equal(statSync(join(cache, file!), { bigint: true }).mtimeNs, time, 'a cache V8 took is not written again');
    // A damaged cache (same size, other bytes): V8 refuses it, the run is the same, and the cache
    // is written again.
    writeFileSync(join(cache, file!), Buffer.alloc(written.length, 0x5a));
    const third = run(['elf', demo, '-S']);
    assert.equal(third.status, 0, third.stderr);
    assert.equal(third.stdout, plain.stdout);
    const rewritten = readFileSync(join(cache, file!));
    assert.ok(rewritten.length > 1000 && !rewritten.equals(Buffer.alloc(written.length, 0x5a)), 'the damaged cache was written again');
    const fourth = run(['elf', demo, '-S']);
    assert.equal(fourth.stdout, plain.stdout);
    assert.deepEqual(readFileSync(join(cache, file!)), rewritten, 'and V8 took the new one');
    // Another command has a cache of its own; KLPKIT_CODE_CACHE=off writes none.
    const db = join(cache, 'demo.klpdb');
    const built = run(['symbols', 'build', '--kallsyms', join(ROOT, 'examples/kernel-6.1.0-56-amd64/kallsyms.excerpt'), '-o', db, '-q']);
    assert.equal(built.status, 0, built.stderr);
    rmSync(db);
    assert.equal(run(['elf', demo, '-h'], 'off').status, 0);
    assert.equal(run(['elf', demo, '-S'], 'off').stdout, plain.stdout);
    // Nor does a relative folder (it would be wherever klp runs), and a relative XDG_CACHE_HOME is
    // passed over for ~/.cache (here a scratch HOME).
    const home = mkdtempSync(join(tmpdir(), 'klpkit-home-'));
    try {
      assert.equal(runStatus(process.execPath, [launcher, 'elf', demo, '-S'], { cwd: home, env: { ...process.env, KLPKIT_CODE_CACHE: 'rel' } }).stdout, plain.stdout);
      const xdg: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: 'rel' };
      delete xdg['KLPKIT_CODE_CACHE'];
      assert.equal(runStatus(process.execPath, [launcher, 'elf', demo, '-S'], { cwd: home, env: xdg }).stdout, plain.stdout);
      assert.deepEqual(readdirSync(home), ['.cache']);
      assert.match(readdirSync(join(home, '.cache/klpkit/code')).join(' '), /^elf-[0-9a-f]{16}\.v8$/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    assert.deepEqual(caches().filter((f) => f !== file).map((f) => f.replace(/-.*/, '')), ['symbols']);
    // Other V8 flags have their cache beside it (bin/klp gives convert its own), neither removing
    // the other's.
    const flagged = runStatus(process.execPath, ['--max-semi-space-size=4', launcher, 'elf', demo, '-S'], { env: env(cache) });
    assert.equal(flagged.stdout, plain.stdout);
    const elfCaches = caches().filter((f) => f.startsWith('elf-'));
    assert.equal(elfCaches.length, 2);
    assert.ok(elfCaches.includes(file!));
    const flaggedCache = elfCaches.find((f) => f !== file)!;
    assert.equal(run(['elf', demo, '-S']).stdout, plain.stdout);
    assert.deepEqual(caches().filter((f) => f.startsWith('elf-')), elfCaches);
    rmSync(join(cache, flaggedCache));
    const symbolsCache = caches().find((f) => f.startsWith('symbols-'));
    // A cache is code klp runs: one others may write is not read (it is written anew, the
    // user's own), and a folder others may write is not used at all.
    chmodSync(join(cache, file!), 0o666);
    const planted = run(['elf', demo, '-S']);
    assert.equal(planted.stdout, plain.stdout);
    assert.equal(statSync(join(cache, file!)).mode & 0o777, 0o600, 'the cache others could write was replaced by one of our own');
    const shared = mkdtempSync(join(tmpdir(), 'klpkit-shared-'));
    try {
      chmodSync(shared, 0o777);
      assert.equal(run(['elf', demo, '-S'], shared).stdout, plain.stdout);
      assert.deepEqual(readdirSync(shared), []);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
    // Without the bundle (dist/ as tsc alone builds it), the launcher runs dist/cli/main.js.
    const bare = mkdtempSync(join(tmpdir(), 'klpkit-bare-'));
    try {
      cpSync(join(ROOT, 'dist'), join(bare, 'dist'), { recursive: true });
      rmSync(join(bare, 'dist/klp.cjs'));
      symlinkSync(join(ROOT, 'node_modules'), join(bare, 'node_modules'));
      writeFileSync(join(bare, 'package.json'), readFileSync(join(ROOT, 'package.json')));
      const r = runStatus(process.execPath, [join(bare, 'dist/cli/launch.cjs'), 'elf', demo, '-S'], { env: env(cache) });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, plain.stdout);
      assert.deepEqual(caches(), [file, symbolsCache].sort());
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
