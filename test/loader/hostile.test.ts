/**
 * The loader emulator, klp split and the scenario parser on hostile input: corrupted modules go
 * through split and insmod/rmmod under every design with nothing thrown but typed errors (a
 * failed load is a status, as in the kernel); random scenario text gives ScenarioError only.
 */
import { InputError } from '../../src/errors.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { splitModule } from '../../src/convert/split.js';
import { ElfError, readElf, writeElf } from '../../src/elf/index.js';
import { DESIGNS } from '../../src/loader/designs/index.js';
import { EmulatedKernel, ERRNO } from '../../src/loader/kernel.js';
import { moduleName } from '../../src/elf/module.js';
import { parseScenario, ScenarioError } from '../../src/loader/scenario.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { ROOT } from '../helpers/tools.js';

const ex = join(ROOT, 'examples');
const kernel = join(ex, 'kernel-6.1.0-56-amd64');
const { db } = await buildDatabase({ kallsyms: join(kernel, 'kallsyms.excerpt'), symvers: join(kernel, 'Module.symvers.excerpt') });
const target = new Uint8Array(readFileSync(join(ex, 'late-patching/klpkit_target.ko')));
const seeds = ['klpkit_patch.ko', 'klpkit_patch_branch.ko'].map((f) => new Uint8Array(readFileSync(join(ex, 'late-patching', f))));
const runs = Number(process.env.KLPKIT_FUZZ_RUNS ?? 150);

const typed = (e: unknown): void => {
  if (!(e instanceof InputError)) throw new Error(`untyped ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
};

test('corrupted patches: split, insmod and rmmod under every design return statuses or typed errors', () => {
  fc.assert(fc.property(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), (which, muts, patchFirst, headers) => {
    const seed = seeds[which]!;
    const b = seed.slice();
    // Half the runs aim at the section headers (sizes, offsets, links, flags), where damage bites.
    const dv = new DataView(b.buffer);
    const shoff = Number(dv.getBigUint64(0x28, true));
    const span = headers ? dv.getUint16(0x3c, true) * 64 : b.length;
    for (const [o, v] of muts) b[(headers ? shoff : 0) + (o % span)] = v;
    for (const d of DESIGNS) {
      try {
        const elf = readElf(b, { path: 'hostile.ko' });
        if (d.startsWith('per-object') && splitModule(elf).changed) writeElf(elf);
        const k = new EmulatedKernel(db, d);
        // Each insmod's status and what it printed beyond the once-per-boot taint lines.
        const load = (e: ReturnType<typeof readElf>): { rc: number; said: string[] } => {
          const before = k.log.length;
          const rc = k.insmod(e);
          return { rc, said: k.log.slice(before).filter((l) => !/: (loading out-of-tree module taints kernel\.|tainting kernel with |module verification failed: )/.test(l)) };
        };
        const t = (): { rc: number; said: string[] } => load(readElf(target, { path: 'klpkit_target.ko' }));
        const name = moduleName(elf);
        const [p, tg] = patchFirst ? [load(elf), t()] : ((x) => [load(elf), x])(t());
        const rcs = [p.rc, tg.rc];
        const [patchRc, targetRc] = rcs;
        // A status is 0 or one of the kernel's errnos, and says whether the module is there.
        for (const rc of rcs) assert.ok(rc === 0 || Object.values(ERRNO).includes(rc!), `status ${rc}`);
        if (name && patchRc !== 17) assert.equal(k.isLoaded(name), patchRc === 0, `${name}: loaded iff insmod returned 0 (${patchRc})`);
        if (name !== 'klpkit_target') assert.equal(k.isLoaded('klpkit_target'), targetRc === 0, `klpkit_target: loaded iff insmod returned 0 (${targetRc})`);
        // A refusal the kernel explains: some message, except for an already loaded module (EEXIST).
        if (patchRc !== 0 && patchRc !== 17) assert.ok(p.said.length > 0, `insmod ${patchRc} without a message`);
        k.rmmod('klpkit_target');
        k.disablePatch('klpkit_patch');
        k.rmmod('klpkit_patch');
      } catch (e) {
        typed(e);
      }
    }
  }), { numRuns: runs, seed: 11 });
});

test('a section size past what the emulator holds is a clean ENOMEM, not a crash', () => {
  const elf = readElf(seeds[0]!, { path: 'big.ko' });
  const bss = elf.sections.find((s) => s.isNobits && s.hasFlag(2n));
  assert.ok(bss, 'the patch has an allocated NOBITS section');
  bss.size = 2 ** 40;
  const k = new EmulatedKernel(db, '6.1');
  assert.equal(k.insmod(elf), 12);
  assert.match(k.log.at(-1)!, /klpkit_patch: module_alloc: a layout of \d+ bytes is more than the emulator holds/);
});

test('random scenario text: ScenarioError with file and line, or a scenario', () => {
  const words = ['step', 'expect', 'expect[6.1]', 'expect[nope]', 'insmod', 'rmmod', 'modprobe', 'key', 'a:b', 'on', 'off', 'ok', 'fail', '"x', '"y"', '#', 'module',
    'name', 'db', 'bytes', 'jump', 'reloc', 'address', 'zz', '0x10', 'jmp', 'applied', 'a:b,1', 'modules-dep', '12', '\x00', 'designs', 'per-object'];
  fc.assert(fc.property(fc.array(fc.array(fc.constantFrom(...words), { maxLength: 6 }), { maxLength: 12 }), (lines) => {
    try {
      parseScenario(lines.map((l) => l.join(' ')).join('\n'), 's.klpsim');
    } catch (e) {
      if (!(e instanceof ScenarioError) || !/^s\.klpsim(:\d+)?: /.test(e.message)) throw e;
    }
  }), { numRuns: runs * 4, seed: 12 });
});
