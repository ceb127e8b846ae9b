/**
 * Scenarios for the loader emulator (`klp sim`): a text file of kernel symbol data, modules, steps
 * and expectations, run under one design or all of them. The format is documented in
 * docs/loader.md; in short, one directive a line, `#` comments, paths relative to the file:
 *
 *   name     patch before module
 *   kallsyms ../kernel-6.1.0-56-amd64/kallsyms.excerpt      (or: db FILE, vmlinuz FILE, system-map FILE)
 *   symvers  ../kernel-6.1.0-56-amd64/Module.symvers.excerpt
 *   module   patch   klpkit_patch.ko
 *   step     insmod patch
 *   expect   ok
 *   expect[6.1,4.x] fail 8 "existing value is nonzero"
 */
import { dirname, resolve } from 'node:path';
import type { Arch } from '../arch/types.js';
import { parseKlpSym } from '../klp/names.js';
import type { ElfFile } from '../elf/file.js';
import { readElf } from '../elf/reader.js';
import { readInputFile } from '../elf/load.js';
import { maybeDecompress } from '../elf/compress.js';
import { moduleName } from '../elf/module.js';
import { clip, UsageError } from '../errors.js';
import type { SymbolDb } from '../symbols/database.js';
import { DESIGN_HOOKS, parseDesign, type Design } from './designs/index.js';
import { EmulatedKernel, type SimEvent } from './kernel.js';
import type { PermChange, WriteRecord } from './memory.js';
import { archOf, relocatedBytes } from './module-loader.js';
import { splitForDesign } from './patch-sim.js';
import { ModulesDep } from './modules-dep.js';

export class ScenarioError extends UsageError {}

export type StepOp =
  | { op: 'insmod'; module: string }
  | { op: 'modprobe'; name: string }
  | { op: 'rmmod'; name: string }
  | { op: 'disable'; patch: string }
  | { op: 'key'; obj: string; name: string; on: boolean };

export type Expect =
  | { kind: 'ok' }
  | { kind: 'fail'; errno?: number; message?: string }
  | { kind: 'log' | 'no-log'; message: string }
  | { kind: 'bytes'; where: Where; bytes: Array<number | null> }
  | { kind: 'jump'; where: Where; state: 'jmp' | 'nop' }
  | { kind: 'reloc'; module: string; symbol: string; state: 'applied' | 'zero' }
  | { kind: 'address'; obj: string; name: string; pos: number; address: bigint }
  | { kind: 'loaded' | 'not-loaded'; name: string }
  | { kind: 'violations' | 'flips'; count: number };

export interface Where { module: string; name: string; offset: number }

export interface Expectation { line: number; text: string; designs?: Design[]; expect: Expect }

export interface ScenarioStep { line: number; text: string; op: StepOp; expects: Expectation[] }

export interface Scenario {
  file: string;
  name: string;
  notes: string[];
  /** Sources for the symbol database, absolute paths. */
  symbols: { db?: string; kallsyms?: string; symvers?: string; vmlinuz?: string; systemMap?: string; modules?: string };
  /** modules.dep for `modprobe` steps (absolute path). */
  modulesDep?: string;
  /** Module aliases -> absolute paths. */
  modules: Map<string, string>;
  designs: Design[] | undefined;
  steps: ScenarioStep[];
}

