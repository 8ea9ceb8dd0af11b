// Findings not tied to one connection (Report.captureFindings, schema 1.1): in every format, in the
// headline, and in the exit code (1 when no connection and a capture-wide failure >= 50 %).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { exitCodeOf } from '../../src/cli/run.js';
import { analyze } from '../../src/pipeline.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderText } from '../../src/report/text.js';
import { CAPTURE_FINDINGS_TITLE } from '../../src/report/ladder.js';
import type { Report } from '../../src/report/types.js';
import type { Finding } from '../../src/diagnose/types.js';
import { SchemaValidator } from './json-schema.js';
import { EVIL, FIXTURES, repoRoot } from './helpers.js';

const DNS = path.join(FIXTURES, 'captures/dns_failure.pcap');
/** The manifest's key frames of dns_failure: the failed A query / NXDOMAIN, the SERVFAIL query / answer. */
const KEY_FRAMES = [1, 2, 5, 6];
const schema = new SchemaValidator(JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>);

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = new Sink();
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await main(['node', 'rdp-autopsy', ...args], out), stdout: out.text };
  } finally {
    spy.mockRestore();
  }
}

/** "frames: 1, 2, 3" / "**Frames:** 1, 2" / "<strong>Frames:</strong> 1, 2" -> the numbers. */
function framesIn(line: string): number[] {
  return (line.split(/Frames?:\W*/i)[1] ?? '').split(/,\s*/).map((x) => parseInt(x, 10)).filter((n) => !Number.isNaN(n));
}

describe('dns_failure.pcap: the capture-wide finding in every format', () => {
  it('the report carries it (json), with the key frames, and the schema says 2.3', async () => {
    const r = await cli(['analyze', '--format', 'json', DNS]);
    const j = JSON.parse(r.stdout) as Report;
    expect(schema.validate(j)).toEqual([]);
    expect(j.schemaVersion).toBe('2.4');
    expect(j.connections).toEqual([]);
    expect(j.captureFindings.map((f) => f.cause)).toEqual(['dns_failure']);
    expect(j.captureFindings[0]!.frames).toEqual(expect.arrayContaining(KEY_FRAMES));
    expect(j.summary.headline).toContain('rdp-srv03.corp.example');
    expect(r.code).toBe(1);
  });

  it('text: its own section, cause, frames, steps, filter; exit 1', async () => {
    const r = await cli(['analyze', '--no-color', DNS]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(`${CAPTURE_FINDINGS_TITLE}:`);
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ {2}Finding: dns_failure \(\d+%\): /);
    expect(framesIn(lines.find((l, i) => i > at && l.trim().startsWith('frames:'))!)).toEqual(expect.arrayContaining(KEY_FRAMES));
    expect(r.stdout).toContain('wireshark: dns.qry.name == "rdp-srv03.corp.example"');
    expect(r.stdout).toMatch(/steps:\n {6}1\. /);
  });

  it('md: a section with the finding, frames and a checklist', async () => {
    const r = await cli(['analyze', '--format', 'md', DNS]);
    expect(r.code).toBe(1);
    const sec = r.stdout.split(`## ${CAPTURE_FINDINGS_TITLE}\n`)[1]!.split('\n## ')[0]!;
    expect(sec).toContain('**`dns_failure`** (confidence');
    expect(framesIn(sec.split('\n').find((l) => l.startsWith('**Frames:**'))!)).toEqual(expect.arrayContaining(KEY_FRAMES));
    expect(sec).toMatch(/### Steps\n\n- \[ \] /);
  });

  it('html: a section with the finding and frames', async () => {
    const r = await cli(['analyze', '--format', 'html', DNS]);
    expect(r.code).toBe(1);
    const sec = r.stdout.split('<section class="conn capture-findings" id="capture-findings">')[1]!.split('</section>')[0]!;
    expect(sec).toContain(`<h2>${CAPTURE_FINDINGS_TITLE}</h2>`);
    expect(sec).toContain('<strong>dns_failure</strong>');
    expect(framesIn(sec.split('\n').find((l) => l.includes('<strong>Frames:</strong>'))!.replace(/<[^>]+>/g, ''))).toEqual(
      expect.arrayContaining(KEY_FRAMES),
    );
  });

  it('ndjson: the summary line carries it (no connection line)', async () => {
    const r = await cli(['analyze', '--format', 'ndjson', DNS]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; captureFindings?: Finding[] });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.type).toBe('summary');
    expect(schema.validate(lines[0], { $ref: '#/$defs/ndjsonSummary' })).toEqual([]);
    expect(lines[0]!.captureFindings![0]!.frames).toEqual(expect.arrayContaining(KEY_FRAMES));
  });
});

describe('exit code and sections without capture-wide findings', () => {
  const base = async (): Promise<Report> => analyze([{ kind: 'file', path: DNS }]);

  it('no connection, capture-wide finding below 50 %: exit 0; at 50 %: exit 1', async () => {
    const r = await base();
    const at = (confidence: number): Report => ({ ...r, captureFindings: r.captureFindings.map((f) => ({ ...f, confidence })) });
    expect(exitCodeOf(at(0.49))).toBe(0);
    expect(exitCodeOf(at(0.5))).toBe(1);
    expect(exitCodeOf({ ...r, captureFindings: [] })).toBe(0);
  });

  it('a capture-wide finding beside completed connections does not fail the run', async () => {
    const r = await base();
    const withConn = { ...r, summary: { ...r.summary, connections: 1, completed: 1 } };
    expect(exitCodeOf(withConn)).toBe(0);
  });

  it('damage still wins (3)', async () => {
    const r = await base();
    expect(exitCodeOf({ ...r, capture: { ...r.capture, damage: ['x: cut at byte offset 9 (frame 2)'] } })).toBe(3);
  });

  it('no section when there is none', async () => {
    const r = { ...(await base()), captureFindings: [] };
    for (const s of [renderText(r, { color: false }), renderMarkdown(r), renderHtml(r)]) expect(s).not.toContain(CAPTURE_FINDINGS_TITLE);
  });

  it('hostile text in a capture-wide finding is escaped in every format', async () => {
    const r = await base();
    const evil: Report = { ...r, captureFindings: [{ ...r.captureFindings[0]!, explanation: EVIL, confirm: EVIL, remediation: [EVIL] }] };
    const html = renderHtml(evil);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img src=x');
    const text = renderText(evil, { color: false });
    expect(text).not.toContain('\x1b[31m');
    expect(text).not.toContain('\x9b');
    const md = renderMarkdown(evil);
    expect(md).not.toMatch(/(^|[^\\])<script/);
    expect(md.split('\n').some((l) => l.startsWith('# heading'))).toBe(false);
    expect(text.split('\n').some((l) => l.startsWith('# heading'))).toBe(false);
  });
});
