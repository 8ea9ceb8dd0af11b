import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decode, hex } from './helpers.js';
import { decodeQuoted } from '../../src/net/decode.js';
import { DecodedPacket } from '../../src/net/packet.js';
import { srcText, dstText } from '../../src/net/addr.js';

const client4 = { src: '10.0.0.1', dst: '192.0.2.1' };
const router4 = { src: '198.51.100.1', dst: '10.0.0.1' };
const client6 = { src: '2001:db8:1::1', dst: '2001:db8:2::3389' };
const router6 = { src: '2001:db8:ff::1', dst: '2001:db8:1::1' };

const synSeg4 = f.tcp(Buffer.alloc(0), { srcPort: 54321, dstPort: 3389, seq: 0x89abcdef, ack: 0, flags: 0x02 }, client4);
const syn4 = f.ipv4(synSeg4, 6, client4);
const dns4 = f.ipv4(f.udp(f.dnsQuery(1, 'rdp.example.com', 1), 5353, 53, client4), 17, client4);

/** RFC 792 quotes the IP header + the first 8 bytes of the datagram. */
function quote8(ipPacket: Buffer): Buffer {
  const hl = (ipPacket[0]! & 0x0f) * 4;
  return ipPacket.subarray(0, hl + 8);
}

describe('ICMPv4 errors', () => {
  it('literal "fragmentation needed" (3/4) with next-hop MTU quoting a TCP segment', () => {
    const frame = hex(`
      00155d010203 00155d0a0b0c 0800
      45c0 0038 0000 0000 fe01 87cf c6336401 0a000001
      03 04 1614 0000 0578
      4500 05dc 4321 4000 7f06 e6f8 0a000001 c0000201 d431 0d3d 00000001`);
    const p = decode(frame, 1);
    expect(p).toMatchObject({ error: null, ipProto: 1, icmpType: 3, icmpCode: 4, icmpMtu: 1400, quotedOff: 42, quotedLen: 28, l4Off: 34 });
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ error: null, ipVersion: 4, ipProto: 6, srcPort: 54321, dstPort: 3389, seq: 1, ttl: 127, ipId: 0x4321 });
    expect(srcText(inner)).toBe('10.0.0.1');
    expect(dstText(inner)).toBe('192.0.2.1');
    // The quoted datagram was 1500 bytes; only 8 transport bytes are here: no error for that.
    expect(inner.ipEnd).toBe(42 + 28);
  });

  it('admin prohibited (3/13) quoting a SYN: ports and sequence number', () => {
    const p = decode(f.ethernet(f.ipv4(f.icmpv4(3, 13, Buffer.alloc(4), quote8(syn4)), 1, router4)), 1);
    expect(p).toMatchObject({ icmpType: 3, icmpCode: 13, icmpMtu: -1, quotedLen: 28 });
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ srcPort: 54321, dstPort: 3389, seq: 0x89abcdef, tcpFlags: 0, error: null });
  });

  it('port unreachable (3/3) quoting UDP, and a router quoting the whole datagram (RFC 1812 4.3.2.3)', () => {
    const p = decode(f.ethernet(f.ipv4(f.icmpv4(3, 3, Buffer.alloc(4), dns4), 1, router4)), 1);
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ ipProto: 17, srcPort: 5353, dstPort: 53, payloadWireLen: dns4.length - 28, payloadLen: dns4.length - 28 });
    const full = decode(f.ethernet(f.ipv4(f.icmpv4(11, 0, Buffer.alloc(4), syn4), 1, router4)), 1);
    expect(decodeQuoted(full, inner)).toBe(true);
    expect(inner).toMatchObject({ tcpFlags: 0x02, tcpHdrLen: 20, window: 64240, icmpType: -1 });
  });

  it('time exceeded (11/0) is an error quoting the datagram; echo (8) quotes nothing', () => {
    const te = decode(f.ipv4(f.icmpv4(11, 0, Buffer.alloc(4), quote8(syn4)), 1, router4), 101);
    expect(te).toMatchObject({ icmpType: 11, icmpCode: 0, quotedOff: 28 });
    const echo = decode(f.ipv4(f.icmpv4(8, 0, hex('00010002'), Buffer.from('ping')), 1, client4), 101);
    expect(echo).toMatchObject({ icmpType: 8, icmpCode: 0, quotedOff: -1, quotedLen: 0, icmpMtu: -1, payloadLen: 4 });
    expect(decodeQuoted(echo, new DecodedPacket())).toBe(false);
  });

  it('a quote shorter than 8 transport bytes: ports when 4 are there, else addresses only', () => {
    const inner = new DecodedPacket();
    const four = decode(f.ipv4(f.icmpv4(3, 1, Buffer.alloc(4), syn4.subarray(0, 24)), 1, router4), 101);
    expect(decodeQuoted(four, inner)).toBe(true);
    expect(inner).toMatchObject({ srcPort: 54321, dstPort: 3389, seq: 0 });
    expect(inner.error).toBe('TCP header cut: 4 of 20 bytes captured');
    const two = decode(f.ipv4(f.icmpv4(3, 1, Buffer.alloc(4), syn4.subarray(0, 22)), 1, router4), 101);
    expect(decodeQuoted(two, inner)).toBe(false);
    expect(inner.ipVersion).toBe(4);
    expect(dstText(inner)).toBe('192.0.2.1');
    expect(inner.srcPort).toBe(0);
    expect(inner.error).toBe('TCP header cut: 2 of 20 bytes captured');
  });

  it('a quote that is not IP', () => {
    const p = decode(f.ipv4(f.icmpv4(3, 1, Buffer.alloc(4), hex('00112233')), 1, router4), 101);
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(false);
    expect(inner.error).toBe('quoted IP: version field is 0');
    const empty = decode(f.ipv4(f.icmpv4(3, 1, Buffer.alloc(4), Buffer.alloc(0)), 1, router4), 101);
    expect(decodeQuoted(empty, inner)).toBe(false);
    expect(inner.error).toMatch(/quoted IP header cut/);
  });

  it('cut ICMP header', () => {
    const p = decode(f.ipv4(hex('0304 0000 00'), 1, router4), 101);
    expect(p.error).toBe('ICMP header cut: 5 of 8 bytes captured');
    expect(p.icmpType).toBe(-1);
  });
});

