// Honest answers on real captures from other projects (../shared/captures, read in place, never
// copied; MANIFEST.md describes each connection): no confident wrong cause where the capture
// cannot tell, the right cause where it can. Skipped, saying so, when the folder is absent.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { diagnoseCapture, LIKELY_CONFIDENCE } from '../../src/diagnose/index.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { renderText } from '../../src/report/text.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = path.resolve(repoRoot, '../shared/captures');
const present = existsSync(path.join(SHARED, 'MANIFEST.md'));

if (!present) console.warn(`[diagnose shared captures] skipped: ${SHARED} is absent`);

async function run(file: string): Promise<Report> {
  return analyze([{ kind: 'file', path: path.join(SHARED, file) }]);
}

function conn(r: Report, client: string, server: string): ReportedConnection {
  const c = r.connections.find((x) => x.client === client && x.server === server);
  expect(c, `${client} -> ${server}`).toBeDefined();
  return c!;
}

const shown = (c: ReportedConnection) => c.findings.map((f) => `${f.cause} ${f.confidence}`).join('; ');

describe.skipIf(!present)(`honest diagnoses on ${SHARED}`, () => {
  it('ntop-nDPI/rdp_over_tls.pcap: the server ends CredSSP with an encrypted alert: NLA failed, inferred (not decoded) confidence', async () => {
    const c = conn(await run('ntop-nDPI/rdp_over_tls.pcap'), '91.238.181.21:35888', '89.31.79.12:3389');
    const top = c.findings[0]!;
    expect(top.cause, shown(c)).toBe('nla_failed');
    expect(top.confidence).toBeGreaterThanOrEqual(LIKELY_CONFIDENCE);
    expect(top.confidence).toBeLessThanOrEqual(0.7);
    expect(top.confidenceReason).toMatch(/key log/);
    expect(top.frames).toContain(14); // the server's encrypted alert
    // Frames 15 and 16 are the client's, after the alert: not counted in the exchange the server ended.
    expect(top.explanation).toContain('a short CredSSP exchange (2 client and 1 server encrypted records) ended with the server: it sent an encrypted alert in frame 14; the client sent 2 more records after it (frames 15, 16)');
    // The self-signed certificate was not what stopped it: the client went on into CredSSP.
    expect(c.findings.map((f) => f.cause)).not.toContain('cert_untrusted');
  });

  for (const file of ['zeek-zeek/rdp-to-ssl.pcap', 'zeek-zeek/nla_win7_win2k8r2.pcap']) {
    it(`${file} connection 1: the client stops CredSSP before its credentials, then reconnects: nothing is likely`, async () => {
      const r = await run(file);
      const c = conn(r, '192.168.1.200:49206', '192.168.1.150:3389');
      expect(c.outcome).toBe('failed');
      expect(c.findings.filter((f) => f.confidence >= LIKELY_CONFIDENCE), shown(c)).toEqual([]);
      // The server's answer is proof-sized (authentication went through) and the certificate is
      // self-signed for another name: the untrusted certificate is the best guess, the NLA failure the worst.
      expect(c.findings[0]!.cause, shown(c)).toBe('cert_untrusted');
      expect(c.findings[0]!.frames).toContain(17); // the client's FIN
      // A self-signed certificate: trusting it is the step; updating the client is not.
      expect(c.findings[0]!.remediation.join('\n')).not.toMatch(/Update the client/);
      const nla = c.findings.find((f) => f.cause === 'nla_failed');
      expect(nla!.confidence).toBeLessThan(0.3);
      expect(nla!.confidenceReason).toMatch(/public-key proof/);
      expect(conn(r, '192.168.1.200:49207', '192.168.1.150:3389').outcome).toBe('completed');
      expect(r.summary.headline).toMatch(/: possibly /);
    });
  }

  it('ntop-nDPI/synscan.pcap: two single SYNs never answered while the capture runs on ~20 s: blocked or down, not more', async () => {
    const r = await run('ntop-nDPI/synscan.pcap');
    for (const [client, syn] of [
      ['172.16.0.8:36050', 18],
      ['172.16.0.8:36051', 21],
    ] as const) {
      const c = conn(r, client, '64.13.134.52:3389');
      expect(c.died).toMatchObject({ phase: 'tcp', how: 'no_answer', by: 'network' });
      const top = c.findings[0]!;
      expect(top.cause, shown(c)).toBe('port_blocked');
      expect(top.confidence).toBeGreaterThanOrEqual(LIKELY_CONFIDENCE);
      expect(top.confidence).toBeLessThanOrEqual(0.65);
      expect(top.frames).toEqual([syn]);
      expect(top.summary).toMatch(/or the host is down/);
      expect(top.confidenceReason).toMatch(/never retransmitted/);
    }
  });

  it('ntop-nDPI/tcp_scan.pcapng: RST/ACK from the server itself: nothing listens', async () => {
    const c = conn(await run('ntop-nDPI/tcp_scan.pcapng'), '192.168.1.178:43067', '192.168.1.2:3389');
    const top = c.findings[0]!;
    expect(top.cause, shown(c)).toBe('port_not_listening');
    expect(top.confidence).toBeGreaterThanOrEqual(LIKELY_CONFIDENCE);
    expect(top.frames).toEqual([17, 18]);
    // The host answered the scan on 80 and 443 (frames 5 and 7, TTL 64): the capture does hold other
    // packets from it, only not on an RDP port.
    expect(top.confidenceReason).not.toMatch(/No other packet/);
    expect(top.confidenceReason).toContain('No SYN/ACK from 192.168.1.2 to a connection on an RDP port is in the capture');
    expect(top.confidenceReason).toContain('ip.src==192.168.1.2 && tcp.flags.syn==1 && tcp.flags.ack==1');
  });

  it('zeek-zeek/mapi.pcap: the middle of a session only: no cause at all', async () => {
    const r = await run('zeek-zeek/mapi.pcap');
    const c = conn(r, '192.168.0.144:1930', '192.168.0.136:3389');
    expect(c.outcome).toBe('incomplete_capture');
    expect(c.findings.filter((f) => f.confidence > 0.3), shown(c)).toEqual([]);
    expect(r.summary.headline).toMatch(/only partly captured/);
  });

  it('arkime-arkime/arkime_synthetic.pcap: the client goes quiet after a Confirm without NLA: not a confident NLA mismatch', async () => {
    const c = conn(await run('arkime-arkime/arkime_synthetic.pcap'), '10.20.22.100:50400', '10.20.22.1:3389');
    expect(c.findings.filter((f) => f.confidence >= LIKELY_CONFIDENCE), shown(c)).toEqual([]);
  });

  it('zeek-zeek/rdp-proprietary-encryption.pcap: RDP_NEG_FAILURE is decoded: security layer mismatch, then the retry completes', async () => {
    const r = await run('zeek-zeek/rdp-proprietary-encryption.pcap');
    const c = conn(r, '172.21.128.16:1311', '10.226.24.52:3389');
    expect(c.findings[0]).toMatchObject({ cause: 'security_layer_mismatch', frames: [4, 5] });
    expect(c.findings[0]!.confidence).toBeGreaterThanOrEqual(0.9);
  });

  it('zeek-zeek/rdpeudp-handshake-fail.pcap: three RDPEUDP SYNs never answered, without their TCP connection: said as such, no cause', async () => {
    const r = await run('zeek-zeek/rdpeudp-handshake-fail.pcap');
    const c = conn(r, '192.168.38.1:63568', '192.168.38.102:3389');
    expect(c).toMatchObject({ transport: 'udp', outcome: 'incomplete_capture', findings: [] });
    expect(c.warnings.map((w) => w.message)).toEqual([
      "UDP side channel (MS-RDPEUDP) without its TCP connection in the capture: that connection began before the capture, or the capture filter left it out; the server never answered the client's 3 datagrams (UDP 3389 blocked, or the server's UDP transport off): the client then stays on TCP, which is slower but not a failure",
    ]);
    expect(renderText(r, { color: false })).toContain('warning: UDP side channel (MS-RDPEUDP) without its TCP connection');
  });

  it('zeek-zeek/rdpeudp-handshake-success.pcap: the server answers on UDP', async () => {
    const r = await run('zeek-zeek/rdpeudp-handshake-success.pcap');
    expect(r.connections).toHaveLength(1);
    expect(r.connections[0]!.warnings[0]!.message).toMatch(/the server answered on UDP$/);
  });

  // The audit of every real capture's report (docs/audit-real-captures.md).
  it('zeek-zeek/rdp-no-cookie-mstshash.pcap: the client resets 22 us after the server Finished, NLA selected, no CredSSP sent: a self-signed certificate is only a possibility', async () => {
    const r = await run('zeek-zeek/rdp-no-cookie-mstshash.pcap');
    const c = conn(r, '10.128.36.245:50204', '10.132.153.76:3389');
    expect(c.died).toMatchObject({ phase: 'tls', how: 'rst', by: 'client', frame: 19 });
    const top = c.findings[0]!;
    expect(top.cause, shown(c)).toBe('cert_untrusted');
    expect(top.confidence).toBeLessThan(LIKELY_CONFIDENCE);
    expect(top.frames).toEqual([13, 19]);
    expect(top.explanation).toMatch(/before starting NLA \(CredSSP\)/);
    expect(top.confidenceReason).toMatch(/less than 1 ms after the server's TLS flight/);
    expect(r.summary.headline).toMatch(/: possibly the client did not trust/);
  });

  it("ntop-nDPI/rdp2.pcap: the UDP flows cite the server's SYN+ACK (frames 2 and 34) where they say it answered, and say how far RDPEUDP went", async () => {
    const r = await run('ntop-nDPI/rdp2.pcap');
    const a = conn(r, '192.168.122.181:54759', '192.168.122.2:3389');
    const b = conn(r, '10.50.181.210:60355', '10.50.73.36:3389');
    expect(a.warnings[0]).toMatchObject({ frame: 2, message: expect.stringMatching(/the server answered on UDP$/) });
    expect(b.warnings[0]).toMatchObject({ frame: 34, message: expect.stringMatching(/the server answered on UDP$/) });
    const text = renderText(r, { color: false });
    expect(text).toContain('(RDPEUDP SYN in frame 1, SYN+ACK in frame 2)');
    expect(text).toContain('(RDPEUDP, no SYN seen)');
    expect(text).not.toMatch(/ udp .*reached tcp/);
  });

  it('OISF-suricata-verify/RDP-003.pcap: a legacy client without RDP_NEG_REQ: the weak-security warning cites the Connection Request (frame 4) it names', async () => {
    const c = conn(await run('OISF-suricata-verify/RDP-003.pcap'), '10.226.41.226:13178', '10.226.29.74:3389');
    const w = c.findings.find((f) => f.cause === 'standard_rdp_security')!;
    expect(w.frames).toEqual([4, 8, 23]);
    expect(w.explanation).toContain('no RDP_NEG_REQ (frame 4)');
    expect(w.filter).toContain('cotp.type == 0x0e');
    // A Windows XP client (build 2600) that cannot negotiate TLS: updating it is the step, not "once TLS is fixed".
    expect(w.remediation).toHaveLength(1);
    expect(w.remediation[0]).toMatch(/^Update the client/);
  });

  it('zeek-zeek/rdp-rdpeudp-handshake-{fail,success}.pcap: the completed TCP session says whether its UDP transport was answered', async () => {
    const fail = renderText(await run('zeek-zeek/rdp-rdpeudp-handshake-fail.pcap'), { color: false });
    expect(fail).toContain('UDP transport not answered (3 datagrams from frame 56): the session stayed on TCP');
    const ok = renderText(await run('zeek-zeek/rdp-rdpeudp-handshake-success.pcap'), { color: false });
    expect(ok).toContain('UDP transport answered (RDPEUDP SYN+ACK in frame 73)');
  });

  it('arkime-arkime/socks5-rdp.pcap: RDP behind a SOCKS5 proxy on 42356: the report says the proxy exchange before the Connection Request (frame 8) was not kept', async () => {
    const c = conn(await run('arkime-arkime/socks5-rdp.pcap'), '10.0.0.3:2276', '10.0.0.2:42356');
    expect(c.negotiation).toMatchObject({ cookie: 'XXX', requestFrame: 8, confirmFrame: 9 });
    const w = c.warnings.find((x) => /proxy's address/.test(x.message));
    expect(w).toMatchObject({ frame: 8 });
    expect(w!.message).toContain('the 13 bytes the client and the 12 bytes the server sent before it');
  });

  it("arkime-arkime/arkime_synthetic.pcap: the HTTPS notes say what the frames show (frame 904 is a malformed ServerHello, not none)", async () => {
    const text = renderText(await run('arkime-arkime/arkime_synthetic.pcap'), { color: false });
    expect(text).toContain('Connection g10: ClientHello in frame 903, the gateway answered (1073 bytes) but with no ServerHello that could be read, the client closed it (frame 905)');
    expect(text).not.toContain('no ServerHello followed');
    expect(text).not.toContain('from both sides');
  });

  it('zeek-zeek/rdp-proprietary-encryption.pcap: a Windows host (TTL 125): no xrdp.ini step', async () => {
    const c = conn(await run('zeek-zeek/rdp-proprietary-encryption.pcap'), '172.21.128.16:1311', '10.226.24.52:3389');
    expect(c.findings[0]!.remediation.join('\n')).not.toMatch(/xrdp/);
  });

  it('no capture-wide finding on any of them (none has a failed lookup)', async () => {
    for (const file of ['ntop-nDPI/rdp_over_tls.pcap', 'ntop-nDPI/synscan.pcap', 'zeek-zeek/mapi.pcap', 'arkime-arkime/arkime_synthetic.pcap', 'zeek-zeek/rdp-to-ssl.pcap']) {
      const r = await run(file);
      const per = new Map(r.connections.map((c) => [c.id, c.findings]));
      const wide = diagnoseCapture({ connections: r.connections, dns: r.dns, captureEnd: r.capture.files.map((f) => f.end ?? 0), names: new Map() }, per);
      expect(wide.filter((f) => f.confidence >= LIKELY_CONFIDENCE).map((f) => f.explanation), file).toEqual([]);
    }
  });
});
