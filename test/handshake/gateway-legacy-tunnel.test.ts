// The legacy HTTP transport's registry (src/handshake/gateway-legacy-tunnel.ts): the IN and OUT
// channels of one tunnel (MS-TSGU 2.2.3, 3.3.5.1) find each other by client address, gateway
// endpoint and RDG-Connection-Id, and their views join into the tunnel's.
import { describe, expect, it } from 'vitest';
import { joinLegacyPlain, LegacyTunnels } from '../../src/handshake/gateway-legacy-tunnel.js';
import type { GatewayPlain } from '../../src/handshake/gateway-plain.js';
import type { Endpoint, FlowFacts } from '../../src/flow/types.js';

const ID = '{9a3f52c1-7d4e-4b8a-a1c6-0e2d4f6b8c10}';
const GW: Endpoint = { ip: '10.20.0.42', port: 443 };

function facts(id: number, client: Endpoint, server: Endpoint = GW): FlowFacts {
  return {
    id,
    transport: 'tcp',
    fileIndex: 0,
    ipVersion: 4,
    client,
    server,
    clientBy: 'syn',
    firstFrame: id,
    lastFrame: id + 10,
    start: 1000 + id,
    end: 1001 + id,
    packets: [1, 1],
    payloadBytes: [0, 0],
    badChecksums: 0,
    icmp: [],
    tcp: null,
    udp: null,
    gapBytes: [0, 0],
    cutBytes: [0, 0],
    skippedPrefix: [0, 0],
    captureDuplicates: 0,
    captureDuplicateFrames: [],
  };
}
const o = { file: 'x.pcapng', keys: null };

describe('LegacyTunnels', () => {
  it('pairs an OUT and an IN channel of the same client, gateway and RDG-Connection-Id (case-insensitive GUID)', () => {
    const reg = new LegacyTunnels();
    const out = reg.join('out', facts(1, { ip: '192.168.10.25', port: 51370 }), ID, o)!;
    expect(out.paired).toBe(false);
    const inn = reg.join('in', facts(2, { ip: '192.168.10.25', port: 51371 }), ID.toUpperCase(), o)!;
    expect(inn).toBe(out);
    expect(inn.paired).toBe(true);
  });

  it('does not pair another client, another gateway or another id; a second channel of the same kind is refused', () => {
    const reg = new LegacyTunnels();
    const out = reg.join('out', facts(1, { ip: '192.168.10.25', port: 51370 }), ID, o)!;
    expect(reg.join('in', facts(2, { ip: '192.168.10.26', port: 51371 }), ID, o)).not.toBe(out);
    expect(reg.join('in', facts(3, { ip: '192.168.10.25', port: 51372 }, { ip: '10.20.0.43', port: 443 }), ID, o)).not.toBe(out);
    expect(reg.join('in', facts(4, { ip: '192.168.10.25', port: 51373 }), '{00000000-0000-0000-0000-000000000000}', o)).not.toBe(out);
    expect(reg.join('out', facts(5, { ip: '192.168.10.25', port: 51374 }), ID, o)).toBeNull();
    expect(out.paired).toBe(false);
  });

  it('a forgotten tunnel (its channel ended alone) lets the id start a new one', () => {
    const reg = new LegacyTunnels();
    const first = reg.join('out', facts(1, { ip: '192.168.10.25', port: 51370 }), ID, o)!;
    reg.forget(first);
    const second = reg.join('in', facts(2, { ip: '192.168.10.25', port: 51371 }), ID, o)!;
    expect(second).not.toBe(first);
    expect(second.paired).toBe(false);
  });

  it('finish() waits for both channels', () => {
    const reg = new LegacyTunnels();
    const t = reg.join('out', facts(1, { ip: '192.168.10.25', port: 51370 }), ID, o)!;
    reg.join('in', facts(2, { ip: '192.168.10.25', port: 51371 }), ID, o);
    expect(t.finish()).toBeNull();
  });
});

describe('joinLegacyPlain', () => {
  const base = (over: Partial<GatewayPlain>): GatewayPlain => ({ http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null, transport: 'http', channel: null, connectionId: ID, ...over });
  it("the OUT channel's answers with the IN channel's requests, target, client name and DATA counts", () => {
    const inp = base({
      channel: 'in',
      packets: [{ frame: 43, by: 'client', type: 'channel_create', code: null, codeName: null, failed: false }],
      target: { host: 'rdp-srv09.corp.example', port: 3389, frame: 43 },
      clientName: 'WKS-ALICE',
      data: { client: 3, server: 0, firstFrame: 47 },
    });
    const out = base({
      channel: 'out',
      packets: [{ frame: 45, by: 'server', type: 'channel_response', code: 0x800759da, codeName: 'E_PROXY_RAP_ACCESSDENIED', failed: true }],
      data: { client: 0, server: 2, firstFrame: 49 },
    });
    const j = joinLegacyPlain(out, inp);
    expect(j.packets.map((k) => k.type)).toEqual(['channel_create', 'channel_response']);
    expect(j.target).toEqual({ host: 'rdp-srv09.corp.example', port: 3389, frame: 43 });
    expect(j.clientName).toBe('WKS-ALICE');
    expect(j.data).toEqual({ client: 3, server: 2, firstFrame: 47 });
    expect(j.channel).toBe('out');
  });
});
