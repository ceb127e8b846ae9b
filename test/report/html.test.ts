/**
 * The HTML report of klp check, in a real browser: headless Chromium from Debian's packages driven
 * by playwright-core (no browser download). It opens without console errors, the graph renders,
 * search works, hostile names stay text; a screenshot is kept in test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withPage } from '../helpers/browser.js';
import { readElf, writeElf } from '../../src/elf/index.js';
import { klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { ROOT, buildObject } from '../helpers/tools.js';

const evil = '</script><img src=x onerror=alert(1)>';
const { dir, dbFile: db } = await fixtureDb('report');
const lp = buildObject(dir, ['lp_main.c'], 'lp.o');
const good = join(dir, 'lp.klp.o');
assert.equal(klp('convert', lp, '--db', db, '-o', good).status, 0);
// A broken variant whose livepatch symbol carries a hostile name.
const elf = readElf(readFileSync(good), { path: good });
elf.findSymbolByName('.klp.sym.vmlinux.nr_processes,0')!.name = `.klp.sym.vmlinux.${evil.replace(/,/g, '')},0`;
const bad = join(dir, 'evil.o');
writeFileSync(bad, writeElf(elf));

test('the report is written even when the patch will fail, and escapes hostile names', () => {
  const html = join(dir, 'evil.html');
  const r = klp('check', bad, '--db', db, '--design', 'all', '--html', html);
  assert.equal(r.status, 1);
  const text = readFileSync(html, 'utf8');
  assert.ok(!text.includes(evil), 'the raw name never appears');
  assert.ok(text.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal((text.match(/<script/g) ?? []).length, 2, 'only our two script elements');
  assert.ok(!/https?:\/\//.test(text.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'no external assets');
});

test('in Chromium: no console errors, the graph renders, search filters, hostile names stay text', async () => {
  const html = join(dir, 'good.html');
  assert.equal(klp('check', good, '--db', db, '--design', 'all', '--html', html).status, 0);
  const evilHtml = join(dir, 'evil.html');
  await withPage(async (page, problems) => {
    await page.goto(`file://${html}`);
    assert.equal(await page.textContent('#verdict'), 'loads cleanly');
    // The simulated load under every design, with its log one click away.
    assert.equal(await page.locator('#simulations tbody tr').count(), 5);
    assert.match((await page.textContent('#simulations tbody tr:first-child'))!, /^4\.x0 \(loaded\)[1-9]\d*[1-9]/);
    await page.locator('details.simlog summary').first().click();
    assert.match((await page.locator('details.simlog pre').first().textContent())!, /livepatch: enabling patch 'lp_fixture'/);
    const nodes = await page.locator('#graph .node').count();
    assert.ok(nodes >= 14, `${nodes} graph nodes`);
    const box = await page.locator('#graph').boundingBox();
    assert.ok(box && box.width > 500 && box.height > 100, 'the graph has a size');
    const all = await page.locator('#resolved tbody tr:not(.hidden)').count();
    await page.fill('#search', 'homonym');
    const filtered = await page.locator('#resolved tbody tr:not(.hidden)').count();
    assert.ok(filtered >= 1 && filtered < all, `${filtered} of ${all} rows after searching`);
    assert.match((await page.textContent('#count')) ?? '', /rows/);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.fill('#search', '');
    // The homonym the patch binds to by sympos: both definitions drawn, the bound one marked, and
    // it is the one the resolutions table names.
    const group = page.locator('#homonyms .group[data-name="homonym"]');
    assert.equal(await group.locator('.cand').count(), 2);
    assert.equal(await group.locator('.cand.bound').count(), 1);
    const row = (await page.locator('#resolved tbody tr', { hasText: 'homonym' }).first().locator('td').allTextContents());
    assert.equal(await group.locator('.cand.bound').getAttribute('data-sympos'), row[3]);
    const bound = (await group.locator('.cand.bound').textContent())!;
    assert.match(bound, new RegExp(`^sympos ${row[3]}  \\(the patch binds here\\)\\.text\\.homonym\\+0x[0-9a-f]+size 0x[0-9a-f]+from mod_[ab]\\.cbetween `));
    assert.match((await group.textContent())!, /from mod_a\.c[\s\S]*from mod_b\.c/);
    const svg = await group.locator('svg').boundingBox();
    assert.ok(svg && svg.width > 500 && svg.height > 60, 'the drawing has a size');
    await page.screenshot({ path: join(ROOT, 'test-artifacts/klp-check-report.png'), fullPage: true });
    // The hostile report: the name is shown as text, no script runs, no image loads.
    await page.goto(`file://${evilHtml}`);
    assert.match((await page.textContent('#verdict')) ?? '', /will NOT load cleanly/);
    assert.ok(((await page.textContent('#resolved')) ?? '').includes(evil.replace(/,/g, '')));
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(problems, []);
  });
  assert.ok(existsSync(join(ROOT, 'test-artifacts/klp-check-report.png')));
});
