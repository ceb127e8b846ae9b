/** `klp sim` as text: a dmesg-like log per design, then a table of designs x steps. */
import type { DesignRun, Scenario } from '../loader/scenario.js';
import { escapeText } from './escape.js';
import { permString } from '../loader/memory.js';

export interface SimTextOptions {
  /** Only the kernel's own messages (no emulator trace). */
  brief?: boolean;
}

const pad = (s: string, n: number): string => (s.length >= n ? `${s} ` : s.padEnd(n));

export function renderSimText(sc: Scenario, runs: readonly DesignRun[], opts: SimTextOptions = {}): string {
  const lines: string[] = [`klp sim: ${escapeText(sc.name)}${sc.name !== sc.file ? ` (${escapeText(sc.file)})` : ''}`];
  for (const n of sc.notes) lines.push(`  ${escapeText(n)}`);
  for (const run of runs) {
    lines.push('', `== design ${run.design}: ${run.summary}`);
    run.steps.forEach((st) => {
      lines.push(`${pad(`$ ${escapeText(st.text)}`, 40)}-> ${st.rc}`);
      for (const e of st.events) {
        if (e.kind === 'kernel') lines.push(`    ${escapeText(e.text)}`);
        else if (!opts.brief) lines.push(`    [${e.stage}] ${escapeText(e.text)}`);
      }
      for (const x of st.expects) lines.push(`  ${x.ok ? 'PASS' : 'FAIL'} ${escapeText(x.text)}${x.ok ? '' : `  (${escapeText(x.detail)}; ${escapeText(sc.file)}:${x.line})`}`);
    });
    lines.push(`  permission audit: ${run.violations.length} violation(s), ${run.flips} permission flip(s), ${run.textPokes} text poke(s)`);
    for (const u of run.unsplit) {
      const [patch, obj] = u.split(':');
      lines.push(`  note: ${escapeText(patch!)} is not split for ${escapeText(obj!)}: its relocations go into read-only text with text_poke, as 6.3 does; build the patch with -ffunction-sections -fdata-sections (Kbuild: ccflags-y += -ffunction-sections -fdata-sections) and run klp split (or klp convert --per-object) to give ${escapeText(obj!)} its own .klp.text.${escapeText(obj!)}`);
    }
    for (const v of run.violations.slice(0, 20)) {
      lines.push(`    VIOLATION [${v.stage}] ${v.by} of ${v.size} bytes at 0x${v.address.toString(16)} in ${escapeText(v.region)}: ${escapeText(v.what)}`);
    }
    if (run.violations.length > 20) lines.push(`    ... ${run.violations.length - 20} more`);
    for (const c of run.permChanges.filter((p) => p.kind === 'flip')) lines.push(`    flip [${c.stage}] ${escapeText(c.region)} ${permString(c.from)} -> ${permString(c.to)}`);
  }
  lines.push('', ...renderSimTable(sc, runs));
  return lines.join('\n');
}

/** Steps down, designs across: each step's status (and a * when an expectation failed). */
export function renderSimTable(sc: Scenario, runs: readonly DesignRun[]): string[] {
  const w0 = Math.max(24, ...sc.steps.map((s) => s.text.length + 2));
  const cols = runs.map((r) => Math.max(r.design.length + 2, 8));
  const row = (label: string, cells: string[]): string => pad(label, w0) + cells.map((c, i) => pad(c, cols[i]!)).join('').trimEnd();
  const out = [row('step', runs.map((r) => r.design))];
  sc.steps.forEach((st, i) => {
    out.push(row(escapeText(st.text), runs.map((r) => {
      const s = r.steps[i]!;
      return `${s.rc}${s.expects.some((x) => !x.ok) ? '*' : ''}`;
    })));
  });
  out.push(row('violations', runs.map((r) => String(r.violations.length))));
  out.push(row('permission flips', runs.map((r) => String(r.flips))));
  out.push(row('text pokes', runs.map((r) => String(r.textPokes))));
  const total = (r: DesignRun): number => r.steps.reduce((a, s) => a + s.expects.length, 0);
  const ok = (r: DesignRun): number => r.steps.reduce((a, s) => a + s.expects.filter((x) => x.ok).length, 0);
  if (runs.some((r) => total(r) > 0)) out.push(row('expectations met', runs.map((r) => `${ok(r)}/${total(r)}`)));
  out.push('(status: the errno insmod exits with, or delete_module returns for rmmod; * an expectation failed)');
  return out;
}