/** Split a line into words, keeping "quoted strings" (with \" and \\ escapes) whole. */
function words(line: string, err: (m: string) => never): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let end = line.length;
  for (let m; (m = re.exec(line));) {
    if (m[2]?.startsWith('#')) { end = m.index; break; } // a comment to the end of the line
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  }
  if ((line.slice(0, end).match(/(?<!\\)"/g)?.length ?? 0) % 2 !== 0) err('unbalanced quote');
  return out;
}

function parseWhere(s: string, err: (m: string) => never): Where {
  const m = /^([^:\s]+):([^+\s]+)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(s);
  if (!m) err(`'${clip(s)}' is not MODULE:SYMBOL[+OFFSET] (e.g. klpkit_patch:livepatch_klpkit_target_report+0x1a)`);
  return { module: m[1]!, name: m[2]!, offset: m[3] ? Number(m[3]) : 0 };
}

function parseSymRef(s: string, err: (m: string) => never): { obj: string; name: string; pos: number } {
  const m = /^([^:\s]+):([^,\s]+)(?:,(\d+))?$/.exec(s);
  if (!m) err(`'${clip(s)}' is not OBJECT:SYMBOL[,SYMPOS]`);
  return { obj: m[1]!, name: m[2]!, pos: m[3] ? Number(m[3]) : 0 };
}

/** One `--step` (insmod:PATH, rmmod:NAME, disable:PATCH, key:OBJ:NAME=on|off) or a `step` line's words. */
export function parseStep(w: string[], err: (m: string) => never): StepOp {
  const [op, a, b] = w;
  switch (op) {
    case 'insmod': if (a && !b) return { op, module: a }; break;
    case 'modprobe': if (a && !b) return { op, name: a }; break;
    case 'rmmod': if (a && !b) return { op, name: a }; break;
    case 'disable': if (a && !b) return { op, patch: a }; break;
    case 'key': {
      const k = /^([^:\s]+):([^=\s]+)$/.exec(a ?? '');
      if (k && (b === 'on' || b === 'off')) return { op, obj: k[1]!, name: k[2]!, on: b === 'on' };
      err(`key takes OBJECT:KEY on|off (e.g. key klpkit_target:klpkit_target_key off)`);
    }
  }
  return err(`unknown step '${clip(w.join(' '))}': use insmod MODULE, modprobe NAME, rmmod NAME, disable PATCH or key OBJECT:KEY on|off`);
}

function parseExpect(w: string[], err: (m: string) => never): Expect {
  const [kind, ...rest] = w;
  const needs = (n: number): void => { if (rest.length !== n) err(`expect ${kind} takes ${n} argument(s)`); };
  switch (kind) {
    case 'ok': needs(0); return { kind };
    case 'fail': {
      const e: Expect = { kind: 'fail' };
      for (const x of rest) {
        if (/^\d+$/.test(x)) e.errno = Number(x);
        else e.message = x;
      }
      return e;
    }
    case 'log': case 'no-log': needs(1); return { kind, message: rest[0]! };
    case 'bytes': {
      if (rest.length < 2) err('expect bytes takes MODULE:SYMBOL[+OFF] and hex bytes (?? for any)');
      const bytes = rest.slice(1).join('').replace(/\s/g, '').match(/.{1,2}/g) ?? [];
      return { kind, where: parseWhere(rest[0]!, err), bytes: bytes.map((x) => (x === '??' ? null : /^[0-9a-f]{2}$/i.test(x) ? parseInt(x, 16) : err(`'${clip(x)}' is not a hex byte`))) };
    }
    case 'jump': needs(2); if (rest[1] !== 'jmp' && rest[1] !== 'nop') err('expect jump takes MODULE:SYMBOL jmp|nop'); return { kind, where: parseWhere(rest[0]!, err), state: rest[1] };
    case 'reloc': {
      needs(3);
      if (rest[2] !== 'applied' && rest[2] !== 'zero') err('expect reloc takes PATCH OBJECT:SYMBOL[,SYMPOS] applied|zero');
      const s = parseSymRef(rest[1]!, err);
      return { kind, module: rest[0]!, symbol: `.klp.sym.${s.obj}.${s.name},${s.pos}`, state: rest[2] };
    }
    case 'address': {
      needs(2);
      if (!/^0x[0-9a-f]+$/i.test(rest[1]!)) err(`'${clip(rest[1]!)}' is not a hex address`);
      return { kind, ...parseSymRef(rest[0]!, err), address: BigInt(rest[1]!) };
    }
    case 'loaded': case 'not-loaded': needs(1); return { kind, name: rest[0]! };
    case 'violations': case 'flips': needs(1); if (!/^\d+$/.test(rest[0]!)) err(`expect ${kind} takes a count`); return { kind, count: Number(rest[0]) };
    case 'no-violations': needs(0); return { kind: 'violations', count: 0 };
  }
  return err(`unknown expectation '${clip(kind ?? '')}': use ok, fail, log, no-log, bytes, jump, reloc, address, loaded, not-loaded, violations, no-violations, flips`);
}

export function parseScenario(text: string, file: string): Scenario {
  const dir = dirname(resolve(file));
  const sc: Scenario = { file, name: file, notes: [], symbols: {}, modules: new Map(), designs: undefined, steps: [] };
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const err = (m: string): never => { throw new ScenarioError(`${file}:${line}: ${m}`); };
    const body = raw.replace(/^\s+|\s+$/g, '');
    if (body === '' || body.startsWith('#')) return;
    const w = words(body, err);
    const head = w[0]!;
    const args = w.slice(1);
    const one = (): string => (args.length === 1 ? args[0]! : err(`${head} takes one argument`));
    const dm = /^expect\[([^\]]+)\]$/.exec(head);
    if (head === 'expect' || dm) {
      const step = sc.steps.at(-1);
      if (!step) err('expect before any step');
      let designs: Design[] | undefined;
      if (dm) {
        try {
          designs = dm[1]!.split(',').map((d) => parseDesign(d.trim()));
        } catch (e) {
          err((e as Error).message);
        }
      }
      step!.expects.push({ line, text: body, ...(designs ? { designs } : {}), expect: parseExpect(args, err) });
      return;
    }
    switch (head) {
      case 'name': sc.name = args.join(' '); return;
      case 'note': sc.notes.push(args.join(' ')); return;
      case 'db': sc.symbols.db = resolve(dir, one()); return;
      case 'kallsyms': sc.symbols.kallsyms = resolve(dir, one()); return;
      case 'symvers': sc.symbols.symvers = resolve(dir, one()); return;
      case 'vmlinuz': sc.symbols.vmlinuz = resolve(dir, one()); return;
      case 'system-map': sc.symbols.systemMap = resolve(dir, one()); return;
      case 'modules': sc.symbols.modules = resolve(dir, one()); return;
      case 'modules-dep': sc.modulesDep = resolve(dir, one()); return;
      case 'designs':
        try {
          sc.designs = args.map(parseDesign);
        } catch (e) {
          err((e as Error).message);
        }
        return;
      case 'module':
        if (args.length !== 2) err('module takes ALIAS PATH');
        sc.modules.set(args[0]!, resolve(dir, args[1]!));
        return;
      case 'step':
        sc.steps.push({ line, text: args.join(' '), op: parseStep(args, err), expects: [] });
        return;
    }
    err(`unknown directive '${clip(head)}': use name, note, db, kallsyms, symvers, vmlinuz, system-map, modules, modules-dep, designs, module, step, expect`);
  });
  if (sc.steps.length === 0) throw new ScenarioError(`${file}: no steps`);
  const mp = sc.steps.find((st) => st.op.op === 'modprobe');
  if (mp && !sc.modulesDep) throw new ScenarioError(`${file}:${mp.line}: modprobe needs a modules-dep line: the modules.dep that \`depmod -b ROOT VERSION\` writes to ROOT/lib/modules/VERSION/modules.dep for a tree unpacked under ROOT`);
  return sc;
}

