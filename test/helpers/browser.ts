/**
 * Headless Chromium from Debian's packages (/usr/bin/chromium) driven by playwright-core, with no
 * browser download: one page, and every console error, page error or dialog collected, so a
 * report test can assert there were none.
 */
import { chromium, type Page } from 'playwright-core';

export async function withPage(fn: (page: Page, problems: string[]) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
    await fn(page, problems);
  } finally {
    await browser.close();
  }
}
