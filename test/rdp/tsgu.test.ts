// MS-TSGU HTTP transport packets (2.2.10): byte-exact vectors laid out as the spec's structures
// (and as FreeRDP's rdg.c writes the client's), each also cut one byte short (incomplete), plus
// hostile input (fast-check): the decoder never throws, never reads past `end`, and `consumed` is
// the packetLength it checked.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTsguHeader, readTsguPacket, tsguFailed, tsguPacketTypeName, tsguResultName, TSGU_MAX_PACKET } from '../../src/rdp/tsgu.js';

const h = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf16z = (s: string): string => Buffer.from(`${s}\0`, 'utf16le').toString('hex');

// Client packets, as mstsc / FreeRDP send them.
const HANDSHAKE_REQUEST = h('0100 0000 0e000000  01 00 0000 0200'); // 1.0, clientVersion 0, extendedAuth PAA
const TUNNEL_CREATE = h('0400 0000 10000000  01000000 0000 0000'); // capsFlags QUAR_SOH, no optional field
const TUNNEL_CREATE_PAA = h(`0400 0000 1a000000  01000000 0100 0000  0800 ${Buffer.from('tok1', 'utf16le').toString('hex')}`);
const TUNNEL_AUTH = h(`0600 0000 20000000  0000 1400 ${utf16z('WKS-ALICE')}`);
const CHANNEL_CREATE = h(`0800 0000 2e000000  01 00 3d0d 0300  1e00 ${utf16z('rdp-srv01.corp')}`);
const DATA = h('0a00 0000 0f000000  0500 0300000b06');
const KEEPALIVE = h('0d00 0000 08000000');
const CLOSE_CHANNEL = h('1000 0000 0c000000  00000000');
// Server packets.
const HANDSHAKE_RESPONSE = h('0200 0000 12000000  00000000 01 00 0000 0200');
const TUNNEL_RESPONSE = h('0500 0000 1a000000  0000 00000000 0300 0000  0f000000 3f000000'); // TUNNEL_ID|CAPS
const TUNNEL_AUTH_RESPONSE = h('0700 0000 18000000  00000000 0300 0000  00000080 00000000'); // REDIR_ENABLE_ALL, idle 0
const CHANNEL_RESPONSE_REFUSED = h('0900 0000 10000000  da590780 0000 0000'); // E_PROXY_RAP_ACCESSDENIED
const CHANNEL_RESPONSE_OK = h('0900 0000 16000000  00000000 0500 0000  01000000 470d'); // CHANNELID|UDPPORT (3399)
const SERVICE_MESSAGE = h(`0b00 0000 14000000  0a00 ${utf16z('Hi!!')}`);

