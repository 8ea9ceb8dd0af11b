// Issue 14, step 1: RD Gateway connections (HTTPS 443, UDP 3391) seen without keys, end to end on
// the fixture captures built by fixtures/lib/scenarios.ts (gateway_*): the report names the gateway
// as far as the cleartext proves it, never reports "No RDP connection attempt" with nothing said,
// and never a failed RDP attempt in phase tcp (also with --port 443).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { hasTshark, tsharkFields } from './fixtures/tshark.js';
import { exitCodeOf } from '../src/cli/run.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const MANIFEST = path.join(FIX, 'captures/manifest.json');

interface Scenario {
  name: string;
  file: string;
  expected: {
    gateways?: { client: string; gateway: string; evidence: string }[];
    primary: { client: string; server: string; outcome: string; reached: string; died: { phase: string; how: string; by: string; frame: number | null } | null; cause: string | null } | null;
  };
}
const all: Scenario[] = existsSync(MANIFEST) ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { scenarios: Scenario[] }).scenarios : [];
const gateways = all.filter((s) => s.expected.gateways !== undefined);

const run = (file: string, rdpPorts?: number[]) => analyze([{ kind: 'file', path: path.join(FIX, file) }], rdpPorts ? { rdpPorts } : {});

describe.skipIf(gateways.length === 0)('RD Gateway connections without keys (fixtures)', () => {
  it('the manifest has the gateway scenarios', () => {
    expect(gateways.map((s) => s.name).sort()).toEqual([
      'gateway_cert_expired',
      'gateway_cert_name_mismatch',
      'gateway_cert_not_yet_valid',
      'gateway_cert_untrusted',
      'gateway_https_udp',
      'gateway_keylog_401',
      'gateway_keylog_403',
      'gateway_keylog_kdcproxy_h2',
      'gateway_keylog_kdcproxy_ntlm',
      'gateway_keylog_legacy_http',
      'gateway_keylog_legacy_rap_refused',
      'gateway_keylog_rap_refused',
      'gateway_keylog_rpc_over_http',
      'gateway_keylog_tls13_tunnel',
      'gateway_keylog_tunnel_nla_failed',
      'gateway_keylog_unreachable',
      'gateway_named_refused',
    ]);
  });

  for (const s of gateways) {
    for (const ports of [undefined, [443]]) {
      it(`${s.name}${ports ? ' with --port 443' : ''}: the gateway is named with its evidence${s.expected.primary === null ? ', and no RDP attempt failed' : ', and the tunnelled attempt is a connection of its own'}`, async () => {
        const r = await run(s.file, ports);
        expect(r.gateways.map((g) => ({ client: g.client, gateway: g.gateway, evidence: g.evidence }))).toEqual(s.expected.gateways);
        // Never a failed RDP attempt in phase tcp (also with --port 443).
        expect(r.connections.filter((c) => c.died?.phase === 'tcp' || c.died?.phase === 'none')).toEqual([]);
        const p = s.expected.primary;
        if (p !== null) {
          // With the key log, the tunnelled attempt (or the one the gateway refused) is a connection with its gateway block.
          expect(r.connections).toHaveLength(1);
          const c = r.connections[0]!;
          expect({ client: c.client, server: c.server, outcome: c.outcome, reached: c.reached, died: c.died && { phase: c.died.phase, how: c.died.how, by: c.died.by, frame: c.died.frame } }).toEqual({ client: p.client, server: p.server, outcome: p.outcome, reached: p.reached, died: p.died });
          expect(c.findings[0]?.cause ?? null).toBe(p.cause);
          expect(c.gateway).toMatchObject({ gateway: s.expected.gateways![0]!.gateway, sni: 'rdg.corp.example', sighting: r.gateways[0]!.connections.at(-1) });
          expect(r.summary.headline).not.toMatch(/^No direct RDP connection attempt/);
          return;
        }
        expect(r.connections).toEqual([]);
        expect(r.summary.failed).toBe(0);
        expect(r.gateways.map((g) => ({ client: g.client, gateway: g.gateway, evidence: g.evidence }))).toEqual(s.expected.gateways);
        expect(r.summary.headline).toMatch(/^No direct RDP connection attempt in this capture \(\d+ frames\); /);
        expect(r.summary.headline).toContain(s.expected.gateways![0]!.gateway);
        // Without keys the report says a key log would tell; with them, RPC over HTTP (no attempt record) shows no refusal.
        if (s.name === 'gateway_keylog_rpc_over_http') expect(r.gateways[0]!.refusal).toBeNull();
        else if (s.name.startsWith('gateway_cert_')) expect(r.gateways[0]!.refusal, s.name).toMatch(/^the client refused the gateway's certificate: /);
        else expect(r.summary.headline).toContain('key log');
      });
    }
  }

  it('gateway_https_udp: the UDP 3391 datagram proves the gateway; the connection is told from its cleartext', async () => {
    const r = await run('captures/gateway_https_udp.pcap');
    const g = r.gateways[0]!;
    expect(g.evidence).toBe('shown');
    expect(g.connections).toEqual(['g1']);
    expect(g.udpConnections).toEqual(['g2']);
    expect(g.names[0]).toBe('access.corp.example'); // the SNI first, then the certificate's names (the fixture's certificate is rdp-srv02's)
    expect(g.text).toContain('sent UDP to port 3391 of that host');
    expect(g.text).toMatch(/TLS1\.2 handshake completed, then \d+ ms of encrypted data/);
    expect(g.text).toContain('the client closed it');
    expect(r.summary.headline).toContain('192.168.10.25 connected through the RD Gateway 10.20.0.40:443 ("access.corp.example")');
  });

  it('gateway_named_refused: the SNI and the DNS name make it likely; the gateway closed it', async () => {
    const r = await run('captures/gateway_named_refused.pcap');
    const g = r.gateways[0]!;
    expect(g.evidence).toBe('likely');
    expect(g.names).toContain('rdg.corp.example');
    expect(g.text).toContain('the name "rdg.corp.example" names a gateway');
    expect(g.text).toContain('the gateway closed it');
    expect(r.summary.headline).toContain('most likely connected through an RD Gateway at 10.20.0.41:443');
  });

  it('every report format shows the gateway section', async () => {
    const r = await run('captures/gateway_named_refused.pcap');
    expect(renderText(r, { color: false })).toContain('RD Gateway (HTTPS):');
    expect(renderMarkdown(r)).toContain('## RD Gateway (HTTPS)');
    expect(renderHtml(r)).toContain('id="gateways"');
  });
});

describe('HTTPS beside direct RDP (the README sample)', () => {
  it('is not called a gateway when the client connects to RDP directly, and not a failed attempt with --port 443', async () => {
    const plain = await run('sample.pcapng');
    const with443 = await run('sample.pcapng', [443]);
    expect(plain.gateways).toEqual([]);
    expect(with443.gateways).toEqual([]);
    expect(with443.connections.filter((c) => c.server.endsWith(':443'))).toEqual([]);
    // The RDP connections' stories are the same (their ids aside: --port 443 hands the HTTPS flow one).
    const story = (cs: typeof plain.connections) => cs.map((c) => [c.client, c.server, c.outcome, c.reached, c.died?.frame ?? null]);
    expect(story(with443.connections)).toEqual(story(plain.connections));
    // The RDP flows' ids do not depend on the HTTPS flow being watched (numbered apart).
    expect(plain.connections.map((c) => c.flow.id)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe.skipIf(gateways.length === 0)('RD Gateway connections with the key log (fixtures)', () => {
  it('gateway_keylog_rap_refused: WebSocket upgrade, MS-TSGU tunnel, CHANNEL_CREATE refused by the RD RAP', async () => {
    const r = await run('captures/gateway_keylog_rap_refused.pcapng');
    const g = r.gateways[0]!;
    expect(g.evidence).toBe('shown');
    expect(g.refusal).toBe('the gateway\'s resource authorization policy (RD RAP) refused the tunnel to "rdp-srv09.corp.example" port 3389: CHANNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED (frame 20)');
    expect(g.text).toContain('decrypted with the key log, it carries MS-TSGU\'s HTTP transport');
    expect(g.text).toContain('RDG_OUT_DATA /remoteDesktopGateway/ switched to WebSocket (101, frame 12)');
    // The NTLM step's 401 before the 101 is not a refusal.
    expect(g.text).not.toContain('401');
    // The refusal is the connection's: the headline names the target, the gateway and the cause once.
    expect(r.summary.headline).toBe('The connection attempt to "rdp-srv09.corp.example" port 3389 through the RD Gateway 10.20.0.42:443 failed: the RD Gateway\'s resource authorization policy (RD RAP) does not allow that target.');
    expect(r.warnings).toContain('TLS decryption of HTTPS to port 443 (RD Gateway): 1 connection decrypted, 0 whose records did not authenticate, 0 without a secret, 0 with a version or cipher suite not decrypted (TLS 1.2 and 1.3 are)');
  });

  it('gateway_keylog_401: the last 401 after the NTLM exchange is the refusal, with its frame', async () => {
    const r = await run('captures/gateway_keylog_401.pcapng');
    const g = r.gateways[0]!;
    expect(g.refusal).toBe('the gateway answered RDG_OUT_DATA /remoteDesktopGateway/ with 401 Unauthorized offering Negotiate, NTLM to the client\'s NTLM credentials: it refused the user\'s authentication (frame 14)');
    expect(g.text.match(/401/g)).toHaveLength(1);
  });

  it('gateway_keylog_kdcproxy_ntlm: the KDC proxy\'s 503 and the NTLM fallback, then an open tunnel carrying the RDP connection', async () => {
    const r = await run('captures/gateway_keylog_kdcproxy_ntlm.pcapng');
    const g = r.gateways[0]!;
    const c = r.connections[0]!;
    expect(g).toMatchObject({ evidence: 'shown', connections: ['g1', 'g2'], decrypted: true, refusal: null, tunnel: { host: 'rdp-srv01.corp.example', port: 3389, opened: true, connection: c.id } });
    expect(g.text).toContain("the gateway's KDC proxy answered POST /KdcProxy with 503 Service Unavailable (frame 10): Kerberos through the gateway failed, so the client falls back to NTLM");
    expect(g.text).toMatch(/with \d+ DATA packets from the client and \d+ from the gateway/);
    expect(g.text).toContain(`The RDP connection through the gateway is ${c.id}, with its gateway and RDP phases.`);
    expect(r.summary.headline).toBe(
      `The connection attempt completed. Also, 192.168.10.25 connected through the RD Gateway 10.20.0.42:443 ("rdg.corp.example"); its KDC proxy answered 503, so Kerberos failed and the client fell back to NTLM; the tunnel to "rdp-srv01.corp.example" port 3389 opened (connection ${c.id}).`,
    );
  });

  it.skipIf(!hasTshark)('tshark decrypts the same HTTP answers at the same frames (its key log file)', async () => {
    const file = path.join(FIX, 'captures/gateway_keylog_401.pcapng');
    const rows = tsharkFields(file, ['http.response.code', 'http.www_authenticate'], ['-o', `tls.keylog_file:${path.join(FIX, 'captures/gateway_keylog_401.keylog')}`, '-Y', 'http.response']);
    expect([...rows].map(([f, x]) => [f, x['http.response.code']])).toEqual([[10, '401'], [12, '401'], [14, '401']]);
    const r = await run('captures/gateway_keylog_401.pcapng');
    expect(r.gateways[0]!.refusal).toContain(`(frame ${[...rows.keys()].pop()})`);
    const ws = tsharkFields(path.join(FIX, 'captures/gateway_keylog_rap_refused.pcapng'), ['http.response.code'], ['-o', `tls.keylog_file:${path.join(FIX, 'captures/gateway_keylog_rap_refused.keylog')}`, '-Y', 'http.response']);
    expect([...ws].map(([f, x]) => [f, x['http.response.code']])).toEqual([[10, '401'], [12, '101']]);
  });
});

describe.skipIf(gateways.length === 0)('exit code', () => {
  it('1 when a decrypted gateway exchange shows a refusal; 0 when the capture cannot tell or the tunnel opened', async () => {
    const codes: Record<string, number> = {};
    for (const s of gateways) codes[s.name] = exitCodeOf(await run(s.file));
    // The KDC proxy's 503 before an open tunnel is a warning: it fails nothing.
    expect(codes).toEqual({
      gateway_cert_expired: 1,
      gateway_cert_not_yet_valid: 1,
      gateway_cert_untrusted: 1,
      gateway_cert_name_mismatch: 1,
      gateway_https_udp: 0,
      gateway_named_refused: 0,
      gateway_keylog_rap_refused: 1,
      gateway_keylog_401: 1,
      gateway_keylog_kdcproxy_ntlm: 0,
      gateway_keylog_kdcproxy_h2: 0,
      gateway_keylog_legacy_http: 1,
      gateway_keylog_legacy_rap_refused: 1,
      gateway_keylog_rpc_over_http: 0,
      gateway_keylog_unreachable: 1,
      gateway_keylog_403: 1,
      gateway_keylog_tunnel_nla_failed: 1,
      gateway_keylog_tls13_tunnel: 1,
    });
  });
});

describe.skipIf(gateways.length === 0)("RD Gateway causes (the refused connection's findings; the KDC proxy's warning is the capture's)", () => {
  const formats = (r: Awaited<ReturnType<typeof run>>): [string, string][] => [
    ['text', renderText(r, { color: false })],
    ['markdown', renderMarkdown(r)],
    ['html', renderHtml(r)],
    ['json', renderJson(r)],
  ];
  const conv = 'ip.addr == 192.168.10.25 && ip.addr == 10.20.0.42 && tcp.port == 443';

  it('gateway_keylog_401: gateway_auth_refused, 95%, the NTLM request and the final 401, RD CAP steps', async () => {
    const r = await run('captures/gateway_keylog_401.pcapng');
    // Told once: as the refused connection's finding, not again as a capture finding.
    expect(r.captureFindings).toEqual([]);
    expect(r.connections.map((c) => c.findings.map((f) => f.cause))).toEqual([['gateway_auth_refused']]);
    const f = r.connections[0]!.findings[0]!;
    expect(f.confidence).toBe(0.95);
    expect(f.frames).toEqual([13, 14]);
    expect(f.severity).toBeUndefined();
    expect(f.explanation).toBe(
      'On connection g1 from 192.168.10.25 to the RD Gateway 10.20.0.42:443 ("rdg.corp.example"), the gateway answered RDG_OUT_DATA /remoteDesktopGateway/ (carrying the client\'s NTLM credentials) with 401 offering Negotiate, NTLM (frame 14): it did not accept the user, and no tunnel to the target was opened.',
    );
    expect(f.filter).toBe(`${conv} && (frame.number == 13 || frame.number == 14)`);
    expect(f.remediation[0]).toContain('RD Gateway Manager');
    expect(f.remediation[0]).toContain('Connection Authorization Policies');
    expect(f.remediation.join('\n')).toContain('User Account Restricted');
    expect(f.errorCode).toMatch(/^Not as 0x904/);
    // The headline tells the refusal once.
    expect(r.summary.headline).toBe("The connection attempt to the RD Gateway 10.20.0.42:443 failed: the RD Gateway refused the user's authentication (401).");
    for (const [name, out] of formats(r)) {
      expect(out, name).toContain('gateway_auth_refused');
      expect(out, name).toContain('Connection Authorization Policies');
    }
  });

  it('gateway_keylog_rap_refused: gateway_rap_refused, 95%, CHANNEL_CREATE and its CHANNEL_RESPONSE, RD RAP steps', async () => {
    const r = await run('captures/gateway_keylog_rap_refused.pcapng');
    // Told once: as the refused connection's finding, not again as a capture finding.
    expect(r.captureFindings).toEqual([]);
    expect(r.connections.map((c) => c.findings.map((f) => f.cause))).toEqual([['gateway_rap_refused']]);
    const f = r.connections[0]!.findings[0]!;
    expect(f.confidence).toBe(0.95);
    expect(f.frames).toEqual([19, 20]);
    expect(f.explanation).toContain('refused the tunnel to "rdp-srv09.corp.example" port 3389: CHANNEL_CREATE (frame 19) was answered by CHANNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED (frame 20)');
    // The headline names the target already.
    expect(f.summary).toBe("the RD Gateway's resource authorization policy (RD RAP) does not allow that target");
    expect(f.remediation[0]).toContain('Resource Authorization Policies');
    expect(f.remediation[0]).toMatch(/FQDN, the NetBIOS name and the IP address/);
    for (const [name, out] of formats(r)) {
      expect(out, name).toContain('gateway_rap_refused');
      expect(out, name).toContain('Resource Authorization Policies');
    }
  });

  it('gateway_keylog_kdcproxy_ntlm: gateway_kdc_proxy_unavailable as a warning, 90%, the POST and its 503, KPSSVC and the KDC proxy URL', async () => {
    const r = await run('captures/gateway_keylog_kdcproxy_ntlm.pcapng');
    expect(r.captureFindings.map((f) => f.cause)).toEqual(['gateway_kdc_proxy_unavailable']);
    const f = r.captureFindings[0]!;
    expect(f.severity).toBe('warning');
    expect(f.confidence).toBe(0.9);
    expect(f.frames).toEqual([9, 10]);
    expect(f.explanation).toBe(
      'On connection g1 from 192.168.10.25 to the RD Gateway 10.20.0.42:443 ("rdg.corp.example"), the gateway\'s KDC proxy answered POST /KdcProxy with 503 "Service Unavailable" (frame 10): Kerberos through the gateway failed and the client fell back to NTLM; the gateway then accepted the user and opened the tunnel to "rdp-srv01.corp.example" port 3389 (frame 35).',
    );
    const steps = f.remediation.join('\n');
    expect(steps).toContain('HKLM\\SOFTWARE\\Microsoft\\KPSSVC');
    expect(steps).toContain('kdcproxyname:s:');
    expect(steps).toContain('Specify KDC proxy servers for Kerberos clients');
    expect(exitCodeOf(r)).toBe(0);
    for (const [name, out] of formats(r)) expect(out, name).toContain('gateway_kdc_proxy_unavailable');
  });

  it('gateway_keylog_unreachable: gateway_target_unreachable, 90%, E_PROXY_TS_CONNECTFAILED', async () => {
    const r = await run('captures/gateway_keylog_unreachable.pcapng');
    // Told once: as the refused connection's finding, not again as a capture finding.
    expect(r.captureFindings).toEqual([]);
    expect(r.connections.map((c) => c.findings.map((f) => f.cause))).toEqual([['gateway_target_unreachable']]);
    const f = r.connections[0]!.findings[0]!;
    expect(f.confidence).toBe(0.9);
    expect(f.frames).toEqual([19, 20]);
    expect(f.explanation).toContain('the gateway could not reach "rdp-srv07.corp.example" port 3389: CHANNEL_CREATE (frame 19) was answered by CHANNEL_RESPONSE E_PROXY_TS_CONNECTFAILED (frame 20)');
    expect(f.remediation[0]).toContain('Test-NetConnection <target> -Port 3389');
  });

  it('gateway_keylog_403: gateway_refused, 85%, the request and its 403 (the earlier NTLM 401 is a step, not the refusal)', async () => {
    const r = await run('captures/gateway_keylog_403.pcapng');
    // Told once: as the refused connection's finding, not again as a capture finding.
    expect(r.captureFindings).toEqual([]);
    expect(r.connections.map((c) => c.findings.map((f) => f.cause))).toEqual([['gateway_refused']]);
    const f = r.connections[0]!.findings[0]!;
    expect(f.confidence).toBe(0.85);
    expect(f.frames).toEqual([11, 12]);
    expect(f.explanation).toContain('the gateway refused RDG_OUT_DATA /remoteDesktopGateway/ with 403 "Forbidden" (frame 12)');
  });

  it('without keys there is no gateway finding (nothing to read)', async () => {
    for (const name of ['gateway_https_udp.pcap', 'gateway_named_refused.pcap']) {
      const r = await run(`captures/${name}`);
      expect(r.captureFindings.filter((f) => f.cause.startsWith('gateway_')), name).toEqual([]);
    }
  });

  it.skipIf(!hasTshark)("the findings' frames are tshark's (the 403 and the KDC proxy's 503)", () => {
    const rows = (n: string) =>
      [...tsharkFields(path.join(FIX, `captures/${n}.pcapng`), ['http.response.code'], ['-o', `tls.keylog_file:${path.join(FIX, `captures/${n}.keylog`)}`, '-Y', 'http.response'])].map(([fr, x]) => [fr, x['http.response.code']]);
    expect(rows('gateway_keylog_403')).toEqual([[10, '401'], [12, '403']]);
    expect(rows('gateway_keylog_kdcproxy_ntlm')[0]).toEqual([10, '503']);
  });
});
