// The RD Gateway causes read from a decrypted MS-TSGU exchange (src/diagnose/gateway.ts gatewayFindings),
// on hand-made sightings: which answer makes which cause, its confidence, frames and filter.
import { describe, expect, it } from 'vitest';
import { gatewayFindings, gatewayNotes } from '../../src/diagnose/gateway.js';
import { diagnoseCapture } from '../../src/diagnose/index.js';
import { GATEWAY_CAUSE_IDS, type DiagnosisInput } from '../../src/diagnose/types.js';
import type { GatewaySighting } from '../../src/handshake/gateway-watch.js';
import type { GatewayHttpExchange, GatewayPlain, GatewayTsguPacket } from '../../src/handshake/gateway-plain.js';
import { TSHARK, filterError } from './tshark-filter.js';

function http(p: Partial<GatewayHttpExchange>): GatewayHttpExchange {
  return { method: 'RDG_OUT_DATA', target: '/remoteDesktopGateway/', requestFrame: 5, status: 401, reason: 'Unauthorized', responseFrame: 6, challenges: [], authorization: null, webSocket: false, ...p };
}

function packet(p: Partial<GatewayTsguPacket>): GatewayTsguPacket {
  return { frame: 20, by: 'server', type: 'channel_response', code: 0, codeName: 'S_OK', failed: false, ...p };
}

function sighting(id: string, plain: Partial<GatewayPlain>, server = { ip: '10.20.0.42', port: 443 }, client = '192.168.10.25'): GatewaySighting {
  return {
    id,
    file: 'x.pcapng',
    fileIndex: 0,
    transport: 'tcp',
    client: { ip: client, port: 50000 },
    server,
    firstFrame: 1,
    lastFrame: 30,
    start: 1000,
    end: 1001,
    packets: { client: 10, server: 10 },
    bytes: { client: 1000, server: 1000 },
    tls: {
      clientHelloFrame: 4,
      sni: 'rdg.corp.example',
      alpn: [],
      serverHelloFrame: 5,
      version: 'TLS1.2',
      certificateFrame: 5,
      certificate: null,
      certificateEncrypted: false,
      firstAppData: { client: 8, server: 9 },
      appRecords: { client: 4, server: 4 },
      alerts: [],
      decryption: 'decrypted',
      plain: { http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null, ...plain },
    },
    ended: { how: 'fin', by: 'server', frame: 30 },
  } as GatewaySighting;
}

const input = (gateways: GatewaySighting[]): DiagnosisInput => ({ connections: [], dns: [], captureEnd: [2000], names: new Map(), gateways });

