// Issue 14: the RD Gateway's certificate, read without keys from its TLS 1.2 Certificate message,
// end to end on the fixture captures (gateway_cert_*): the same checks as the host's certificate
// rules, as capture-wide findings of a connection named a gateway's, with RD Gateway Manager's and
// the client's steps, in every format; and never for HTTPS that only could be a gateway's.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { exitCodeOf } from '../src/cli/run.js';
import { gatewayCertFindings } from '../src/diagnose/gateway-cert.js';
import { gatewayNotes } from '../src/diagnose/gateway.js';
import type { GatewaySighting } from '../src/handshake/gateway-watch.js';
import type { CertificateInfo } from '../src/handshake/types.js';
import { hasTshark, tsharkFields } from './fixtures/tshark.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cap = (name: string): string => path.join(repoRoot, 'fixtures', 'captures', name);
const run = (file: string) => analyze([{ kind: 'file', path: cap(file) }], {});
const formats = (r: Awaited<ReturnType<typeof run>>): [string, string][] => [
  ['text', renderText(r, { color: false })],
  ['markdown', renderMarkdown(r)],
  ['html', renderHtml(r)],
  ['json', renderJson(r)],
];
const conv = (port: number) => `ip.addr == 192.168.10.25 && ip.addr == 10.20.0.42 && tcp.port == ${port} && tcp.port == 443`;

const cases = [
  {
    file: 'gateway_cert_expired.pcap',
    cause: 'gateway_cert_expired',
    confidence: 0.97,
    explanation: /the gateway's certificate "CN=rdg\.corp\.example" \(frame \d+\) expired on 2025-02-01 \(notAfter [^)]+\) and the connection was made on 2026-03-10 09:00:00 UTC; the client answered with the alert certificate_expired in frame \d+\.$/,
    refusal: "the client refused the gateway's certificate: it expired on 2025-02-01",
    port: 51400,
  },
  {
    file: 'gateway_cert_not_yet_valid.pcap',
    cause: 'gateway_cert_not_yet_valid',
    confidence: 0.88,
    explanation: /is not valid before 2026-09-01 .*; the client closed the connection in frame \d+ right after the TLS handshake, without sending a request\.$/,
    refusal: "the client refused the gateway's certificate: it is not valid before 2026-09-01 (a clock may be wrong)",
    port: 51401,
  },
  {
    file: 'gateway_cert_untrusted.pcap',
    cause: 'gateway_cert_untrusted',
    confidence: 0.93,
    explanation: /is in date but is self-signed \(issuer "CN=rdg\.corp\.example"\); the client answered with the alert unknown_ca in frame \d+\.$/,
    refusal: "the client refused the gateway's certificate: it is self-signed",
    port: 51402,
  },
  {
    file: 'gateway_cert_name_mismatch.pcap',
    cause: 'gateway_cert_name_mismatch',
    confidence: 0.75,
    explanation: /the client asked for "rdg\.corp\.example" \(SNI, frame \d+\), but the gateway's certificate \(frame \d+\) names only "rdp-srv02\.corp\.example", "rdp-srv02"; the client closed the connection in frame \d+ right after the TLS handshake, without sending a request\.$/,
    refusal: 'the client refused the gateway\'s certificate: it names rdp-srv02.corp.example, rdp-srv02, not "rdg.corp.example"',
    port: 51403,
  },
];

