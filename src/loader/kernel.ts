/**
 * An emulated kernel: the state the module loader and the livepatch core share (the module list,
 * exports and references, the registered patches, memory, static keys), what the kernel prints,
 * and the entry points a scenario drives. The work is split as the kernel splits it:
 *
 *   main.ts            kernel/module/main.c        load_module() stage by stage, delete_module()
 *   module-loader.ts   (its memory work)           layout, move_module, simplify_symbols,
 *                                                  apply_relocations, apply_relocate_add
 *   strict-rwx.ts      kernel/module/strict_rwx.c  module_enable_ro()
 *   livepatch-core.ts  kernel/livepatch/core.c     klp_enable_patch(), klp_module_coming(), ...
 *   jump-label.ts      kernel/jump_label.c         the module notifier, static_key_enable()
 *   designs/           one file per design: what it does at each hook of the above
 *
 * insmod/rmmod return what busybox's insmod/rmmod exit with (0 or the errno). `log` collects the
 * kernel's messages with their prefixes as dmesg shows them, so runs compare with a real boot;
 * `events` adds the emulator's trace: stages, module states, every livepatch relocation with its
 * symbol, object, sympos and address, and every permission change.
 */
import type { KernelVersion } from '../kernel-version.js';
import type { ElfFile } from '../elf/file.js';
import type { SymbolDb } from '../symbols/database.js';
import { DESIGN_HOOKS, type Design, type DesignHooks } from './designs/index.js';
import { JumpLabels } from './jump-label.js';
import { klp_disable_patch, klp_find_object_symbol, type KlpPatch } from './livepatch-core.js';
import { delete_module, load_module } from './main.js';
import { Memory, permString, type PermChange, type Perms } from './memory.js';
import type { KernelEnv, LoadedModule, StageError } from './module-loader.js';

export type { Design } from './designs/index.js';

/** The errnos the emulated loader returns, as the kernel's (include/uapi/asm-generic/errno-base.h). */
export const ERRNO: Record<string, number> = { ENOENT: 2, ENOEXEC: 8, EWOULDBLOCK: 11, ENOMEM: 12, EBUSY: 16, EEXIST: 17, EINVAL: 22 };
const MODULES_VADDR = 0xffffffffc0000000n;

export interface SimEvent {
  stage: string;
  /** kernel: a message the kernel prints (also in `log`); trace: the emulator's account of a step. */
  kind: 'kernel' | 'trace';
  text: string;
}

export class EmulatedKernel {
  readonly log: string[] = [];
  readonly events: SimEvent[] = [];
  readonly memory = new Memory();
  readonly jumpLabels: JumpLabels;
  readonly design: Design;
  readonly hooks: DesignHooks;
  /** Kernel version whose messages and name rules apply. */
  readonly version: KernelVersion;
  readonly db: SymbolDb;
  readonly env: KernelEnv;

  // The state main.ts, livepatch-core.ts and the designs share (the kernel's globals).
  /** The module list (formed modules). */
  readonly modules = new Map<string, LoadedModule>();
  /** klp_patches: registered livepatches by module name. */
  readonly patches = new Map<string, KlpPatch>();
  /** Exports of the loaded modules, and vmlinux exports looked up so far (resolve_symbol). */
  readonly moduleExports = new Map<string, { address: bigint; owner: string }>();
  /** Modules that resolved a symbol against each module's exports (its source_list: lsmod's "Used by"). */
  readonly holders = new Map<string, Set<string>>();
  readonly uses = new Map<string, Set<string>>();
  /** The modules whose exports the module being loaded has resolved so far (simplify_symbols). */
  resolvedFrom = new Set<string>();
  /** What the running kernel has printed once (pr_*_once) or is tainted with (test_taint). */
  readonly once = new Set<string>();
  /** Patch parts ('patch:object') that the per-object design met unsplit. */
  readonly unsplit = new Set<string>();
  /** Relocations written by the module loader (apply_relocations) so far. */
  relocationsApplied = 0;
  /** The function the kernel is in, for the events. */
  stage = 'init';

  private readonly vmlinuxExports = new Map<string, bigint | undefined>();
  /**
   * module_alloc() gives every layout of a module the same place each time it is loaded (a slot
   * per module and layout), and modules named in reserve() a window of their own, so runs in
   * different orders put the same code at the same address and final bytes compare directly. The
   * kernel's vmalloc makes no such promise; nothing here relies on addresses being different.
   */
  private readonly slots = new Map<string, { base: bigint; size: number }>();
  private readonly windows = new Map<string, { next: bigint; end: bigint }>();
  private nextModule = MODULES_VADDR;
  private nextPercpu: bigint;

