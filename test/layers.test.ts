/**
 * The folders of src/ are layers, in the order of the flow (files -> model -> transforms ->
 * output): a module may import from its own folder and from folders below it, never above. A
 * newcomer then finds each concept in one place, and no cycle crosses folders.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/tools.js';

/** Lowest first. Files directly in src/ are shared (errors.ts) or the package's entry (index.ts). */
const LAYERS = ['elf', 'arch', 'symbols', 'klp', 'convert', 'check', 'loader', 'report', 'cli'];

const walk = (d: string): string[] => readdirSync(d).flatMap((e) => {
  const p = join(d, e);
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});

test('every import goes to the same folder or a lower layer (elf < arch < symbols < klp < convert < check < loader < report < cli)', () => {
  const src = join(ROOT, 'src');
  const folders = readdirSync(src).filter((e) => statSync(join(src, e)).isDirectory()).sort();
  assert.deepEqual(folders, [...LAYERS].sort(), 'every folder of src/ has its place in the order');
  const wrong: string[] = [];
  for (const file of walk(src)) {
    const from = relative(src, file).split('/')[0]!;
    if (!LAYERS.includes(from)) continue; // src/index.ts, src/errors.ts
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
      const to = relative(src, resolve(dirname(file), m[1]!)).split('/')[0]!;
      if (!LAYERS.includes(to) || to === from) continue;
      if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) wrong.push(`${relative(ROOT, file)} imports ${m[1]} (${from} -> ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the emulator\'s files carry the kernel functions docs/loader.md says they model', () => {
  const doc = readFileSync(join(ROOT, 'docs/loader.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| file | models | functions |'), doc.indexOf('`EmulatedKernel.insmod()` runs'));
  const rows = [...table.matchAll(/^\| `([a-z-]+\.ts)`[^|]*\| [^|]*\| ([^|]*) \|$/gm)];
  assert.ok(rows.length >= 4, 'the table of files and functions is in docs/loader.md');
  const missing: string[] = [];
  for (const [, file, functions] of rows) {
    const text = readFileSync(join(ROOT, 'src/loader', file!), 'utf8');
    if (file === 'kernel.ts') continue; // its row names the entry points, not kernel functions
    for (const [, fn] of functions!.matchAll(/`([a-z]+_[a-z_]+)`/g)) {
      // layout_sections lives in layout.ts, named in the row of the stage that calls it.
      const where = fn === 'layout_sections' ? readFileSync(join(ROOT, 'src/loader/layout.ts'), 'utf8') : text;
      if (!new RegExp(`function ${fn}\\(`).test(where)) missing.push(`${file}: ${fn}`);
    }
  }
  assert.deepEqual(missing, []);
});
