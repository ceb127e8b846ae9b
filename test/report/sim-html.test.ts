/**
 * `klp sim --html` in a real browser (headless Chromium from Debian's packages via playwright-core):
 * the steps x designs picture of a bundled scenario renders with one cell per step and design,
 * coloured as the runs came out, a click shows a cell's messages, no console errors; a scenario
 * whose name and messages are hostile stays text. A screenshot is kept in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withPage } from '../helpers/browser.js';
import { klp } from '../helpers/cli.js';
import { ROOT } from '../helpers/tools.js';

const tmp = mkdtempSync(join(tmpdir(), 'klpkit-simhtml-'));
const reload = join(ROOT, 'examples/scenarios/module-reload.klpsim');
const evil = '</script><img src=x onerror=alert(1)>';

test('klp sim --html: the picture, a click for the messages, hostile text stays text', async () => {
  const html = join(tmp, 'reload.html');
  const r = klp('sim', reload, '--html', html);
  assert.equal(r.status, 0, r.stderr);
  // A scenario with a hostile name and a failing expectation whose text is hostile too.
  const bad = join(tmp, 'evil.klpsim');
  const k = join(ROOT, 'examples/kernel-6.1.0-56-amd64');
  writeFileSync(bad, `name ${evil}\nkallsyms ${k}/kallsyms.excerpt\nsymvers ${k}/Module.symvers.excerpt\nmodule t ${ROOT}/examples/late-patching/klpkit_target.ko\nstep insmod t\nexpect log "${evil.replace(/"/g, '')}"\n`);
  const evilHtml = join(tmp, 'evil.html');
  assert.equal(klp('sim', bad, '--design', '6.1', '--html', evilHtml).status, 1);
  const text = readFileSync(evilHtml, 'utf8');
  assert.ok(!text.includes(evil) && text.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal((text.match(/<script/g) ?? []).length, 1, 'only our script');
  assert.ok(!/https?:\/\//.test(text.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'no external assets');

  await withPage(async (page, problems) => {
    await page.goto(`file://${html}`);
    assert.equal(await page.textContent('#verdict'), 'every expectation holds');
    // 8 steps x 5 designs; the reload is refused by 4.x and 6.1 only, as expected.
    assert.equal(await page.locator('#grid-0 .cell').count(), 40);
    assert.equal(await page.locator('#grid-0 .cell.bad').count(), 0);
    const refused = await page.locator('#grid-0 .cell.refused[data-step="3"]').evaluateAll((els) => els.map((x) => x.getAttribute('data-design')));
    assert.deepEqual(refused, ['4.x', '6.1']);
    assert.equal(await page.locator('#grid-0 .cell.refused[data-step="4"]').count(), 5, 'rmmod of the enabled patch: refused everywhere');
    const box = await page.locator('#grid-0').boundingBox();
    assert.ok(box && box.width > 500 && box.height > 200, 'the picture has a size');
    await page.locator('#grid-0 .cell[data-step="3"][data-design="6.1"]').click();
    assert.match((await page.textContent('#detail')) ?? '', /refusing to load module 'klpkit_target'/);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts/klp-sim-report.png'), fullPage: true });
    await page.goto(`file://${evilHtml}`);
    assert.match((await page.textContent('#verdict')) ?? '', /1 design run\(s\) with a failed expectation/);
    assert.equal(await page.locator('#grid-0 .cell.bad').count(), 1);
    assert.ok(((await page.textContent('h2')) ?? '').includes(evil));
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(problems, []);
  });
  assert.ok(existsSync(join(ROOT, 'test-artifacts/klp-sim-report.png')));
});
