/**
 * The symbol database the livepatch fixtures are converted and checked against: a few real-looking
 * vmlinux lines (kallsyms format), Module.symvers lines, and the gcc-built fixture_mod module.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDatabase } from '../../src/symbols/build.js';
import type { SymbolDb } from '../../src/symbols/database.js';
import { fixtures } from './fixtures.js';

export const FIXTURE_KALLSYMS = [
  'ffffffff81000000 T _text', 'ffffffff8109de70 T nr_processes', 'ffffffff810a2ac0 t active_show',
  'ffffffff814105a0 t cmdline_proc_show', 'ffffffff816c71a0 t active_show', 'ffffffff81700000 T seq_printf',
  'ffffffff81700100 T klp_enable_patch', 'ffffffff81700200 T __fentry__', 'ffffffff82000000 D tracepoint_printk_key',
  'ffffffff82000100 d fixture_key', 'ffffffff83317008 B saved_command_line',
];

export interface FixtureDb {
  dir: string;
  db: SymbolDb;
  dbFile: string;
  kallsyms: string;
  symvers: string;
  modules: string;
}

/**
 * Build it in `<fixtures>/<name>`; `extraKallsyms` lines are appended (latin1, any bytes), and
 * `extraExports` become exported vmlinux symbols (the loader emulator needs every import resolved).
 */
export async function fixtureDb(name: string, extraKallsyms: string[] = [], extraExports: string[] = []): Promise<FixtureDb> {
  const dir = join(fixtures().dir, name);
  const modules = join(dir, 'modules');
  mkdirSync(modules, { recursive: true });
  copyFileSync(fixtures().module, join(modules, 'fixture_mod.ko'));
  const kallsyms = join(dir, 'kallsyms.txt');
  writeFileSync(kallsyms, [...FIXTURE_KALLSYMS, ...extraKallsyms, ''].join('\n'), 'latin1');
  const symvers = join(dir, 'Module.symvers');
  writeFileSync(symvers, ['seq_printf', 'klp_enable_patch', '__fentry__', ...extraExports].map((n) => `0x0\t${n}\tvmlinux\tEXPORT_SYMBOL\t`).join('\n') +
    '\n0x0\tmod_b_entry\tdrivers/fixture_mod\tEXPORT_SYMBOL_GPL\tFIXTURE_NS\n');
  const { db } = await buildDatabase({ kallsyms, symvers, modules });
  const dbFile = join(dir, 'fixture.klpdb');
  writeFileSync(dbFile, db.serialize());
  return { dir, db, dbFile, kallsyms, symvers, modules };
}
