// The project's own scenario captures (fixtures/captures, manifest.json) end to end: for every
// scenario, every RDP connection the manifest names (expected.primary and expected.others) comes
// out of analyze() with the expected outcome, phase reached, death (phase, how, by, frame) and top
// finding; the decoded key frames agree with the manifest; and no connection the manifest does not
// name appears. Any difference fails.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { Phase } from '../src/handshake/types.js';
import type { ReportedConnection } from '../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const MANIFEST = path.join(FIX, 'captures/manifest.json');

interface ExpectedConn {
  client: string;
  server: string;
  outcome: string;
  incompleteReason?: string | null;
  reached: Phase;
  died: { phase: Phase; how: string; by: string; frame: number | null } | null;
  cause: string | null;
}
interface Scenario {
  name: string;
  file: string;
  frames: number;
  rdpPorts: number[];
  expected: { primary: ExpectedConn | null; others: ExpectedConn[]; cause: string | null; keyFrames: Record<string, number> };
}

const scenarios: Scenario[] = existsSync(MANIFEST) ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { scenarios: Scenario[] }).scenarios : [];

/** What the manifest states about a connection, in the manifest's own shape. */
function story(c: ReportedConnection): ExpectedConn {
  const d = c.died;
  return {
    client: c.client,
    server: c.server,
    outcome: c.outcome,
    reached: c.reached,
    died: d && { phase: d.phase, how: d.how, by: d.by, frame: d.frame },
    cause: c.findings[0]?.cause ?? null,
  };
}

describe.skipIf(scenarios.length === 0)('fixture scenarios end to end (manifest.json)', () => {
  it('the manifest lists every scenario once', () => {
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
    expect(scenarios.length).toBeGreaterThanOrEqual(30);
  });

  for (const s of scenarios) {
    it(s.name, async () => {
      const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }], { rdpPorts: s.rdpPorts });
      expect(r.capture.frames).toBe(s.frames);
      const named = [s.expected.primary, ...s.expected.others].filter((c): c is ExpectedConn => c !== null);
      // Several attempts may share client and server (retries from one source port): compare them in order.
      for (const e of named) {
        const got = r.connections.filter((x) => x.client === e.client && x.server === e.server);
        expect(got.length, `${s.name}: ${e.client} -> ${e.server}`).toBeGreaterThanOrEqual(1);
        const { incompleteReason, ...want } = e;
        expect(story(got[0]!), `${s.name}: ${e.client} -> ${e.server}`).toEqual(want);
        if (incompleteReason !== undefined) expect(got[0]!.incompleteReason, s.name).toBe(incompleteReason);
        for (const more of got.slice(1)) {
          // Retries of the same attempt tell the same story, at their own frames.
          const m = story(more);
          expect({ ...m, died: m.died && { ...m.died, frame: null } }, `${s.name}: retry ${more.id}`).toEqual({ ...want, died: want.died && { ...want.died, frame: null } });
        }
      }
      const pairs = new Set(named.map((e) => `${e.client} ${e.server}`));
      const unnamed = r.connections.filter((c) => !pairs.has(`${c.client} ${c.server}`) && c.transport === 'tcp');
      expect(unnamed.map((c) => `${c.client} -> ${c.server}`), `${s.name}: connections the manifest does not name`).toEqual([]);

      const p = s.expected.primary;
      if (!p) return;
      const c = r.connections.find((x) => x.client === p.client && x.server === p.server)!;
      const k = s.expected.keyFrames;
      const checks: [string, number | null | undefined][] = [
        ['x224Request', c.negotiation?.requestFrame],
        ['x224Confirm', c.negotiation?.confirmFrame],
        ['clientHello', c.tls?.clientHelloFrame],
        ['serverHello', c.tls?.serverHelloFrame],
        ['certificate', c.tls?.certificateFrame],
        ['serverHelloDone', c.tls?.serverHelloDoneFrame],
        ['clientFinished', c.tls?.clientFinishedFrame],
        ['serverFinished', c.tls?.serverFinishedFrame],
      ];
      for (const [name, got] of checks) if (k[name] !== undefined) expect(got, `${s.name}: ${name}`).toBe(k[name]);
    });
  }

  it('nla_failed: died.detail says the server rejected the authentication in its errorCode-sized TSRequest', async () => {
    const s = scenarios.find((x) => x.name === 'nla_failed')!;
    const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }]);
    const d = r.connections[0]!.died!;
    // The server's last record before the client's close_notify is the error reply.
    const reply = [...r.connections[0]!.timeline].reverse().find((e) => e.frame < d.frame! && e.direction === 's2c')!;
    expect(d.detail).toContain('rejected the authentication');
    expect(d.detail).toContain(`frame ${reply.frame}`);
    expect(r.connections[0]!.timeline.some((e) => e.event === 'CredSSP error reply' && e.inferred && e.frame === reply.frame)).toBe(true);
  });

  it('port_blocked_middlebox_rst: died.by network, the detail naming both TTLs', async () => {
    const s = scenarios.find((x) => x.name === 'port_blocked_middlebox_rst')!;
    const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }]);
    const c = r.connections.find((x) => x.client === s.expected.primary!.client)!;
    expect(c.died).toMatchObject({ by: 'network', how: 'rst' });
    expect(c.died!.detail).toMatch(/TTL is 62.*TTL 126/);
  });

  it('completed sessions inside TLS reach active through the inferred steps, in phase order', async () => {
    for (const name of ['completed_tls_nla', 'completed_tls13', 'rdp_on_other_port', 'healthy_with_noise']) {
      const s = scenarios.find((x) => x.name === name)!;
      const r = await analyze([{ kind: 'file', path: path.join(FIX, s.file) }], { rdpPorts: s.rdpPorts });
      const c = r.connections.find((x) => x.client === s.expected.primary!.client)!;
      const inferred = c.timeline.filter((e) => e.inferred).map((e) => e.event);
      expect(inferred, name).toEqual(expect.arrayContaining(['MCS Connect Initial', 'Client Info', 'Demand Active', 'Confirm Active', 'Connection finalization', 'Session active']));
      // Steps are applied once settled: the joins step names all six channel joins (MCS_CHANNELS), not the first few.
      expect(c.timeline.find((e) => e.event === 'MCS Channel Joins')?.detail, name).toMatch(/^6 tiny request\/confirm pairs/);
      const order = c.phases.map((p) => p.phase);
      expect(order.slice(-4), name).toEqual(['licensing', 'capabilities', 'finalization', 'active']);
    }
  });
});