describe('ICMPv6 errors', () => {
  const syn6 = f.ipv6(f.tcp(Buffer.alloc(0), { srcPort: 50001, dstPort: 3389, seq: 0xfffffff0, ack: 0, flags: 0x02 }, client6), 6, client6);
  const udp6 = f.ipv6(f.udp(Buffer.from('abc'), 50002, 3389, client6), 17, client6);

  it('packet too big (2) with a 32-bit MTU, quoting TCP', () => {
    const big = Buffer.concat([syn6, Buffer.alloc(1400)]);
    big.writeUInt16BE(20 + 1400, 4);
    const msg = f.icmpv6(2, 0, f.mtuRest(1280, true), big.subarray(0, 1232), router6);
    const p = decode(f.ethernet(f.ipv6(msg, 58, router6)), 1);
    expect(p).toMatchObject({ error: null, ipProto: 58, icmpType: 2, icmpCode: 0, icmpMtu: 1280, quotedOff: 62, quotedLen: 1232 });
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ ipVersion: 6, srcPort: 50001, dstPort: 3389, seq: 0xfffffff0, tcpFlags: 2, error: null });
    expect(srcText(inner)).toBe('2001:db8:1::1');
    expect(dstText(inner)).toBe('2001:db8:2::3389');
  });

  it('destination unreachable (1/1 administratively prohibited) quoting UDP', () => {
    const p = decode(f.ipv6(f.icmpv6(1, 1, Buffer.alloc(4), udp6, router6), 58, router6), 101);
    expect(p).toMatchObject({ icmpType: 1, icmpCode: 1, icmpMtu: -1, quotedOff: 48 });
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ ipProto: 17, srcPort: 50002, dstPort: 3389, payloadLen: 3 });
  });

  it('time exceeded (3) quoting only the first 48 bytes (IPv6 header + 8)', () => {
    const p = decode(f.ipv6(f.icmpv6(3, 0, Buffer.alloc(4), syn6.subarray(0, 48), router6), 58, router6), 101);
    const inner = new DecodedPacket();
    expect(decodeQuoted(p, inner)).toBe(true);
    expect(inner).toMatchObject({ srcPort: 50001, dstPort: 3389, seq: 0xfffffff0, error: null });
  });

  it('informational messages (echo request 128) carry no quote', () => {
    const p = decode(f.ipv6(f.icmpv6(128, 0, hex('00010001'), Buffer.from('x'), client6), 58, client6), 101);
    expect(p).toMatchObject({ icmpType: 128, quotedOff: -1, icmpMtu: -1 });
  });
});
