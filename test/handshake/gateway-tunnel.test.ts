// gateway-plain.ts's onTunnelData hook (the data of MS-TSGU DATA packets, 2.2.10.6, whatever frames
// carried them) and gateway-tunnel.ts (which decrypted gateway connections are tunnel attempts, the
// gateway's refusal, the target as text), on byte-exact plaintext.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayPlainReader, type GatewayPlain } from '../../src/handshake/gateway-plain.js';
import { carriesBothDirections, gatewayRefusal, isLegacyChannel, isTunnelAttempt, targetText } from '../../src/handshake/gateway-tunnel.js';

const RUNS = Number(process.env.PROP_RUNS ?? 200);

/** HTTP_PACKET_HEADER (MS-TSGU 2.2.10.9) + body. */
function packet(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(type, 0);
  h.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([h, body]);
}
/** HTTP_DATA_PACKET (2.2.10.6): cbDataLen then the data. */
function data(rdp: Buffer): Buffer {
  const n = Buffer.alloc(2);
  n.writeUInt16LE(rdp.length, 0);
  return packet(0x0a, Buffer.concat([n, rdp]));
}
/** A binary WebSocket frame (RFC 6455 5.2), masked with `mask` when given (the client's). */
function ws(payload: Buffer, mask: number | null, fin = true, opcode = 0x2): Buffer {
  const n = payload.length;
  const first = (fin ? 0x80 : 0) | opcode;
  const len = n < 126 ? Buffer.from([(mask !== null ? 0x80 : 0) | n]) : Buffer.from([(mask !== null ? 0x80 : 0) | 126, n >> 8, n & 0xff]);
  if (mask === null) return Buffer.concat([Buffer.from([first]), len, payload]);
  const key = Buffer.alloc(4);
  key.writeUInt32BE(mask >>> 0, 0);
  return Buffer.concat([Buffer.from([first]), len, key, Buffer.from(payload.map((x, i) => x ^ key[i & 3]!))]);
}
const UPGRADE = Buffer.from('RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 'latin1');
const SWITCH = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n', 'latin1');
const CR = Buffer.from('0300002b26e00000000000436f6f6b69653a206d737473686173683d616c6963650d0a0100080003000000', 'hex');

function reader(): { r: GatewayPlainReader; got: [number, string, number][] } {
  const got: [number, string, number][] = [];
  const r = new GatewayPlainReader((dir, b, frame) => got.push([dir, b.toString('hex'), frame]));
  r.push(0, UPGRADE, 9);
  r.push(1, SWITCH, 10);
  return { r, got };
}

describe('GatewayPlainReader: the tunnelled bytes (onTunnelData)', () => {
  it('hands each DATA packet\'s data, byte-exact, with its direction and the frame that completed it; other packets are not data', () => {
    const { r, got } = reader();
    r.push(0, ws(packet(0x4, Buffer.from('3f00000000000000', 'hex')), 0x11223344), 11); // TUNNEL_CREATE (2.2.10.18)
    r.push(0, ws(data(CR), 0x01020304), 12);
    r.push(1, ws(data(Buffer.from('030000130ed000001234000201080008000000', 'hex')), null), 13);
    r.push(1, ws(packet(0x0d, Buffer.alloc(0)), null), 14); // KEEPALIVE
    expect(got).toEqual([
      [0, CR.toString('hex'), 12],
      [1, '030000130ed000001234000201080008000000', 13],
    ]);
    expect(r.out.data).toEqual({ client: 1, server: 1, firstFrame: 12 });
  });

  it('a DATA packet split over WebSocket fragments and TLS records is handed once, at the frame that completed it', () => {
    const { r, got } = reader();
    const p = Buffer.concat([data(CR), data(Buffer.from('abcd', 'hex'))]);
    // A fragmented message (RFC 6455 5.4): a binary frame without FIN, then a continuation with FIN.
    const a = ws(p.subarray(0, 20), 0x0a0b0c0d, false, 0x2);
    const b = ws(p.subarray(20), 0x01010101, true, 0x0);
    const all = Buffer.concat([a, b]);
    r.push(0, all.subarray(0, 7), 20);
    r.push(0, all.subarray(7, 30), 21);
    r.push(0, all.subarray(30), 22);
    expect(got).toEqual([
      [0, CR.toString('hex'), 22],
      [0, 'abcd', 22],
    ]);
  });

  it('an empty DATA packet hands nothing; without a callback nothing is handed (and nothing breaks)', () => {
    const { r, got } = reader();
    r.push(1, ws(data(Buffer.alloc(0)), null), 30);
    expect(got).toEqual([]);
    const quiet = new GatewayPlainReader();
    quiet.push(0, UPGRADE, 1);
    quiet.push(1, SWITCH, 2);
    quiet.push(0, ws(data(CR), 7), 3);
    expect(quiet.out.data.client).toBe(1);
  });

  it('any split of the stream hands the same bytes in the same order (property)', () => {
    const payloads = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(payloads, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (ps, cuts) => {
        const { r, got } = reader();
        const stream = Buffer.concat(ps.map((p, i) => ws(data(Buffer.from(p)), 0x1000 + i)));
        let off = 0;
        let frame = 100;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          r.push(0, stream.subarray(off, off + n), frame++);
          off += n;
        }
        const want = ps.filter((p) => p.length > 0).map((p) => Buffer.from(p).toString('hex'));
        return JSON.stringify(got.map((g) => g[1])) === JSON.stringify(want) && got.every((g) => g[0] === 0);
      }),
      { numRuns: RUNS },
    );
  });
});

