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