// -------------------------------------------------------------------------------------------------
// Running

export interface ExpectResult { line: number; text: string; ok: boolean; detail: string }

export interface StepResult {
  text: string;
  rc: number;
  /** The kernel's messages printed during the step. */
  log: string[];
  events: SimEvent[];
  expects: ExpectResult[];
}

export interface DesignRun {
  design: Design;
  summary: string;
  steps: StepResult[];
  violations: WriteRecord[];
  permChanges: readonly PermChange[];
  flips: number;
  /** text_poke() writes (6.3's late relocations; per-object's into patches not split). */
  textPokes: number;
  /** Patch parts ('patch:object') the per-object design met unsplit (written as 6.3 does). */
  unsplit: string[];
  passed: boolean;
}

/** Load a module file fresh for each insmod; for per-object designs split it first (in memory). */
function loadFor(files: ScenarioFiles, path: string, design: Design, note: (m: string) => void): ElfFile {
  const elf = readElf(files.bytes.get(path)!, { path });
  for (const m of splitForDesign(elf, design)) note(m);
  return elf;
}

const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** An address named MODULE:SYMBOL+OFF (a symbol, or else a section, of the loaded module). */
function locate(k: EmulatedKernel, w: Where): { addr: bigint; size?: number } | string {
  const mod = k.module(w.module);
  if (!mod) return `module ${w.module} is not loaded`;
  const y = mod.elf.allSymbols.find((s) => s.section && s.name === w.name && mod.symbolValue.has(s));
  if (y) return { addr: mod.symbolValue.get(y)! + BigInt(w.offset), size: Number(y.size) };
  const a = k.sectionAddress(w.module, w.name);
  return a === undefined ? `${w.module} has no symbol or section '${w.name}'` : { addr: a + BigInt(w.offset) };
}