describe.skipIf(!existsSync(cap('gateway_cert_expired.pcap')))("the RD Gateway's certificate (fixtures, no keys)", () => {
  for (const c of cases) {
    it(`${c.file}: ${c.cause}, its frames and filter, the gateway's steps, the headline, every format, exit 1`, async () => {
      const r = await run(c.file);
      expect(r.connections).toEqual([]);
      expect(r.captureFindings.map((f) => f.cause)).toEqual([c.cause]);
      const f = r.captureFindings[0]!;
      expect(f.confidence).toBe(c.confidence);
      expect(f.explanation).toMatch(/^On connection g1 from 192\.168\.10\.25 to the RD Gateway 10\.20\.0\.42:443 \("rdg\.corp\.example"\), /);
      expect(f.connection).toBe('g1');
      expect(f.explanation).toMatch(c.explanation);
      expect(f.filter.startsWith(conv(c.port))).toBe(true);
      const steps = f.remediation.join('\n');
      expect(steps).toContain(c.cause === 'gateway_cert_untrusted' ? 'Trusted Root Certification Authorities' : c.cause === 'gateway_cert_name_mismatch' ? 'gatewayhostname:s:' : 'RD Gateway Manager');
      expect(steps).toContain('RD Gateway Manager, right-click the server > Properties > SSL Certificate');
      expect(f.errorCode).toMatch(/^Not as 0x904/);
      expect(r.gateways[0]!.refusal).toMatch(/^the client refused the gateway's certificate: /);
      expect(r.summary.headline).toBe(`No direct RDP connection attempt in this capture (${r.capture.frames} frames); 192.168.10.25 most likely connected through an RD Gateway at 10.20.0.42:443 ("rdg.corp.example"), and ${c.refusal}.`);
      expect(exitCodeOf(r)).toBe(1);
      for (const [name, out] of formats(r)) {
        expect(out, name).toContain(c.cause);
        expect(out, name).toContain('SSL Certificate');
      }
    });
  }

  it.skipIf(!hasTshark)("the frames are tshark's: the Certificate message and the client's alert", async () => {
    for (const [file, alert] of [
      ['gateway_cert_expired.pcap', '45'],
      ['gateway_cert_untrusted.pcap', '48'],
    ] as const) {
      const rows = tsharkFields(cap(file), ['tls.handshake.type', 'tls.alert_message.desc'], ['-Y', 'tls.handshake.type == 11 || tls.alert_message']);
      const certFrame = [...rows].find(([, x]) => x['tls.handshake.type']?.split(',').includes('11'))![0];
      const alertFrame = [...rows].find(([, x]) => x['tls.alert_message.desc'] === alert)![0];
      const r = await run(file);
      expect(r.captureFindings[0]!.frames, file).toEqual([certFrame, alertFrame]);
    }
  });
});

/** A sighting whose client closed right after the TLS handshake, with this certificate. */
function sighting(id: string, cert: Partial<CertificateInfo>, o: { sni?: string; server?: string; appData?: boolean } = {}): GatewaySighting {
  const c: CertificateInfo = { subject: 'CN=rdg.corp.example', issuer: 'CN=Corp CA', notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z', san: ['DNS:rdg.corp.example'], selfSigned: false, ...cert } as CertificateInfo;
  return {
    id,
    file: 'x.pcap',
    fileIndex: 0,
    transport: 'tcp',
    client: { ip: '192.168.10.25', port: 50000 },
    server: { ip: o.server ?? '10.20.0.42', port: 443 },
    firstFrame: 1,
    lastFrame: 12,
    start: Date.parse('2026-03-10T09:00:00Z') / 1000,
    end: Date.parse('2026-03-10T09:00:01Z') / 1000,
    packets: { client: 5, server: 5 },
    bytes: { client: 500, server: 3000 },
    tls: {
      clientHelloFrame: 4,
      sni: o.sni ?? 'rdg.corp.example',
      alpn: [],
      serverHelloFrame: 6,
      version: 'TLS1.2',
      certificateFrame: 6,
      certificate: c,
      certificates: [c, { ...c, subject: 'CN=Corp CA', issuer: 'CN=Corp CA' }],
      certificateEncrypted: false,
      firstAppData: { client: o.appData ? 9 : null, server: null },
      appRecords: { client: o.appData ? 1 : 0, server: 0 },
      alerts: [],
      decryption: null,
      plain: null,
    },
    ended: { how: 'fin', by: 'client', frame: 10 },
  };
}

const input = (gateways: GatewaySighting[]) => ({ connections: [], dns: [], captureEnd: new Map(), names: new Map(), gateways }) as unknown as Parameters<typeof gatewayNotes>[0];
const named = (i: ReturnType<typeof input>) => new Set(gatewayNotes(i).filter((n) => n.evidence !== 'possible').flatMap((n) => n.connections));

describe('gatewayCertFindings (hand-made sightings)', () => {
  it('a sound certificate, or a client that went on to send a request, gives no finding', () => {
    const i = input([sighting('g1', {}), sighting('g2', { notAfter: '2025-01-01T00:00:00Z' }, { appData: true, server: '10.20.0.43' })]);
    expect(gatewayCertFindings(i, named(i))).toEqual([]);
  });

  it('HTTPS that only could be a gateway (no gateway-like name, no UDP 3391, no MS-TSGU) is not judged', () => {
    const i = input([sighting('g1', { notAfter: '2025-01-01T00:00:00Z', subject: 'CN=www.example.org', san: ['DNS:www.example.org'] }, { sni: 'www.example.org' })]);
    expect(gatewayNotes(i)[0]!.evidence).toBe('possible');
    expect(gatewayCertFindings(i, named(i))).toEqual([]);
    expect(gatewayNotes(i)[0]!.refusal).toBeNull();
  });

  it('an issuer not in the chain sent: untrusted at 55% on a close; an IP address as SNI is no name to compare', () => {
    const g = sighting('g1', { issuer: 'CN=Other CA' });
    g.tls!.certificates = [g.tls!.certificate!];
    const i = input([g]);
    expect(gatewayCertFindings(i, named(i)).map((f) => [f.cause, f.confidence])).toEqual([['gateway_cert_untrusted', 0.55]]);
    const ip = sighting('g2', { subject: 'CN=other.example', san: [] }, { sni: '10.20.0.42' });
    const j = input([ip]);
    // Named only by ... nothing: the SNI is an address, so the connection is only possible and not judged either.
    expect(gatewayCertFindings(j, new Set(['g2']))).toEqual([]);
  });

  it('an expired certificate for another name: the date leads, the name mismatch is lowered', () => {
    const i = input([sighting('g1', { notAfter: '2025-01-01T00:00:00Z', subject: 'CN=old.corp.example', san: [] })]);
    expect(gatewayCertFindings(i, new Set(['g1'])).map((f) => [f.cause, f.confidence])).toEqual([
      ['gateway_cert_expired', 0.88],
      ['gateway_cert_name_mismatch', 0.55],
    ]);
  });
});