  constructor(db: SymbolDb, design: Design) {
    this.db = db;
    this.design = design;
    this.hooks = DESIGN_HOOKS[design];
    this.version = this.hooks.kernel;
    this.jumpLabels = new JumpLabels(this.memory, (line) => {
      if (this.memory.record) this.trace(line());
    });
    this.nextPercpu = db.lookup('__per_cpu_end')[0]?.address ?? 0x40000n;
    this.env = {
      kernel: this.version,
      memory: this.memory,
      resolveExport: (name) => {
        const e = this.moduleExports.get(name);
        if (e !== undefined) {
          this.resolvedFrom.add(e.owner);
          return e.address;
        }
        if (!this.vmlinuxExports.has(name)) {
          this.vmlinuxExports.set(name, db.lookup(name).find((d) => d.object === 'vmlinux' && d.exported)?.address ?? undefined);
        }
        return this.vmlinuxExports.get(name);
      },
      allocModule: (module, part, size) => {
        const key = `${module}/${part}`;
        const slot = this.slots.get(key);
        if (slot && size <= slot.size) return slot.base;
        const w = this.windows.get(module);
        const inWindow = w !== undefined && w.next + BigInt(size) <= w.end;
        const base = inWindow ? w.next : this.nextModule;
        if (inWindow) w.next += BigInt(size);
        else this.nextModule += BigInt(size);
        this.slots.set(key, { base, size });
        return base;
      },
      allocPercpu: (size, align) => {
        const a = BigInt(align);
        this.nextPercpu = ((this.nextPercpu + a - 1n) / a) * a;
        const at = this.nextPercpu;
        this.nextPercpu += BigInt(size);
        return at;
      },
    };
  }

  /**
   * Give each named module a fixed 16 MiB window at the start of the modules area, in this order,
   * whatever order they load in (scenarios reserve their modules, so load orders compare).
   */
  reserve(names: readonly string[]): void {
    const WINDOW = 16n << 20n;
    for (const n of names) {
      if (this.windows.has(n)) continue;
      this.windows.set(n, { next: this.nextModule, end: this.nextModule + WINDOW });
      this.nextModule += WINDOW;
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Entry points

  /** insmod: finit_module(2) -> load_module(). */
  insmod(elf: ElfFile): number {
    return load_module(this, elf);
  }

  /** rmmod: delete_module(2). */
  rmmod(name: string): number {
    return delete_module(this, name);
  }

  /** echo 0 > /sys/kernel/livepatch/<patch>/enabled */
  disablePatch(name: string): number {
    return klp_disable_patch(this, name);
  }

  /**
   * static_branch_enable()/disable() on `<obj>:<name>` (a module's key, e.g. through a module
   * parameter, or a vmlinux key); returns 0, or ENOENT when the key is not in emulated memory.
   */
  setStaticKey(obj: string, name: string, on: boolean): number {
    this.at('static_key');
    const addr = this.symbolAddress(obj, name);
    if (addr === undefined || this.jumpLabels.keyEnabled(addr) === undefined) return this.errno('ENOENT');
    this.jumpLabels.setKey(addr, on, this.stage, `${obj}:${name}`);
    return 0;
  }

  // -----------------------------------------------------------------------------------------------
  // What the kernel prints, and the emulator's trace

  /** printk(): lines as dmesg shows them, prefixes included. */
  printk(...lines: string[]): void {
    for (const text of lines) {
      this.log.push(text);
      this.events.push({ stage: this.stage, kind: 'kernel', text });
    }
  }

  /** A failed stage's messages, and in the trace the relocation it failed at (the kernel does not say). */
  printError(e: StageError): void {
    this.printk(...e.messages);
    if (e.at) this.trace(`${e.at.module}: ${e.at.section} entry ${e.at.index} refused (${e.kind}): -${e.errno}`);
  }

  trace(text: string): void {
    if (this.memory.record) this.events.push({ stage: this.stage, kind: 'trace', text });
  }

  at(stage: string): void {
    this.stage = stage;
  }

  errno(name: string): number {
    return ERRNO[name] ?? ERRNO.ENOEXEC!;
  }

  setState(mod: LoadedModule, state: LoadedModule['state']): void {
    mod.state = state;
    this.trace(`${mod.name}: MODULE_STATE_${state}`);
  }

  /** set_memory_*() on one region of a module (`core.text`, `klp.<obj>.rodata`, ...), traced. */
  protect(mod: LoadedModule, part: string, to: Perms, kind: PermChange['kind']): void {
    const r = mod.regions.get(part);
    if (!r) return;
    const from = r.perms;
    this.memory.protect(r, to, this.stage, kind);
    if (r.bytes.length > 0 && permString(from) !== permString(to)) this.trace(`${kind}: ${r.name} ${permString(from)} -> ${permString(to)}`);
  }

  /** Whether `a` lies in the module's memory (within_module()). */
  within(mod: LoadedModule, a: bigint): boolean {
    for (const r of mod.regions.values()) if (a >= r.base && a < r.base + BigInt(r.bytes.length)) return true;
    return false;
  }

  // -----------------------------------------------------------------------------------------------
  // Queries (scenario expectations, reports)

  isLoaded(name: string): boolean {
    return this.modules.has(name);
  }

  module(name: string): LoadedModule | undefined {
    return this.modules.get(name);
  }

  /** A symbol's address: vmlinux from the database, a module's from its loaded image. */
  symbolAddress(obj: string, name: string, pos = 0): bigint | undefined {
    const r = klp_find_object_symbol(this, obj, this.modules.get(obj), name, pos);
    return r.ok ? r.address : undefined;
  }

  sectionAddress(module: string, section: string): bigint | undefined {
    const mod = this.modules.get(module);
    const s = mod?.elf.sections.find((x) => x.name === section);
    return s ? mod!.sectionAddr.get(s) : undefined;
  }

  get violations(): number {
    return this.memory.writes.filter((w) => w.violation).length;
  }

  /** text_poke() writes: 6.3's late relocations, and per-object's into patches not split. */
  get textPokes(): number {
    return this.memory.writes.filter((w) => w.by === 'text_poke').length;
  }

  get flips(): number {
    return this.memory.permChanges.filter((c) => c.kind === 'flip').length;
  }
}