function check(k: EmulatedKernel, e: Expect, rc: number, log: string[]): { ok: boolean; detail: string } {
  switch (e.kind) {
    case 'ok': return { ok: rc === 0, detail: `status ${rc}` };
    case 'fail': {
      const ok = rc !== 0 && (e.errno === undefined || rc === e.errno) && (e.message === undefined || log.some((l) => l.includes(e.message!)));
      return { ok, detail: `status ${rc}${e.message !== undefined && !log.some((l) => l.includes(e.message!)) ? `; no message with "${e.message}"` : ''}` };
    }
    case 'log': return { ok: log.some((l) => l.includes(e.message)), detail: log.length ? `${log.length} message(s)` : 'no messages' };
    case 'no-log': { const hit = log.find((l) => l.includes(e.message)); return { ok: !hit, detail: hit ?? 'not printed' }; }
    case 'loaded': return { ok: k.isLoaded(e.name), detail: k.isLoaded(e.name) ? 'loaded' : 'not loaded' };
    case 'not-loaded': return { ok: !k.isLoaded(e.name), detail: k.isLoaded(e.name) ? 'loaded' : 'not loaded' };
    case 'violations': return { ok: k.violations === e.count, detail: `${k.violations} violation(s)` };
    case 'flips': return { ok: k.flips === e.count, detail: `${k.flips} permission flip(s)` };
    case 'address': {
      const a = k.symbolAddress(e.obj, e.name, e.pos);
      return { ok: a === e.address, detail: a === undefined ? 'not found' : `0x${a.toString(16)}` };
    }
    case 'bytes': {
      const at = locate(k, e.where);
      if (typeof at === 'string') return { ok: false, detail: at };
      const got = k.memory.read(at.addr, e.bytes.length);
      if (!got) return { ok: false, detail: `0x${at.addr.toString(16)} is not mapped` };
      return { ok: e.bytes.every((b, i) => b === null || b === got[i]), detail: `${hex(got)} at 0x${at.addr.toString(16)}` };
    }
    case 'jump': {
      const at = locate(k, e.where);
      if (typeof at === 'string') return { ok: false, detail: at };
      const mod = k.module(e.where.module)!;
      const end = at.addr + BigInt(Math.max(1, at.size ?? 1));
      const sites = mod.elf.sections.filter((s) => s.name === '__jump_table' || /^\.klp\.arch\.[^.]+\.__jump_table$/.test(s.name))
        .flatMap((s) => k.jumpLabels.readEntries(mod, s)).filter((s) => s.code >= at.addr && s.code < end);
      if (sites.length === 0) return { ok: false, detail: `no jump label site in ${e.where.module}:${e.where.name}` };
      const states = sites.map((s) => { const b = k.memory.read(s.code, 2)!; return b[0] === 0xe9 || b[0] === 0xeb ? 'jmp' : 'nop'; });
      return { ok: states.every((s) => s === e.state), detail: states.map((s, i) => `${s} at 0x${sites[i]!.code.toString(16)}`).join(', ') };
    }
    case 'reloc': {
      const mod = k.module(e.module);
      if (!mod) return { ok: false, detail: `module ${e.module} is not loaded` };
      const arch = archOf(mod.elf) as Arch;
      const klp = parseKlpSym(e.symbol);
      const target = klp ? k.symbolAddress(klp.obj, klp.name, klp.pos) : undefined;
      const places: string[] = [];
      let ok = true;
      let n = 0;
      for (const rs of mod.elf.sections) {
        if (!rs.isLivepatchRela || !rs.infoSection) continue;
        const base = mod.sectionAddr.get(rs.infoSection);
        if (base === undefined) continue;
        for (const r of mod.elf.relocations(rs)) {
          if (r.symbol.name !== e.symbol) continue;
          n++;
          const loc = base + r.offset;
          const size = arch.relocs.get(r.type)?.size ?? 0;
          const cur = k.memory.read(loc, size) ?? new Uint8Array(0);
          const want = e.state === 'zero' ? new Uint8Array(size) : target === undefined ? undefined : relocatedBytes(arch, r.type, target + r.addend, loc, { major: 6, minor: 3 });
          const same = want !== undefined && want.every((b, i) => b === cur[i]);
          ok &&= same;
          places.push(`${rs.infoSection.name}+0x${r.offset.toString(16)}: ${hex(cur)}`);
        }
      }
      if (n === 0) return { ok: false, detail: `${e.module} has no livepatch relocation against ${e.symbol}` };
      return { ok, detail: `${target === undefined ? `${e.symbol} does not resolve now; ` : ''}${places.join('; ')}` };
    }
  }
}

