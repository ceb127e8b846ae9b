/**
 * Jump labels (static keys), as kernel/jump_label.c (6.1) and arch/x86/kernel/jump_label.c handle
 * a module's `__jump_table`, on x86_64 with CONFIG_HAVE_ARCH_JUMP_LABEL_RELATIVE:
 *
 *   struct jump_entry { s32 code; s32 target; long key; }   // 16 bytes, offsets relative to each field
 *   key = &entry->key + (entry->key & ~3); entry->key & 1: branch (likely); & 2: code in init
 *   struct static_key { atomic_t enabled; union { unsigned long type; entries; next; } }
 *
 * jump_label_add_module() (MODULE_STATE_COMING notifier) walks the entries grouped by key: a key
 * inside the module itself gets the entries recorded in the key (static_key_set_entries, a store
 * into the key); a key elsewhere is linked to the module's entries, and the code is patched now if
 * the key's state differs from its initial type. The emulator reads the entries and keys from the
 * module's real bytes, so an entry whose key relocation is not written yet (a module key used by a
 * livepatch under 6.1) is read exactly as the kernel reads it: as a key inside the patch itself.
 */
import { x86_64 } from '../arch/x86_64.js';
import type { Section } from '../elf/model.js';
import type { Memory } from './memory.js';
import type { LoadedModule } from './module-loader.js';

export const JUMP_ENTRY_SIZE = x86_64.specialEntrySizes!.__jump_table!;
const NOP5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];
const NOP2 = [0x66, 0x90];

export interface JumpSite {
  /** The module whose table holds the entry, and the table's name. */
  module: string;
  table: string;
  entry: bigint;
  code: bigint;
  target: bigint;
  key: bigint;
  branch: boolean;
}

/** The little-endian s32 and s64 at `at` of `b`, read a byte at a time (no view made). */
const s32 = (b: Uint8Array, at: number): bigint => BigInt((b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)));
const s64 = (b: Uint8Array, at: number): bigint => (s32(b, at + 4) << 32n) | BigInt.asUintN(32, s32(b, at));
const U64 = (1n << 64n) - 1n;

/** `v` (0 to 2^64-1) as 8 little-endian bytes, written a byte at a time. */
function le64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  const lo = Number(v & 0xffffffffn), hi = Number(v >> 32n);
  for (let k = 0; k < 4; k++) {
    out[k] = (lo >>> (8 * k)) & 0xff;
    out[4 + k] = (hi >>> (8 * k)) & 0xff;
  }
  return out;
}

export class JumpLabels {
  /** Sites patched together with each key (the key's own module's entries and linked ones). */
  private readonly byKey = new Map<bigint, JumpSite[]>();
  /** The keys each module's sites are tied to, so unloading touches only those. */
  private readonly keysOf = new Map<string, Set<bigint>>();
  private readonly memory: Memory;
  /**
   * The trace, given each line as a function: made only when the trace is kept (the scale run of
   * 4,023 modules keeps none, and a line a key was a BigInt printed in hex and a string built).
   */
  private readonly say: (line: () => string) => void;

  constructor(memory: Memory, say: (line: () => string) => void) {
    this.memory = memory;
    this.say = say;
  }

  /** Read the entries of a jump table section as the kernel would, from memory. */
  readEntries(mod: LoadedModule, table: Section): JumpSite[] {
    const base = mod.sectionAddr.get(table);
    if (base === undefined) return [];
    const out: JumpSite[] = [];
    // The table lies in one region (a section is never split): read there, not a look-up and
    // three views an entry; else entry by entry, up to the first that memory does not hold.
    const whole = this.memory.find(base, Math.floor(table.size / JUMP_ENTRY_SIZE) * JUMP_ENTRY_SIZE);
    for (let off = 0; off + JUMP_ENTRY_SIZE <= table.size; off += JUMP_ENTRY_SIZE) {
      const e = base + BigInt(off);
      const b = whole ? whole.region.bytes.subarray(whole.off + off, whole.off + off + JUMP_ENTRY_SIZE) : this.memory.read(e, JUMP_ENTRY_SIZE);
      if (!b) break;
      const keyField = s64(b, 8);
      out.push({
        module: mod.name, table: table.name, entry: e,
        code: (e + s32(b, 0)) & U64, target: (e + 4n + s32(b, 4)) & U64,
        key: (e + 8n + (keyField & ~3n)) & U64, branch: (keyField & 1n) !== 0n,
      });
    }
    return out;
  }

  /** static_key_enabled(): the key's `enabled` count, when the key is in emulated memory. */
  keyEnabled(key: bigint): boolean | undefined {
    const b = this.memory.read(key, 4);
    return b ? s32(b, 0) > 0n : undefined;
  }

  /** static_key_type(): JUMP_TYPE_TRUE in the key's type word. */
  private keyType(key: bigint): boolean | undefined {
    const b = this.memory.read(key + 8n, 8);
    return b ? (b[0]! & 1) !== 0 : undefined;
  }

