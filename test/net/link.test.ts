import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decode, decodeAt, hex } from './helpers.js';
import { isKnownLinkType, linkTypeName } from '../../src/net/linktype.js';
import { srcText, dstText } from '../../src/net/addr.js';

const ip4 = { src: '192.0.2.10', dst: '198.51.100.20' };
const ip6 = { src: '2001:db8::10', dst: '2001:db8::3389' };
const syn4 = f.ipv4(f.tcp(Buffer.alloc(0), { srcPort: 50123, dstPort: 3389, seq: 1000, ack: 0, flags: 0x02 }, ip4), 6, ip4);
const syn6 = f.ipv6(f.tcp(Buffer.alloc(0), { srcPort: 50124, dstPort: 3389, seq: 2000, ack: 0, flags: 0x02 }, ip6), 6, ip6);

function expectSyn4(p: ReturnType<typeof decode>, ipOff: number): void {
  expect(p.error).toBeNull();
  expect(p.ipVersion).toBe(4);
  expect(p.etherType).toBe(0x0800);
  expect(p.ipOff).toBe(ipOff);
  expect(srcText(p)).toBe('192.0.2.10');
  expect(dstText(p)).toBe('198.51.100.20');
  expect(p.srcPort).toBe(50123);
  expect(p.dstPort).toBe(3389);
  expect(p.tcpFlags).toBe(0x02);
}

function expectSyn6(p: ReturnType<typeof decode>, ipOff: number): void {
  expect(p.error).toBeNull();
  expect(p.ipVersion).toBe(6);
  expect(p.etherType).toBe(0x86dd);
  expect(p.ipOff).toBe(ipOff);
  expect(srcText(p)).toBe('2001:db8::10');
  expect(dstText(p)).toBe('2001:db8::3389');
  expect(p.srcPort).toBe(50124);
  expect(p.seq).toBe(2000);
}

describe('Ethernet (LINKTYPE 1)', () => {
  it('decodes a literal Ethernet/IPv4/TCP SYN written out by hand', () => {
    // Validated once with tshark (checksums Good); see tcp.test.ts for the TCP fields.
    const frame = hex(`
      00155d010203 00155d0a0b0c 0800
      4500 0034 1234 4000 8006 63e1 c0a8 01c8 c0a8 0196
      c036 0d3d 8a5b 1c7e 0000 0000 8002 2000 5614 0000 0204 05b4 0103 0308 0101 0402`);
    const p = decode(frame, 1);
    expect(p.error).toBeNull();
    expect(p.vlan).toBe(-1);
    expect(p.etherType).toBe(0x0800);
    expect(p.ipOff).toBe(14);
    expect(p.src4).toBe(0xc0a801c8);
    expect(p.dst4).toBe(0xc0a80196);
    expect(p.ttl).toBe(128);
    expect(p.ipId).toBe(0x1234);
    expect(p.l4Off).toBe(34);
  });

  it('builder frames: IPv4 and IPv6, at a non-zero offset in the chunk', () => {
    expectSyn4(decode(f.ethernet(syn4), 1), 14);
    expectSyn6(decode(f.ethernet(syn6), 1), 14);
    const p = decodeAt(f.ethernet(syn4), 1, 100, 9);
    expectSyn4(p, 114);
    expect(p.ipEnd).toBe(100 + 14 + syn4.length);
  });

  it('one 802.1Q tag: VLAN id, IP after the tag', () => {
    const frame = f.ethernet(syn4, { vlan: [42] });
    expect(frame.readUInt16BE(12)).toBe(0x8100);
    const p = decode(frame, 1);
    expect(p.vlan).toBe(42);
    expectSyn4(p, 18);
  });

  it('802.1ad + 802.1Q stack: outermost VLAN id', () => {
    const p = decode(f.ethernet(syn6, { vlan: [100, 200] }), 1);
    expect(p.vlan).toBe(100);
    expectSyn6(p, 22);
  });

  it('0x9100 tags and priority bits (PCP, DEI) masked off the VLAN id', () => {
    const frame = hex(`
      020000000002 020000000001
      9100 f00a   # PCP 7, DEI 1, VID 10
      8100 0fff   # VID 4095
      8100 0001
      0800`);
    const p = decode(Buffer.concat([frame, syn4]), 1);
    expect(p.vlan).toBe(10);
    expectSyn4(p, 26);
  });

  it('a VLAN tag cut short is an error inside the frame', () => {
    const frame = hex('020000000002 020000000001 8100 00');
    const p = decode(frame, 1);
    expect(p.error).toMatch(/VLAN tag cut/);
    expect(p.errorAt).toBe(14);
    expect(p.ipVersion).toBe(0);
  });

  it('non-IP EtherTypes (ARP) decode with no IP layer and no error', () => {
    const arp = f.ethernet(Buffer.alloc(28), { etherType: 0x0806 });
    const p = decode(arp, 1);
    expect(p.error).toBeNull();
    expect(p.etherType).toBe(0x0806);
    expect(p.ipVersion).toBe(0);
    expect(p.ipOff).toBe(-1);
  });

  it('Ethernet padding to 60 bytes is not payload (IP total length bounds it)', () => {
    const ack = f.ipv4(f.tcp(Buffer.alloc(0), { srcPort: 3389, dstPort: 50123, seq: 1, ack: 2, flags: 0x10 }, ip4), 6, ip4);
    const frame = f.padEthernet(f.ethernet(ack));
    expect(frame.length).toBe(60);
    const p = decode(frame, 1);
    expect(p.error).toBeNull();
    expect(p.ipEnd).toBe(14 + 40);
    expect(p.payloadLen).toBe(0);
    expect(p.payloadWireLen).toBe(0);
    // Also with trailing junk (an FCS or a trailer) that is not zero.
    const junk = Buffer.concat([f.ethernet(ack), hex('deadbeef 01020304 0506')]);
    const q = decode(junk, 1);
    expect(q.payloadLen).toBe(0);
    expect(q.ipEnd).toBe(54);
  });

  it('PPPoE session (0x8864) and MPLS (0x8847)', () => {
    const pppoe = Buffer.concat([hex('1100 0001 0000 0021'), syn4]);
    pppoe.writeUInt16BE(syn4.length + 2, 4);
    expectSyn4(decode(f.ethernet(pppoe, { etherType: 0x8864 }), 1), 22);
    const mpls = Buffer.concat([hex('00010040 00020140'), syn6]); // two labels, bottom of stack on the second
    expectSyn6(decode(f.ethernet(mpls, { etherType: 0x8847 }), 1), 22);
  });
});