/** The module files a scenario loads, read (and decompressed) once, with their module names. */
export interface ScenarioFiles { bytes: Map<string, Uint8Array>; names: Map<string, string>; dep?: ModulesDep }

const insmodPath = (sc: Scenario, module: string): string => sc.modules.get(module) ?? resolve(dirname(resolve(sc.file)), module);

export async function readScenarioFiles(sc: Scenario): Promise<ScenarioFiles> {
  const files: ScenarioFiles = { bytes: new Map(), names: new Map() };
  if (sc.modulesDep) files.dep = new ModulesDep((await readInputFile(sc.modulesDep, 'modules.dep')).toString('utf8'), sc.modulesDep);
  const dep = files.dep;
  const paths = new Set([...sc.modules.values(), ...sc.steps.flatMap((s) => (s.op.op === 'insmod' ? [insmodPath(sc, s.op.module)]
    : s.op.op === 'modprobe' && dep ? dep.loadOrder(s.op.name).map((m) => dep.path(m)) : []))]);
  for (const path of paths) {
    const { bytes } = await maybeDecompress(await readInputFile(path, 'module'), { file: path });
    files.bytes.set(path, bytes);
    files.names.set(path, moduleName(readElf(bytes, { path })) ?? path);
  }
  return files;
}

/** Run a scenario under one design. `db` holds vmlinux's symbols (modules come from their files). */
export function runScenario(sc: Scenario, design: Design, db: SymbolDb, files: ScenarioFiles): DesignRun {
  return simulate(sc, design, db, files).run;
}

/** runScenario, also returning the emulated kernel in its final state (for invariants and reports). */
export function simulate(sc: Scenario, design: Design, db: SymbolDb, files: ScenarioFiles): { run: DesignRun; kernel: EmulatedKernel } {
  const nameOf = (alias: string): string => (sc.modules.has(alias) ? files.names.get(sc.modules.get(alias)!)! : alias);
  const k = new EmulatedKernel(db, design);
  k.reserve([...new Set([...files.bytes.keys()].map((p) => files.names.get(p)!))]);
  const steps: StepResult[] = [];
  for (const st of sc.steps) {
    const logStart = k.log.length;
    const evStart = k.events.length;
    const notes: SimEvent[] = [];
    let rc: number;
    switch (st.op.op) {
      case 'insmod': {
        const elf = loadFor(files, insmodPath(sc, st.op.module), design, (m) => notes.push({ stage: 'insmod', kind: 'trace', text: m }));
        rc = k.insmod(elf);
        break;
      }
      case 'modprobe': {
        // modprobe: the dependencies from modules.dep first (those not loaded yet), then the module;
        // the first failing insertion stops it.
        rc = 0;
        for (const m of files.dep!.loadOrder(st.op.name)) {
          if (k.isLoaded(m)) continue;
          rc = k.insmod(loadFor(files, files.dep!.path(m), design, (text) => notes.push({ stage: 'modprobe', kind: 'trace', text })));
          if (rc !== 0) break;
        }
        break;
      }
      case 'rmmod': rc = k.rmmod(nameOf(st.op.name)); break;
      case 'disable': rc = k.disablePatch(nameOf(st.op.patch)); break;
      case 'key': rc = k.setStaticKey(st.op.obj, st.op.name, st.op.on); break;
    }
    const log = k.log.slice(logStart);
    const expects = st.expects.filter((x) => !x.designs || x.designs.includes(design))
      .map((x) => ({ line: x.line, text: x.text, ...check(k, x.expect, rc, log) }));
    steps.push({ text: st.text, rc, log, events: [...notes, ...k.events.slice(evStart)], expects });
  }
  const violations = k.memory.writes.filter((w) => w.violation);
  const run: DesignRun = {
    design, summary: DESIGN_HOOKS[design].summary, steps, violations, permChanges: k.memory.permChanges, flips: k.flips, textPokes: k.textPokes, unsplit: [...k.unsplit],
    passed: steps.every((s) => s.expects.every((x) => x.ok)),
  };
  return { run, kernel: k };
}