describe('readTsguPacket (MS-TSGU 2.2.10)', () => {
  const cases: [string, Uint8Array, unknown][] = [
    ['HTTP_HANDSHAKE_REQUEST_PACKET', HANDSHAKE_REQUEST, { type: 'handshake_request', versionMajor: 1, versionMinor: 0, clientVersion: 0, extendedAuth: 2 }],
    ['HTTP_HANDSHAKE_RESPONSE_PACKET', HANDSHAKE_RESPONSE, { type: 'handshake_response', errorCode: 0, versionMajor: 1, versionMinor: 0, serverVersion: 0, extendedAuth: 2 }],
    ['HTTP_TUNNEL_PACKET', TUNNEL_CREATE, { type: 'tunnel_create', capsFlags: 1, fieldsPresent: 0, paaCookieLength: null }],
    ['HTTP_TUNNEL_PACKET with a PAA cookie', TUNNEL_CREATE_PAA, { type: 'tunnel_create', capsFlags: 1, fieldsPresent: 1, paaCookieLength: 8 }],
    ['HTTP_TUNNEL_RESPONSE', TUNNEL_RESPONSE, { type: 'tunnel_response', serverVersion: 0, statusCode: 0, fieldsPresent: 3, tunnelId: 15, capsFlags: 0x3f, consentMessage: null }],
    ['HTTP_TUNNEL_AUTH_PACKET', TUNNEL_AUTH, { type: 'tunnel_auth', fieldsPresent: 0, clientName: 'WKS-ALICE' }],
    ['HTTP_TUNNEL_AUTH_RESPONSE', TUNNEL_AUTH_RESPONSE, { type: 'tunnel_auth_response', errorCode: 0, fieldsPresent: 3, redirFlags: 0x80000000, idleTimeout: 0 }],
    ['HTTP_CHANNEL_PACKET', CHANNEL_CREATE, { type: 'channel_create', resources: ['rdp-srv01.corp'], altResources: [], port: 3389, protocol: 3 }],
    ['HTTP_CHANNEL_RESPONSE refused', CHANNEL_RESPONSE_REFUSED, { type: 'channel_response', errorCode: 0x800759da, fieldsPresent: 0, channelId: null, udpPort: null }],
    ['HTTP_CHANNEL_RESPONSE with channel id and UDP port', CHANNEL_RESPONSE_OK, { type: 'channel_response', errorCode: 0, fieldsPresent: 5, channelId: 1, udpPort: 3399 }],
    ['HTTP_DATA_PACKET', DATA, { type: 'data', dataOff: 10, dataLength: 5 }],
    ['HTTP_SERVICE_MESSAGE', SERVICE_MESSAGE, { type: 'service_message', message: 'Hi!!' }],
    ['HTTP_KEEPALIVE_PACKET', KEEPALIVE, { type: 'keepalive' }],
    ['HTTP_CLOSE_PACKET', CLOSE_CHANNEL, { type: 'close_channel', statusCode: 0 }],
  ];
  for (const [name, bytes, value] of cases) {
    it(`${name}: decoded, and incomplete one byte short`, () => {
      expect(readTsguPacket(bytes, 0, bytes.length)).toEqual({ ok: true, value, consumed: bytes.length });
      expect(readTsguPacket(bytes, 0, bytes.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    });
  }

  it('reads at an offset, and stops at packetLength (the next packet follows)', () => {
    const two = Buffer.concat([Buffer.from([0xee, 0xee]), KEEPALIVE, DATA]);
    expect(readTsguPacket(two, 2, two.length)).toEqual({ ok: true, value: { type: 'keepalive' }, consumed: 8 });
    const d = readTsguPacket(two, 10, two.length);
    expect(d.ok && d.value).toEqual({ type: 'data', dataOff: 20, dataLength: 5 });
    expect(Buffer.from(two.subarray(20, 25)).toString('hex')).toBe('0300000b06');
  });

  it('a field that runs past packetLength is malformed, with its offset', () => {
    // cbDataLen 9 in a 15-byte packet (5 data bytes).
    const bad = Uint8Array.from(DATA);
    bad[8] = 9;
    expect(readTsguPacket(bad, 0, bad.length)).toEqual({ ok: false, kind: 'malformed', at: 8, reason: 'PKT_TYPE_DATA: data (9 bytes at offset 10) runs past packetLength 15' });
    // A channel create with no resource.
    const none = Uint8Array.from(CHANNEL_CREATE);
    none[8] = 0;
    expect(readTsguPacket(none, 0, none.length)).toMatchObject({ ok: false, kind: 'malformed', at: 8 });
  });

  it('a packetLength shorter than the header or beyond the bound is malformed; an unknown type is named', () => {
    expect(readTsguHeader(h('0100 0000 07000000'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    expect(readTsguHeader(h('0a00 0000 ffffff7f'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    expect(readTsguHeader(h('0a00 00'), 0, 3)).toEqual({ ok: false, kind: 'incomplete', needed: 5 });
    expect(readTsguPacket(h('4200 0000 08000000'), 0, 8)).toEqual({ ok: true, value: { type: 'unknown', packetType: 0x42 }, consumed: 8 });
    expect(tsguPacketTypeName(0x42)).toBe('unknown (0x0042)');
    expect(tsguPacketTypeName(9)).toBe('PKT_TYPE_CHANNEL_RESPONSE');
  });
});

describe('gateway result codes (MS-TSGU 2.2.6)', () => {
  it('names the E_PROXY_* HRESULTs and their HRESULT_CODE forms, and says which are failures', () => {
    expect(tsguResultName(0x800759da)).toBe('E_PROXY_RAP_ACCESSDENIED');
    expect(tsguResultName(0x800759dd)).toBe('E_PROXY_TS_CONNECTFAILED');
    expect(tsguResultName(0x59dd)).toBe('E_PROXY_TS_CONNECTFAILED (HRESULT_CODE)');
    expect(tsguResultName(0x800759f8)).toBe('E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED');
    expect(tsguResultName(0x12345678)).toBe('unknown (0x12345678)');
    expect(tsguFailed(0)).toBe(false);
    expect(tsguFailed(0x4ca)).toBe(false); // ERROR_GRACEFUL_DISCONNECT
    expect(tsguFailed(0x800759da)).toBe(true);
    expect(tsguFailed(0x59e6)).toBe(true); // E_PROXY_MAXCONNECTIONSREACHED
  });
});

describe('hostile input', () => {
  const runs = Number(process.env.PROP_RUNS ?? 300);
  it('never throws; ok consumes packetLength within end; incomplete asks for more; malformed points inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(12), (bytes, pad) => {
        const buf = new Uint8Array(pad + bytes.length + 16).fill(0xaa);
        buf.set(bytes, pad);
        const end = pad + bytes.length;
        const r = readTsguPacket(buf, pad, end);
        if (r.ok) {
          expect(r.consumed).toBeGreaterThanOrEqual(8);
          expect(pad + r.consumed).toBeLessThanOrEqual(end);
          if (r.value.type === 'data') expect(r.value.dataOff + r.value.dataLength).toBeLessThanOrEqual(pad + r.consumed);
        } else if (r.kind === 'incomplete') {
          expect(r.needed).toBeGreaterThan(0);
          expect(bytes.length + r.needed).toBeLessThanOrEqual(TSGU_MAX_PACKET);
        } else {
          expect(r.at).toBeGreaterThanOrEqual(0);
          expect(r.at).toBeLessThan(Math.max(bytes.length, 8));
        }
      }),
      { numRuns: runs },
    );
  });

  it('a valid packet with random fields and a random tail decodes the same as alone', () => {
    fc.assert(
      fc.property(fc.constantFrom(HANDSHAKE_REQUEST, TUNNEL_RESPONSE, TUNNEL_AUTH, CHANNEL_CREATE, CHANNEL_RESPONSE_OK, DATA, CLOSE_CHANNEL), fc.uint8Array({ maxLength: 40 }), (pkt, tail) => {
        const both = Buffer.concat([pkt, tail]);
        expect(readTsguPacket(both, 0, both.length)).toEqual(readTsguPacket(pkt, 0, pkt.length));
      }),
      { numRuns: runs },
    );
  });
});