describe('Ethernet service headers', () => {
  it('Cisco MetaData (0x8909) carrying an SGT, then IPv4', () => {
    const frame = Buffer.concat([hex('020000000002 020000000001 8909 0101 0001 0010 0800'), syn4]);
    expectSyn4(decode(frame, 1), 22);
  });

  it('NSH (0x894f, RFC 8300) with MD type 1 context headers, then IPv4 / IPv6', () => {
    const nsh = (next: number): Buffer =>
      hex(`0fc6 01 0${next} 000001ff 00000000 00000000 00000000 00000000`); // length 6 words = 24 bytes
    expectSyn4(decode(Buffer.concat([hex('020000000002 020000000001 894f'), nsh(1), syn4]), 1), 38);
    expectSyn6(decode(Buffer.concat([hex('020000000002 020000000001 894f'), nsh(2), syn6]), 1), 38);
    const bad = decode(Buffer.concat([hex('020000000002 020000000001 894f 0fc1 0101 00000000'), syn4]), 1);
    expect(bad.error).toBe('NSH length 4 < 8');
    expect(bad.errorAt).toBe(14);
  });
});

describe('Linux cooked captures', () => {
  it('SLL (113): literal header, protocol at byte 14', () => {
    const frame = Buffer.concat([hex('0000 0001 0006 020000000001 0000 0800'), syn4]);
    expectSyn4(decode(frame, 113), 16);
    expectSyn6(decode(f.sll(syn6, 0x86dd), 113), 16);
  });

  it('SLL2 (276): literal header, protocol first', () => {
    const frame = Buffer.concat([hex('86dd 0000 00000002 0001 04 06 020000000001 0000'), syn6]);
    expect(frame.length - syn6.length).toBe(20);
    expectSyn6(decode(frame, 276), 20);
    expectSyn4(decode(f.sll2(syn4, 0x0800), 276), 20);
  });

  it('SLL with a VLAN tag kept in the protocol field', () => {
    const frame = f.sll(Buffer.concat([hex('0007 0800'), syn4]), 0x8100);
    const p = decode(frame, 113);
    expect(p.vlan).toBe(7);
    expectSyn4(p, 20);
  });

  it('cut SLL / SLL2 headers', () => {
    expect(decode(f.sll(syn4, 0x800).subarray(0, 15), 113).error).toMatch(/SLL\) header cut: 15 of 16/);
    expect(decode(f.sll2(syn4, 0x800).subarray(0, 19), 276).error).toMatch(/SLL2\) header cut: 19 of 20/);
  });
});

describe('raw IP link types', () => {
  for (const lt of [101, 12, 14]) {
    it(`raw IP ${lt}: version from the first nibble`, () => {
      expectSyn4(decode(syn4, lt), 0);
      expectSyn6(decode(syn6, lt), 0);
    });
  }

  it('LINKTYPE_IPV4 (228) / LINKTYPE_IPV6 (229) insist on their version', () => {
    expectSyn4(decode(syn4, 228), 0);
    expectSyn6(decode(syn6, 229), 0);
    expect(decode(syn6, 228).error).toBe('IPv4 link: version field is 6');
    expect(decode(syn4, 229).error).toBe('IPv6 link: version field is 4');
  });

  it('a literal raw IPv6/UDP packet (DNS query)', () => {
    const pkt = hex(`
      6000 0000 0029 11ff 20010db8000000000000000000000001 20010db8000000000000000000000035
      cf08 0035 0029 d698
      abcd 0100 0001 0000 0000 0000 03726470 076578616d706c65 03636f6d 00 001c 0001`);
    const p = decode(pkt, 101);
    expect(p.error).toBeNull();
    expect(p.ipVersion).toBe(6);
    expect(p.ttl).toBe(255);
    expect(p.ipProto).toBe(17);
    expect(srcText(p)).toBe('2001:db8::1');
    expect(dstText(p)).toBe('2001:db8::35');
    expect(p.srcPort).toBe(53000);
    expect(p.dstPort).toBe(53);
    expect(p.payloadOff).toBe(48);
    expect(p.payloadLen).toBe(33);
    expect(p.payloadWireLen).toBe(33);
  });

  it('a version nibble that is neither 4 nor 6', () => {
    const p = decode(hex('5000 0000'), 101);
    expect(p.error).toBe('raw IP: version field is 5');
    expect(p.errorAt).toBe(0);
    expect(p.ipVersion).toBe(0);
  });
});

