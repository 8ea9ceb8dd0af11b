import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decode, hex } from './helpers.js';
import { checkIpChecksum, checkTransportChecksum } from '../../src/net/checksum.js';

const ip4 = { src: '192.168.1.200', dst: '192.168.1.150' };
const ip6 = { src: '2001:db8::1', dst: '2001:db8::2' };

describe('RFC 1071 checksums', () => {
  it('the builder reproduces a textbook IPv4 header checksum (0xb861)', () => {
    // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
    expect(f.internetChecksum(hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7'))).toBe(0xb861);
  });

  it('literal packets validated with tshark are good', () => {
    const frame = hex(`
      00155d010203 00155d0a0b0c 0800
      4500 0034 1234 4000 8006 63e1 c0a8 01c8 c0a8 0196
      c036 0d3d 8a5b 1c7e 0000 0000 8002 2000 5614 0000 0204 05b4 0103 0308 0101 0402`);
    const p = decode(frame, 1);
    expect(checkIpChecksum(p)).toBe(true);
    expect(p.ipChecksumOk).toBe(true);
    expect(checkTransportChecksum(p)).toBe(true);
    expect(p.l4ChecksumOk).toBe(true);
    const v6 = decode(hex(`
      6000 0000 0029 11ff 20010db8000000000000000000000001 20010db8000000000000000000000035
      cf08 0035 0029 d698
      abcd 0100 0001 0000 0000 0000 03726470 076578616d706c65 03636f6d 00 001c 0001`), 101);
    expect(checkIpChecksum(v6)).toBeNull();
    expect(checkTransportChecksum(v6)).toBe(true);
  });

  it('one flipped bit anywhere makes them bad', () => {
    const frame = f.ethernet(f.ipv4(f.tcp(Buffer.from('hello'), { srcPort: 1, dstPort: 3389, seq: 5, ack: 6, flags: 0x18 }, ip4), 6, ip4));
    for (const at of [14 + 8, 14 + 15, 34 + 4, frame.length - 1]) {
      const bad = Buffer.from(frame);
      bad[at]! ^= 0x01;
      const p = decode(bad, 1);
      const ipOk = checkIpChecksum(p);
      const l4Ok = checkTransportChecksum(p);
      expect(ipOk === false || l4Ok === false, `byte ${at}`).toBe(true);
    }
  });

  it('builder badChecksum options', () => {
    const p = decode(f.ipv4(f.tcp(Buffer.alloc(3), { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10 }, ip4, { badChecksum: true }), 6, ip4, { badChecksum: true }), 101);
    expect(checkIpChecksum(p)).toBe(false);
    expect(checkTransportChecksum(p)).toBe(false);
  });

  it('UDP, ICMP and ICMPv6 from the builder are good (odd lengths included)', () => {
    expect(checkTransportChecksum(decode(f.ipv4(f.udp(Buffer.from('odd'), 5, 53, ip4), 17, ip4), 101))).toBe(true);
    expect(checkTransportChecksum(decode(f.ipv6(f.udp(Buffer.from('odd!!'), 5, 53, ip6), 17, ip6), 101))).toBe(true);
    expect(checkTransportChecksum(decode(f.ipv4(f.icmpv4(3, 4, f.mtuRest(1400), Buffer.alloc(29, 7)), 1, ip4), 101))).toBe(true);
    expect(checkTransportChecksum(decode(f.ipv6(f.icmpv6(2, 0, f.mtuRest(1280, true), Buffer.alloc(49, 9), ip6), 58, ip6), 101))).toBe(true);
  });

  it('not checkable: UDP checksum 0, snaplen cut, fragment, no transport', () => {
    const u = Buffer.from(f.ipv4(f.udp(Buffer.from('x'), 5, 53, ip4), 17, ip4));
    u.writeUInt16BE(0, 26);
    expect(checkTransportChecksum(decode(u, 101))).toBeNull();
    const t = f.ipv4(f.tcp(Buffer.alloc(100), { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10 }, ip4), 6, ip4);
    const cut = decode(t.subarray(0, 60), 101);
    expect(checkTransportChecksum(cut)).toBeNull();
    expect(checkIpChecksum(cut)).toBe(true);
    expect(checkTransportChecksum(decode(f.ipv4(Buffer.alloc(40), 6, ip4, { moreFragments: true }), 101))).toBeNull();
    expect(checkTransportChecksum(decode(f.ipv4(Buffer.alloc(8), 47, ip4), 101))).toBeNull();
    expect(checkIpChecksum(decode(hex('0001'), 147))).toBeNull();
  });

  it('Ethernet padding is not summed', () => {
    const frame = f.padEthernet(f.ethernet(f.ipv4(f.tcp(Buffer.alloc(0), { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0x10 }, ip4), 6, ip4)));
    frame.fill(0xab, 54);
    expect(checkTransportChecksum(decode(frame, 1))).toBe(true);
  });
});

describe('checksum of long and odd-length payloads (two words per step, folded per block)', () => {
  it('good for every payload length 0..80 and for large payloads, bad after any flipped byte', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const lengths = [...Array.from({ length: 81 }, (_, i) => i), 1459, 1460, 8191, 32767, 32768, 32769, 40000, 65000];
    for (const n of lengths) {
      const payload = Buffer.alloc(n);
      for (let i = 0; i < n; i++) payload[i] = rnd();
      // All-0xff runs make the largest partial sums.
      if (n > 100) payload.fill(0xff, 0, n >> 1);
      const frame = f.ethernet(f.ipv4(f.tcp(payload, { srcPort: 1, dstPort: 3389, seq: 5, ack: 6, flags: 0x18 }, ip4), 6, ip4));
      const p = decode(frame, 1);
      expect(checkTransportChecksum(p), `length ${n}`).toBe(true);
      if (n > 0) {
        const bad = Buffer.from(frame);
        bad[frame.length - 1 - (n >> 1)]! ^= 0x10;
        expect(checkTransportChecksum(decode(bad, 1)), `length ${n}, flipped`).toBe(false);
      }
    }
  });
});