describe('gatewayFindings', () => {
  it('a final 401 without credentials: gateway_auth_refused at 80%, with the reason it gives', () => {
    const f = gatewayFindings(input([sighting('g1', { http: [http({ reason: 'User Account Restricted', challenges: ['Negotiate', 'NTLM'] })] })]));
    expect(f.map((x) => [x.cause, x.confidence, x.frames])).toEqual([['gateway_auth_refused', 0.8, [5, 6]]]);
    expect(f[0]!.explanation).toContain('with 401 "User Account Restricted" offering Negotiate, NTLM (frame 6)');
    expect(f[0]!.summary).toBe('the RD Gateway refused the user\'s authentication (401 "User Account Restricted")');
  });

  it('a 401 the client answers (an NTLM step) is no refusal; a 200 after it leaves nothing', () => {
    const f = gatewayFindings(input([sighting('g1', { http: [http({}), http({ requestFrame: 7, responseFrame: 8, status: 101, reason: 'Switching Protocols', authorization: 'NTLM' })] })]));
    expect(f).toEqual([]);
  });

  it('a 401 followed by a request whose answer the capture lacks is no refusal (the client went on)', () => {
    const f = gatewayFindings(input([sighting('g1', { http: [http({}), http({ requestFrame: 7, responseFrame: null, status: null, reason: null, authorization: 'NTLM' })] })]));
    expect(f).toEqual([]);
  });

  it('a 502 to a gateway request: gateway_refused; a 503 to /KdcProxy: the warning, not gateway_refused', () => {
    const f = gatewayFindings(input([sighting('g1', { http: [http({ status: 502, reason: 'Bad Gateway' })] }), sighting('g2', { http: [http({ method: 'POST', target: '/KdcProxy', status: 503, reason: 'Service Unavailable', requestFrame: 40, responseFrame: 41 })] })]));
    expect(f.map((x) => [x.cause, x.confidence, x.frames, x.severity])).toEqual([
      ['gateway_refused', 0.85, [5, 6], undefined],
      ['gateway_kdc_proxy_unavailable', 0.75, [40, 41], 'warning'],
    ]);
  });

  it('a failed TUNNEL_RESPONSE: gateway_refused naming the code; a refused channel is told once, before any HTTP answer', () => {
    const f = gatewayFindings(input([sighting('g1', { http: [http({ status: 101, authorization: 'NTLM' })], packets: [packet({ type: 'tunnel_response', frame: 14, code: 0x800759e9, codeName: 'E_PROXY_CAPABILITYMISMATCH', failed: true })] })]));
    expect(f.map((x) => [x.cause, x.frames])).toEqual([['gateway_refused', [14]]]);
    expect(f[0]!.explanation).toContain('TUNNEL RESPONSE E_PROXY_CAPABILITYMISMATCH (frame 14)');
  });

  it('E_PROXY_TS_CONNECTFAILED and E_PROXY_RAP_ACCESSDENIED name their causes with CHANNEL_CREATE\'s frame', () => {
    const target = { host: 'srv', port: 3389, frame: 19 };
    // On the wire the channel's answer follows the RDG_OUT_DATA upgrade (MS-TSGU 3.3.5.1).
    const upgrade = [http({ status: 101, reason: 'Switching Protocols', authorization: 'NTLM', webSocket: true })];
    const a = gatewayFindings(input([sighting('g1', { http: upgrade, target, packets: [packet({ code: 0x800759dd, codeName: 'E_PROXY_TS_CONNECTFAILED', failed: true })] })]));
    const b = gatewayFindings(input([sighting('g1', { http: upgrade, target, packets: [packet({ code: 0x800759da, codeName: 'E_PROXY_RAP_ACCESSDENIED', failed: true })] })]));
    expect(a.map((x) => [x.cause, x.confidence, x.frames])).toEqual([['gateway_target_unreachable', 0.9, [19, 20]]]);
    expect(b.map((x) => [x.cause, x.confidence, x.frames])).toEqual([['gateway_rap_refused', 0.95, [19, 20]]]);
  });

  it('every gateway cause of the catalogue is given by some exchange', () => {
    const target = { host: 'srv', port: 3389, frame: 19 };
    const causes = gatewayFindings(
      input([
        sighting('g1', { http: [http({ authorization: 'NTLM' })] }),
        sighting('g2', { http: [http({ method: 'POST', target: '/KdcProxy', status: 503 })] }),
        sighting('g3', { http: [http({ status: 101, webSocket: true })], target, packets: [packet({ code: 0x800759da, codeName: 'E_PROXY_RAP_ACCESSDENIED', failed: true })] }),
        sighting('g4', { http: [http({ status: 101, webSocket: true })], target, packets: [packet({ code: 0x800759dd, codeName: 'E_PROXY_TS_CONNECTFAILED', failed: true })] }),
        sighting('g5', { http: [http({ status: 403, reason: 'Forbidden' })] }),
      ]),
    ).map((f) => f.cause);
    // The gateway_cert_* causes are read from the cleartext certificate (gateway-cert.ts; test/pipeline.gateway-cert.test.ts).
    expect([...new Set(causes)].sort()).toEqual(GATEWAY_CAUSE_IDS.filter((c) => !c.startsWith('gateway_cert_')).sort());
  });

  it('each gateway finding names the connection it concerns (Finding.connection), whatever its wording', () => {
    const target = { host: 'srv', port: 3389, frame: 19 };
    const found = gatewayFindings(
      input([
        sighting('g1', { http: [http({ authorization: 'NTLM' })] }),
        sighting('g2', { http: [http({ method: 'POST', target: '/KdcProxy', status: 503 })] }),
        sighting('g3', { http: [http({ status: 101, webSocket: true })], target, packets: [packet({ code: 0x800759da, codeName: 'E_PROXY_RAP_ACCESSDENIED', failed: true })] }),
        sighting('g4', { http: [http({ status: 101, webSocket: true })], target, packets: [packet({ code: 0x800759dd, codeName: 'E_PROXY_TS_CONNECTFAILED', failed: true })] }),
        sighting('g5', { http: [http({ status: 403, reason: 'Forbidden' })] }),
      ]),
    );
    expect(found.length).toBeGreaterThanOrEqual(5);
    for (const f of found) {
      expect(f.connection, f.explanation).toMatch(/^g[1-5]$/);
      expect(f.explanation.startsWith(`On connection ${f.connection} `), f.explanation).toBe(true);
    }
    expect(new Set(found.map((f) => f.connection))).toEqual(new Set(['g1', 'g2', 'g3', 'g4', 'g5']));
  });

  it("other HTTPS decrypted with the same key log (a browser's 401 or 403) is no gateway refusing anyone: no finding, no refusal", () => {
    const web = [sighting('g1', { http: [http({ method: 'GET', target: '/', authorization: 'Negotiate' })] }), sighting('g2', { http: [http({ method: 'GET', target: '/admin', status: 403, reason: 'Forbidden' })] })];
    expect(gatewayFindings(input(web))).toEqual([]);
    expect(gatewayNotes(input(web)).map((n) => n.refusal)).toEqual([null]);
  });

  it('no decrypted plaintext (no key log): no finding', () => {
    const g = sighting('g1', {});
    g.tls!.plain = null;
    expect(gatewayFindings(input([g]))).toEqual([]);
  });

  it("the note says what the cleartext shows: an answer that is no readable ServerHello is not 'no ServerHello'; encrypted data from one side only is said so", () => {
    const bad = sighting('g1', {});
    bad.tls = { ...bad.tls!, plain: null, decryption: null, serverHelloFrame: null, version: null, certificateFrame: null, firstAppData: { client: null, server: null }, appRecords: { client: 0, server: 0 } } as GatewaySighting['tls'];
    bad.bytes = { client: 52, server: 1073 };
    expect(gatewayNotes(input([bad]))[0]!.text).toContain('ClientHello in frame 4 (SNI "rdg.corp.example"), the gateway answered (1073 bytes) but with no ServerHello that could be read');
    bad.bytes = { client: 52, server: 0 };
    expect(gatewayNotes(input([bad]))[0]!.text).toContain('no ServerHello followed');
    const half = sighting('g2', {});
    half.tls = { ...half.tls!, plain: null, decryption: null, firstAppData: { client: 8, server: null } } as GatewaySighting['tls'];
    expect(gatewayNotes(input([half]))[0]!.text).toContain('handshake started (ServerHello in frame 5) but only the client sent encrypted data after it');
    half.tls!.firstAppData = { client: null, server: null };
    expect(gatewayNotes(input([half]))[0]!.text).toContain('but no encrypted data followed from either side');
  });

  it('capture findings put the warning below a failure even when it is more confident', () => {
    const kdc = sighting('g1', { http: [http({ method: 'POST', target: '/KdcProxy', status: 503, requestFrame: 5, responseFrame: 6 })] });
    const refused = sighting('g2', { http: [http({ requestFrame: 12, responseFrame: 13, authorization: 'NTLM' }), http({ requestFrame: 14, responseFrame: 15 })] });
    refused.tls!.plain!.http[0]!.authorization = 'NTLM';
    const all = diagnoseCapture(input([kdc, refused]), new Map());
    expect(all.map((x) => x.cause)).toEqual(['gateway_auth_refused', 'gateway_kdc_proxy_unavailable']);
  });

  it.skipIf(!TSHARK)('the display filters compile in tshark (IPv4 and IPv6)', () => {
    const v4 = gatewayFindings(input([sighting('g1', { http: [http({})] })]));
    const v6 = gatewayFindings(input([sighting('g1', { http: [http({})] }, { ip: 'fd00::42', port: 443 }, 'fd00::25')]));
    expect(v6[0]!.filter).toContain('ipv6.addr == fd00::42');
    for (const f of [...v4, ...v6]) expect(filterError(f.filter), f.filter).toBe('');
  });
});