describe('BSD null / loopback (0) and LOOP (108)', () => {
  it('AF_INET in both byte orders', () => {
    expectSyn4(decode(f.nullLoopback(syn4, 2, true), 0), 4);
    expectSyn4(decode(f.nullLoopback(syn4, 2, false), 0), 4);
    expectSyn4(decode(Buffer.concat([hex('00000002'), syn4]), 108), 4);
  });

  for (const fam of [24, 28, 30]) {
    it(`AF_INET6 = ${fam}, both byte orders`, () => {
      expectSyn6(decode(f.nullLoopback(syn6, fam, true), 0), 4);
      expectSyn6(decode(f.nullLoopback(syn6, fam, false), 0), 4);
      expectSyn6(decode(f.nullLoopback(syn6, fam, false), 108), 4);
    });
  }

  it('unknown family is an error at the header', () => {
    const p = decode(f.nullLoopback(syn4, 7, true), 0);
    expect(p.error).toBe('loopback: unknown address family 7');
    expect(p.errorAt).toBe(0);
  });
});

describe('PPP (9) and 802.11 (105, 127)', () => {
  it('PPP with address/control, and with protocol field compression', () => {
    expectSyn4(decode(Buffer.concat([hex('ff03 0021'), syn4]), 9), 4);
    expectSyn6(decode(Buffer.concat([hex('0057'), syn6]), 9), 2);
    expectSyn4(decode(Buffer.concat([hex('21'), syn4]), 9), 1);
    const lcp = decode(hex('ff03 c021 0101 0004'), 9);
    expect(lcp.error).toBeNull();
    expect(lcp.ipVersion).toBe(0);
  });

  const dataHdr = hex(`
    0801 0000              # frame control: data, to DS; duration
    020000000002 020000000001 020000000003
    0000                   # sequence control`);
  const snapIp4 = hex('aaaa03 000000 0800');

  it('802.11 data frame with LLC/SNAP', () => {
    expectSyn4(decode(Buffer.concat([dataHdr, snapIp4, syn4]), 105), 32);
  });

  it('802.11 QoS data (2 more header bytes); protected and management frames carry no IP, no error', () => {
    const qos = Buffer.concat([hex('8801 0000'), dataHdr.subarray(4), hex('0000'), snapIp4, syn4]);
    expectSyn4(decode(qos, 105), 34);
    const prot = Buffer.concat([hex('0841'), dataHdr.subarray(2), snapIp4, syn4]);
    expect(decode(prot, 105).ipVersion).toBe(0);
    expect(decode(prot, 105).error).toBeNull();
    const beacon = Buffer.concat([hex('8000'), dataHdr.subarray(2), Buffer.alloc(12)]);
    expect(decode(beacon, 105).ipVersion).toBe(0);
  });

  it('radiotap header in front (length from the header, FCS flag)', () => {
    // version 0, length 17, present = TSFT | Flags; TSFT 8 bytes; flags 0x10 (FCS at end)
    const rt = hex('00 00 1100 03000000 0102030405060708 10');
    const frame = Buffer.concat([rt, dataHdr, snapIp4, syn4, hex('11223344')]);
    const p = decode(frame, 127);
    expectSyn4(p, 17 + 32);
    const bad = decode(hex('01 00 0800 00000000'), 127);
    expect(bad.error).toMatch(/radiotap: bad header/);
  });
});

describe('link type table', () => {
  it('known and unsupported link types', () => {
    for (const lt of [0, 1, 9, 12, 14, 101, 105, 108, 113, 127, 228, 229, 276]) expect(isKnownLinkType(lt)).toBe(true);
    for (const lt of [6, 147, 195, 9999]) expect(isKnownLinkType(lt)).toBe(false);
    expect(linkTypeName(1)).toBe('ETHERNET');
    expect(linkTypeName(276)).toBe('LINUX_SLL2');
    expect(linkTypeName(4242)).toBe('unknown (4242)');
  });

  it('an unsupported link type leaves ipVersion 0 and names the number', () => {
    const p = decodeAt(f.ethernet(syn4), 147, 10, 0);
    expect(p.ipVersion).toBe(0);
    expect(p.error).toBe('unsupported link type 147');
    expect(p.errorAt).toBe(10);
    expect(decode(syn4, 195).error).toBe('unsupported link type 195');
    expect(decode(syn4, 147).error).toBe('unsupported link type 147');
  });
});
