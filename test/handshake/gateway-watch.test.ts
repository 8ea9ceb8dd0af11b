// Issue 14, step 1: the flow table's gateway ports, GatewayWatch (what the cleartext of an HTTPS
// connection to 443 shows) and src/diagnose/gateway.ts (what the sightings prove), on hand-built
// frames and sightings.
import { describe, expect, it } from 'vitest';
import { Conn, Harness, handshake, udpFrame, ACK, FIN, PSH } from '../flow/harness.js';
import { GatewayWatch, type GatewaySighting } from '../../src/handshake/gateway-watch.js';
import { gatewayClause, gatewayLikeName, gatewayNotes } from '../../src/diagnose/gateway.js';
import type { DiagnosisInput } from '../../src/diagnose/types.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import type { FlowFacts } from '../../src/flow/types.js';
import { clientHello, record, handshake as hs, serverHelloBody, ccs, encrypted } from './tls-bytes.js';

const GW = { tcp: [443], udp: [3391] };

describe('FlowTable gateway ports', () => {
  it('tracks TCP 443 and UDP 3391 flows, numbered apart from the RDP flows, and no UDP 443 (QUIC) or TCP 3391', () => {
    const h = new Harness({ gatewayPorts: GW });
    const https = new Conn('192.0.2.10', 50000, '198.51.100.5', 443);
    handshake(h, https);
    const rdp = new Conn('192.0.2.10', 50001, '198.51.100.6', 3389);
    handshake(h, rdp);
    h.feed(udpFrame({ src: '192.0.2.10', dst: '198.51.100.5', ttl: 64 }, 50002, 3391, Buffer.alloc(40)));
    h.feed(udpFrame({ src: '192.0.2.10', dst: '198.51.100.5', ttl: 64 }, 50003, 443, Buffer.alloc(40)));
    const tcp3391 = new Conn('192.0.2.10', 50004, '198.51.100.5', 3391);
    handshake(h, tcp3391);
    h.finish();
    const seen = h.consumers.map((c) => `${c.facts.transport} ${c.facts.server.port} ${c.facts.id}`);
    expect(seen).toEqual(['tcp 443 1', 'tcp 3389 1', 'udp 3391 2']);
    expect(h.table.stats.flowsTracked).toBe(1);
    expect(h.table.stats.gatewayFlows).toBe(2);
  });

  it('without gatewayPorts nothing on 443 is tracked; an RDP port that is also a gateway port stays an RDP port', () => {
    const h = new Harness();
    handshake(h, new Conn('192.0.2.10', 50000, '198.51.100.5', 443));
    expect(h.consumers).toEqual([]);
    const both = new Harness({ rdpPorts: [3389, 443], gatewayPorts: GW });
    handshake(both, new Conn('192.0.2.10', 50000, '198.51.100.5', 443));
    both.finish();
    expect(both.table.stats).toMatchObject({ flowsTracked: 1, gatewayFlows: 0 });
  });
});

