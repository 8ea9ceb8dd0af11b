import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decode, hex } from './helpers.js';
import { srcText, dstText } from '../../src/net/addr.js';

const ip4 = { src: '10.1.2.3', dst: '10.4.5.6', ttl: 113, id: 0xbeef };
const ip6 = { src: 'fe80::1', dst: 'ff02::1:2', ttl: 1 };
const data = Buffer.from('0123456789abcdef', 'ascii');
const seg4 = f.tcp(data, { srcPort: 1111, dstPort: 3389, seq: 7, ack: 9, flags: 0x18 }, ip4);
const seg6 = f.tcp(data, { srcPort: 2222, dstPort: 3389, seq: 7, ack: 9, flags: 0x18 }, ip6);

describe('IPv4', () => {
  it('a literal header: every field', () => {
    // version 4, IHL 5, TOS 0, total 40, id 0xabcd, DF, TTL 64, proto 6, checksum, src, dst; then a 20-byte TCP header
    const pkt = hex(`
      4500 0028 abcd 4000 4006 0000 c0000201 c6336414
      0d3d c350 00000064 000000c8 5011 faf0 0000 0000`);
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p).toMatchObject({
      ipVersion: 4, ipOff: 0, ipHdrLen: 20, ipEnd: 40, ttl: 64, ipProto: 6, ipId: 0xabcd,
      srcOff: 12, dstOff: 16, src4: 0xc0000201, dst4: 0xc6336414,
      isFragment: false, fragOffset: 0, moreFragments: false, ipChecksumOk: null,
      l4Off: 20, srcPort: 3389, dstPort: 50000, seq: 100, ack: 200, tcpFlags: 0x11, window: 64240,
    });
    expect(srcText(p)).toBe('192.0.2.1');
    expect(dstText(p)).toBe('198.51.100.20');
  });

  it('header options (IHL > 5): transport after the options', () => {
    // Record Route (7) with room for 2 addresses + NOP padding: 12 bytes of options.
    const options = hex('07 0b 04 00000000 00000000 01');
    const pkt = f.ipv4(seg4, 6, ip4, { options });
    expect(pkt[0]).toBe(0x48);
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p.ipHdrLen).toBe(32);
    expect(p.l4Off).toBe(32);
    expect(p.srcPort).toBe(1111);
    expect(p.payloadOff).toBe(52);
    expect(p.payloadLen).toBe(16);
    expect(p.buf.subarray(p.payloadOff, p.payloadOff + p.payloadLen).toString()).toBe('0123456789abcdef');
  });

  it('max options (IHL 15) cut by the capture', () => {
    const pkt = f.ipv4(seg4, 6, ip4, { options: Buffer.alloc(40, 1) });
    const p = decode(pkt.subarray(0, 50), 101);
    expect(p.error).toBe('IPv4 header (options) cut: 50 of 60 bytes captured');
    expect(p.errorAt).toBe(0);
    expect(p.src4).toBe(0x0a010203); // what was read stays
    expect(p.l4Off).toBe(-1);
  });

  it('IHL < 5 and total length < header length are errors with the field offset', () => {
    const bad = Buffer.from(f.ipv4(seg4, 6, ip4));
    bad[0] = 0x44;
    expect(decode(bad, 101)).toMatchObject({ error: 'IPv4 header length 16 < 20', errorAt: 0, ipVersion: 4 });
    const bad2 = Buffer.from(f.ipv4(seg4, 6, ip4));
    bad2.writeUInt16BE(19, 2);
    expect(decode(bad2, 101)).toMatchObject({ error: 'IPv4 total length 19 < header length 20', errorAt: 2 });
  });

  it('total length 0 (segmentation offload): the captured bytes are the datagram', () => {
    const pkt = Buffer.from(f.ipv4(seg4, 6, ip4));
    pkt.writeUInt16BE(0, 2);
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p.ipEnd).toBe(pkt.length);
    expect(p.payloadLen).toBe(16);
  });

  it('snaplen cut: payloadLen is what was captured, payloadWireLen what the IP length says', () => {
    const pkt = f.ipv4(seg4, 6, ip4);
    const p = decode(pkt.subarray(0, pkt.length - 10), 101);
    expect(p.error).toBeNull();
    expect(p.payloadLen).toBe(6);
    expect(p.payloadWireLen).toBe(16);
    expect(p.ipEnd).toBe(pkt.length - 10);
  });

  it('first fragment: MF set, offset 0, ports read', () => {
    const p = decode(f.ipv4(seg4, 6, ip4, { moreFragments: true }), 101);
    expect(p).toMatchObject({ isFragment: true, moreFragments: true, fragOffset: 0, srcPort: 1111, dstPort: 3389, l4Off: 20 });
  });

  it('non-first fragment: offset in bytes, no transport header, no ports', () => {
    const p = decode(f.ipv4(data, 6, ip4, { fragOffset: 1480, moreFragments: true }), 101);
    expect(p).toMatchObject({ isFragment: true, moreFragments: true, fragOffset: 1480, srcPort: 0, dstPort: 0, l4Off: -1, tcpFlags: 0 });
    expect(p.error).toBeNull();
    const last = decode(f.ipv4(data, 17, ip4, { fragOffset: 8 }), 101);
    expect(last).toMatchObject({ isFragment: true, moreFragments: false, fragOffset: 8, l4Off: -1 });
    // Literal: flags/offset word 0x00b9 = offset 185 * 8 = 1480, MF clear.
    const lit = hex('4500 0020 0001 00b9 4011 0000 0a000001 0a000002 0000000000000000 0000000000000000');
    expect(decode(lit, 101)).toMatchObject({ isFragment: true, fragOffset: 1480, moreFragments: false, l4Off: -1 });
  });

  it('DF alone is not a fragment', () => {
    const pkt = Buffer.from(f.ipv4(seg4, 6, ip4));
    pkt.writeUInt16BE(0x4000, 6);
    expect(decode(pkt, 101).isFragment).toBe(false);
  });

  it('other protocols (GRE): payload is the IP payload, no transport offset', () => {
    const p = decode(f.ipv4(hex('0000 0800 0102'), 47, ip4), 101);
    expect(p).toMatchObject({ ipProto: 47, l4Off: -1, payloadOff: 20, payloadLen: 6, error: null });
  });
});

