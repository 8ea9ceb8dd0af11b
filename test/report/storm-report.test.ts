// The condensed text report of an attempt storm (issue 17, "Large captures"): made by the bench's
// generator at a small size, the default report keeps a block per way of failing and one line per
// way of retrying (with the count of clients), while --detail full lists every retrying client;
// the README shows such a report of a larger storm.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRdpCorpus } from '../../bench/rdp-corpora.js';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { repoRoot } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-storm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The lines of a section ("Retries:") up to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const i = lines.indexOf(title);
  if (i < 0) return [];
  const out: string[] = [];
  for (let k = i + 1; k < lines.length && lines[k] !== ''; k++) out.push(lines[k]!);
  return out;
}

describe('an attempt storm, condensed', () => {
  it('retries: one line per server and story in the summary, one per client with --detail full', async () => {
    const info = await generateRdpCorpus({ kind: 'storm', seed: 17, bytes: 4_000_000, base: path.join(tmp, 'storm'), formats: ['pcap'] });
    const r = await analyze([{ kind: 'file', path: info.files[0]!.path }]);
    const full = section(renderText(r, { color: false, detail: 'full' }), 'Retries:');
    const summary = section(renderText(r, { color: false }), 'Retries:');
    expect(full.length).toBeGreaterThan(10);
    expect(summary.length).toBeLessThan(full.length);
    const many = summary.find((l) => /^ {2}\d+ clients -> 10\.10\.0\.20:3389: Failed/.test(l));
    expect(many).toBeDefined();
    // Its count is the number of full lines telling the same story.
    const n = Number(/^ {2}(\d+) clients/.exec(many!)![1]);
    const story = many!.replace(/^ {2}\d+ clients -> \S+: /, '').replace(/ \(c\d+.*$/, '');
    expect(full.filter((l) => l.includes(`: ${story} (c`)).length).toBe(n);
    // The failures: one block per way of failing, each with its count.
    const blocks = renderText(r, { color: false }).split('\n').filter((l) => l.startsWith('FAILED '));
    expect(blocks.length).toBeGreaterThan(3);
    expect(blocks.length).toBeLessThan(12);
  }, 60_000);

  it('the README shows the condensed report of a large storm', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const at = readme.indexOf('### A large capture');
    expect(at).toBeGreaterThan(0);
    const block = readme.slice(readme.indexOf('```', at), readme.indexOf('```', readme.indexOf('```', at) + 3));
    expect(block).toContain('$ rdp-autopsy analyze storm-50M.pcap');
    expect(block).toMatch(/Capture: storm-50M\.pcap \(pcap, 92838 frames/);
    expect(block).toContain('Identical failures (same server, cause and phase) are shown once, with their count; --detail full shows every attempt.');
    expect(block).toMatch(/\nFAILED 1084 attempts to 10\.10\.0\.20:3389 from 1084 clients, the same way: /);
    expect(block).toMatch(/\nProbes \(not RDP clients, not counted as attempts\):\n {2}1977 connections to 10\.10\.0\.20:3389 from 659 sources/);
  });
});