function facts(transport: 'tcp' | 'udp' = 'tcp'): FlowFacts {
  return {
    id: 1,
    transport,
    fileIndex: 0,
    ipVersion: 4,
    client: { ip: '192.0.2.10', port: 50000 },
    server: { ip: '198.51.100.5', port: transport === 'tcp' ? 443 : 3391 },
    clientBy: 'syn',
    firstFrame: 1,
    lastFrame: 9,
    start: 100,
    end: 160,
    packets: [5, 4],
    payloadBytes: [900, 30_000],
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

function watch(feed: (w: GatewayWatch) => void, f = facts()): Omit<GatewaySighting, 'id'>[] {
  const out: Omit<GatewaySighting, 'id'>[] = [];
  const w = new GatewayWatch(f, 'x.pcap', (s) => out.push(s));
  feed(w);
  w.onEnd(f, 'closed', 200);
  return out;
}

describe('GatewayWatch', () => {
  const hello = clientHello({ sni: 'rdg.example.test' });
  const serverFlight = Buffer.concat([record(22, hs(2, serverHelloBody())), ccs(), encrypted(22, 40)]);

  it('keeps the SNI, the ServerHello, the first application data of each side and how the connection ended', () => {
    const [s] = watch((w) => {
      // The ClientHello split over two segments, as TCP may deliver it.
      expect(w.onData(0, hello.subarray(0, 20), 4, 100.1)).toBe(true);
      w.onData(0, hello.subarray(20), 5, 100.1);
      w.onData(1, serverFlight, 6, 100.2);
      w.onData(0, Buffer.concat([ccs(), encrypted(22, 40), encrypted(23, 600)]), 7, 100.3);
      w.onData(1, encrypted(23, 300), 8, 100.4);
      w.onTcpEvent({ kind: 'fin', dir: 1, frame: 9, time: 160, retransmission: false });
    });
    expect(s!.tls).toMatchObject({ clientHelloFrame: 5, sni: 'rdg.example.test', serverHelloFrame: 6, version: 'TLS1.2', firstAppData: { client: 7, server: 8 }, appRecords: { client: 1, server: 1 } });
    expect(s!.ended).toEqual({ how: 'fin', by: 'server', frame: 9 });
    expect(s!.bytes).toEqual({ client: 900, server: 30_000 });
  });

  it('a client that does not start with a TLS handshake record is no gateway connection: nothing is reported, no more bytes asked', () => {
    const out = watch((w) => {
      expect(w.onData(0, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 4, 100)).toBe(false);
    });
    expect(out).toEqual([]);
    // An X.224 Connection Request (TPKT 03 00): RDP on 443 is not HTTPS either.
    expect(watch((w) => w.onData(0, Buffer.from('0300002b26e00000000000', 'hex'), 4, 100))).toEqual([]);
    // A TLS record that is not a handshake record first.
    expect(watch((w) => w.onData(0, encrypted(23, 100), 4, 100))).toEqual([]);
  });

  it('a UDP flow to 3391 is reported with its counts only', () => {
    const [s] = watch((w) => expect(w.onData(0, Buffer.alloc(100), 3, 100)).toBe(false), facts('udp'));
    expect(s).toMatchObject({ transport: 'udp', tls: null, ended: null, server: { port: 3391 } });
  });

  it('hostile bytes never throw and never report a TLS connection the client did not open', () => {
    for (let seed = 1; seed < 300; seed++) {
      let x = seed;
      const next = (): number => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24);
      const junk = Buffer.from(Array.from({ length: 5 + (next() % 200) }, next));
      if (seed % 3 === 0) junk[0] = 22;
      if (seed % 3 === 0) junk[1] = 3;
      const out = watch((w) => {
        w.onData(0, junk, 4, 100);
        w.onData(1, junk, 5, 100);
      });
      for (const s of out) expect(s.tls!.clientHelloFrame).toBe(4);
    }
  });
});

function sighting(id: string, o: Partial<GatewaySighting> & { sni?: string | null }): GatewaySighting {
  const transport = o.transport ?? 'tcp';
  return {
    id,
    file: 'x.pcap',
    fileIndex: 0,
    transport,
    client: { ip: '192.0.2.10', port: 50000 },
    server: { ip: '198.51.100.5', port: transport === 'tcp' ? 443 : 3391 },
    firstFrame: 1,
    lastFrame: 50,
    start: 100,
    end: 130,
    packets: { client: 10, server: 20 },
    bytes: { client: 5000, server: 90_000 },
    tls:
      transport === 'tcp'
        ? {
            clientHelloFrame: 4,
            sni: o.sni === undefined ? 'web.example.test' : o.sni,
            alpn: [],
            serverHelloFrame: 5,
            version: 'TLS1.2',
            certificateFrame: null,
            certificate: null,
            certificateEncrypted: false,
            firstAppData: { client: 8, server: 9 },
            appRecords: { client: 3, server: 9 },
            alerts: [],
            decryption: null,
            plain: null,
          }
        : null,
    ended: transport === 'tcp' ? { how: 'fin', by: 'client', frame: 50 } : null,
    ...o,
  };
}

function input(gateways: GatewaySighting[], connections: Partial<ConnectionRecord>[] = []): DiagnosisInput {
  return { connections: connections as ConnectionRecord[], dns: [], captureEnd: [200], names: new Map(), gateways };
}

describe('gatewayNotes', () => {
  it('names a gateway by its first label only', () => {
    for (const n of ['rdg.corp.example', 'RDGW01.corp.example', 'gateway.example.test', 'rds-gw.example', 'tsg.example', '*.rdweb.example'] ) expect(gatewayLikeName(n), n).toBe(true);
    for (const n of ['www.example.test', 'intranet.corp.example', 'mail.rdg.example', 'gatewayed.example', 'rdp-srv01.corp.example']) expect(gatewayLikeName(n), n).toBe(false);
  });

  it('UDP 3391 from the same client to the same host proves it (shown)', () => {
    const notes = gatewayNotes(input([sighting('g1', {}), sighting('g2', { transport: 'udp', firstFrame: 30 })]));
    expect(notes.map((n) => [n.evidence, n.connections, n.udpConnections, n.frames])).toEqual([['shown', ['g1'], ['g2'], [4, 30]]]);
    expect(gatewayClause(notes)).toMatch(/^192\.0\.2\.10 connected through the RD Gateway 198\.51\.100\.5:443 \("web\.example\.test"\)/);
  });

  it('a gateway-like SNI makes it likely, even beside direct RDP from the client', () => {
    const notes = gatewayNotes(input([sighting('g1', { sni: 'rdg.corp.example' })], [{ fileIndex: 0, flow: { client: { ip: '192.0.2.10' } } as FlowFacts }]));
    expect(notes.map((n) => n.evidence)).toEqual(['likely']);
    expect(gatewayClause(notes)).toContain('most likely connected through an RD Gateway at 198.51.100.5:443');
  });

  it('plain HTTPS is only possible, and only from a client with no direct RDP connection', () => {
    expect(gatewayNotes(input([sighting('g1', {})])).map((n) => n.evidence)).toEqual(['possible']);
    expect(gatewayNotes(input([sighting('g1', {})], [{ fileIndex: 0, flow: { client: { ip: '192.0.2.10' } } as FlowFacts }]))).toEqual([]);
    expect(gatewayClause(gatewayNotes(input([sighting('g1', {})])))).toBe("1 HTTPS connection was seen that could be an RD Gateway's; a key log (--keylog) would tell");
  });

  it('many HTTPS hosts: the busiest few by name, the rest counted in one line', () => {
    const list = Array.from({ length: 8 }, (_, i) => sighting(`g${i + 1}`, { server: { ip: `198.51.100.${10 + i}`, port: 443 }, end: 100 + i }));
    const notes = gatewayNotes(input(list));
    expect(notes).toHaveLength(6);
    expect(notes[0]!.gateway).toBe('198.51.100.17:443');
    expect(notes[5]!.text).toBe("3 more HTTPS connections to 3 other hosts could also be RD Gateway connections.");
    expect(gatewayClause(notes)).toMatch(/^8 HTTPS connections were seen/);
  });

  it('UDP 3391 alone says the HTTPS part is missing; an expired gateway certificate and a clear alert are told', () => {
    const udpOnly = gatewayNotes(input([sighting('g1', { transport: 'udp', firstFrame: 7 })]));
    expect(udpOnly[0]!.text).toContain('its HTTPS connection to that gateway is not in the capture');
    const cert = { subject: 'CN=rdg.corp.example', issuer: 'CN=ca', san: [], notBefore: '2020-01-01T00:00:00Z', notAfter: '1970-01-01T00:01:00Z', selfSigned: false, keyType: null, keyBits: null, signatureAlgorithm: null, serialNumber: null, sha256: '' };
    const s = sighting('g1', { sni: null });
    s.tls = { ...s.tls!, certificate: cert, certificateFrame: 6, alerts: [{ frame: 7, by: 'client', description: 'certificate_expired' }] };
    const n = gatewayNotes(input([s]));
    expect(n[0]!.evidence).toBe('likely'); // the certificate's CN names a gateway
    expect(n[0]!.text).toContain('the client ended the TLS handshake with alert certificate_expired (frame 7)');
    expect(n[0]!.text).toContain("the gateway's certificate expired on 1970-01-01 00:01:00 UTC (frame 6)");
  });
});

describe('the headline clause beside RDP connections', () => {
  it('leaves out HTTPS that only could be a gateway (it stays in the section), keeps proven and likely gateways', () => {
    expect(gatewayClause(gatewayNotes(input([sighting('g1', {})])), false)).toBeNull();
    expect(gatewayClause(gatewayNotes(input([sighting('g1', { sni: 'rdg.corp.example' })])), false)).toContain('most likely connected through an RD Gateway');
  });
});

describe('GatewayPlainReader on hostile plaintext', () => {
  it('never throws, keeps its lists bounded, and stops on bytes that are not HTTP', async () => {
    const { GatewayPlainReader } = await import('../../src/handshake/gateway-plain.js');
    const notHttp = new GatewayPlainReader();
    notHttp.push(0, Buffer.from([0x16, 0x03, 0x01, 0x00]), 3);
    expect(notHttp.out.problem).toMatch(/^the client's plaintext at frame 3 is not HTTP/);
    for (let seed = 1; seed < 200; seed++) {
      let x = seed;
      const next = (): number => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24);
      const r = new GatewayPlainReader();
      // A 101 first, so that what follows is read as WebSocket frames and MS-TSGU packets.
      r.push(0, Buffer.from('RDG_OUT_DATA / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n'), 1);
      r.push(1, Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'), 2);
      for (let k = 0; k < 5; k++) r.push((k & 1) as 0 | 1, Buffer.from(Array.from({ length: 1 + (next() % 90) }, next)), 3 + k);
      expect(r.out.packets.length).toBeLessThanOrEqual(32);
    }
  });
});

describe('the headline clause with several gateways', () => {
  it('leads with a gateway that refused the connection', () => {
    const refused = { evidence: 'shown' as const, client: '192.0.2.10', gateway: '198.51.100.9:443', names: [], connections: ['g2'], udpConnections: [], frames: [4], text: '', refusal: 'the gateway refused X (frame 9)', decrypted: true, tunnel: null };
    const plain = gatewayNotes(input([sighting('g1', { transport: 'udp' }), sighting('g3', {})]));
    expect(gatewayClause([...plain, refused])).toBe('192.0.2.10 connected through the RD Gateway 198.51.100.9:443 (and 1 more gateway), and the gateway refused X');
  });
});
