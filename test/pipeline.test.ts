// Conformance over the real captures of other projects (../shared/captures, read in place, never
// copied): our reading of every connection against what tshark and the source projects saw
// (expected.json). Skipped, saying so, when the folder is absent.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { ReportedConnection } from '../src/report/types.js';
import type { SideChannel } from '../src/handshake/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(repoRoot, '../shared/captures');
const present = existsSync(path.join(SHARED, 'expected.json'));

interface ExpectedConnection {
  transport: 'tcp' | 'udp';
  client: string;
  server: string;
  frames: Record<string, number>;
  cookie: string | null;
  requested_protocols: string | null;
  selected_protocol: string | null;
  failure_code: string | null;
  tls_version: string | null;
  cert_not_after: string | null;
  reached_phase: string;
}
interface ExpectedFile {
  file: string;
  packets: number;
  connections: ExpectedConnection[];
}

/** "0x00000003 (SSL|HYBRID)" -> 3; null / "absent (...)" -> null. */
function hexOrNull(s: string | null): number | null {
  return s === null || s.startsWith('absent') ? null : parseInt(s, 16);
}

/** expected.json's "ip:port" (tshark's, IPv6 without brackets) as our reports write it ("[::1]:3389"). */
function endpoint(s: string): string {
  const i = s.lastIndexOf(':');
  return s.indexOf(':') < i ? `[${s.slice(0, i)}]${s.slice(i)}` : s;
}

/** "2021-02-12 00:00:00 (UTC)" -> "2021-02-12T00:00:00Z". */
function isoOf(s: string): string {
  return s.replace(' (UTC)', '').replace(' ', 'T') + 'Z';
}

if (!present) console.warn(`[pipeline conformance] skipped: ${SHARED} is absent`);

describe.skipIf(!present)(`conformance with ${SHARED}`, () => {
  const expected: ExpectedFile[] = present ? (JSON.parse(readFileSync(path.join(SHARED, 'expected.json'), 'utf8')) as ExpectedFile[]) : [];

  for (const f of expected) {
    it(f.file, async () => {
      const report = await analyze([{ kind: 'file', path: path.join(SHARED, f.file) }]);
      expect(report.capture.frames).toBe(f.packets);
      expect(report.capture.damage).toEqual([]);
      for (const x of f.connections) {
        const e = { ...x, client: endpoint(x.client), server: endpoint(x.server) };
        const what = `${f.file} ${e.transport} ${e.client} -> ${e.server}`;
        let c: ReportedConnection | undefined = report.connections.find((x) => x.transport === e.transport && x.client === e.client && x.server === e.server);
        let side: SideChannel | undefined;
        if (!c && e.transport === 'udp') {
          for (const x of report.connections) {
            const s = x.sideChannels.find((y) => y.client === e.client && y.server === e.server);
            if (s) [c, side] = [x, s];
          }
          expect(side, `${what}: side channel`).toBeDefined();
          if (e.frames.rdpudp_syn !== undefined) expect(side!.synFrame, what).toBe(e.frames.rdpudp_syn);
          continue;
        }
        expect(c, what).toBeDefined();
        if (e.transport === 'udp') continue;
        const n = c!.negotiation;
        const x224 = e.frames.x224_request !== undefined || e.frames.x224_confirm !== undefined;
        if (x224) {
          expect(n?.cookie ?? null, `${what}: cookie`).toBe(e.cookie === null ? null : e.cookie.replace(/^Cookie: mstshash=/, ''));
          expect(n?.requestedProtocols ?? null, `${what}: requestedProtocols`).toBe(hexOrNull(e.requested_protocols));
          expect(n?.selectedProtocol ?? null, `${what}: selectedProtocol`).toBe(hexOrNull(e.selected_protocol));
          expect(n?.failureCode ?? null, `${what}: failureCode`).toBe(hexOrNull(e.failure_code));
          expect(n?.requestFrame ?? null, `${what}: requestFrame`).toBe(e.frames.x224_request ?? null);
          expect(n?.confirmFrame ?? null, `${what}: confirmFrame`).toBe(e.frames.x224_confirm ?? null);
          expect(c!.tls?.version ?? null, `${what}: TLS version`).toBe(e.tls_version);
          if (e.cert_not_after !== null) expect(c!.tls?.certificates[0]?.notAfter, `${what}: notAfter`).toBe(isoOf(e.cert_not_after));
          if (e.frames.tls_client_hello !== undefined) expect(c!.tls?.clientHelloFrame, `${what}: ClientHello frame`).toBe(e.frames.tls_client_hello);
          if (e.frames.tls_server_hello !== undefined) expect(c!.tls?.serverHelloFrame, `${what}: ServerHello frame`).toBe(e.frames.tls_server_hello);
        } else if (e.reached_phase.startsWith('tcp_syn')) {
          expect(c!.reached, what).toBe('tcp');
          expect(['failed', 'incomplete_capture'], what).toContain(c!.outcome);
          if (c!.outcome === 'failed') expect(c!.died, what).toMatchObject({ phase: 'tcp', how: 'no_answer', by: 'network' });
        } else if (e.reached_phase.startsWith('tcp_refused')) {
          expect(c!.outcome, what).toBe('failed');
          expect(c!.died, what).toMatchObject({ phase: 'tcp', how: 'rst', by: 'server', frame: e.frames.first_rst });
        } else if (e.reached_phase.startsWith('mid_stream')) {
          expect(c!.outcome, what).toBe('incomplete_capture');
          expect(c!.incompleteReason, what).toBe('started_late');
        }
      }
    });
  }

  it('several files in one run: frames per file, evidence names the file', async () => {
    const files = ['ntop-nDPI/tcp_scan.pcapng', 'zeek-zeek/rdp-proprietary-encryption.pcap'];
    const report = await analyze(files.map((p) => ({ kind: 'file' as const, path: path.join(SHARED, p) })));
    expect(report.capture.files.map((x) => x.frames)).toEqual([30, 542]);
    expect(report.capture.frames).toBe(572);
    expect(report.capture.format).toBe('pcap'); // tcp_scan.pcapng is a classic pcap despite its name
    const byFile = report.connections.map((c) => [c.fileIndex, path.basename(c.file)]);
    expect(byFile).toEqual([
      [0, 'tcp_scan.pcapng'],
      [1, 'rdp-proprietary-encryption.pcap'],
      [1, 'rdp-proprietary-encryption.pcap'],
    ]);
    // Frame numbers restart in each file.
    expect(report.connections[1]!.negotiation!.requestFrame).toBe(4);
  });

  it('hands each connection out as soon as it ends (onConnection) and keeps at most maxRecords', async () => {
    const seen: string[] = [];
    const report = await analyze([{ kind: 'file', path: path.join(SHARED, 'ntop-nDPI/synscan.pcap') }], {
      onConnection: (c) => seen.push(c.id),
      maxRecords: 1,
    });
    expect(seen).toHaveLength(2);
    expect(report.connections).toHaveLength(1);
    expect(report.summary.connections).toBe(2);
    expect(report.warnings.some((w) => w.includes('counted per server'))).toBe(true);
    expect(report.servers.find((s) => s.server === '64.13.134.52:3389')!.attempts).toBe(2);
  });
});
