import { describe, expect, it } from 'vitest';
import { decodeRdpudpSyn, looksLikeRdpudpSyn, readRdpudpFecHeader } from '../../src/rdp/rdpeudp.js';
import { be16, cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, ok } from './tpkt-helpers.js';

// The first datagram of an RDPEUDP side channel, as zeek's rdpeudp2-handshake-success.pcap frame 1 carries it
// (SYN | CORRELATION_ID | SYNEX, version 0x0101), without the zero padding to the MTU.
const SYN_V3 = hex(`ff ff ff ff 00 40 18 01 a7 eb 5d a4 04 d0 04 d0
a2 e2 c8 18 6d e3 4f 1e 8d 0f 91 75 e4 cd 00 00 ${'00 '.repeat(16)}
00 01 01 01 ${'00 '.repeat(32)}`);
// SYN+ACK, SYNEX version 2.
const SYNACK_V2 = cat(hex('a7 eb 5d a4 00 40'), be16(0x1005), hex('05 47 d7 2b 04 d0 04 d0 00 01 00 02'));

describe('RDPEUDP SYN / SYN+ACK (MS-RDPEUDP 2.2.2.1, 2.2.2.5, 2.2.2.8, 2.2.2.9)', () => {
  it('decodes a client SYN with a correlation id and SYNEX version 3', () => {
    const v = ok(decodeRdpudpSyn(SYN_V3, 0, SYN_V3.length));
    expect(v).toEqual({
      snSourceAck: 0xffffffff,
      uReceiveWindowSize: 64,
      uFlags: 0x1801,
      flagNames: ['RDPUDP_FLAG_SYN', 'RDPUDP_FLAG_CORRELATION_ID', 'RDPUDP_FLAG_SYNEX'],
      isSynAck: false,
      lossy: false,
      snInitialSequenceNumber: 0xa7eb5da4,
      uUpStreamMtu: 1232,
      uDownStreamMtu: 1232,
      correlationId: 'a2e2c8186de34f1e8d0f9175e4cd0000',
      synExFlags: 1,
      udpVersion: 0x0101,
      udpVersionName: 'RDPUDP_PROTOCOL_VERSION_3',
    });
    expectIncompleteAtEveryCut(decodeRdpudpSyn, SYN_V3, 2);
  });
  it('decodes a server SYN+ACK with version 2', () => {
    const v = ok(decodeRdpudpSyn(SYNACK_V2, 0, SYNACK_V2.length));
    expect(v).toMatchObject({ isSynAck: true, snSourceAck: 0xa7eb5da4, udpVersion: 2, udpVersionName: 'RDPUDP_PROTOCOL_VERSION_2', correlationId: null });
    expectIncompleteAtEveryCut(decodeRdpudpSyn, SYNACK_V2);
  });
  it('accepts zero padding after the payloads (datagrams are padded to the MTU)', () => {
    const padded = cat(SYNACK_V2, new Uint8Array(1200));
    expect(ok(decodeRdpudpSyn(padded, 0, padded.length)).udpVersion).toBe(2);
  });
  it('reports an unknown version number as such', () => {
    const b = Uint8Array.from(SYNACK_V2);
    b[19] = 3;
    expect(ok(decodeRdpudpSyn(b, 0, b.length))).toMatchObject({ udpVersion: 3, udpVersionName: 'unknown (0x0003)' });
  });
  it('rejects a datagram without SYN and MTUs out of range', () => {
    const noSyn = Uint8Array.from(SYNACK_V2);
    noSyn[7] = 0x04;
    expect(decodeRdpudpSyn(noSyn, 0, noSyn.length)).toMatchObject({ ok: false, kind: 'malformed', at: 6 });
    const mtu = Uint8Array.from(SYNACK_V2);
    mtu[12] = 0x01;
    expect(decodeRdpudpSyn(mtu, 0, mtu.length)).toMatchObject({ ok: false, kind: 'malformed', at: 12 });
  });
  it('looksLikeRdpudpSyn', () => {
    expect(looksLikeRdpudpSyn(SYN_V3, 0, SYN_V3.length)).toBe(true);
    expect(looksLikeRdpudpSyn(SYNACK_V2, 0, SYNACK_V2.length)).toBe(true);
    expect(looksLikeRdpudpSyn(SYN_V3, 0, 15)).toBe(false);
    expect(looksLikeRdpudpSyn(hex('16 fe fd 00 00 00 00 00 00 00 00 00 00 00 00 00'), 0, 16)).toBe(false);
  });
  it('reads the FEC header alone', () => {
    expect(ok(readRdpudpFecHeader(SYN_V3, 0, 8))).toEqual({ snSourceAck: 0xffffffff, uReceiveWindowSize: 64, uFlags: 0x1801 });
    expectIncompleteAtEveryCut(readRdpudpFecHeader, SYN_V3.subarray(0, 8));
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeRdpudpSyn, [hex('ff ff ff ff 00 40 18 01'), hex('00 00 00 00 00 40 10 05 00 00 00 00 04 d0 04 d0')]);
  });
});
