/**
 * The `klp check --html` report: one self-contained HTML file (no network, no external assets)
 * with the patch, its objects, functions and livepatch relocations drawn as a graph (hand-written
 * SVG: patch -> objects -> resolutions), the same data as tables, findings highlighted, and a
 * search box. Every name is untrusted: it goes through escapeHtml, and the embedded JSON is made
 * safe for a <script> element.
 */
import type { CheckResult, HomonymGroup } from '../check/check.js';
import type { PatchSimulation } from '../loader/patch-sim.js';
import { escapeHtml } from './escape.js';

const e = escapeHtml;

/** JSON inside <script type="application/json">: no "</script>" or "<!--" can close or confuse it. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A three-column tree: the patch, its objects, and each object's resolutions next to it. */
function graph(r: CheckResult): string {
  const objects = r.objects.map((o) => o.name);
  const rows = [...r.resolved].sort((a, b) => objects.indexOf(a.object) - objects.indexOf(b.object));
  const colX = [20, 240, 520] as const;
  const rowH = 26;
  const rowY = (i: number): number => 30 + i * rowH;
  // Each object sits in the middle of its own rows; objects without rows follow.
  const objY = new Map<string, number>();
  let extra = rows.length;
  for (const o of objects) {
    const idx = rows.map((x, i) => (x.object === o ? i : -1)).filter((i) => i >= 0);
    objY.set(o, idx.length ? (rowY(idx[0]!) + rowY(idx[idx.length - 1]!)) / 2 : rowY(extra++));
  }
  const height = Math.max(extra, 1) * rowH + 40;
  const patchY = height / 2;
  const parts: string[] = [];
  parts.push(`<g class="node patch"><rect x="${colX[0]}" y="${patchY - 12}" width="190" height="24" rx="4"/><text x="${colX[0] + 8}" y="${patchY + 5}">${e(r.module ?? 'patch')}</text></g>`);
  for (const o of objects) {
    const y = objY.get(o)!;
    const present = r.objects.find((x) => x.name === o)?.present;
    parts.push(`<path class="edge" d="M${colX[0] + 190},${patchY} C${colX[1] - 20},${patchY} ${colX[0] + 210},${y} ${colX[1]},${y}"/>`);
    parts.push(`<g class="node object${present ? '' : ' late'}"><rect x="${colX[1]}" y="${y - 12}" width="230" height="24" rx="4"/><text x="${colX[1] + 8}" y="${y + 5}">${e(o)}${present ? '' : ' (late)'}</text></g>`);
  }
  rows.forEach((x, i) => {
    const y = rowY(i);
    const from = objY.get(x.object) ?? patchY;
    parts.push(`<path class="edge ${x.status}" d="M${colX[1] + 230},${from} C${colX[2] - 20},${from} ${colX[1] + 250},${y} ${colX[2]},${y}"/>`);
    parts.push(`<g class="node res ${x.status}" data-name="${e(x.name)}"><rect x="${colX[2]}" y="${y - 11}" width="420" height="22" rx="4"/>` +
      `<text x="${colX[2] + 8}" y="${y + 4}">${e(x.kind === 'func' ? 'func ' : 'reloc ')}${e(x.name)},${x.sympos} ${e(x.address ?? x.status)}</text></g>`);
  });
  return `<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="960" height="${height}" viewBox="0 0 960 ${height}" role="img" aria-label="patch, objects and resolutions">${parts.join('')}</svg>`;
}

/**
 * Homonyms the patch binds to by sympos: for each name, its definitions drawn along their section
 * (by offset, or by address for vmlinux; by table order when the database has neither), each with
 * its sympos, place, size, compilation unit and neighbours, and the one the patch binds to marked.
 * A wrong sympos loads and runs: this is where a reader sees which code it is.
 */
