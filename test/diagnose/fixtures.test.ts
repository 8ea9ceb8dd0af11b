// End to end over the project's own scenario captures (fixtures/captures/manifest.json): the whole
// pipeline (src/pipeline.ts analyze) on each file, then the diagnosis the manifest expects: the top
// finding of every expected connection names its cause (null: nothing at 0.5 or more) and cites the
// frame that shows the death; a capture-wide cause (dns_failure with no connection) comes from
// diagnoseCapture, citing the manifest's DNS key frames.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { diagnoseCapture, headline, LIKELY_CONFIDENCE } from '../../src/diagnose/index.js';
import type { CauseId, Finding } from '../../src/diagnose/types.js';
import type { Report } from '../../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = path.join(repoRoot, 'fixtures');
const MANIFEST = path.join(FIX, 'captures/manifest.json');

interface ExpectedConn {
  client: string;
  server: string;
  outcome: string;
  died: { phase: string; how: string; by: string; frame: number | null } | null;
  cause: CauseId | null;
}
interface Scenario {
  name: string;
  file: string;
  rdpPorts: number[];
  expected: { primary: ExpectedConn | null; others?: ExpectedConn[]; cause: CauseId | null; keyFrames: Record<string, number> };
}

const scenarios: Scenario[] = existsSync(MANIFEST) ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { scenarios: Scenario[] }).scenarios : [];

/** The capture-wide findings: the report's own once the pipeline carries them, else diagnoseCapture over the report. */
function captureFindings(r: Report): Finding[] {
  const carried = (r as Report & { captureFindings?: Finding[] }).captureFindings;
  if (carried) return carried;
  const per = new Map(r.connections.map((c) => [c.id, c.findings]));
  const ends = r.capture.files.map((f) => f.end ?? 0);
  return diagnoseCapture({ connections: r.connections, dns: r.dns, captureEnd: ends, names: new Map() }, per);
}

/** Manifest key frames that show a capture-wide cause. */
const CAPTURE_KEY_FRAMES: Partial<Record<CauseId, string[]>> = {
  dns_failure: ['dnsQuery', 'dnsResponse', 'servfailQuery', 'servfail'],
};

if (scenarios.length === 0) console.warn(`[diagnose fixtures] skipped: ${MANIFEST} is absent`);

describe.skipIf(scenarios.length === 0)('diagnosis of every fixture scenario', () => {
  it('the manifest covers every scenario kind this test checks', () => {
    expect(scenarios.some((s) => s.expected.primary === null && s.expected.cause !== null)).toBe(true);
    expect(scenarios.filter((s) => s.expected.primary?.cause).length).toBeGreaterThan(20);
  });

  for (const s of scenarios) {
    it(s.name, async () => {
      const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }], { rdpPorts: s.rdpPorts });
      const expected = [s.expected.primary, ...(s.expected.others ?? [])].filter((e): e is ExpectedConn => e !== null);
      for (const e of expected) {
        const what = `${s.name}: ${e.client} -> ${e.server}`;
        const c = r.connections.find((x) => x.client === e.client && x.server === e.server);
        expect(c, `${what}: connection`).toBeDefined();
        const seen = c!.findings.map((f) => `${f.cause} ${f.confidence} [${f.frames.join(',')}]`);
        if (e.cause === null) {
          expect(c!.findings.filter((f) => f.confidence >= LIKELY_CONFIDENCE), `${what}: no likely cause (${seen.join('; ')})`).toEqual([]);
          continue;
        }
        const top = c!.findings[0];
        expect(top?.cause, `${what}: top finding (${seen.join('; ')})`).toBe(e.cause);
        if (e.died?.frame != null) expect(top!.frames, `${what}: ${e.cause} cites the died frame ${e.died.frame}`).toContain(e.died.frame);
      }

      const wide = captureFindings(r);
      const likelyWide = wide.filter((f) => f.confidence >= LIKELY_CONFIDENCE);
      if (s.expected.cause === null) {
        expect(likelyWide.map((f) => `${f.cause}: ${f.explanation}`), `${s.name}: no capture-wide cause`).toEqual([]);
        return;
      }
      expect(wide[0]?.cause, `${s.name}: capture-wide cause`).toBe(s.expected.cause);
      expect(wide[0]!.confidence).toBeGreaterThanOrEqual(LIKELY_CONFIDENCE);
      // A decrypted RD Gateway's findings cite frames inside TLS records the builder does not mark:
      // test/pipeline.gateway.test.ts checks their frames (tshark's) and the headline's words.
      if (s.expected.cause.startsWith('gateway_')) {
        expect(wide[0]!.frames.length, `${s.name}: frames cited`).toBeGreaterThan(0);
        return;
      }
      const keys = CAPTURE_KEY_FRAMES[s.expected.cause] ?? [];
      expect(keys.length, `${s.name}: key frames known for ${s.expected.cause}`).toBeGreaterThan(0);
      for (const k of keys) {
        expect(s.expected.keyFrames[k], `${s.name}: manifest key frame ${k}`).toBeDefined();
        expect(wide[0]!.frames, `${s.name}: cites ${k}`).toContain(s.expected.keyFrames[k]);
      }
      if (r.connections.length === 0) {
        const h = headline(r.connections, new Map(), { findings: wide, frames: r.capture.frames });
        expect(h).toBe(`No RDP connection attempt in this capture (${r.capture.frames} frames); ${wide[0]!.summary}.`);
      }
    });
  }
});
