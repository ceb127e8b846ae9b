/**
 * The promises of docs/threat-model.md about everything around the ELF bytes: option values,
 * devices and pipes as inputs, outputs that name inputs or special files, modes and owners,
 * terminal bytes and 64-bit numbers. Each case is one an independent hostile campaign broke (#13).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, linkSync, lstatSync, realpathSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertCleanError, KLP, klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { buildObject, ROOT, runStatus } from '../helpers/tools.js';

const { dir, dbFile, kallsyms, symvers, modules } = await fixtureDb('hostile-io');
const lp = buildObject(dir, ['lp_main.c'], 'lp_io.o');

/** One line on stderr, `klp: error:` first, no stack trace. */
function oneLine(r: { status: number; stderr: string }, status = 2): void {
  assert.equal(r.status, status, r.stderr);
  assert.ok(assertCleanError(r.stderr), r.stderr);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
}

test('a bad option value is a usage error: exit 2, one line, no stack trace', () => {
  for (const j of ['65', 'x', '', '-1', '0', '1e3']) {
    const r = klp('symbols', 'build', '--kallsyms', kallsyms, '-o', join(dir, 'never.klpdb'), '-j', j);
    oneLine(r);
    assert.match(r.stderr, /-j/);
    assert.equal(existsSync(join(dir, 'never.klpdb')), false);
  }
  oneLine(klp('elf', '--no-such-option', lp));
  oneLine(klp('no-such-command'));
  oneLine(klp('sim', '--design', 'nonsense', '--step', 'rmmod:x'));
});

test('devices and pipes are read with the same ceiling as files, and the message says which was hit', () => {
  const env = { ...process.env, KLPKIT_MAX_INPUT_BYTES: String(1 << 20) };
  const run = (...args: string[]) => runStatus(process.execPath, [KLP, ...args], { cwd: ROOT, env });
  for (const r of [
    run('elf', '/dev/zero'),
    run('symbols', 'info', '--db', '/dev/zero'),
    run('convert', lp, '--kallsyms', '/dev/zero', '--dry-run'),
    run('sim', '--db', dbFile, '--step', 'insmod:/dev/zero'),
  ]) {
    oneLine(r);
    assert.match(r.stderr, /\/dev\/zero.*is more than 1048576 bytes \(a character device\); klpkit reads at most 1048576 bytes of one input/, r.stderr);
  }
  // A pipe that never ends: the shell's `yes` behind /dev/stdin.
  const piped = spawnSync('sh', ['-c', `yes | "${process.execPath}" "${KLP}" elf /dev/stdin`], { env, encoding: 'latin1' });
  assert.equal(piped.status, 2, piped.stderr);
  assert.match(piped.stderr, /is more than 1048576 bytes \(a pipe\)/);
  // A regular file over the ceiling is refused before it is read.
  const big = join(dir, 'big.ko');
  writeFileSync(big, Buffer.alloc((1 << 20) + 1));
  const r = run('elf', big);
  oneLine(r);
  assert.match(r.stderr, /is 1048577 bytes \(a regular file\)/);
});

test('an output that would replace any input is refused: by path, symlink, hard link, or inside --modules', () => {
  const out = join(dir, 'io-out.ko');
  const map = join(dir, 'io.map');
  writeFileSync(map, '# nothing\n');
  const link = join(dir, 'db-link.klpdb');
  if (!existsSync(link)) symlinkSync(dbFile, link);
  const hard = join(dir, 'lp-hard.o');
  if (!existsSync(hard)) linkSync(lp, hard);
  const before = readFileSync(dbFile);
  const cases: Array<[string[], RegExp]> = [
    [['convert', lp, '--db', dbFile, '-o', dbFile], /it would replace --db /],
    [['convert', lp, '--db', dbFile, '-o', link], /it would replace --db /],
    [['convert', lp, '--kallsyms', kallsyms, '--symvers', symvers, '-o', kallsyms], /it would replace --kallsyms /],
    [['convert', lp, '--kallsyms', kallsyms, '--symvers', symvers, '-o', symvers], /it would replace --symvers /],
    [['convert', lp, '--db', dbFile, '--map', map, '-o', map], /it would replace --map /],
    [['convert', lp, '--db', dbFile, '-o', hard], /it would replace the input /],
    [['check', lp, '--db', dbFile, '--html', dbFile], /it would replace --db /],
    [['check', lp, '--db', dbFile, '--html', lp], /it would replace the patch /],
    [['sim', '--db', dbFile, '--step', `insmod:${lp}`, '--html', lp], /it would replace /],
    [['sim', '--db', dbFile, '--step', `insmod:${lp}`, '--html', dbFile], /it would replace --db /],
    [['symbols', 'build', '--kallsyms', kallsyms, '--modules', modules, '-o', join(modules, 'fixture_mod.ko')], /a file inside --modules /],
    [['symbols', 'export', '--db', dbFile, '--format', 'symbols-klp', '-o', link], /it would replace --db /],
  ];
  for (const [args, why] of cases) {
    const r = klp(...args);
    oneLine(r);
    assert.match(r.stderr, why, args.join(' '));
  }
  assert.deepEqual(readFileSync(dbFile), before, 'the database is untouched');
  assert.ok(lstatSync(link).isSymbolicLink());
  // A new file, or an unrelated existing one, is fine.
  assert.equal(klp('convert', lp, '--db', dbFile, '--map', map, '-o', out).status, 0);
});

