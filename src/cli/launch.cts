/**
 * The start of the `klp` command (bin/klp runs it). It runs the CLI bundled into one script,
 * dist/klp.cjs (scripts/bundle.ts, run by `npm run build`), compiled with the V8 code cache an
 * earlier run of the same command left: the 45 ES modules of `klp convert` are neither resolved,
 * read and linked one by one nor compiled again (docs/performance.md, ninth round). Node 22's
 * `module.enableCompileCache()` does this for ES modules; Node 20 has only `vm.Script`'s.
 *
 * The cache is a file a command, named by what makes it valid: the bundle as written (V8 itself
 * compares only the source's length), Node's version, the V8 flags (bin/klp gives convert its
 * own) and the command. A cache V8 refuses (another V8, a damaged file) costs nothing but the
 * compilation it would have saved, and is written again. It lives in
 * `$KLPKIT_CODE_CACHE`, else `$XDG_CACHE_HOME/klpkit/code`, else `~/.cache/klpkit/code`;
 * `KLPKIT_CODE_CACHE=off` turns it off; a folder or file that is not the user's own, or that others
 * may write, is not used. Without the bundle (dist/ built by tsc alone), this runs
 * dist/cli/main.js as it is.
 */
// CommonJS, required as such (an ES module entry costs Node some 12 ms of its ESM loader's modules;
// `import x = require()` is not erasable TypeScript).
const { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs') as typeof import('node:fs');
const { createRequire } = require('node:module') as typeof import('node:module');
const { dirname, isAbsolute, join } = require('node:path') as typeof import('node:path');
const vm = require('node:vm') as typeof import('node:vm');

const BUNDLE = join(__dirname, '..', 'klp.cjs');

/**
 * The code cache's folder, or undefined when it is turned off. Only an absolute path is taken (as
 * the XDG spec says of XDG_CACHE_HOME): a relative one would put caches wherever klp is run.
 */
function codeCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const own = env['KLPKIT_CODE_CACHE'];
  if (own === 'off') return undefined;
  if (own) return isAbsolute(own) ? own : undefined;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'klpkit', 'code');
  let home = env['HOME'];
  if (!home) {
    try {
      home = (require('node:os') as typeof import('node:os')).homedir();
    } catch {
      home = undefined;
    }
  }
  return home && isAbsolute(home) ? join(home, '.cache', 'klpkit', 'code') : undefined;
}

/**
 * A run that did its command's work leaves the cache: not a request for help or the version,
 * which compile little of it, and not a failed run.
 */
function worthCaching(args: readonly string[], exitCode: number): boolean {
  return exitCode === 0 && !args.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-V' || a === 'help');
}

/**
 * FNV-1a of a string's characters, as elf/strtab.ts hashes names (an ES module, which this
 * CommonJS file cannot require on Node 20): a short key, nothing secret rides on it.
 */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

function run(source: string, bundle: import('node:fs').BigIntStats): void {
  const dir = codeCacheDir(process.env);
  const args = process.argv.slice(2);
  // One cache a command (the functions its run compiled), named by what makes it valid: the
  // bundle as written (its inode, size and time to the nanosecond, which a build's rename
  // changes), Node and the V8 flags.
  const command = /^[a-z]+$/.test(args[0] ?? '') ? args[0]! : 'klp';
  const made = `${bundle.ino}-${bundle.size}-${bundle.mtimeNs}`;
  const flags = fnv1a(process.execArgv.join('\0'));
  const key = `${fnv1a(`${made}\0${process.version}\0${process.arch}`)}${flags}`;
  const file = dir === undefined ? undefined : join(dir, `${command}-${key}.v8`);
  const cachedData = file === undefined ? undefined : readOwnCache(file);
  // The CommonJS wrapper of Node's own loader (lib/internal/modules/cjs/loader.js, wrapSafe). The
  // bundle has no import() left (scripts/bundle.ts): none needs a loader.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: BUNDLE,
    ...(cachedData ? { cachedData } : {}),
  });
  if (file && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      if (worthCaching(args, code)) writeCache(file, `${command}-`, `${flags}.v8`, script.createCachedData());
    });
  }
  const module = { exports: {} };
  const fn = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  fn.call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
}

/**
 * A code cache is code klp runs: it is read only from a file and folder of the user's own that
 * nobody else may write (as ssh treats its files), so a cache folder shared with others (a
 * `KLPKIT_CODE_CACHE` under /tmp made by someone else) cannot plant code in a root's run.
 */
function ownedByUs(st: import('node:fs').Stats): boolean {
  const uid = process.getuid?.();
  return (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

function readOwnCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    if (!ownedByUs(statSync(dirname(file)))) return undefined;
    fd = openSync(file, 'r');
    const st = fstatSync(fd);
    return st.isFile() && ownedByUs(st) ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Write the cache whole or not at all (a temporary file renamed over it: two runs at once each
 * write their own), and remove the command's caches of other bundles and Nodes run with the same
 * flags (`prefix` and `suffix`: the command, the flags' half of the key). Caches of other flags
 * stay: `bin/klp convert` and `node dist/cli/launch.cjs convert` run in turns each keep theirs,
 * not each write theirs again. A cache that cannot be written (a read-only home) is no error: the
 * run did its work.
 */
function writeCache(file: string, prefix: string, suffix: string, data: Buffer): void {
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedByUs(statSync(dir))) return;
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    for (const old of readdirSync(dir)) {
      if (old.startsWith(prefix) && old.endsWith(suffix) && join(dir, old) !== file) rmSync(join(dir, old), { force: true });
    }
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing more to do: the next run tries again
    }
  }
}

let source: string | undefined;
let made: import('node:fs').BigIntStats | undefined;
let fd: number | undefined;
try {
  // The text and the stat of one open file: a build renaming a new bundle in between cannot pair
  // one's text with the other's key. ASCII (scripts/bundle.ts checks): latin1 reads it as is.
  fd = openSync(BUNDLE, 'r');
  made = fstatSync(fd, { bigint: true });
  source = readFileSync(fd, 'latin1');
} catch {
  source = undefined;
} finally {
  if (fd !== undefined) closeSync(fd);
}
if (source !== undefined && made !== undefined) run(source, made);
else void import('./main.js');
