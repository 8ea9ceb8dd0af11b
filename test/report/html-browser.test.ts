// The HTML report in a real browser (Debian's chromium driven by playwright-core): for a few
// fixtures and for a report full of injection attempts, the page loads with no console error,
// makes no network request, draws an SVG ladder per failed handshake with its death marker, and
// the injection executes nothing (no dialog, no script or img element, the text shown as text).
// Skipped, saying so, when playwright-core or /usr/bin/chromium is absent.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import type { Report } from '../../src/report/types.js';
import { EVIL, fixtureReport, hostileReport } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Minimal structural types for what we use of playwright-core (imported dynamically: optional).
interface PwPage {
  on(event: 'console', cb: (m: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', cb: (e: Error) => void): void;
  on(event: 'dialog', cb: (d: { message(): string; dismiss(): Promise<void> }) => void): void;
  on(event: 'request', cb: (r: { url(): string }) => void): void;
  goto(url: string, opts?: { waitUntil?: string }): Promise<unknown>;
  /** An expression evaluated in the page (a string: this project's TypeScript has no DOM types). */
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}
interface PwBrowser {
  newPage(o?: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' }): Promise<PwPage>;
  close(): Promise<void>;
}
interface Pw {
  chromium: { launch(o: { executablePath: string; args: string[]; headless?: boolean }): Promise<PwBrowser> };
}

let pw: Pw | null = null;
let why = '';
try {
  pw = (await import('playwright-core')) as unknown as Pw;
} catch {
  why = 'playwright-core is not installed';
}
if (pw && !existsSync(CHROMIUM)) {
  pw = null;
  why = `${CHROMIUM} is absent`;
}
if (!pw) console.warn(`[report html-browser] skipped: ${why}`);

interface PageResult {
  errors: string[];
  requests: string[];
  dialogs: string[];
  dom: {
    ladders: number;
    ladderIds: string[];
    deathMarks: number[];
    scripts: number;
    imgs: number;
    handlers: number;
    sections: number;
    text: string;
    title: string;
  };
}

describe.skipIf(!pw)('the HTML report in chromium', () => {
  let browser: PwBrowser;
  const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-html-'));

  beforeAll(async () => {
    browser = await pw!.chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function open(report: Report, name: string): Promise<PageResult> {
    const file = path.join(tmp, `${name}.html`);
    writeFileSync(file, renderHtml(report));
    const url = pathToFileURL(file).href;
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    const dom = await page.evaluate<PageResult['dom']>(`({
      ladders: document.querySelectorAll('svg.ladder').length,
      ladderIds: [...document.querySelectorAll('svg.ladder')].map((s) => s.id),
      deathMarks: [...document.querySelectorAll('svg.ladder')].map((s) => s.querySelectorAll('.death').length),
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
      handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      sections: document.querySelectorAll('section.failed-conn').length,
      text: document.body.innerText,
      title: document.title,
    })`);
    await page.close();
    return { errors, requests, dialogs, dom };
  }

  for (const file of ['captures/cert_expired.pcapng', 'captures/port_blocked_icmp.pcap', 'captures/server_unresponsive_many.pcap', 'sample.pcapng', 'captures/completed_tls13.pcapng']) {
    it(file, async () => {
      const report = await fixtureReport(file);
      const failed = report.connections.filter((c) => c.outcome === 'failed');
      const r = await open(report, path.basename(file));
      expect(r.errors).toEqual([]);
      expect(r.requests).toEqual([]);
      expect(r.dialogs).toEqual([]);
      expect(r.dom.ladders).toBe(failed.length);
      expect(r.dom.sections).toBe(failed.length);
      expect(r.dom.ladderIds).toEqual(failed.map((c) => `l-${c.id}`));
      // Every failed handshake's ladder marks where it died.
      for (const n of r.dom.deathMarks) expect(n).toBeGreaterThan(0);
      expect(r.dom.text).toContain(report.summary.headline);
      expect(r.dom.scripts).toBe(0);
    });
  }

  // Issue 17: the page at a phone-ish 700 px and a desktop 1400 px, in both colour schemes.
  for (const width of [700, 1400]) {
    for (const scheme of ['light', 'dark'] as const) {
      it(`sample.pcapng at ${width} px, ${scheme}: the ladder fits, the theme follows, code is rendered`, async () => {
        const report = await fixtureReport('sample.pcapng');
        const file = path.join(tmp, `layout-${width}-${scheme}.html`);
        writeFileSync(file, renderHtml(report));
        const page = await browser.newPage({ viewport: { width, height: 900 }, colorScheme: scheme });
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        const m = await page.evaluate<{
          viewport: number;
          pageWidth: number;
          ladders: { right: number; serverRight: number; frameLeft: number; parentRight: number }[];
          bg: number[];
          fg: number[];
          stepCode: number;
          stepBackticks: number;
          openDetails: number;
          arrow: string;
        }>(`(() => {
          const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
          const svgs = [...document.querySelectorAll('svg.ladder')];
          return {
            viewport: window.innerWidth,
            pageWidth: document.documentElement.scrollWidth,
            ladders: svgs.map((s) => ({
              right: s.getBoundingClientRect().right,
              serverRight: Math.max(...[...s.querySelectorAll('text.hdr, text.addr')].map((t) => t.getBoundingClientRect().right)),
              frameLeft: Math.min(...[...s.querySelectorAll('text.frame')].map((t) => t.getBoundingClientRect().left)),
              parentRight: s.parentElement.getBoundingClientRect().right,
            })),
            bg: rgb(getComputedStyle(document.body).backgroundColor),
            fg: rgb(getComputedStyle(document.body).color),
            stepCode: document.querySelectorAll('ul.steps code').length,
            stepBackticks: [...document.querySelectorAll('ul.steps li')].filter((li) => li.textContent.includes('\u0060')).length,
            openDetails: document.querySelectorAll('details.timeline[open]').length,
            arrow: getComputedStyle(document.querySelector('svg.ladder g.ev:not(.death) line')).stroke,
          };
        })()`);
        await page.close();
        const lum = ([r, g, b]: number[]) => (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
        // Nothing wider than the window: no sideways scrolling of the page.
        expect(m.pageWidth).toBeLessThanOrEqual(m.viewport);
        expect(m.ladders.length).toBe(report.connections.filter((c) => c.outcome === 'failed').length);
        for (const l of m.ladders) {
          // The whole ladder, server column and its address included, is inside its box and the window.
          expect(l.right).toBeLessThanOrEqual(l.parentRight + 0.5);
          expect(l.serverRight).toBeLessThanOrEqual(l.right + 0.5);
          expect(l.serverRight).toBeLessThanOrEqual(m.viewport);
          expect(l.frameLeft).toBeGreaterThanOrEqual(0);
        }
        if (scheme === 'dark') {
          expect(lum(m.bg)).toBeLessThan(0.2);
          expect(lum(m.fg)).toBeGreaterThan(0.7);
          expect(lum(m.arrow.match(/\d+/g)!.map(Number))).toBeGreaterThan(0.5); // arrows stay visible on the dark panel
        } else {
          expect(lum(m.bg)).toBeGreaterThan(0.9);
          expect(lum(m.fg)).toBeLessThan(0.3);
        }
        // Inline code is rendered as code, not as literal backticks.
        expect(m.stepCode).toBeGreaterThan(0);
        expect(m.stepBackticks).toBe(0);
        // The ladder's details are on the page without hovering.
        expect(m.openDetails).toBeGreaterThan(0);
      });
    }
  }

  it('the injection report executes nothing and shows the strings as text', async () => {
    const report = await hostileReport();
    const r = await open(report, 'hostile');
    expect(r.dialogs).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.requests).toEqual([]);
    expect(r.dom.scripts).toBe(0);
    expect(r.dom.imgs).toBe(0);
    expect(r.dom.handlers).toBe(0);
    expect(r.dom.ladders).toBe(1);
    expect(r.dom.deathMarks[0]).toBeGreaterThan(0);
    expect(r.dom.text).toContain('<script>alert(1)</script>"\'|``x``');
    expect(r.dom.text).toContain('<img src=x onerror=alert(3)>');
    expect(r.dom.title).toContain('<script>alert(1)</script>');
    expect(EVIL).toContain('\x1b');
    expect(r.dom.text).not.toContain('\x1b');
  });
});