test('-o a character device or a FIFO writes to it as a stream; the node stays what it was', () => {
  // As root a private copy of /dev/null, so that a regression cannot replace the system's; a user
  // cannot replace /dev/null anyway.
  const root = process.getuid?.() === 0;
  const nul = root ? join(dir, 'null') : '/dev/null';
  if (root && !existsSync(nul)) spawnSync('mknod', [nul, 'c', '1', '3']);
  const r = klp('convert', lp, '--db', dbFile, '-o', nul);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(statSync(nul).isCharacterDevice(), `${nul} is still a device`);
  const fifo = join(dir, 'out.fifo');
  if (!existsSync(fifo)) spawnSync('mkfifo', [fifo]);
  // The reader: `cat` counts what the writer sent through the FIFO.
  const w = spawnSync('sh', ['-c', `cat "${fifo}" | wc -c > "${fifo}.count" & "${process.execPath}" "${KLP}" convert "${lp}" --db "${dbFile}" -o "${fifo}"; s=$?; wait; exit $s`], { encoding: 'latin1' });
  assert.equal(w.status, 0, w.stderr);
  assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  const plain = join(dir, 'plain-out.ko');
  assert.equal(klp('convert', lp, '--db', dbFile, '-o', plain).status, 0);
  assert.equal(Number(readFileSync(`${fifo}.count`, 'latin1').trim()), statSync(plain).size, 'the whole module went through the FIFO');
  const sub = join(dir, 'a-directory');
  mkdirSync(sub, { recursive: true });
  const d = klp('convert', lp, '--db', dbFile, '-o', sub);
  oneLine(d);
  assert.match(d.stderr, /the output is a directory/);
});

test('--in-place and -o over an existing file keep its mode and owner; a symlink stays a symlink', () => {
  const mod = join(dir, 'in-place.o');
  copyFileSync(lp, mod);
  chmodSync(mod, 0o600);
  assert.equal(klp('convert', mod, '--db', dbFile, '--in-place').status, 0);
  assert.equal(statSync(mod).mode & 0o7777, 0o600);
  const target = join(dir, 'owned.ko');
  writeFileSync(target, 'old');
  chmodSync(target, 0o444);
  const root = process.getuid?.() === 0;
  if (root) chownSync(target, 1234, 2345);
  const r = klp('convert', lp, '--db', dbFile, '-o', target);
  assert.equal(r.status, 0, r.stderr);
  const st = statSync(target);
  assert.equal(st.mode & 0o7777, 0o444);
  if (root) assert.deepEqual([st.uid, st.gid], [1234, 2345]);
  assert.notEqual(readFileSync(target, 'latin1'), 'old');
  const viaLink = join(dir, 'out-link.ko');
  if (!existsSync(viaLink)) symlinkSync(target, viaLink);
  assert.equal(klp('convert', lp, '--db', dbFile, '-o', viaLink).status, 0);
  assert.ok(lstatSync(viaLink).isSymbolicLink(), 'the symlink is kept; its target is replaced');
});

