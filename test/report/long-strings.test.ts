// Issue 19: a 30 KB certificate name does not break the HTML layout. Past LONG_TEXT characters a
// value's middle is left out of the page, the full value is in the tooltip (title) and in the JSON
// report; in chromium the page stays as wide as the window. (The browser part is skipped, saying
// so, when playwright-core or /usr/bin/chromium is absent.)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LONG_TEXT, longText, renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import type { Report } from '../../src/report/types.js';
import { fixtureReport } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HUGE = `CN=${'rdp-host-with-a-very-long-name.'.repeat(1000)}example`;

/** The cert_expired fixture's report with a 30 KB subject, in the record, the timeline and the finding. */
async function hugeReport(): Promise<Report> {
  const report = await fixtureReport('captures/cert_expired.pcapng');
  const c = report.connections.find((x) => x.tls?.certificates.length)!;
  const old = c.tls!.certificates[0]!.subject;
  c.tls!.certificates[0] = { ...c.tls!.certificates[0]!, subject: HUGE };
  for (const f of c.findings) f.explanation = f.explanation.split(old).join(HUGE);
  c.timeline = c.timeline.map((e) => (e.detail?.includes(old) ? { ...e, detail: e.detail.split(old).join(HUGE) } : e));
  return report;
}

describe('a 30 KB certificate name in the HTML report', () => {
  it('longText: short values as they are, long ones cut in the middle with the whole in the title', () => {
    expect(longText('a<b')).toBe('a&lt;b');
    const s = `${'x'.repeat(500)}<END>`;
    const out = longText(s);
    expect(out).toMatch(/^<span class="long" title="x{500}&lt;END&gt;">x+ … x*&lt;END&gt;<\/span>$/);
    expect(out.replace(/title="[^"]*"/, '').length).toBeLessThan(LONG_TEXT + 60);
  });

  it('no text run in the page is longer than LONG_TEXT and a bit; the full value is in a title and in the JSON', async () => {
    const report = await hugeReport();
    const html = renderHtml(report);
    // Tooltips (SVG <title> elements, title attributes) hold the full value; the page's text does not.
    const text = html.replace(/<title>[^<]*<\/title>/g, '').replace(/<[^>]*>/g, '\n');
    // Each place that shows the name shows ~LONG_TEXT characters of it (~10 of its 1,000 parts).
    const parts = text.split('rdp-host-with-a-very-long-name.').length - 1;
    expect(parts).toBeGreaterThan(0);
    expect(parts).toBeLessThan(100);
    for (const line of text.split('\n')) if (line.includes('rdp-host-with')) expect(line.length).toBeLessThan(2 * LONG_TEXT);
    expect(html).toContain(`title="${HUGE}`);
    expect(renderJson(report)).toContain(HUGE);
  });

  it.skipIf(!existsSync(CHROMIUM))('chromium: the page is no wider than its window', async () => {
    let pw: { chromium: { launch(o: object): Promise<{ newPage(): Promise<{ setViewportSize(s: object): Promise<void>; goto(u: string): Promise<unknown>; evaluate<T>(e: string): Promise<T> }>; close(): Promise<void> }> } };
    try {
      pw = (await import('playwright-core')) as unknown as typeof pw;
    } catch {
      console.warn('[report long-strings] browser check skipped: playwright-core is not installed');
      return;
    }
    const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-long-'));
    const browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'], headless: true });
    try {
      const file = path.join(tmp, 'huge.html');
      writeFileSync(file, renderHtml(await hugeReport()));
      const page = await browser.newPage();
      await page.setViewportSize({ width: 1200, height: 800 });
      await page.goto(pathToFileURL(file).href);
      const r = await page.evaluate<{ scroll: number; client: number; tallest: number }>(`({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        tallest: Math.max(...[...document.querySelectorAll('td, p')].map((e) => e.getBoundingClientRect().height)),
      })`);
      expect(r.scroll).toBeLessThanOrEqual(r.client);
      // No cell or paragraph grows into a wall of text (300 characters wrap to a few lines).
      expect(r.tallest).toBeLessThan(400);
    } finally {
      await browser.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
