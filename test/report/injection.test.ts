// A report whose cookie, routing token, certificate subject / issuer / SANs, SNI, client name,
// DNS names, file name, finding texts and event labels carry <script>, quotes, |, backticks,
// Markdown links, ESC / OSC / C1 CSI sequences, a bidi override and a line break, rendered in
// every format: nothing is interpreted (src/report/escape.ts).
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderNdjson } from '../../src/report/ndjson.js';
import { renderText } from '../../src/report/text.js';
import type { Report } from '../../src/report/types.js';
import { EVIL, hostileReport } from './helpers.js';

/** Tags the HTML writer itself emits (anything else came from input). */
const OUR_TAGS = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'h1', 'h2', 'h3', 'p', 'span', 'strong', 'em', 'ul', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
  'a', 'code', 'section', 'div', 'details', 'summary', 'footer', 'svg', 'defs', 'marker', 'path', 'text', 'line', 'g', 'circle',
]);

const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let report: Report;

describe('hostile strings in every format', () => {
  it('builds the hostile report', async () => {
    report = await hostileReport();
    expect(report.connections[0]!.negotiation!.cookie).toBe(EVIL);
  });

  it('text without colour: no control character at all, no line from a value', () => {
    const t = renderText(report, { color: false });
    expect(UNSAFE.test(t)).toBe(false);
    expect(t).toContain('\\x1b[31mRED\\x1b]0;title\\x07');
    expect(t).toContain('\\u202egnp.exe');
    expect(t).toContain('\\x9b2J');
    expect(t.split('\n').some((l) => l.startsWith('# heading'))).toBe(false);
    expect(t).toContain('cookie "<script>alert(1)</script>');
  });

  it('text with colour: the only escape sequences are our SGR colours', () => {
    const t = renderText(report, { color: true });
    const stripped = t.replace(/\x1b\[[0-9;]*m/g, '');
    expect(UNSAFE.test(stripped)).toBe(false);
    expect(t).toMatch(/\x1b\[1;31mFAILED\x1b\[0m/);
  });

  it('markdown: no raw HTML, no link, no heading, and every table row keeps its cell count', () => {
    const full = renderMarkdown(report);
    expect(UNSAFE.test(full)).toBe(false);
    // The filter's code span is literal (CommonMark 6.1): checked on its own below.
    const m = full
      .split('\n')
      .filter((l) => !l.startsWith('**Wireshark filter:**'))
      .join('\n');
    expect(m).not.toMatch(/(^|[^\\])<script/);
    expect(m).not.toMatch(/(^|[^\\])<img/);
    expect(m).not.toMatch(/(^|[^\\])\[l\]\(/);
    expect(m.split('\n').some((l) => l.startsWith('# heading'))).toBe(false);
    const cells = (line: string): number => {
      let n = 0;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '\\') i++;
        else if (line[i] === '|') n++;
      }
      return n;
    };
    const lines = m.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('|')) continue;
      // A table starts with its header row; every following row has the header's count.
      let j = i;
      while (j > 0 && lines[j - 1]!.startsWith('|')) j--;
      expect(cells(lines[i]!), lines[i]).toBe(cells(lines[j]!));
    }
    // The values are there, escaped.
    expect(m).toContain('\\<script\\>alert(1)\\</script\\>');
    expect(m).toContain('\\|\\`\\`x\\`\\`');
  });

  it('markdown: the Wireshark filter is one code span holding the text verbatim', () => {
    const m = renderMarkdown(report);
    const line = m.split('\n').find((l) => l.startsWith('**Wireshark filter:**'))!;
    expect(line).toContain('```tls && <script>alert(1)</script>"\'|``x`` *b*');
  });

  it('html: only our tags, no event handler attribute, values entity-escaped', () => {
    const h = renderHtml(report);
    expect(UNSAFE.test(h)).toBe(false);
    for (const m of h.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)) expect(OUR_TAGS.has(m[1]!.toLowerCase()), m[0]).toBe(true);
    for (const m of h.matchAll(/<[a-zA-Z][^>]*>/g)) expect(/\son[a-z]+\s*=/i.test(m[0]), m[0]).toBe(false);
    expect(h).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;|&#96;&#96;x&#96;&#96;');
    expect(h).toContain('&lt;img src=x onerror=alert(3)&gt;');
    // The evidence link is relative, percent-encoded, and cannot leave its attribute.
    const href = /<a href="([^"]*)">ev\//.exec(h)![1]!;
    expect(href.startsWith('./ev/')).toBe(true);
    expect(href).not.toMatch(/[<>"'\s]/);
    // Nothing untrusted inside <style> (there is one, ours).
    const styles = [...h.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    expect(styles.length).toBe(1);
    expect(styles[0]![1]).not.toContain('alert');
    expect(h).not.toMatch(/<script/i);
  });

  it('json and ndjson: values round-trip exactly, with control characters escaped by JSON', () => {
    const j = renderJson(report);
    expect(/[\u0000-\u0009\u000b-\u001f]/.test(j)).toBe(false);
    expect((JSON.parse(j) as Report).connections[0]!.negotiation!.cookie).toBe(EVIL);
    const n = renderNdjson(report);
    expect(n.split('\n').filter((l) => l !== '').length).toBe(report.connections.length + 1);
    expect((JSON.parse(n.split('\n')[0]!) as Report['connections'][number]).tls!.sni).toBe(EVIL);
  });
});