test('a pipe closed early (klp ... | head) ends klp quietly, with its own exit status; stdout left non-blocking is written whole', () => {
  // Some 900 KB of listing (3,000 functions, each in its own section), far more than a pipe holds.
  const src = join(dir, 'many.c');
  writeFileSync(src, Array.from({ length: 3000 }, (_, i) => `int many_fn${i}(void) { return ${i}; }\n`).join(''));
  const obj = join(dir, 'many.o');
  assert.equal(spawnSync('gcc', ['-c', '-ffunction-sections', src, '-o', obj]).status, 0);
  const sh = (cmd: string): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('bash', ['-c', cmd], { cwd: ROOT, encoding: 'latin1', env: { ...process.env, KLP, NODE: process.execPath, OBJ: obj } });
  const whole = sh('"$NODE" "$KLP" elf -S -s -r "$OBJ" | wc -c');
  assert.ok(Number(whole.stdout) > 1 << 18, whole.stdout);
  const closed = sh('"$NODE" "$KLP" elf -S -s -r "$OBJ" | head -n 1 >/dev/null; echo "status ${PIPESTATUS[0]}"');
  assert.equal(closed.stdout, 'status 0\n');
  assert.equal(closed.stderr, '');
  // The whole listing through a pipe made non-blocking (O_NONBLOCK, on the writer's side, as a
  // careless parent leaves it) whose reader is slower than klp.
  const slow = sh(`python3 -c 'import os,subprocess,time,fcntl
r,w=os.pipe(); fcntl.fcntl(w,fcntl.F_SETFL,fcntl.fcntl(w,fcntl.F_GETFL)|os.O_NONBLOCK)
p=subprocess.Popen([os.environ["NODE"],os.environ["KLP"],"elf","-S","-s","-r",os.environ["OBJ"]],stdout=w); os.close(w)
n=0
while True:
  time.sleep(0.002); b=os.read(r,65536)
  if not b: break
  n+=len(b)
print(n, p.wait())'`);
  assert.equal(slow.stdout, `${whole.stdout.trim()} 0\n`, slow.stderr);
  // A stdout that cannot take it (a full disk) is the user's error, one line; a stderr that
  // cannot changes no exit status.
  const full = sh('"$NODE" "$KLP" elf -S -s -r "$OBJ" > /dev/full');
  oneLine({ status: full.status ?? -1, stderr: full.stderr });
  assert.match(full.stderr, /^klp: error: standard output: cannot write \(ENOSPC\)/);
  assert.equal(sh('"$NODE" "$KLP" elf -S "$OBJ.missing" 2>/dev/full').status, 2);
  assert.equal(sh('"$NODE" "$KLP" elf -S "$OBJ.missing" 2>&1 | head -c 0; echo ${PIPESTATUS[0]}').stdout, '2\n');
});

test('bytes from inputs never reach the terminal raw, and long echoes are cut', () => {
  const raw = /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/;
  // A scenario word of 100 KB full of escape sequences.
  const sc = join(dir, 'evil.scenario');
  writeFileSync(sc, `designs: 6.1\nbogus \x1b]0;pwned\x07${'\x1b[2J'.repeat(25000)}\n`, 'latin1');
  const s = klp('sim', sc, '--db', dbFile);
  oneLine(s);
  assert.doesNotMatch(s.stderr, raw);
  assert.ok(s.stderr.length < 2100, `the echo is cut (${s.stderr.length} bytes)`);
  // A --map line with escape bytes.
  const map = join(dir, 'evil.map');
  writeFileSync(map, 'homonym\x1b[31m=fixture_mod,\x9b1\n', 'latin1');
  const m = klp('convert', lp, '--db', dbFile, '--map', map, '--dry-run');
  assert.equal(m.status, 2, m.stderr);
  assert.doesNotMatch(m.stderr, raw);
  assert.match(m.stderr, /\\x1b\[31m/);
  // A database header with terminal bytes, shown by symbols info.
  const db = readFileSync(dbFile, 'latin1');
  const evil = join(dir, 'evil.klpdb');
  writeFileSync(evil, db.replace(/\n/, '\x1b]0;title\x07\n'), 'latin1');
  const i = klp('symbols', 'info', '--db', evil);
  assert.doesNotMatch(i.stdout + i.stderr, raw);
  // A kallsyms dump with terminal bytes in a symbol name that the patch needs.
  const ks = join(dir, 'evil-kallsyms.txt');
  writeFileSync(ks, readFileSync(kallsyms, 'latin1').replace('nr_processes', 'nr_pro\x1b[8mcesses'), 'latin1');
  const c = klp('convert', lp, '--kallsyms', ks, '--symvers', symvers, '--modules', modules, '--dry-run');
  assert.doesNotMatch(c.stdout + c.stderr, raw);
});

test('64-bit offsets and sizes are reported exactly, never as floats', () => {
  const bytes = readFileSync(lp);
  // Section header 1's sh_size (Elf64_Shdr + 32) set to 0xffffffffffffffe8.
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  bytes.writeBigUInt64LE(0xffffffffffffffe8n, shoff + 64 + 32);
  const bad = join(dir, 'huge-size.o');
  writeFileSync(bad, bytes);
  const r = klp('elf', bad);
  oneLine(r);
  assert.match(r.stderr, /0xffffffffffffffe8/);
  assert.doesNotMatch(r.stderr, /Infinity|NaN|e\+/);
});

test('xz: a dictionary larger than the decoder allocates is no reason to refuse; the decoded size is', () => {
  const xz = join(dir, 'bigdict.o.xz');
  const packed = spawnSync('xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c', lp]).stdout;
  // Block header at 12: size byte, flags, filter id 0x21, props size 1, the dictionary property.
  assert.deepEqual([...packed.subarray(13, 16)], [0x00, 0x21, 0x01]);
  packed[16] = 37; // 1.5 GiB
  packed.writeUInt32LE(crc32(packed.subarray(12, 20)), 20);
  writeFileSync(xz, packed);
  assert.equal(spawnSync('xz', ['-t', xz]).status, 0, 'xz itself accepts it');
  const r = klp('elf', xz);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /xz-compressed/);
});