function homonymSection(groups: readonly HomonymGroup[]): string {
  if (groups.length === 0) return '';
  const hex = (n: number): string => `0x${n.toString(16)}`;
  const svgs = groups.map((g) => {
    const where = g.candidates.map((c, i) => (c.address !== null ? Number(BigInt(c.address) & 0xffffffffffffn) : c.offset ?? i));
    const lo = Math.min(...where);
    const hi = Math.max(...where.map((w, i) => w + (g.candidates[i]!.size ?? 0)));
    const width = 960, boxW = Math.min(300, (width - 40) / g.candidates.length - 10), top = 44;
    const xOf = (w: number): number => 20 + ((w - lo) / Math.max(1, hi - lo)) * (width - 40);
    const order = g.candidates.map((_, i) => i).sort((a, b) => where[a]! - where[b]!);
    const parts = [`<line class="axis" x1="20" y1="24" x2="${width - 20}" y2="24"/>`,
      `<text class="axis-label" x="20" y="14">${e(g.candidates[0]!.section ?? g.object)}: ${e(g.candidates.every((c) => c.address !== null) ? 'by address' : g.candidates.every((c) => c.offset !== null) ? 'by offset' : 'by table order')}</text>`];
    order.forEach((i, slot) => {
      const c = g.candidates[i]!;
      const tick = xOf(where[i]!);
      const x = 20 + slot * (boxW + 10);
      const lines = [`sympos ${c.sympos}${c.bound ? '  (the patch binds here)' : ''}`,
        c.address !== null ? `at ${c.address}` : c.offset !== null ? `${c.section ?? ''}+${hex(c.offset)}` : c.section ?? '',
        c.size !== null ? `size ${hex(c.size)}` : '', c.unit ? `from ${c.unit}` : 'unit unknown',
        c.neighbours.table[0] || c.neighbours.table[1] ? `between ${c.neighbours.table[0] ?? '(start)'} and ${c.neighbours.table[1] ?? '(end)'}` : ''].filter(Boolean);
      parts.push(`<path class="tie" d="M${tick},24 L${x + boxW / 2},${top}"/>`, `<circle class="tick${c.bound ? ' bound' : ''}" cx="${tick}" cy="24" r="4"/>`,
        `<g class="cand${c.bound ? ' bound' : ''}" data-sympos="${c.sympos}"><rect x="${x}" y="${top}" width="${boxW}" height="${16 * lines.length + 10}" rx="4"/>` +
        lines.map((l, k) => `<text x="${x + 8}" y="${top + 18 + k * 16}">${e(l)}</text>`).join('') + '</g>');
    });
    const height = top + 16 * 5 + 20;
    return `<div class="group" data-name="${e(g.name)}"><h3><code>${e(g.name)}</code> in ${e(g.object)}: ${g.candidates.length} definitions, the patch binds to sympos ${g.sympos}</h3>` +
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="homonyms of ${e(g.name)}">${parts.join('')}</svg></div>`;
  }).join('\n');
  return `<h2>Homonyms: which definition each sympos binds to</h2>
<div id="homonyms">
${svgs}
</div>`;
}

/**
 * One column per design: the patch's load as the emulator ran it, a status and the permission
 * audit, with the full log (kernel messages and the emulator's trace) under each.
 */
function simulationSection(sims: readonly PatchSimulation[]): string {
  if (sims.length === 0) return '';
  const rows = sims.map((s) => `<tr class="${s.status === 0 ? '' : 'error'}"><td>${e(s.design)}</td><td>${s.status}${s.status === 0 ? ' (loaded)' : ''}</td>` +
    `<td>${s.violations}</td><td>${s.flips}</td><td>${e(s.summary)}</td></tr>`).join('\n');
  const logs = sims.map((s) => `<details class="simlog"><summary>design ${e(s.design)}: ${s.events.length} events</summary><pre>${
    s.events.map((x) => (x.kind === 'kernel' ? e(x.text) : `<span class="trace">[${e(x.stage)}] ${e(x.text)}</span>`)).join('\n')}</pre></details>`).join('\n');
  return `<h2>Simulated load, per design (loader emulator)</h2>
<table id="simulations"><thead><tr><th>design</th><th>insmod</th><th>permission violations</th><th>permission flips</th><th>design</th></tr></thead><tbody>
${rows}
</tbody></table>
${logs}`;
}

export function renderCheckHtml(r: CheckResult, simulations: readonly PatchSimulation[] = []): string {
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const verdict = errors ? `will NOT load cleanly (${errors} error${errors > 1 ? 's' : ''})` : 'loads cleanly';
  const resolvedRows = r.resolved.map((x) => `<tr class="${x.status}"><td>${e(x.kind)}</td><td>${e(x.object)}</td><td class="name">${e(x.name)}</td><td>${x.sympos}</td>` +
    `<td>${e(x.address ?? '')}</td><td>${e(x.status)}</td><td>${e(x.detail)}</td><td>${e(x.where)}</td></tr>`).join('\n');
  const findingRows = r.findings.map((f) => `<tr class="${f.severity}"><td>${e(f.severity)}</td><td>${e(f.code)}</td><td>${e(f.where)}</td><td>${e(f.message)}</td>` +
    `<td>${e(f.hint)}</td><td>${f.kernelCatches ? 'yes' : '<strong>no</strong>'}</td></tr>`).join('\n');
  const funcs = r.patches.flatMap((p) => p.objects.flatMap((o) => o.funcs.map((f) =>
    `<tr><td>${e(o.name ?? 'vmlinux')}</td><td class="name">${e(f.oldName)}</td><td>${f.oldSympos}</td><td>${e(f.newFunc?.name ?? '?')}</td></tr>`))).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>klp check: ${e(r.module ?? r.file)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.verdict { padding: .4em .8em; border-radius: 4px; display: inline-block; }
.ok-verdict { background: #e3f4e1; } .bad-verdict { background: #fbe3e1; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
tr.error td { background: #fdecea; } tr.warning td { background: #fff6dd; }
td.name { font-family: monospace; }
#search { width: 24em; padding: 4px; }
svg text { font: 12px monospace; fill: #111; }
.node rect { fill: #eef3fb; stroke: #5b7db8; } .node.patch rect { fill: #dfe9f9; }
.node.late rect { fill: #f4f4f4; stroke: #999; stroke-dasharray: 4 3; }
.node.error rect { fill: #fbe3e1; stroke: #c0392b; } .node.late.res rect { fill: #f4f4f4; }
.edge { fill: none; stroke: #9aaccc; } .edge.error { stroke: #c0392b; }
.hidden { display: none; }
.axis { stroke: #888; } .axis-label { font: 11px monospace; fill: #555; } .tie { fill: none; stroke: #bbb; }
.tick { fill: #9aaccc; } .tick.bound { fill: #1d6b2f; }
.cand rect { fill: #f4f6fa; stroke: #9aaccc; } .cand.bound rect { fill: #e3f4e1; stroke: #1d6b2f; stroke-width: 2; }
h3 { font-size: 1em; margin: 1em 0 .3em; }
pre { background: #f7f7f7; padding: .5em; overflow-x: auto; font-size: 12px; } .trace { color: #667; }
</style></head>
<body>
<h1>klp check: <code>${e(r.module ?? '?')}</code></h1>
<p>File <code>${e(r.file)}</code>, kernel rules ${e(r.target)}. <span class="verdict ${errors ? 'bad-verdict' : 'ok-verdict'}" id="verdict">${e(verdict)}</span></p>
<p><label>Search symbols, objects, findings: <input id="search" type="search" placeholder="name..."></label> <span id="count"></span></p>
<h2>Graph</h2>
${graph(r)}
<h2>Findings</h2>
<table id="findings"><thead><tr><th>severity</th><th>code</th><th>where</th><th>message</th><th>what to do</th><th>kernel catches it</th></tr></thead><tbody>
${findingRows}
</tbody></table>
<h2>Resolutions (livepatch relocations and klp_func)</h2>
<table id="resolved"><thead><tr><th>kind</th><th>object</th><th>name</th><th>sympos</th><th>address</th><th>status</th><th>detail</th><th>where</th></tr></thead><tbody>
${resolvedRows}
</tbody></table>
${homonymSection(r.homonyms)}
${simulationSection(simulations)}
<h2>Functions the patch replaces</h2>
<table id="funcs"><thead><tr><th>object</th><th>old_name</th><th>old_sympos</th><th>new_func</th></tr></thead><tbody>
${funcs}
</tbody></table>
<script type="application/json" id="data">${scriptJson({ file: r.file, module: r.module, target: r.target, objects: r.objects, resolved: r.resolved, findings: r.findings })}</script>
<script>
(() => {
  const input = document.getElementById('search');
  const count = document.getElementById('count');
  const rows = [...document.querySelectorAll('tbody tr')];
  const nodes = [...document.querySelectorAll('#graph .node.res')];
  const apply = () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of rows) {
      const hit = !q || tr.textContent.toLowerCase().includes(q);
      tr.classList.toggle('hidden', !hit);
      if (hit) shown++;
    }
    for (const n of nodes) n.style.opacity = !q || (n.getAttribute('data-name') || '').toLowerCase().includes(q) ? '1' : '0.2';
    count.textContent = q ? shown + ' of ' + rows.length + ' rows' : '';
  };
  input.addEventListener('input', apply);
})();
</script>
</body></html>
`;
}