const empty = (): GatewayPlain => ({ http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null });
const http = (x: Partial<GatewayPlain['http'][number]>): GatewayPlain['http'][number] => ({ method: 'RDG_OUT_DATA', target: '/remoteDesktopGateway/', requestFrame: 1, status: null, reason: null, responseFrame: null, challenges: [], authorization: null, webSocket: false, ...x });
const pkt = (type: string, frame: number, code: number | null, failed = false, by: 'client' | 'server' = 'server'): GatewayPlain['packets'][number] => ({ frame, by, type, code, codeName: code === null ? null : failed ? 'E_PROXY_X' : 'S_OK', failed });

describe('gateway-tunnel', () => {
  it('a tunnel attempt is an RDG_OUT_DATA / RDG_IN_DATA request; a KDC proxy POST or a browser\'s WebSocket is not', () => {
    expect(isTunnelAttempt(empty())).toBe(false);
    expect(isTunnelAttempt({ ...empty(), http: [http({ method: 'POST', target: '/KdcProxy', status: 503, responseFrame: 2 })] })).toBe(false);
    // Other HTTPS decrypted with the same key log (SSLKEYLOGFILE is the browser's too), even a WebSocket whose frames happen to parse.
    expect(isTunnelAttempt({ ...empty(), http: [http({ method: 'GET', target: '/socket', status: 101, responseFrame: 2, webSocket: true })], packets: [pkt('unknown', 3, null)] })).toBe(false);
    expect(isTunnelAttempt({ ...empty(), http: [http({})] })).toBe(true);
    expect(isTunnelAttempt({ ...empty(), http: [http({ method: 'RDG_IN_DATA' })] })).toBe(true);
  });

  it('the refusal: a failed tunnel or channel answer, else the final 401 (not one the client answered), else a 403 / 5xx; none once the channel opened', () => {
    expect(gatewayRefusal(empty())).toBeNull();
    // A 401 the client answered with another request is a step of NTLM (RFC 4559), not a refusal.
    const steps = [http({ status: 401, responseFrame: 2 }), http({ requestFrame: 3, authorization: 'NTLM', status: 101, responseFrame: 4, webSocket: true })];
    expect(gatewayRefusal({ ...empty(), http: steps })).toBeNull();
    expect(gatewayRefusal({ ...empty(), http: [http({ status: 401, responseFrame: 2 }), http({ requestFrame: 3, authorization: 'NTLM' })] })).toBeNull();
    expect(gatewayRefusal({ ...empty(), http: [http({ status: 401, responseFrame: 2 })] })).toMatchObject({ phase: 'gateway_auth', frame: 2 });
    expect(gatewayRefusal({ ...empty(), http: [http({ status: 403, responseFrame: 6 })] })).toMatchObject({ phase: 'gateway_auth', frame: 6 });
    // The KDC proxy's 503 is not the gateway refusing the tunnel.
    expect(gatewayRefusal({ ...empty(), http: [http({ method: 'POST', target: '/KdcProxy', status: 503, responseFrame: 2 })] })).toBeNull();
    expect(gatewayRefusal({ ...empty(), http: steps, packets: [pkt('tunnel_response', 8, 0x800759f8, true)] })).toMatchObject({ phase: 'gateway_tunnel', frame: 8 });
    const target = { host: 'rdp-srv09.corp.example', port: 3389, frame: 9 };
    const refused = gatewayRefusal({ ...empty(), http: steps, target, packets: [pkt('channel_create', 9, null, false, 'client'), pkt('channel_response', 10, 0x800759da, true)] });
    expect(refused).toMatchObject({ phase: 'gateway_channel', frame: 10 });
    expect(refused!.what).toContain('"rdp-srv09.corp.example" port 3389');
    // Once the channel opened, a failed close is not a refusal of the attempt.
    expect(gatewayRefusal({ ...empty(), http: steps, target, packets: [pkt('channel_response', 10, 0), pkt('close_channel', 30, 0x8007_0000 + 5, true)] })).toBeNull();
  });

  it('the legacy HTTP transport (RDG_IN_DATA, RDG_OUT_DATA answered 200) carries one direction per connection; the WebSocket upgrade both', () => {
    const ws101 = { ...empty(), http: [http({ status: 101, responseFrame: 2, webSocket: true })] };
    expect(isLegacyChannel(ws101)).toBe(false);
    expect(carriesBothDirections(ws101)).toBe(true);
    const out200 = { ...empty(), http: [http({ status: 200, responseFrame: 2 })] };
    expect(isLegacyChannel(out200)).toBe(true);
    expect(carriesBothDirections(out200)).toBe(false);
    const inData = { ...empty(), http: [http({ method: 'RDG_IN_DATA' })] };
    expect(isLegacyChannel(inData)).toBe(true);
    expect(carriesBothDirections(inData)).toBe(false);
    // An upgrade not (yet) answered: nothing is read as the tunnel's stream.
    expect(carriesBothDirections({ ...empty(), http: [http({ webSocket: true })] })).toBe(false);
  });

  it('the target as text: host:port, a name with a colon in brackets, brackets in the name written %5B / %5D', () => {
    expect(targetText({ host: 'rdp-srv01.corp.example', port: 3389 })).toBe('rdp-srv01.corp.example:3389');
    expect(targetText({ host: 'fd00::15', port: 3389 })).toBe('[fd00::15]:3389');
    expect(targetText({ host: 'a]b[c', port: 1 })).toBe('a%5Db%5Bc:1');
    expect(targetText({ host: '', port: 3389 })).toBe('[]:3389');
  });
});
