// Issue 14: the RD Gateway's other transports, end to end on the fixture captures built by
// fixtures/lib/scenarios.ts: the legacy HTTP transport (two TLS connections, the IN and OUT
// channels, related by RDG-Connection-Id), compared with tshark's decryption of the same frames.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { exitCodeOf } from '../src/cli/run.js';
import { exportEvidence } from '../src/report/evidence.js';
import { hasTshark, TSHARK, tsharkFields } from './fixtures/tshark.js';
import { readChunkHead } from '../src/rdp/http-chunked.js';
import { readTsguPacket } from '../src/rdp/tsgu.js';
import { SchemaValidator } from './report/json-schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const cap = (name: string): string => path.join(FIX, 'captures', name);
const run = (file: string, rdpPorts?: number[]) => analyze([{ kind: 'file', path: cap(file) }], rdpPorts ? { rdpPorts } : {});
const formats = (r: Awaited<ReturnType<typeof run>>): [string, string][] => [
  ['text', renderText(r, { color: false })],
  ['markdown', renderMarkdown(r)],
  ['html', renderHtml(r)],
  ['json', renderJson(r)],
];

describe.skipIf(!existsSync(cap('gateway_keylog_legacy_http.pcapng')))('the legacy HTTP transport (gateway_keylog_legacy_http)', () => {
  it('the IN and OUT channels feed one tunnelled connection: failed in credssp (nla_failed), both channels named, exit 1', async () => {
    for (const ports of [undefined, [443]]) {
      const r = await run('gateway_keylog_legacy_http.pcapng', ports);
      expect(r.gateways).toHaveLength(1);
      const g = r.gateways[0]!;
      expect(g).toMatchObject({ evidence: 'shown', client: '192.168.10.25', gateway: '10.20.0.42:443', connections: ['g1', 'g2'], decrypted: true, refusal: null, transport: 'http', tunnel: { host: 'rdp-srv02.corp.example', port: 3389, opened: true, connection: 'c1' } });
      expect(g.text).toContain("they carry MS-TSGU's legacy HTTP transport (an IN and an OUT channel, without the WebSocket upgrade)");
      expect(g.text).toContain("the legacy HTTP transport's OUT channel (RDG_OUT_DATA: the gateway's packets), paired with connection g2 by its RDG-Connection-Id");
      expect(g.text).toContain("the legacy HTTP transport's IN channel (RDG_IN_DATA: the client's packets), paired with connection g1 by its RDG-Connection-Id");
      expect(g.text).toContain('The RDP connection through the gateway is c1, with its gateway and RDP phases.');
      expect(g.text).not.toContain('not analysed');
      expect(g.text).not.toContain('decoding stopped');
      // One connection: the client's bytes from the IN channel, the target's from the OUT channel.
      expect(r.connections).toHaveLength(1);
      const c = r.connections[0]!;
      expect({ client: c.client, server: c.server, outcome: c.outcome, reached: c.reached, died: c.died && { phase: c.died.phase, how: c.died.how, by: c.died.by } }).toEqual({ client: '192.168.10.25:51371', server: 'rdp-srv02.corp.example:3389', outcome: 'failed', reached: 'credssp', died: { phase: 'credssp', how: 'encrypted_alert', by: 'server' } });
      expect(c.findings.map((f) => f.cause)).toEqual(['nla_failed']);
      expect(c.phases.map((p) => p.phase)).toEqual(['tcp', 'gateway_tls', 'gateway_auth', 'gateway_tunnel', 'gateway_channel', 'x224', 'tls', 'credssp']);
      expect(c.negotiation?.selectedProtocol).toBe(2);
      expect(c.tls?.decryption?.status).toBe('decrypted');
      expect(c.gateway).toMatchObject({ gateway: '10.20.0.42:443', sni: 'rdg.corp.example', target: { host: 'rdp-srv02.corp.example', port: 3389 }, sighting: 'g2', reached: 'gateway_channel', refusal: null });
      expect(c.gateway!.channels!.map((ch) => ({ channel: ch.channel, client: ch.client, sighting: ch.sighting }))).toEqual([
        { channel: 'out', client: '192.168.10.25:51370', sighting: 'g1' },
        { channel: 'in', client: '192.168.10.25:51371', sighting: 'g2' },
      ]);
      // The gateway's CLOSE_CHANNEL and the client's answer end the tunnelled connection, after the target's close_notify.
      const closes = c.timeline.filter((e) => e.event.startsWith('MS-TSGU CLOSE_CHANNEL'));
      expect(closes.map((e) => e.direction)).toEqual(['s2c', 'c2s']);
      expect(closes[0]!.frame).toBeGreaterThan(c.died!.frame!);
      expect(exitCodeOf(r)).toBe(1);
      expect(r.summary.headline).toBe('The connection attempt to "rdp-srv02.corp.example" port 3389 through the RD Gateway 10.20.0.42:443 failed: NLA authentication failed (STATUS_LOGON_FAILURE: the user name or the password is wrong).');
      // The IN channel's sighting is not told again as a capture finding; the gateway's answers are steps.
      expect(r.captureFindings).toEqual([]);
    }
  });

  it.skipIf(!hasTshark)("each tunnelled packet keeps its own outer frame: the client's on the IN channel's TCP connection, the target's on the OUT channel's", async () => {
    const r = await run('gateway_keylog_legacy_http.pcapng');
    const c = r.connections[0]!;
    const ports = tsharkFields(cap('gateway_keylog_legacy_http.pcapng'), ['tcp.srcport', 'tcp.dstport']);
    const at = (event: string) => c.timeline.find((e) => e.event === event)!;
    for (const [event, src, dst] of [
      ['X.224 Connection Request', '51371', '443'],
      ['X.224 Connection Confirm', '443', '51370'],
      ['Client Hello', '51371', '443'],
      ['Server Hello', '443', '51370'],
    ] as const) {
      const e = at(event);
      expect(e, event).toBeDefined();
      expect(ports.get(e.frame), event).toEqual({ 'tcp.srcport': src, 'tcp.dstport': dst });
    }
    // The target's close_notify (the died frame) is a frame of the OUT channel, from the gateway.
    expect(ports.get(c.died!.frame!)).toEqual({ 'tcp.srcport': '443', 'tcp.dstport': '51370' });
  });

  it.skipIf(!hasTshark)("--export-evidence: the connection's file holds both channels' frames and the three TLS sessions' keys (tshark reads both channels from it alone)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-legacy-'));
    try {
      const r = await run('gateway_keylog_legacy_http.pcapng');
      const ev = await exportEvidence(r, [{ kind: 'file', path: cap('gateway_keylog_legacy_http.pcapng') }], dir);
      expect(ev.files.map((f) => path.basename(f.file))).toEqual(['c1.pcapng']);
      const file = path.join(dir, 'c1.pcapng');
      // Every frame of the capture is one of the two channels'.
      expect(tsharkFields(file, []).size).toBe(r.capture.frames);
      const ports = [...tsharkFields(file, ['tcp.srcport'])].map(([, x]) => x['tcp.srcport']);
      expect(new Set(ports)).toEqual(new Set(['51370', '51371', '443']));
      // No key log given to tshark: the Decryption Secrets Block decrypts both outer sessions (the 401s of both channels, the IN channel's 200).
      const answers = [...tsharkFields(file, ['http.response.code'], ['-Y', 'http.response'])].map(([, x]) => x['http.response.code']);
      expect(answers).toEqual(['401', '401', '401', '401', '200']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every format says which transport it was', async () => {
    const r = await run('gateway_keylog_legacy_http.pcapng');
    for (const [name, out] of formats(r)) expect(out, name).toContain('legacy HTTP transport');
    expect(JSON.parse(renderJson(r)).gateways[0].transport).toBe('http');
  });

  it.skipIf(!hasTshark)("tshark's decryption of the CHANNEL_CREATE frame holds the chunk and the packet we read there", async () => {
    const r = await run('gateway_keylog_legacy_http.pcapng');
    const frame = Number(/the tunnel to "rdp-srv02\.corp\.example" port 3389 is open \(frame (\d+)\)/.exec(r.gateways[0]!.text)?.[1]);
    expect(frame).toBeGreaterThan(0);
    const dump = execFileSync(TSHARK, ['-r', cap('gateway_keylog_legacy_http.pcapng'), '-o', `tls.keylog_file:${cap('gateway_keylog_legacy_http.keylog')}`, '-Y', `frame.number == ${frame}`, '-x'], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
    const block = dump.split(/Decrypted TLS \(\d+ bytes\):\n/)[1] ?? '';
    const bytes = Buffer.from(
      block
        .split('\n')
        .map((l) => /^[0-9a-f]{4}  ((?:[0-9a-f]{2} ){1,16})/.exec(l)?.[1] ?? '')
        .join('')
        .replace(/ /g, ''),
      'hex',
    );
    // One chunk (RFC 9112 7.1) holding one MS-TSGU CHANNEL_CREATE (2.2.10.2).
    const c = readChunkHead(bytes, 0, bytes.length);
    expect(c.ok && c.value.size).toBe(bytes.length - (c.ok ? c.consumed : 0) - 2);
    if (!c.ok) return;
    const p = readTsguPacket(bytes, c.consumed, bytes.length - 2);
    expect(p.ok && p.value).toMatchObject({ type: 'channel_create', port: 3389, resources: ['rdp-srv02.corp.example'] });
    // tshark shows the gateway's HTTP answers on both channels (the four NTLM 401s and the IN channel's 200).
    const rows = tsharkFields(cap('gateway_keylog_legacy_http.pcapng'), ['http.response.code'], ['-o', `tls.keylog_file:${cap('gateway_keylog_legacy_http.keylog')}`, '-Y', 'http.response']);
    expect([...rows.values()].map((x) => x['http.response.code'])).toEqual(['401', '401', '401', '401', '200']);
  });
});

describe.skipIf(!existsSync(cap('gateway_keylog_legacy_rap_refused.pcapng')))('a refusal on the legacy OUT channel (gateway_keylog_legacy_rap_refused)', () => {
  it("names the target the IN channel's CHANNEL_CREATE asked for: one failed connection, gateway_rap_refused, both channels, no capture finding", async () => {
    for (const ports of [undefined, [443]]) {
      const r = await run('gateway_keylog_legacy_rap_refused.pcapng', ports);
      expect(r.connections).toHaveLength(1);
      const c = r.connections[0]!;
      expect(c.server).toBe('rdp-srv09.corp.example:3389');
      expect(c.client).toBe('192.168.10.25:51391');
      expect(c.outcome).toBe('failed');
      expect(c.died).toMatchObject({ phase: 'gateway_channel', how: 'gateway_refusal', by: 'server' });
      expect(c.died!.detail).toBe(`the RD Gateway answered CHANNEL_RESPONSE to "rdp-srv09.corp.example" port 3389 with E_PROXY_RAP_ACCESSDENIED (frame ${c.died!.frame})`);
      expect(c.gateway).toMatchObject({ target: { host: 'rdp-srv09.corp.example', port: 3389 }, refusal: { phase: 'gateway_channel', frame: c.died!.frame } });
      expect(c.gateway!.channels!.map((ch) => [ch.channel, ch.sighting])).toEqual([
        ['out', 'g1'],
        ['in', 'g2'],
      ]);
      expect(c.findings[0]!.cause).toBe('gateway_rap_refused');
      expect(c.findings[0]!.explanation).toContain('rdp-srv09.corp.example');
      // Told once, as the connection's finding: not again as the OUT channel's capture finding.
      expect(r.captureFindings).toEqual([]);
      expect(r.gateways[0]!.tunnel).toEqual({ host: 'rdp-srv09.corp.example', port: 3389, opened: false, connection: 'c1' });
      expect(exitCodeOf(r)).toBe(1);
      for (const [name, out] of formats(r)) {
        expect(out, name).toContain('rdp-srv09.corp.example');
        // Both outer connections are named, the OUT channel's too (the connection's flow is the IN channel's).
        expect(out, name).toContain('192.168.10.25:51390');
      }
      expect(renderText(r, { color: false })).toContain("the legacy HTTP transport's OUT channel (the gateway's packets, from 192.168.10.25:51390, frames 1-48, connection g1 of the gateway section) and IN channel (the client's packets, from 192.168.10.25:51391, frames 13-55, connection g2 of the gateway section)");
    }
  });
});

describe.skipIf(!existsSync(cap('gateway_keylog_legacy_rap_refused.pcapng')))('a legacy channel whose partner never appears stays alone', () => {
  const only = (file: string, port: number) => analyze([{ kind: 'file', path: cap(file) }], { narrow: { filter: `tcp port ${port}` } });

  it('the IN or the OUT channel alone: no tunnelled connection is made up, the gateway section says why', async () => {
    for (const port of [51370, 51371]) {
      const r = await only('gateway_keylog_legacy_http.pcapng', port);
      expect(r.connections, String(port)).toEqual([]);
      expect(r.gateways[0]!.text).toContain('The RDP connection inside the tunnel is not analysed: the legacy HTTP transport carries its two directions on two connections (RDG_IN_DATA and RDG_OUT_DATA), and no other channel with its RDG-Connection-Id was open alongside it in the capture.');
    }
  });

  it("the refusing OUT channel alone: its own failed connection, without the target it cannot know", async () => {
    const r = await only('gateway_keylog_legacy_rap_refused.pcapng', 51390);
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    expect(c).toMatchObject({ client: '192.168.10.25:51390', server: '10.20.0.42:443', outcome: 'failed', died: { phase: 'gateway_channel', how: 'gateway_refusal' } });
    expect(c.died!.detail).toBe('the RD Gateway answered CHANNEL_RESPONSE with E_PROXY_RAP_ACCESSDENIED (frame 41)');
    expect(c.gateway!.channels).toBeUndefined();
  });
});

describe.skipIf(!existsSync(cap('gateway_keylog_legacy_rap_refused.pcapng')))('the legacy tunnel in the JSON report', () => {
  it('gateway.channels is valid against docs/report.schema.json (both fixtures)', async () => {
    const v = new SchemaValidator(JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>);
    for (const f of ['gateway_keylog_legacy_http.pcapng', 'gateway_keylog_legacy_rap_refused.pcapng']) {
      const j = JSON.parse(renderJson(await run(f)));
      expect(j.connections[0].gateway.channels, f).toHaveLength(2);
      expect(v.validate(j), f).toEqual([]);
    }
  });
});

describe.skipIf(!existsSync(cap('gateway_keylog_rpc_over_http.pcapng')))('RPC over HTTP (gateway_keylog_rpc_over_http)', () => {
  it('is recognised and said to be, not decoded: no tunnel claimed, no refusal, no finding, exit 0', async () => {
    for (const ports of [undefined, [443]]) {
      const r = await run('gateway_keylog_rpc_over_http.pcapng', ports);
      expect(r.connections).toEqual([]);
      expect(r.gateways).toHaveLength(1);
      const g = r.gateways[0]!;
      expect(g).toMatchObject({ evidence: 'shown', connections: ['g1', 'g2'], decrypted: true, refusal: null, tunnel: null, transport: 'rpc_over_http' });
      expect(g.text).toContain("they carry RD Gateway's legacy RPC over HTTP transport (RPC_IN_DATA / RPC_OUT_DATA to /rpc/rpcproxy.dll, MS-RPCH): recognised, not decoded further");
      expect(g.text).toContain("the gateway's RPC proxy accepted RPC_OUT_DATA /rpc/rpcproxy.dll?localhost:3388 (200, frame 30)");
      // The NTLM 401s (the IN channel's last one answered by the AUTHENTICATE request, whose answer never comes) are steps, not a refusal.
      expect(g.text).not.toContain('401');
      expect(r.captureFindings).toEqual([]);
      expect(exitCodeOf(r)).toBe(0);
      expect(r.summary.headline).toContain('connected through the RD Gateway 10.20.0.42:443 ("rdg.corp.example"), over the legacy RPC over HTTP transport: it is recognised, not decoded');
    }
  });

  it('every format says so', async () => {
    const r = await run('gateway_keylog_rpc_over_http.pcapng');
    for (const [name, out] of formats(r)) expect(out, name).toContain('RPC over HTTP');
    expect(JSON.parse(renderJson(r)).gateways[0].transport).toBe('rpc_over_http');
  });

  it.skipIf(!hasTshark)("tshark's HTTP and DCE/RPC decoding of the same frames: the requests, the 200, the RTS PDUs", async () => {
    const kl = ['-o', `tls.keylog_file:${cap('gateway_keylog_rpc_over_http.keylog')}`];
    const http = tsharkFields(cap('gateway_keylog_rpc_over_http.pcapng'), ['http.request.method', 'http.response.code'], [...kl, '-Y', 'http.request || http.response.code']);
    const methods = [...http.values()].map((x) => x['http.request.method'] || x['http.response.code']);
    expect(methods).toEqual(['RPC_OUT_DATA', '401', 'RPC_OUT_DATA', '401', 'RPC_IN_DATA', '401', 'RPC_IN_DATA', '401', 'RPC_OUT_DATA', 'RPC_IN_DATA', '200']);
    const ok = [...http].find(([, x]) => x['http.response.code'] === '200')![0];
    const r = await run('gateway_keylog_rpc_over_http.pcapng');
    expect(r.gateways[0]!.text).toContain(`(200, frame ${ok})`);
    // The bodies are RTS PDUs (PTYPE 20, MS-RPCH 2.2.3.6.1), which we recognise and do not read.
    const rts = tsharkFields(cap('gateway_keylog_rpc_over_http.pcapng'), ['dcerpc.pkt_type'], [...kl, '-Y', 'dcerpc']);
    expect([...rts.values()].every((x) => x['dcerpc.pkt_type'] === '20')).toBe(true);
    expect(rts.size).toBeGreaterThanOrEqual(3);
  });
});

describe.skipIf(!existsSync(cap('gateway_keylog_kdcproxy_h2.pcapng')))('the KDC proxy over HTTP/2 (gateway_keylog_kdcproxy_h2)', () => {
  it("its :status is read as the HTTP/1.1 path reads a status: 503 -> gateway_kdc_proxy_unavailable (a warning), then the tunnel opens", async () => {
    const r = await run('gateway_keylog_kdcproxy_h2.pcapng');
    // The tunnelled RDP connection is a connection of its own (gateway-tunnel.ts), completed.
    expect(r.connections.map((c) => [c.server, c.outcome])).toEqual([['rdp-srv04.corp.example:3389', 'completed']]);
    const g = r.gateways[0]!;
    expect(g).toMatchObject({ evidence: 'shown', decrypted: true, refusal: null, transport: 'websocket', tunnel: { host: 'rdp-srv04.corp.example', port: 3389, opened: true } });
    expect(g.text).toContain("the gateway's KDC proxy answered POST /KdcProxy over HTTP/2 with 503 (frame 12): Kerberos through the gateway failed, so the client falls back to NTLM");
    expect(r.captureFindings.map((f) => [f.cause, f.severity, f.confidence, f.frames])).toEqual([['gateway_kdc_proxy_unavailable', 'warning', 0.9, [11, 12]]]);
    expect(r.captureFindings[0]!.explanation).toContain('answered POST /KdcProxy over HTTP/2 with 503 (frame 12)');
    expect(r.summary.headline).toContain('its KDC proxy answered 503, so Kerberos failed and the client fell back to NTLM');
    expect(exitCodeOf(r)).toBe(0);
    for (const [name, out] of formats(r)) expect(out, name).toContain('gateway_kdc_proxy_unavailable');
  });

  it.skipIf(!hasTshark)("tshark's HTTP/2 decoding of the same frames: the HEADERS with POST /KdcProxy and the one with :status 503", async () => {
    const rows = tsharkFields(cap('gateway_keylog_kdcproxy_h2.pcapng'), ['http2.headers.method', 'http2.headers.path', 'http2.headers.status'], ['-o', `tls.keylog_file:${cap('gateway_keylog_kdcproxy_h2.keylog')}`, '-Y', 'http2.type == 1']);
    const theirs = [...rows].map(([f, x]) => [f, x['http2.headers.method'] || null, x['http2.headers.path'] || null, x['http2.headers.status'] || null]);
    expect(theirs).toEqual([
      [11, 'POST', '/KdcProxy', null],
      [12, null, null, '503'],
    ]);
    const r = await run('gateway_keylog_kdcproxy_h2.pcapng');
    expect(r.captureFindings[0]!.frames).toEqual(theirs.map(([f]) => f));
  });
});
