// The legacy HTTP transport's two channels joined (src/diagnose/gateway-legacy.ts): the OUT channel's
// CHANNEL_RESPONSE read with the IN channel's CHANNEL_CREATE (its target), one finding for the pair,
// and no pairing across clients, gateways or connection ids.
import { describe, expect, it } from 'vitest';
import { gatewayFindings, gatewayNotes } from '../../src/diagnose/gateway.js';
import { joinLegacyChannels } from '../../src/diagnose/gateway-legacy.js';
import type { DiagnosisInput } from '../../src/diagnose/types.js';
import type { GatewaySighting } from '../../src/handshake/gateway-watch.js';
import type { GatewayPlain, GatewayTsguPacket } from '../../src/handshake/gateway-plain.js';

const ID = '{9a3f52c1-7d4e-4b8a-a1c6-0e2d4f6b8c10}';

function packet(p: Partial<GatewayTsguPacket>): GatewayTsguPacket {
  return { frame: 20, by: 'server', type: 'channel_response', code: 0, codeName: 'S_OK', failed: false, ...p };
}

function channel(id: string, plain: Partial<GatewayPlain>, o: { port: number; client?: string } = { port: 50000 }): GatewaySighting {
  return {
    id,
    file: 'x.pcapng',
    fileIndex: 0,
    transport: 'tcp',
    client: { ip: o.client ?? '192.168.10.25', port: o.port },
    server: { ip: '10.20.0.42', port: 443 },
    firstFrame: 1,
    lastFrame: 60,
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
      plain: { http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null, transport: 'http', channel: null, connectionId: ID, ...plain },
    },
    ended: { how: 'fin', by: 'client', frame: 60 },
  };
}

const input = (gateways: GatewaySighting[]): DiagnosisInput => ({ connections: [], dns: [], captureEnd: [2000], names: new Map(), gateways });
/** The channel's own request, answered 200 (MS-TSGU 3.3.5.1): what makes it a tunnel attempt. */
const ok = (method: 'RDG_OUT_DATA' | 'RDG_IN_DATA', frame: number) => ({ method, target: '/remoteDesktopGateway/', requestFrame: frame, status: 200, reason: 'OK', responseFrame: frame + 1, challenges: [], authorization: 'NTLM', webSocket: false });
const OUT = (id = ID) => channel('g1', { channel: 'out', connectionId: id, http: [ok('RDG_OUT_DATA', 10)], packets: [packet({ frame: 44, code: 0x800759da, codeName: 'E_PROXY_RAP_ACCESSDENIED', failed: true })] }, { port: 50001 });
const IN = (client?: string) => channel('g2', { channel: 'in', http: [ok('RDG_IN_DATA', 30)], target: { host: 'rdp-srv09.corp.example', port: 3389, frame: 43 }, packets: [packet({ frame: 43, by: 'client', type: 'channel_create', code: null, codeName: null })] }, { port: 50002, ...(client ? { client } : {}) });

describe('the legacy HTTP transport: IN and OUT channels joined', () => {
  it("the RD RAP's refusal on the OUT channel names the IN channel's target, once for the pair", () => {
    const f = gatewayFindings(input([OUT(), IN()]));
    expect(f.map((x) => [x.cause, x.frames])).toEqual([['gateway_rap_refused', [43, 44]]]);
    expect(f[0]!.explanation).toContain('refused the tunnel to "rdp-srv09.corp.example" port 3389: CHANNEL_CREATE (frame 43) was answered by CHANNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED (frame 44)');
    const n = gatewayNotes(input([OUT(), IN()]))[0]!;
    expect(n).toMatchObject({ transport: 'http', tunnel: { host: 'rdp-srv09.corp.example', port: 3389, opened: false } });
    expect(n.refusal).toContain('refused the tunnel to "rdp-srv09.corp.example" port 3389');
  });

  it('no pairing across connection ids or clients: the OUT channel alone names no target', () => {
    for (const gs of [[OUT('{other}'), IN()], [OUT(), IN('192.168.10.26')]]) {
      const j = joinLegacyChannels(gs);
      expect(j.pairOf.size).toBe(0);
      const f = gatewayFindings(input(gs));
      expect(f[0]!.explanation).toContain('refused the tunnel to the target');
    }
  });

  it('the joined view counts both sides\' DATA packets and keeps the channels\' own HTTP exchanges', () => {
    const out = channel('g1', { channel: 'out', data: { client: 0, server: 3, firstFrame: 50 }, packets: [packet({ frame: 44 })] }, { port: 50001 });
    const inn = channel('g2', { channel: 'in', data: { client: 2, server: 0, firstFrame: 47 }, target: { host: 'srv', port: 3389, frame: 43 } }, { port: 50002 });
    const j = joinLegacyChannels([out, inn]);
    expect(j.pairOf.get('g1')).toBe('g2');
    expect(j.pairOf.get('g2')).toBe('g1');
    expect(j.sightings[0]!.tls!.plain).toMatchObject({ data: { client: 2, server: 3, firstFrame: 47 }, target: { host: 'srv' } });
    expect(j.sightings[1]).toBe(inn);
  });
});