test('--in-place and -o NAME.ko.{xz,zst,gz} write the module compressed as the name says; -o NAME.ko writes it plain', () => {
  const plain = join(dir, 'ref.ko');
  assert.equal(klp('convert', lp, '--db', dbFile, '-o', plain).status, 0);
  const ref = readFileSync(plain);
  const tools: Array<[string, string[], string[]]> = [
    ['.xz', ['xz', '-c'], ['xz', '-dc']], ['.zst', ['zstd', '-q', '-c'], ['zstd', '-dqc']], ['.gz', ['gzip', '-n', '-c'], ['gzip', '-dc']],
  ];
  for (const [suffix, pack, unpack] of tools) {
    const file = join(dir, `inplace.o${suffix}`);
    writeFileSync(file, spawnSync(pack[0]!, [...pack.slice(1), lp]).stdout);
    const r = klp('convert', file, '--db', dbFile, '--in-place');
    assert.equal(r.status, 0, r.stderr);
    const back = spawnSync(unpack[0]!, [...unpack.slice(1), file], { maxBuffer: 1 << 26 });
    assert.equal(back.status, 0, `${unpack.join(' ')} reads what --in-place wrote`);
    assert.deepEqual(back.stdout, ref, `${suffix}: the converted module, recompressed`);
    const named = join(dir, `named.ko${suffix}`);
    assert.equal(klp('convert', lp, '--db', dbFile, '-o', named).status, 0);
    assert.deepEqual(spawnSync(unpack[0]!, [...unpack.slice(1), named], { maxBuffer: 1 << 26 }).stdout, ref);
    const out = join(dir, `from${suffix}.ko`);
    writeFileSync(file, spawnSync(pack[0]!, [...pack.slice(1), lp]).stdout);
    assert.equal(klp('convert', file, '--db', dbFile, '-o', out).status, 0);
    assert.deepEqual(readFileSync(out), ref, '-o NAME.ko is plain');
  }
  // Kbuild's xz settings: CRC32 check (the in-kernel decompressor checks nothing else).
  assert.match(spawnSync('xz', ['-lvv', join(dir, 'named.ko.xz')], { encoding: 'latin1' }).stdout, /CRC32/);
});

/**
 * The campaign's input classes, mixed at random through the commands that read and write files:
 * devices, pipes, symlinks, directories, outputs naming inputs, and text inputs full of terminal
 * bytes. Whatever the mix: exit 0, 1 or 2, no stack trace, no raw terminal byte, no input changed,
 * no device replaced. Each run starts the CLI, so the count is a hundredth of KLPKIT_FUZZ_RUNS.
 */
