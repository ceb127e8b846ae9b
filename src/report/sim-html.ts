/**
 * `klp sim --html`: one self-contained page (no network, no external assets) per run of one or
 * more scenarios. For each scenario a picture: steps down, designs across, one cell per step
 * coloured by outcome (loaded or done; refused as the scenario expects; an expectation failed),
 * the permission audit under each design as bars, and every cell's kernel messages one click away.
 * Names and messages are untrusted: everything goes through escapeHtml.
 */
import type { DesignRun, Scenario } from '../loader/scenario.js';
import { escapeHtml } from './escape.js';

const e = escapeHtml;

export interface SimReport { scenario: Scenario; runs: readonly DesignRun[] }

function grid(r: SimReport, idx: number): string {
  const { scenario: sc, runs } = r;
  const cellW = 116, cellH = 26, labelW = Math.min(420, 16 + 7.4 * Math.max(22, ...sc.steps.map((s) => s.text.length)));
  const top = 30, barH = 46;
  const width = labelW + runs.length * cellW + 10;
  const height = top + sc.steps.length * cellH + barH + 10;
  const maxAudit = Math.max(1, ...runs.map((x) => Math.max(x.violations.length, x.flips)));
  const parts: string[] = [];
  runs.forEach((run, j) => parts.push(`<text x="${labelW + j * cellW + cellW / 2}" y="18" text-anchor="middle" class="design">${e(run.design)}</text>`));
  sc.steps.forEach((st, i) => {
    const y = top + i * cellH;
    parts.push(`<text x="6" y="${y + 17}" class="step">${e(st.text.length > 56 ? `${st.text.slice(0, 55)}…` : st.text)}</text>`);
    runs.forEach((run, j) => {
      const s = run.steps[i]!;
      const failed = s.expects.some((x) => !x.ok);
      const cls = failed ? 'bad' : s.rc === 0 ? 'ok' : 'refused';
      // Escaped line by line: escapeHtml would turn the newlines themselves into \x0a.
      const tip = [`${st.text} [${run.design}] -> ${s.rc}`, ...s.log, ...s.expects.map((x) => `${x.ok ? 'PASS' : 'FAIL'} ${x.text}`)].map(e).join('\n');
      parts.push(`<g class="cell ${cls}" data-scenario="${idx}" data-step="${i}" data-design="${e(run.design)}"><title>${tip}</title>` +
        `<rect x="${labelW + j * cellW + 2}" y="${y + 2}" width="${cellW - 4}" height="${cellH - 4}" rx="3"/>` +
        `<text x="${labelW + j * cellW + cellW / 2}" y="${y + 17}" text-anchor="middle">${s.rc === 0 ? 'ok' : `errno ${s.rc}`}${failed ? ' ✗' : ''}</text></g>`);
    });
  });
  const by = top + sc.steps.length * cellH + 8;
  parts.push(`<text x="6" y="${by + 14}" class="step">permission violations</text><text x="6" y="${by + 34}" class="step">permission flips</text>`);
  runs.forEach((run, j) => {
    const x0 = labelW + j * cellW + 4;
    const w = (n: number): number => (n === 0 ? 0 : Math.max(3, ((cellW - 40) * n) / maxAudit));
    parts.push(`<rect class="bar violation" x="${x0}" y="${by + 4}" width="${w(run.violations.length)}" height="13"/><text x="${x0 + w(run.violations.length) + 4}" y="${by + 15}">${run.violations.length}</text>`);
    parts.push(`<rect class="bar flip" x="${x0}" y="${by + 24}" width="${w(run.flips)}" height="13"/><text x="${x0 + w(run.flips) + 4}" y="${by + 35}">${run.flips}</text>`);
  });
  return `<svg class="grid" id="grid-${idx}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="steps by design">${parts.join('')}</svg>`;
}

function logs(r: SimReport, idx: number): string {
  return r.runs.map((run) => `<details class="log" data-scenario="${idx}"><summary>design ${e(run.design)}: ${e(run.summary)}</summary><pre>${
    run.steps.map((s, i) => [`$ ${e(r.scenario.steps[i]!.text)}  -> ${s.rc}`,
      ...s.events.map((x) => (x.kind === 'kernel' ? `    ${e(x.text)}` : `    <span class="trace">[${e(x.stage)}] ${e(x.text)}</span>`)),
      ...s.expects.map((x) => `  <span class="${x.ok ? 'pass' : 'fail'}">${x.ok ? 'PASS' : 'FAIL'}</span> ${e(x.text)}${x.ok ? '' : ` (${e(x.detail)})`}`)].join('\n')).join('\n')
  }</pre></details>`).join('\n');
}

export function renderSimHtml(reports: readonly SimReport[]): string {
  const total = reports.reduce((n, r) => n + r.runs.filter((x) => !x.passed).length, 0);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>klp sim</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.8em; }
svg text { font: 12px monospace; fill: #111; } svg text.design { font-weight: bold; }
.cell rect { stroke: #fff; } .cell.ok rect { fill: #cfe8cc; } .cell.refused rect { fill: #f6dfb5; } .cell.bad rect { fill: #f3b7b0; }
.cell { cursor: pointer; } .cell.selected rect { stroke: #333; stroke-width: 2; }
.bar.violation { fill: #c0392b; } .bar.flip { fill: #d68910; }
.legend span { display: inline-block; padding: 0 .6em; margin-right: .4em; border-radius: 3px; }
pre { background: #f7f7f7; padding: .5em; overflow-x: auto; font-size: 12px; } .trace { color: #667; }
.pass { color: #1e7e34; } .fail { color: #c0392b; font-weight: bold; }
#detail { white-space: pre-wrap; font: 12px monospace; background: #fffbe6; padding: .5em; min-height: 1.5em; }
</style></head>
<body>
<h1>klp sim: ${reports.length} scenario${reports.length === 1 ? '' : 's'}</h1>
<p id="verdict">${total === 0 ? 'every expectation holds' : `${total} design run(s) with a failed expectation`}</p>
<p class="legend"><span style="background:#cfe8cc">ok</span><span style="background:#f6dfb5">refused, as expected</span><span style="background:#f3b7b0">an expectation failed</span>
bars: <span style="background:#c0392b;color:#fff">plain writes to read-only or executable memory</span><span style="background:#d68910;color:#fff">permission flips</span></p>
<div id="detail">Click a cell for its messages.</div>
${reports.map((r, i) => `<h2>${e(r.scenario.name)}</h2>
${r.scenario.notes.map((n) => `<p>${e(n)}</p>`).join('\n')}
${grid(r, i)}
${logs(r, i)}`).join('\n')}
<script>
(() => {
  const detail = document.getElementById('detail');
  for (const c of document.querySelectorAll('.cell')) {
    c.addEventListener('click', () => {
      for (const o of document.querySelectorAll('.cell.selected')) o.classList.remove('selected');
      c.classList.add('selected');
      detail.textContent = c.querySelector('title').textContent;
    });
  }
})();
</script>
</body></html>
`;
}
