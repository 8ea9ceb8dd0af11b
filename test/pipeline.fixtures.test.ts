// The project's own scenario captures (fixtures/captures, manifest.json): the decoded key frames of
// every scenario, and the outcome of every attempt whose story ends in a decoded phase (tcp, x224,
// tls: no inference from encrypted record sizes involved).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { phaseIndex, type Phase } from '../src/handshake/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const MANIFEST = path.join(FIX, 'captures/manifest.json');

interface ExpectedConn {
  client: string;
  server: string;
  outcome: string;
  reached: Phase;
  died: { phase: Phase; how: string; by: string; frame: number } | null;
}
interface Scenario {
  name: string;
  file: string;
  frames: number;
  rdpPorts: number[];
  expected: { primary: ExpectedConn | null; others?: ExpectedConn[]; keyFrames: Record<string, number> };
}

const scenarios: Scenario[] = existsSync(MANIFEST) ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { scenarios: Scenario[] }).scenarios : [];

describe.skipIf(scenarios.length === 0)('fixture scenarios', () => {
  for (const s of scenarios) {
    it(s.name, async () => {
      const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }], { rdpPorts: s.rdpPorts });
      expect(r.capture.frames).toBe(s.frames);
      const p = s.expected.primary;
      if (!p) return;
      const c = r.connections.find((x) => x.client === p.client && x.server === p.server);
      expect(c, `${s.name}: primary connection`).toBeDefined();
      const k = s.expected.keyFrames;
      const checks: [string, number | null | undefined][] = [
        ['x224Request', c!.negotiation?.requestFrame],
        ['x224Confirm', c!.negotiation?.confirmFrame],
        ['clientHello', c!.tls?.clientHelloFrame],
        ['serverHello', c!.tls?.serverHelloFrame],
        ['certificate', c!.tls?.certificateFrame],
        ['serverHelloDone', c!.tls?.serverHelloDoneFrame],
        ['clientFinished', c!.tls?.clientFinishedFrame],
        ['serverFinished', c!.tls?.serverFinishedFrame],
      ];
      for (const [name, got] of checks) {
        // TLS 1.3 hides the server's Finished inside its encrypted flight (RFC 8446 2): we credit the
        // flight's last record, which no capture-side key frame can name for sure.
        if (name === 'serverFinished' && c!.tls?.version === 'TLS1.3') continue;
        if (k[name] !== undefined) expect(got, `${s.name}: ${name}`).toBe(k[name]);
      }
      for (const e of [p, ...(s.expected.others ?? [])]) {
        if (phaseIndex(e.reached) > phaseIndex('tls')) continue;
        const x = r.connections.find((y) => y.client === e.client && y.server === e.server);
        expect(x, `${s.name}: ${e.client}`).toBeDefined();
        expect([x!.outcome, x!.reached, x!.died?.phase ?? null], `${s.name}: ${e.client}`).toEqual([e.outcome, e.reached, e.died?.phase ?? null]);
        if (e.died && phaseIndex(e.reached) <= phaseIndex('x224')) {
          expect([x!.died!.how, x!.died!.frame], `${s.name}: ${e.client}`).toEqual([e.died.how, e.died.frame]);
        }
      }
    });
  }
});
