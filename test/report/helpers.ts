// Shared by the report tests: fixture captures analysed once per test file, and a hostile report.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyze } from '../../src/pipeline.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(repoRoot, 'fixtures');

interface ManifestScenario {
  name: string;
  file: string;
  frames: number;
  rdpPorts: number[];
}

/** fixtures/captures/manifest.json scenarios plus the README sample. */
export function scenarios(): ManifestScenario[] {
  const m = JSON.parse(readFileSync(path.join(FIXTURES, 'captures/manifest.json'), 'utf8')) as { scenarios: ManifestScenario[] };
  return m.scenarios;
}

const cache = new Map<string, Promise<Report>>();

/**
 * The report of a fixture, read from a buffer named by its path under fixtures/ (so names in the
 * output do not depend on the working directory). A fresh deep copy each call.
 */
export async function fixtureReport(file: string, rdpPorts: number[] = []): Promise<Report> {
  const key = `${file} ${rdpPorts.join(',')}`;
  let p = cache.get(key);
  if (!p) {
    p = analyze([{ kind: 'buffer', name: file, data: readFileSync(path.join(FIXTURES, file)) }], { rdpPorts });
    cache.set(key, p);
  }
  return structuredClone(await p);
}

/** A string carrying every injection we test: HTML, quotes, Markdown table/code breakers, ESC, C1 CSI, bidi override, newline. */
export const EVIL = `<script>alert(1)</script>"'|\`\`x\`\` *b* _i_ [l](javascript:alert(2)) <img src=x onerror=alert(3)> \x1b[31mRED\x1b]0;title\x07 \x9b2J \u202egnp.exe\n# heading`;

/** The report of a fixture with every untrusted string field replaced (or extended) by EVIL. */
export async function hostileReport(): Promise<Report> {
  const r = await fixtureReport('captures/cert_expired.pcapng');
  const c = r.connections[0]! as ReportedConnection;
  r.capture.files[0]!.file = `evil${EVIL}.pcap`;
  c.file = r.capture.files[0]!.file;
  c.negotiation!.cookie = EVIL;
  c.negotiation!.routingToken = EVIL;
  const cert = c.tls!.certificates[0]!;
  cert.subject = `CN=${EVIL}`;
  cert.issuer = `CN=${EVIL}`;
  cert.san = [EVIL, `DNS:${EVIL}`];
  c.tls!.sni = EVIL;
  c.timeline.push({ frame: 12, time: c.end, direction: 'c2s', event: `evil ${EVIL}`, detail: EVIL, phase: 'tls' });
  c.died!.detail = EVIL;
  c.mcs = {
    connectInitialFrame: 12,
    connectResponseFrame: null,
    result: null,
    client: {
      versionMajor: 8,
      versionMinor: 13,
      desktopWidth: 1024,
      desktopHeight: 768,
      colorDepth: 0xca01,
      keyboardLayout: 0x409,
      clientBuild: 22621,
      clientName: EVIL,
      clientDigProductId: EVIL,
      requestedProtocols: 3,
      encryptionMethods: 0,
      channels: [EVIL],
      cluster: null,
    },
    server: null,
    erectDomainFrame: null,
    attachUserRequestFrame: null,
    attachUserConfirmFrame: null,
    attachUserResult: null,
    channelJoins: [],
    securityExchangeFrame: null,
    clientInfoFrame: null,
    disconnectUltimatum: null,
    redirection: { frame: 12, sessionId: 1, redirFlags: 0x303, redirFlagNames: ['LB_TARGET_NET_ADDRESS'], targetNetAddress: EVIL, loadBalanceInfo: EVIL, targetFqdn: EVIL, targetNetBiosName: EVIL, targetNetAddresses: [EVIL], noRedirect: false },
  };
  c.errorInfo.push({ frame: 12, code: 0x10c9, name: EVIL, description: EVIL });
  const f = c.findings[0]!;
  f.explanation = `explained ${EVIL}`;
  f.remediation = [EVIL];
  f.confirm = EVIL;
  f.filter = `tls && ${EVIL}`;
  c.warnings.push({ frame: 3, offset: 0, message: EVIL });
  c.evidenceFile = `ev/${EVIL}.pcap`;
  r.summary.headline = EVIL;
  r.warnings.push(EVIL);
  r.dns.push({ fileIndex: 0, id: 1, client: '192.168.10.25', server: '192.168.10.1', queryFrame: 1, time: c.start, name: EVIL, qtype: 1, responseFrame: null, responseTime: null, rcode: null, addresses: [], cnames: [EVIL] });
  for (const g of r.groups) g.summary = EVIL;
  for (const s of r.servers) s.lines = [EVIL];
  return r;
}