test('fuzz: hostile paths and bytes through every command that reads or writes files', () => {
  const fz = join(dir, 'fuzz');
  mkdirSync(fz, { recursive: true });
  const root = process.getuid?.() === 0;
  const dev = root ? join(fz, 'null') : '/dev/null';
  if (root && !existsSync(dev)) spawnSync('mknod', [dev, 'c', '1', '3']);
  const textChars = fc.constantFrom(...'abc_019 \t\n=,.[]'.split(''), '\x1b', '\x1b[2J', '\x07', '\x00', '\x9b', '\x7f', '\u202e', 'ffffffff81000000 T ', '0x0\t', 'EXPORT_SYMBOL\t');
  const text = fc.array(textChars, { maxLength: 200 }).map((a) => a.join(''));
  const regular = [lp, dbFile, kallsyms, symvers];
  const links: Record<string, string> = { 'lp.link': lp, 'db.link': dbFile, 'dangling.link': join(fz, 'nowhere') };
  for (const [name, to] of Object.entries(links)) if (!existsSync(join(fz, name)) && !lstatSafe(join(fz, name))) symlinkSync(to, join(fz, name));
  mkdirSync(join(fz, 'dir'), { recursive: true });
  const env = { ...process.env, KLPKIT_MAX_INPUT_BYTES: String(4 << 20) };
  const inputPick = fc.constantFrom('lp', 'db', 'text', 'dev/zero', 'dev/null', 'stdin', 'lp.link', 'db.link', 'dangling.link', 'dir');
  const outputPick = fc.constantFrom('new', 'device', 'lp', 'db', 'text', 'lp.link', 'db.link', 'dir', 'dangling.link');
  const commands = fc.constantFrom('elf', 'convert-db', 'convert-src', 'symbols-build', 'symbols-info', 'check-html', 'sim-html', 'sim-scenario', 'split');
  const saved = new Map(regular.map((f) => [f, readFileSync(f)]));
  let n = 0;
  fc.assert(fc.property(commands, inputPick, inputPick, outputPick, text, text, (cmd, inA, inB, outP, body, stdin) => {
    n++;
    const textFile = join(fz, `text-${n}.txt`);
    writeFileSync(textFile, body, 'latin1');
    const path = (p: string): string => ({
      lp, db: dbFile, text: textFile, 'dev/zero': '/dev/zero', 'dev/null': '/dev/null', stdin: '/dev/stdin', dir: join(fz, 'dir'),
    } as Record<string, string>)[p] ?? join(fz, p);
    const fresh = join(fz, `out-${n}.ko`);
    const out = outP === 'new' ? fresh : outP === 'device' ? dev : path(outP);
    const a = path(inA);
    const b = path(inB);
    const args: Record<string, string[]> = {
      'elf': ['elf', a],
      'convert-db': ['convert', a, '--db', b, '--map', textFile, '-o', out],
      'convert-src': ['convert', a, '--kallsyms', b, '--symvers', textFile, '-o', out],
      'symbols-build': ['symbols', 'build', '--kallsyms', a, '--symvers', b, '-q', '-o', out],
      'symbols-info': ['symbols', 'info', '--db', a],
      'check-html': ['check', a, '--db', b, '--html', out],
      'sim-html': ['sim', '--db', b, '--step', `insmod:${a}`, '--html', out],
      'sim-scenario': ['sim', textFile, '--db', b],
      'split': ['split', a, '-o', out],
    };
    const r = spawnSync(process.execPath, [KLP, ...args[cmd]!], { cwd: ROOT, env, input: stdin, encoding: 'latin1', timeout: 60_000 });
    const what = `${args[cmd]!.join(' ')} (stdin ${JSON.stringify(stdin)})`;
    assert.equal(r.signal, null, `${what}: no hang`);
    assert.ok([0, 1, 2].includes(r.status ?? -1), `${what}: exit ${r.status}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/, what);
    assert.doesNotMatch(r.stdout + r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, `${what}: raw terminal bytes`);
    if (r.status !== 0) assert.equal(existsSync(fresh), false, `${what}: no output on failure`);
    assert.ok(statSync(dev).isCharacterDevice(), `${what}: the device is still a device`);
    assert.ok(lstatSync(join(fz, 'lp.link')).isSymbolicLink() && lstatSync(join(fz, 'db.link')).isSymbolicLink(), `${what}: symlinks stay`);
    // The command's inputs are unchanged; an output it was allowed to write (a symlink to a file
    // that is no input of this command) is put back for the next run.
    const inputs: Record<string, string[]> = {
      'elf': [a], 'convert-db': [a, b], 'convert-src': [a, b], 'symbols-build': [a, b], 'symbols-info': [a],
      'check-html': [a, b], 'sim-html': [a, b], 'sim-scenario': [b], 'split': [a],
    };
    for (const [f, bytes] of saved) {
      const isInput = inputs[cmd]!.some((i) => realpathSafe(i) === f);
      if (isInput) assert.deepEqual(readFileSync(f), bytes, `${what}: input ${f} changed`);
      else writeFileSync(f, bytes);
    }
  }), { numRuns: Math.max(40, Math.ceil(Number(process.env.KLPKIT_FUZZ_RUNS ?? 0) / 100)), seed: 13 });
});

function realpathSafe(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function lstatSafe(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
