// Issue 14, the tunnelled RDP connection: with the key log, the bytes of an RD Gateway's MS-TSGU
// DATA packets go through the same connection machine as a direct connection's, and the attempt is
// a connection of its own with the gateway phases before its RDP phases (gateway-tunnel.ts). End to
// end on the fixtures gateway_keylog_* (fixtures/lib/scenarios.ts); tshark, which decrypts the
// outer TLS with the same key log but has no MS-TSGU dissector, gives the decrypted bytes per frame,
// and a small independent reader of them (WebSocket RFC 6455 5.2, MS-TSGU 2.2.10.6) says which
// frames carry which tunnelled bytes.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { PHASES } from '../src/handshake/types.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { exitCodeOf } from '../src/cli/run.js';
import { exportEvidence } from '../src/report/evidence.js';
import { tunnelRecord } from '../src/handshake/gateway-tunnel.js';
import type { ConnectionRecord } from '../src/handshake/types.js';
import { hasTshark, tsharkFields } from './fixtures/tshark.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAP = path.join(repoRoot, 'fixtures/captures');
const have = existsSync(path.join(CAP, 'gateway_keylog_tunnel_nla_failed.pcapng'));
const run = (name: string, rdpPorts?: number[]) => analyze([{ kind: 'file', path: path.join(CAP, `${name}.pcapng`) }], rdpPorts ? { rdpPorts } : {});

/**
 * Per frame, the tunnelled bytes tshark's decryption shows: the outer plaintext of each frame
 * (tshark with HTTP off, so the decrypted records are plain data), read as WebSocket frames whose
 * MS-TSGU packets of type 0x0A (DATA) carry the RDP bytes. Returns frame -> { dir, rdp } for the
 * frames that carry DATA packets (one whole WebSocket frame per record in these fixtures).
 */
function tunnelledFrames(name: string): Map<number, { dir: 'c2s' | 's2c'; rdp: Buffer }> {
  const file = path.join(CAP, `${name}.pcapng`);
  const rows = tsharkFields(file, ['data.data', 'tcp.srcport'], ['-o', `tls.keylog_file:${path.join(CAP, `${name}.keylog`)}`, '--disable-protocol', 'http', '-Y', 'data']);
  const out = new Map<number, { dir: 'c2s' | 's2c'; rdp: Buffer }>();
  for (const [frame, row] of rows) {
    const dir = row['tcp.srcport'] === '443' ? 's2c' : 'c2s';
    for (const hex of row['data.data']!.split(',')) {
      const b = Buffer.from(hex, 'hex');
      if (b.length < 2 || b[0] !== 0x82) continue; // a final binary WebSocket frame
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        len = b.readUInt16BE(2);
        off = 4;
      }
      let payload = b.subarray(off + ((b[1]! & 0x80) !== 0 ? 4 : 0), off + ((b[1]! & 0x80) !== 0 ? 4 : 0) + len);
      if ((b[1]! & 0x80) !== 0) {
        const key = b.subarray(off, off + 4);
        payload = Buffer.from(payload.map((x, i) => x ^ key[i & 3]!));
      }
      if (payload.readUInt16LE(0) !== 0x0a) continue; // MS-TSGU PKT_TYPE_DATA
      const n = payload.readUInt16LE(8);
      out.set(frame, { dir, rdp: payload.subarray(10, 10 + n) });
    }
  }
  return out;
}

