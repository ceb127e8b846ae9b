/**
 * The bundled example modules come from scripts in examples/ (Kbuild against Debian's headers,
 * then klp convert): run them into a temporary folder and check that they still build what is
 * bundled. Not the bytes (the build id hashes the temporary paths in the debug info that strip
 * then removes) nor sizes (Debian's next ABI may inline a header's function differently), but
 * every section's name, type and flags, and every symbol's name, type, binding and section, in
 * order: a script that rots, or a bundled module that no longer matches its sources, fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readelfSections, readelfSymbols } from '../helpers/readelf.js';
import { ROOT, run, tempDir } from '../helpers/tools.js';

const { dir, cleanup } = tempDir('klpkit-examples-');
process.on('exit', cleanup);

/** What must match: the layout and the symbol table, not the build id's bytes. */
function shape(file: string): string[] {
  const sections = readelfSections(file).map((s) => `${s.name} ${s.type} ${s.flags}`);
  const symbols = readelfSymbols(file).filter((y) => y.table === '.symtab').map((y) => `${y.name} ${y.type} ${y.bind} ${y.ndx}`);
  return [...sections, ...symbols];
}

test('examples/late-patching/build.sh builds the bundled target and patches, converted as bundled', () => {
  const out = join(dir, 'late-patching');
  run('mkdir', ['-p', out]);
  run('bash', [join(ROOT, 'examples/late-patching/build.sh'), out]);
  const built = readdirSync(out).filter((f) => f.endsWith('.ko')).sort();
  const bundled = readdirSync(join(ROOT, 'examples/late-patching')).filter((f) => f.endsWith('.ko')).sort();
  assert.deepEqual(built, bundled);
  for (const f of built) assert.deepEqual(shape(join(out, f)), shape(join(ROOT, 'examples/late-patching', f)), f);
});

test('examples/klp_demo/build.sh builds the bundled klp_demo.ko', () => {
  run('bash', [join(ROOT, 'examples/klp_demo/build.sh'), dir]);
  assert.deepEqual(shape(join(dir, 'klp_demo.ko')), shape(join(ROOT, 'examples/klp_demo.ko')));
});
