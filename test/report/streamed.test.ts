// The CLI writes its reports piece by piece, a connection at a time: writeJson gives the same bytes
// as JSON.stringify(report, null, 2) + "\n", writeText / writeHtml / writeMarkdown the same text as
// their render functions, through the CLI to a file and to stdout alike.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { batchedWriter, renderJson, writeJson } from '../../src/report/json.js';
import { renderText, writeText } from '../../src/report/text.js';
import { renderHtml, writeHtml } from '../../src/report/html.js';
import { MarkdownOut, renderMarkdown, writeMarkdown } from '../../src/report/markdown.js';
import fc from 'fast-check';
import type { Report } from '../../src/report/types.js';
import { main } from '../../src/cli/main.js';
import { FIXTURES } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-json-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function streamed(report: Report, batch?: number): { text: string; pieces: number } {
  const pieces: string[] = [];
  if (batch === undefined) writeJson(report, (p) => pieces.push(p));
  else {
    const out = batchedWriter((c) => pieces.push(c), batch);
    writeJson(report, out.write);
    out.flush();
  }
  return { text: pieces.join(''), pieces: pieces.length };
}

const CAPTURES = path.join(FIXTURES, 'captures');
const all = readdirSync(CAPTURES)
  .filter((n) => /\.pcap(ng)?(\.gz)?$/.test(n))
  .map((n) => ({ kind: 'file' as const, path: path.join(CAPTURES, n) }));

describe('writeJson', () => {
  it('equals renderJson on every fixture capture, alone and together', async () => {
    for (const s of all) {
      const r = await analyze([s], { jobs: 1 });
      expect(streamed(r).text).toBe(renderJson(r));
    }
    const together = await analyze(all, { jobs: 1 });
    const { text, pieces } = streamed(together);
    expect(text).toBe(renderJson(together));
    // One piece per connection at least: the text is never built whole.
    expect(pieces).toBeGreaterThan(together.connections.length);
  });

  it('equals renderJson in batches of any size', async () => {
    const r = await analyze(all.slice(0, 6), { jobs: 1 });
    for (const size of [1, 7, 100, 1 << 16, 1 << 30]) expect(streamed(r, size).text).toBe(renderJson(r));
  });

  it('no connection, empty lists, odd values: as JSON.stringify writes them', async () => {
    const r = await analyze([all.find((s) => s.path.endsWith('dns_failure.pcap'))!], { jobs: 1 });
    expect(r.connections).toHaveLength(0);
    expect(streamed(r).text).toBe(renderJson(r));
    const odd = { ...r, warnings: [], extra: undefined, fn: () => 1, nested: { a: [[], {}, null], s: 'line\nbreak "quoted"' } } as unknown as Report;
    expect(streamed(odd).text).toBe(renderJson(odd));
    const withHoles = { ...r, connections: [undefined, null] } as unknown as Report;
    expect(streamed(withHoles).text).toBe(renderJson(withHoles));
    expect(streamed({} as Report).text).toBe(renderJson({} as Report));
  });
});

describe('writeText, writeHtml, writeMarkdown', () => {
  const collect = (f: (write: (p: string) => void) => void): string => {
    const pieces: string[] = [];
    f((p) => pieces.push(p));
    return pieces.join('');
  };
  it('equal their render functions on every fixture capture, alone and together (colour or not)', async () => {
    const reports = [...(await Promise.all(all.map((s) => analyze([s], { jobs: 1 })))), await analyze(all, { jobs: 1 })];
    for (const r of reports) {
      for (const color of [false, true]) expect(collect((w) => writeText(r, { color }, w))).toBe(renderText(r, { color }));
      expect(collect((w) => writeText(r, { color: false, maxLadder: 3 }, w))).toBe(renderText(r, { color: false, maxLadder: 3 }));
      expect(collect((w) => writeHtml(r, w))).toBe(renderHtml(r));
      expect(collect((w) => writeMarkdown(r, w))).toBe(renderMarkdown(r));
    }
  });

  it('text escapes control characters of a connection written on its own', async () => {
    const r = await analyze([all.find((s) => s.path.endsWith('cert_expired.pcapng'))!], { jobs: 1 });
    const c = r.connections[0]!;
    const hostile = { ...r, connections: [{ ...c, client: 'evil\x1b[31m', died: c.died && { ...c.died, detail: 'x\x07y' } }] } as Report;
    const text = collect((w) => writeText(hostile, { color: false }, w));
    expect(text).toBe(renderText(hostile, { color: false }));
    expect(text).not.toMatch(/[\x07\x1b]/);
  });
});

class Sink extends Writable {
  text = '';
  writes = 0;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    this.writes++;
    cb();
  }
}

describe('rdp-autopsy analyze --format json|text|html|md', () => {
  const rendered: Record<string, (r: Report) => string> = {
    json: renderJson,
    text: (r) => renderText(r, { color: false }),
    html: (r) => renderHtml(r),
    md: (r) => renderMarkdown(r),
  };
  for (const [format, render] of Object.entries(rendered)) {
    it(`${format}: -o FILE and stdout hold the text of the renderer`, async () => {
      const files = all.map((s) => s.path);
      const expected = render(await analyze(all, { jobs: 1 }));
      const file = path.join(tmp, `report.${format}`);
      const out = new Sink();
      expect(await main(['node', 'rdp-autopsy', 'analyze', '--jobs', '1', '--format', format, '-o', file, ...files], out)).toBe(1);
      expect(readFileSync(file, 'utf8')).toBe(expected);
      expect(out.text).toBe('');
      const stdout = new Sink();
      await main(['node', 'rdp-autopsy', 'analyze', '--jobs', '1', '--format', format, ...files], stdout);
      expect(stdout.text).toBe(expected);
      if (expected.length > 1 << 16) expect(stdout.writes).toBeGreaterThan(1);
    });
  }
});

describe('MarkdownOut: blank-line runs and the end across pieces', () => {
  it('= lines.join("\\n").replace(/\\n{3,}/g, "\\n\\n").trimEnd() + "\\n", however the lines are split into pushes', () => {
    const line = fc.constantFrom('', 'a', ' ', '\n', 'b c', '\n\n', ' \t', 'x\n');
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 5 }), { minLength: 1, maxLength: 8 }), (pushes) => {
        const pieces: string[] = [];
        const out = new MarkdownOut((p) => pieces.push(p));
        for (const p of pushes) out.push(...p);
        out.end();
        const all = pushes.flat();
        const expected = all.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
        expect(pieces.join('')).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