describe.skipIf(!have)('the RDP connection tunnelled through an RD Gateway', () => {
  it('gateway_keylog_tunnel_nla_failed: the gateway phases, then X.224, TLS and CredSSP of the tunnelled bytes; failed in credssp with nla_failed', async () => {
    const r = await run('gateway_keylog_tunnel_nla_failed');
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    expect(c.client).toBe('192.168.10.25:51370');
    // The target as CHANNEL_CREATE names it; no address of it is on the wire.
    expect(c.server).toBe('rdp-srv02.corp.example:3389');
    expect(c.flow.server).toEqual({ ip: '10.20.0.42', port: 443 });
    expect(c.phases.map((p) => p.phase)).toEqual(['tcp', 'gateway_tls', 'gateway_auth', 'gateway_tunnel', 'gateway_channel', 'x224', 'tls', 'credssp']);
    // Phases are in PHASES order, and every phase decoded (nothing inferred: the inner TLS was decrypted).
    const idx = c.phases.map((p) => PHASES.indexOf(p.phase));
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(c.phases.every((p) => !p.inferred)).toBe(true);
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('credssp');
    expect(c.died).toMatchObject({ phase: 'credssp', how: 'encrypted_alert', by: 'server' });
    expect(c.negotiation?.selectedProtocolName).toBe('HYBRID');
    expect(c.tls?.sni).toBe('rdp-srv02.corp.example');
    expect(c.tls?.decryption?.status).toBe('decrypted');
    expect(c.credssp?.errorCode).toBe(0xc000006d);
    expect(c.findings[0]?.cause).toBe('nla_failed');
    expect(c.findings[0]!.explanation).toContain('STATUS_LOGON_FAILURE');
    expect(c.gateway).toMatchObject({ gateway: '10.20.0.42:443', sni: 'rdg.corp.example', target: { host: 'rdp-srv02.corp.example', port: 3389 }, sighting: 'g1', reached: 'gateway_channel', refusal: null });
    expect(r.gateways[0]!.tunnel).toEqual({ host: 'rdp-srv02.corp.example', port: 3389, opened: true, connection: c.id });
    // The inner failure is the only one told: the gateway itself did nothing wrong.
    expect(r.captureFindings).toEqual([]);
    expect(r.summary.headline).toBe('The connection attempt to "rdp-srv02.corp.example" port 3389 through the RD Gateway 10.20.0.42:443 failed: NLA authentication failed (STATUS_LOGON_FAILURE: the user name or the password is wrong).');
    expect(exitCodeOf(r)).toBe(1);
  });

  it('gateway_keylog_tunnel_nla_failed: the same top cause and death as the direct keylog_nla_logon_failure', async () => {
    const direct = (await analyze([{ kind: 'file', path: path.join(CAP, 'keylog_nla_logon_failure.pcapng') }])).connections[0]!;
    const tunnelled = (await run('gateway_keylog_tunnel_nla_failed')).connections[0]!;
    expect(tunnelled.findings[0]!.cause).toBe(direct.findings[0]!.cause);
    expect(tunnelled.findings[0]!.confidence).toBe(direct.findings[0]!.confidence);
    expect({ ...tunnelled.died!, frame: null, detail: null }).toEqual({ ...direct.died!, frame: null, detail: null });
    expect(tunnelled.credssp?.errorCode).toBe(direct.credssp?.errorCode);
  });

  it('gateway_keylog_kdcproxy_ntlm: the tunnel opens and the tunnelled connection reaches active and completes', async () => {
    const r = await run('gateway_keylog_kdcproxy_ntlm');
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    expect(c.server).toBe('rdp-srv01.corp.example:3389');
    expect(c.outcome).toBe('completed');
    expect(c.died).toBeNull();
    expect(c.phases.map((p) => p.phase)).toEqual(['tcp', 'gateway_tls', 'gateway_auth', 'gateway_tunnel', 'gateway_channel', 'x224', 'tls', 'credssp', 'mcs', 'licensing', 'capabilities', 'finalization', 'active']);
    expect(c.errorInfo.map((e) => e.name)).toContain('ERRINFO_LOGOFF_BY_USER');
    expect(c.gateway).toMatchObject({ sighting: 'g2', target: { host: 'rdp-srv01.corp.example', port: 3389 }, refusal: null });
    // The KDC proxy connection (g1) carried no tunnel request: no connection, its warning stays the capture's.
    expect(r.captureFindings.map((f) => [f.cause, f.severity])).toEqual([['gateway_kdc_proxy_unavailable', 'warning']]);
    expect(r.summary.failed).toBe(0);
    expect(exitCodeOf(r)).toBe(0);
  });

  it('a decrypted tunnelled session is read to its end past the per-flow reassembly limit (its Set Error Info is last)', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(CAP, 'gateway_keylog_kdcproxy_ntlm.pcapng') }], { perFlowBytes: 8192 });
    const c = r.connections[0]!;
    expect(c.flow.cutBytes).toEqual([0, 0]);
    expect(c.errorInfo.map((e) => e.name)).toEqual(['ERRINFO_LOGOFF_BY_USER']);
    expect(c.tls?.decryption?.decodeStopped).toBeUndefined();
  });

  it.skipIf(!hasTshark)("the tunnelled connection's frames are the frames tshark's decryption shows carrying its bytes", async () => {
    for (const name of ['gateway_keylog_tunnel_nla_failed', 'gateway_keylog_kdcproxy_ntlm', 'gateway_keylog_tls13_tunnel']) {
      const t = tunnelledFrames(name);
      const c = (await run(name)).connections[0]!;
      const at = (phase: string) => c.phases.find((p) => p.phase === phase)!.frame;
      // X.224 Connection Request (TPKT 03 00, CR TPDU 0xE0) and Confirm (0xD0), MS-RDPBCGR 2.2.1.1 / 2.2.1.2.
      const cr = [...t].find(([, v]) => v.dir === 'c2s' && v.rdp[0] === 3 && v.rdp[5] === 0xe0)![0];
      const cc = [...t].find(([, v]) => v.dir === 's2c' && v.rdp[0] === 3 && v.rdp[5] === 0xd0)![0];
      expect(at('x224'), name).toBe(cr);
      expect(c.negotiation?.requestFrame, name).toBe(cr);
      expect(c.negotiation?.confirmFrame, name).toBe(cc);
      // The tunnelled ClientHello: the first client DATA that is a TLS handshake record (RFC 5246 6.2.1).
      const hello = [...t].find(([, v]) => v.dir === 'c2s' && v.rdp[0] === 0x16)![0];
      expect(at('tls'), name).toBe(hello);
      expect(c.tls?.clientHelloFrame, name).toBe(hello);
      // Every timeline event of the tunnelled RDP is at a frame that carries tunnelled bytes of its direction.
      // (The outer TCP connection's FIN and RST end the tunnelled one too: they are TCP's, not tunnelled bytes.)
      const rdpEvents = c.timeline.filter((x) => ['x224', 'tls', 'credssp', 'mcs', 'licensing', 'capabilities', 'finalization', 'active'].includes(x.phase) && x.direction !== 'net' && !/^(FIN|RST)\b/.test(x.event));
      expect(rdpEvents.length, name).toBeGreaterThan(8);
      for (const e of rdpEvents) {
        expect(t.get(e.frame)?.dir, `${name}: ${e.event} at frame ${e.frame}`).toBe(e.direction);
      }
      if (name !== 'gateway_keylog_kdcproxy_ntlm') {
        // The death: the target's close_notify, its last record in a server DATA packet (content type 21
        // in TLS 1.2; in TLS 1.3 an application_data record whose inner type is the alert, RFC 8446 5.2).
        const [alert, last] = [...t].filter(([, v]) => v.dir === 's2c').at(-1)!;
        expect(last.rdp[0], name).toBe(name === 'gateway_keylog_tls13_tunnel' ? 0x17 : 0x15);
        expect(c.died!.frame, name).toBe(alert);
      }
    }
  });

  it.skipIf(!hasTshark)('the gateway phases are at the frames of tshark: the ClientHello, the first HTTP answer, the 101', async () => {
    const name = 'gateway_keylog_tunnel_nla_failed';
    const c = (await run(name)).connections[0]!;
    const rows = tsharkFields(path.join(CAP, `${name}.pcapng`), ['tls.handshake.type', 'http.response.code'], ['-o', `tls.keylog_file:${path.join(CAP, `${name}.keylog`)}`]);
    const hello = [...rows].find(([, x]) => x['tls.handshake.type']!.split(',').includes('1'))![0];
    expect(c.phases.find((p) => p.phase === 'gateway_tls')!.frame).toBe(hello);
    const answers = [...rows].filter(([, x]) => x['http.response.code'] !== '').map(([f, x]) => [f, x['http.response.code']]);
    expect(answers).toEqual([
      [10, '401'],
      [12, '101'],
    ]);
    const events = c.timeline.filter((e) => e.phase === 'gateway_auth' && e.direction === 's2c').map((e) => [e.frame, e.event]);
    expect(events).toEqual([
      [10, 'RD Gateway: HTTP 401 Unauthorized'],
      [12, 'RD Gateway: HTTP 101 Switching Protocols'],
    ]);
  });

  it('gateway_keylog_tls13_tunnel: the outer TLS 1.3 is decrypted with its handshake and traffic secrets, and so is the tunnelled TLS 1.3', async () => {
    const r = await run('gateway_keylog_tls13_tunnel');
    expect(r.warnings).toContain('TLS decryption of HTTPS to port 443 (RD Gateway): 1 connection decrypted, 0 whose records did not authenticate, 0 without a secret, 0 with a version or cipher suite not decrypted (TLS 1.2 and 1.3 are)');
    const g = r.gateways[0]!;
    expect(g.text).toContain('TLS1.3 handshake completed');
    expect(g.text).toContain('the tunnel to "rdp-srv02.corp.example" port 3389 is open (frame 19)');
    // The gateway's certificate, encrypted in TLS 1.3 (RFC 8446 4.4.2), is read once decrypted (the fixture's chain is rdp-srv02's).
    expect(g.names).toEqual(['rdg.corp.example', 'rdp-srv02.corp.example', 'rdp-srv02']);
    const c = r.connections[0]!;
    expect(c.phases.map((p) => p.phase)).toEqual(['tcp', 'gateway_tls', 'gateway_auth', 'gateway_tunnel', 'gateway_channel', 'x224', 'tls', 'credssp']);
    expect(c.tls?.version).toBe('TLS1.3');
    expect(c.tls?.decryption?.status).toBe('decrypted');
    expect(c.credssp?.errorCode).toBe(0xc000006d);
    expect(c.findings[0]!.cause).toBe('nla_failed');
    // The gateway's NewSessionTickets (post-handshake, under the traffic keys) are not HTTP: nothing stopped the reading.
    expect(c.gateway!.exchange.problem).toBeNull();
    expect(c.gateway!.exchange.packets.map((k) => k.type)).toEqual(['handshake_request', 'handshake_response', 'tunnel_create', 'tunnel_response', 'tunnel_auth', 'tunnel_auth_response', 'channel_create', 'channel_response', 'close_channel', 'close_channel_response']);
  });

  it('the refused attempts die in their gateway phase at the gateway\'s answer, with the gateway cause (never in phase tcp)', async () => {
    const want: Record<string, [string, string, number[]]> = {
      gateway_keylog_401: ['gateway_auth', 'gateway_auth_refused', [13, 14]],
      gateway_keylog_403: ['gateway_auth', 'gateway_refused', [11, 12]],
      gateway_keylog_rap_refused: ['gateway_channel', 'gateway_rap_refused', [19, 20]],
      gateway_keylog_unreachable: ['gateway_channel', 'gateway_target_unreachable', [19, 20]],
    };
    for (const [name, [phase, cause, frames]] of Object.entries(want)) {
      for (const ports of [undefined, [443]]) {
        const r = await run(name, ports);
        const c = r.connections[0]!;
        expect(r.connections, name).toHaveLength(1);
        expect(c.outcome, name).toBe('failed');
        expect(c.reached, name).toBe(phase);
        expect(c.died, name).toMatchObject({ phase, how: 'gateway_refusal', by: 'server', frame: frames[1] });
        expect(c.gateway!.refusal, name).toMatchObject({ phase, frame: frames[1] });
        expect(c.findings.map((f) => f.cause), name).toEqual([cause]);
        expect(c.findings[0]!.frames, name).toEqual(frames);
        expect(c.phases.map((p) => p.phase).at(-1), name).toBe(phase);
        expect(r.captureFindings, name).toEqual([]);
        expect(exitCodeOf(r), name).toBe(1);
      }
    }
  });

  it.skipIf(!hasTshark)("--export-evidence: the tunnelled connection's file holds the outer connection's frames and both sessions' keys (tshark reads the tunnel from it alone)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-gw-'));
    try {
      const name = 'gateway_keylog_tunnel_nla_failed';
      const r = await run(name);
      expect(r.connections[0]!.gateway!.clientRandom).toMatch(/^[0-9a-f]{64}$/);
      const ev = await exportEvidence(r, [{ kind: 'file', path: path.join(CAP, `${name}.pcapng`) }], dir);
      expect(ev.files.map((f) => path.basename(f.file))).toEqual(['c1.pcapng']);
      const file = path.join(dir, 'c1.pcapng');
      expect(tsharkFields(file, []).size).toBe(r.capture.frames);
      // No key log given to tshark: the Decryption Secrets Block in the file decrypts the outer TLS.
      const answers = [...tsharkFields(file, ['http.response.code'], ['-Y', 'http.response'])].map(([f, x]) => [f, x['http.response.code']]);
      expect(answers).toEqual([
        [10, '401'],
        [12, '101'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a tunnel read only in part (a record that did not authenticate, a framing problem) says so in a warning on the connection', async () => {
    const c = (await run('gateway_keylog_tunnel_nla_failed')).connections[0]!;
    const again = (readStop: { frame: number; reason: string } | null, problem: string | null): ConnectionRecord => {
      const rec = { ...structuredClone(c), warnings: [] } as ConnectionRecord;
      delete rec.gateway;
      tunnelRecord(rec, { readStop, server: c.flow.server, sni: null, clientRandom: null, clientHelloFrame: 4, plain: { ...c.gateway!.exchange, problem }, timeOf: () => c.start });
      return rec;
    };
    expect(again(null, null).warnings).toEqual([]);
    const w = again({ frame: 30, reason: "the server's TLS record in frame 30 did not authenticate with the key log's secret" }, null).warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ frame: 30 });
    expect(w[0]!.message).toContain('was not read to its end');
    expect(again(null, "the client's WebSocket frame at frame 21: reserved bits set").warnings[0]!.message).toContain('reserved bits set');
  });

  it('every report format shows the gateway, the target and both ladders; untrusted text escaped', async () => {
    const r = await run('gateway_keylog_tunnel_nla_failed');
    const text = renderText(r, { color: false });
    expect(text).toContain('gateway: 10.20.0.42:443 (SNI "rdg.corp.example"), connection g1 of the gateway section');
    expect(text).toContain('target: "rdp-srv02.corp.example" port 3389 (CHANNEL_CREATE, frame 19)');
    expect(text).toContain('gateway ladder: tcp (frame 1) > gateway_tls (frame 4) > gateway_auth (frame 9) > gateway_tunnel (frame 13) > gateway_channel (frame 19)');
    expect(text).toMatch(/rdp ladder \(tunnelled\): x224 \(frame 21\) > tls \(frame 23\) > credssp \(frame \d+\) \(died in credssp\)/);
    expect(text.indexOf('gateway ladder')).toBeLessThan(text.indexOf('rdp ladder'));
    const md = renderMarkdown(r);
    expect(md).toContain('| Gateway ladder |');
    expect(md).toContain('| RDP ladder (tunnelled) |');
    const html = renderHtml(r);
    expect(html).toContain('<th>Gateway ladder</th>');
    expect(html).toContain('<th>Target</th>');
    const json = JSON.parse(renderJson(r)) as { connections: { gateway: { target: { host: string } }; phases: { phase: string }[] }[] };
    expect(json.connections[0]!.gateway.target.host).toBe('rdp-srv02.corp.example');
    expect(json.connections[0]!.phases.map((p) => p.phase)).toContain('gateway_channel');
    // A hostile target name (untrusted text from CHANNEL_CREATE) is escaped in HTML and Markdown.
    const c = r.connections[0]!;
    const hostile = { ...r, connections: [{ ...c, gateway: { ...c.gateway!, target: { ...c.gateway!.target!, host: '<img src=x onerror=alert(1)>|x' } } }] };
    expect(renderHtml(hostile)).not.toContain('<img src=x');
    expect(renderMarkdown(hostile)).not.toContain('<img src=x onerror=alert(1)>|x');
  });
});
