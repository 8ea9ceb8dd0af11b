// The session and attempt-storm corpora of the benchmark (bench/rdp-corpora.ts): deterministic, what
// tshark reads without complaint, and what the analysis reads as intended: every healthy session
// completed and active, every failure failed with its fixture's cause.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SESSION_TEMPLATE, generateRdpCorpus } from '../../bench/rdp-corpora.js';
import { loadTemplates, type Template } from '../../bench/templates.js';
import { analyze } from '../../src/pipeline.js';
import { fileURLToPath } from 'node:url';

const MANIFEST = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/manifest.json'), 'utf8')) as {
  scenarios: { name: string; expected: { primary: { cause: string | null } | null } }[];
};

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-rdp-corpora-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasTshark = spawnSync('tshark', ['-v'], { stdio: 'ignore' }).status === 0;

let templates: Template[] | null = null;
async function tpl(): Promise<Template[]> {
  templates ??= await loadTemplates();
  return templates;
}

/** The top cause the fixture of that name gives (fixtures/captures/manifest.json). */
function causeOf(name: string): string | null {
  return MANIFEST.scenarios.find((s) => s.name === name)?.expected.primary?.cause ?? null;
}

describe('bench/rdp-corpora.ts', () => {
  it('session corpus: healthy sessions completed and active, each failure with its fixture cause; deterministic', async () => {
    const base = path.join(tmp, 'session');
    const info = await generateRdpCorpus({ kind: 'session', seed: 7, bytes: 40_000_000, base, formats: ['pcap'] });
    expect(info.sessions).toBeGreaterThan(2);
    expect(info.rdpPortFrames).toBe(info.frames);
    const again = await generateRdpCorpus({ kind: 'session', seed: 7, bytes: 40_000_000, base: path.join(tmp, 'session2'), formats: ['pcap'], templates: await tpl() });
    expect(readFileSync(`${base}.pcap`).equals(readFileSync(path.join(tmp, 'session2.pcap')))).toBe(true);
    void again;
    const r = await analyze([{ kind: 'file', path: `${base}.pcap` }]);
    expect(r.capture.damage).toEqual([]);
    expect(r.capture.stats.badChecksums).toBe(0);
    const sessions = r.connections.filter((c) => c.negotiation?.cookie === 'alice' && c.server === '10.10.0.20:3389' && c.flow.payloadBytes[1] > 1_000_000);
    expect(sessions.length).toBeGreaterThan(0);
    for (const c of r.connections) {
      const big = c.flow.payloadBytes[1] > 1_000_000;
      if (big) {
        expect(c.outcome, c.id).toBe('completed');
        expect(c.reached, c.id).toBe('active');
      }
    }
    const failed = r.connections.filter((c) => c.outcome === 'failed');
    const attempts = Object.entries(info.attempts).filter(([n]) => n !== SESSION_TEMPLATE);
    expect(failed.length).toBe(attempts.reduce((a, [, k]) => a + k, 0));
    const causes = new Set(failed.map((c) => c.findings[0]?.cause));
    for (const [n] of attempts) expect(causes.has(causeOf(n) as never), n).toBe(true);
  }, 600_000);

  it('storm corpus: thousands of short attempts in bulk traffic, each kind with its cause', async () => {
    const base = path.join(tmp, 'storm');
    const info = await generateRdpCorpus({ kind: 'storm', seed: 3, bytes: 20_000_000, base, formats: ['pcap', 'pcapng'], templates: await tpl() });
    const n = Object.values(info.attempts).reduce((a, k) => a + k, 0);
    expect(n).toBeGreaterThan(1000);
    expect(info.clients).toBeGreaterThan(500);
    const r = await analyze([{ kind: 'file', path: `${base}.pcap` }]);
    expect(r.summary.connections).toBeGreaterThanOrEqual(n);
    expect(r.summary.completed).toBeGreaterThanOrEqual(info.attempts.completed_tls_nla ?? 0);
    expect(r.summary.failed).toBeGreaterThan(n * 0.8);
    const ng = await analyze([{ kind: 'file', path: `${base}.pcapng` }]);
    expect(ng.summary).toEqual(r.summary);
    if (hasTshark) {
      const t = spawnSync('tshark', ['-r', `${base}.pcap`, '-q', '-z', 'io,stat,0'], { encoding: 'utf8' });
      expect(t.status, t.stderr).toBe(0);
    }
  }, 600_000);
});