describe('IPv6', () => {
  it('a literal fixed header: every field', () => {
    const pkt = hex(`
      6e00 0000 0008 11 40 fe800000000000000000000000000001 ff020000000000000000000000010002
      0222 0223 0008 0000`);
    const p = decode(pkt, 101);
    expect(p).toMatchObject({
      error: null, ipVersion: 6, ipHdrLen: 40, ipEnd: 48, ttl: 64, ipProto: 17, srcOff: 8, dstOff: 24, src4: 0, dst4: 0,
      l4Off: 40, srcPort: 546, dstPort: 547, payloadLen: 0,
    });
    expect(srcText(p)).toBe('fe80::1');
    expect(dstText(p)).toBe('ff02::1:2');
  });

  it('extension chain: hop-by-hop, destination options, routing, then TCP', () => {
    const pkt = f.ipv6(seg6, 6, ip6, {
      extHeaders: [
        { type: 0, body: hex('0502 0000 0100') }, // router alert + PadN
        { type: 60, body: Buffer.alloc(14) }, // 16 bytes
        { type: 43, body: Buffer.alloc(6) },
      ],
    });
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p.ipProto).toBe(6);
    expect(p.ipHdrLen).toBe(40 + 8 + 16 + 8);
    expect(p.l4Off).toBe(72);
    expect(p.srcPort).toBe(2222);
    expect(p.payloadLen).toBe(16);
  });

  it('literal chain with a fragment header (first fragment) and AH', () => {
    const pkt = hex(`
      6000 0000 0034 00 40 20010db8000000000000000000000001 20010db8000000000000000000000002
      2c 00 0000 0000 0000          # hop-by-hop, next = fragment (44)
      33 00 0001 12345678           # fragment: offset 0, M=1, id 0x12345678; next = AH (51)
      11 04 0000 00000001 00000001 000000000000000000000000  # AH: len 4 -> 24 bytes (ICV 12); next = UDP
      1234 0035 000c 0000 61626364  # UDP`);
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p).toMatchObject({ isFragment: true, moreFragments: true, fragOffset: 0, ipId: 0x12345678, ipProto: 17 });
    expect(p.ipHdrLen).toBe(40 + 8 + 8 + 24);
    expect(p.srcPort).toBe(0x1234);
    expect(p.dstPort).toBe(53);
    expect(p.payloadLen).toBe(4);
  });

  it('non-first fragment: no transport header', () => {
    const pkt = f.ipv6(data, 6, ip6, { extHeaders: [{ type: 44, body: f.ipv6FragmentBody(1232, false, 99) }] });
    const p = decode(pkt, 101);
    expect(p).toMatchObject({ isFragment: true, fragOffset: 1232, moreFragments: false, ipId: 99, ipProto: 6, l4Off: -1, srcPort: 0 });
  });

  it('ESP (50) and no next header (59) stop the walk without error', () => {
    const esp = decode(f.ipv6(hex('00000001 00000001 aabbccdd'), 50, ip6, { extHeaders: [{ type: 0, body: Buffer.alloc(6) }] }), 101);
    expect(esp).toMatchObject({ error: null, ipProto: 50, ipHdrLen: 48, l4Off: -1 });
    const none = decode(f.ipv6(Buffer.alloc(0), 59, ip6), 101);
    expect(none).toMatchObject({ error: null, ipProto: 59, ipHdrLen: 40 });
  });

  it('an extension header longer than the packet is a cut error at that header', () => {
    const pkt = Buffer.from(f.ipv6(seg6, 6, ip6, { extHeaders: [{ type: 60, body: Buffer.alloc(6) }] }));
    pkt[41] = 200; // hdr ext len: (200 + 1) * 8 bytes
    const p = decode(pkt, 101);
    expect(p.error).toBe(`IPv6 extension header cut: ${pkt.length - 40} of 1608 bytes captured`);
    expect(p.errorAt).toBe(40);
    expect(p.ipVersion).toBe(6);
  });

  it('payload length bounds the packet (trailing bytes ignored)', () => {
    const pkt = Buffer.concat([f.ipv6(seg6, 6, ip6), Buffer.alloc(9, 0xff)]);
    const p = decode(pkt, 101);
    expect(p.ipEnd).toBe(pkt.length - 9);
    expect(p.payloadLen).toBe(16);
  });

  it('wrong version nibble behind an IPv6 EtherType', () => {
    const p = decode(f.ethernet(f.ipv4(seg4, 6, ip4), { etherType: 0x86dd }), 1);
    expect(p.error).toBe('IPv6: version field is 4');
    expect(p.errorAt).toBe(14);
  });
});