  /**
   * jump_label_add_module() for `table` of `mod` (`__jump_table`, or under the per-object design a
   * `.klp.arch.<obj>.__jump_table` once its object is present). `within` says whether an address
   * is inside `mod` (within_module()).
   */
  addModule(mod: LoadedModule, table: Section, stage: string, within: (a: bigint) => boolean): void {
    const entries = this.readEntries(mod, table);
    if (entries.length === 0) return;
    const groups = new Map<bigint, JumpSite[]>();
    for (const e of entries) {
      const g = groups.get(e.key);
      if (g) g.push(e);
      else groups.set(e.key, [e]);
    }
    for (const [key, sites] of groups) {
      this.tie(mod.name, key, sites);
      if (within(key)) {
        // static_key_set_entries(key, iter): key->entries = iter, keeping the type bits.
        const inTable = sites.some((s) => key >= s.entry && key < s.entry + BigInt(JUMP_ENTRY_SIZE));
        const typeBits = this.memory.read(key + 8n, 8)?.[0] ?? 0;
        const ptr = le64((sites[0]!.entry | BigInt(typeBits & 3)) & U64);
        this.memory.write(key + 8n, ptr, stage, 'memcpy', () => `${mod.name}: static_key_set_entries(key 0x${key.toString(16)})`);
        if (inTable) {
          this.say(() => `jump_label: ${mod.name}: ${table.name} entry for code 0x${sites[0]!.code.toString(16)} has its key field still zero: the kernel takes 0x${key.toString(16)}, inside the table itself, for a key of ${mod.name}; the site is tied to no real key`);
        }
        continue;
      }
      this.say(() => `jump_label: ${mod.name}: ${sites.length} site(s) in ${table.name} linked to key 0x${key.toString(16)}`);
      const enabled = this.keyEnabled(key);
      const type = this.keyType(key);
      if (enabled === undefined || type === undefined) continue; // a vmlinux key: its state is not modelled
      for (const s of sites) {
        // Only update if we've changed from our initial state (jump_label_type != jump_label_init_type)
        if ((enabled !== s.branch) !== (type !== s.branch)) this.transform(s, enabled !== s.branch, stage);
      }
    }
  }

  private tie(module: string, key: bigint, sites: JumpSite[]): void {
    const list = this.byKey.get(key);
    if (list) list.push(...sites);
    else this.byKey.set(key, [...sites]);
    let keys = this.keysOf.get(module);
    if (!keys) this.keysOf.set(module, (keys = new Set()));
    keys.add(key);
  }

  /** jump_label_del_module(): forget every site of `mod` (or of one of its tables). */
  delModule(module: string, table?: string): void {
    const keys = this.keysOf.get(module);
    if (!keys) return;
    for (const key of keys) {
      const sites = this.byKey.get(key) ?? [];
      const kept = sites.filter((s) => s.module !== module || (table !== undefined && s.table !== table));
      if (kept.length === 0) this.byKey.delete(key);
      else this.byKey.set(key, kept);
    }
    if (table === undefined) this.keysOf.delete(module);
  }

  /** static_branch_enable()/disable(): set `enabled` and patch every site tied to the key. */
  setKey(key: bigint, on: boolean, stage: string, what: string): void {
    // `enabled`, an s32 of 1 or 0 in little-endian order.
    this.memory.write(key, Uint8Array.of(on ? 1 : 0, 0, 0, 0), stage, 'memcpy', `${what}: static_key enabled = ${on ? 1 : 0}`);
    const sites = this.byKey.get(key) ?? [];
    this.say(() => `jump_label: ${what} ${on ? 'enabled' : 'disabled'}: ${sites.length} site(s) updated`);
    for (const s of sites) this.transform(s, on !== s.branch, stage);
  }

  /**
   * arch_jump_label_transform(): write a jmp to the target or a nop of the site's size through
   * text_poke, after checking the site holds what the other state would have put there
   * (__jump_label_patch's "unexpected op" check, a BUG() in the kernel).
   */
  private transform(s: JumpSite, jump: boolean, stage: string): void {
    const cur = this.memory.read(s.code, 5);
    if (!cur) return;
    const size = cur[0] === 0xeb || (cur[0] === 0x66 && cur[1] === 0x90) ? 2 : 5;
    const rel = s.target - (s.code + BigInt(size));
    const jmp = size === 2 ? [0xeb, Number(BigInt.asUintN(8, rel))] : [0xe9, ...[0, 8, 16, 24].map((sh) => Number((BigInt.asUintN(32, rel) >> BigInt(sh)) & 0xffn))];
    const nop = size === 2 ? NOP2 : NOP5;
    const expect = jump ? nop : jmp;
    const have = [...cur.subarray(0, size)];
    if (have.join() === (jump ? jmp : nop).join()) return; // already in that state
    if (have.join() !== expect.join()) {
      const hex = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
      this.say(() => `jump_label: Fatal kernel bug, unexpected op at 0x${s.code.toString(16)} (${hex(have)} != ${hex(expect)}) size:${size} type:${jump ? 1 : 0}`);
      return;
    }
    this.memory.write(s.code, Uint8Array.from(jump ? jmp : nop), stage, 'text_poke', `${s.module}: jump label at 0x${s.code.toString(16)} -> ${jump ? 'jmp' : 'nop'}`);
  }

  /** Whether a table of `module` has sites tied to a key (addModule() linked it). */
  linked(module: string, table: string): boolean {
    return [...(this.keysOf.get(module) ?? [])].some((key) => this.sitesOf(key).some((s) => s.module === module && s.table === table));
  }

  /**
   * jump_label_unlink_entries() (kernel/patches/0003): the sites of a table that addModule()
   * linked go back to what their key's initial type assumes (arch_jump_label_transform(), a
   * text_poke, where the key has changed), then are forgotten, so a later link starts from the
   * bytes as built.
   */
  unlinkEntries(module: string, table: string, stage: string): void {
    for (const key of this.keysOf.get(module) ?? []) {
      const enabled = this.keyEnabled(key);
      const type = this.keyType(key);
      if (enabled === undefined || type === undefined || enabled === type) continue;
      for (const s of this.sitesOf(key)) if (s.module === module && s.table === table) this.transform(s, type !== s.branch, stage);
    }
    this.delModule(module, table);
    this.say(() => `jump_label: ${module}: ${table} unlinked`);
  }

  /** The sites tied to a key (for reports and tests). */
  sitesOf(key: bigint): readonly JumpSite[] {
    return this.byKey.get(key) ?? [];
  }
}
