// The example reports in docs/ and the README are what the tool prints today on the bundled sample
// (regenerate with `npx tsx src/diagnose/gen-docs.ts`), and they show what an incident needs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_REPORT_HTML,
  EXAMPLE_REPORT_MD,
  EXAMPLE_REPORT_TXT,
  README_END,
  README_PATH,
  README_START,
  readmeExample,
  renderExamples,
  replaceReadmeBlock,
  type ExampleFiles,
} from '../../src/docs/examples.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (rel: string): string => readFileSync(path.join(repoRoot, rel), 'utf8');

let ex: ExampleFiles;
beforeAll(async () => {
  ex = await renderExamples(repoRoot);
}, 60_000);

describe('example reports (run `npx tsx src/diagnose/gen-docs.ts` when these fail after a deliberate change)', () => {
  for (const rel of [EXAMPLE_REPORT_TXT, EXAMPLE_REPORT_MD, EXAMPLE_REPORT_HTML]) {
    it(`${rel} is the sample's report as the tool renders it now`, () => {
      expect(read(rel)).toBe(ex.files.get(rel));
    });
  }
  it('the README shows the sample report as the tool prints it now', () => {
    expect(read(README_PATH)).toBe(ex.readme);
  });
  it('the README example is a real report: the verdict, a ladder with the point of death, a cause, steps, the 0x904 answer', () => {
    const readme = read(README_PATH);
    const block = readme.slice(readme.indexOf(README_START), readme.indexOf(README_END));
    expect(block).toContain('$ rdp-autopsy analyze fixtures/sample.pcapng');
    expect(block).toMatch(/4 of 5 connection attempts failed\. 2 to 10\.20\.0\.17:3389: nothing listens/);
    // The headline reads as one sentence per server: no parentheses inside parentheses.
    const headline = block.split('\n').find((l) => l.includes('connection attempts failed'))!;
    expect(headline).not.toMatch(/\([^()]*\(/);
    expect(block).toMatch(/FAILED c2 .*10\.20\.0\.15:3389/);
    expect(block).toContain('<== died here');
    expect(block).toMatch(/Cause: cert_expired \(\d+%\)/);
    expect(block).toContain('certlm.msc');
    expect(block).toMatch(/mstsc: .*0x904/);
    expect(block).toContain('3 more failed attempts');
    expect(block).not.toMatch(/\x1b\[/); // no colour codes
  });
  it('the Markdown example has the summary table and a section per failed attempt', () => {
    const md = read(EXAMPLE_REPORT_MD);
    expect(md).toContain('| Server | Attempts | Completed | Failed |');
    expect(md.match(/^## c\d+: /gm)?.length).toBe(4);
  });
  it('the HTML example is self-contained with a ladder per failed attempt', () => {
    const html = read(EXAMPLE_REPORT_HTML);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
    expect(html.match(/<svg/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
  });
});

describe('readmeExample / replaceReadmeBlock', () => {
  it('cuts the text report before the second failed attempt and says how many are left', () => {
    const text = 'head\n\nFAILED c1 a\n  x\n\nFAILED c2 b\n  y\n\nFAILED c3 c\n';
    const out = readmeExample({ connections: [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }] } as never, text);
    expect(out).toContain('FAILED c1 a\n  x\n\n[... 2 more failed attempts');
    expect(out).not.toContain('FAILED c2');
    expect(out).toContain('Exit code 1');
  });
  it('counts the attempts of a condensed block, not the blocks', () => {
    const text = 'head\n\nFAILED 3 attempts to s, the same way: x\n  y\n\nFAILED c4 b\n';
    const out = readmeExample({ connections: [1, 2, 3, 4, 5].map(() => ({ outcome: 'failed' })) } as never, text);
    expect(out).toContain('[... 2 more failed attempts');
  });
  it('keeps a report with one failure whole', () => {
    const out = readmeExample({ connections: [] } as never, 'head\nFAILED c1 a\n  x\n');
    expect(out).toContain('  x\n```');
    expect(out).not.toContain('more failed');
    expect(out).toContain('Exit code 0');
  });
  it('replaces only the text between the markers, and refuses a README without them', () => {
    const r = `a\n${README_START}\nold\n${README_END}\nb\n`;
    expect(replaceReadmeBlock(r, 'new')).toBe(`a\n${README_START}\nnew\n${README_END}\nb\n`);
    expect(() => replaceReadmeBlock('no markers', 'x')).toThrow(/no example block/);
  });
});
