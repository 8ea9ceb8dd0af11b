import { describe, expect, it } from 'vitest';
import { ipText, ipv4Text, srcText, dstText } from '../../src/net/addr.js';
import { DecodedPacket } from '../../src/net/packet.js';
import { hex } from './helpers.js';

function v6(h: string): string {
  return ipText(hex(h), 0, 6);
}

describe('IPv4 text', () => {
  it('dotted quad from bytes and from the unsigned number', () => {
    expect(ipText(hex('c0a80001'), 0, 4)).toBe('192.168.0.1');
    expect(ipText(hex('ff000000ffffffff'), 4, 4)).toBe('255.255.255.255');
    expect(ipv4Text(0)).toBe('0.0.0.0');
    expect(ipv4Text(0xffffffff)).toBe('255.255.255.255');
    expect(ipv4Text(0x0a000001)).toBe('10.0.0.1');
    expect(ipv4Text(0xc0000201)).toBe('192.0.2.1');
  });

  it('out-of-range offsets give "" instead of reading past the end', () => {
    expect(ipText(hex('0102'), 0, 4)).toBe('');
    expect(ipText(hex('01020304'), -1, 4)).toBe('');
    expect(ipText(Buffer.alloc(15), 0, 6)).toBe('');
  });
});

describe('IPv6 text, RFC 5952', () => {
  it('4.1 no leading zeros, 4.3 lowercase', () => {
    expect(v6('20010db8 00000000 00000000 00000001')).toBe('2001:db8::1');
    expect(v6('2001 0DB8 00AA 0BCD 000A 00FF FFFF abcd')).toBe('2001:db8:aa:bcd:a:ff:ffff:abcd');
  });

  it('4.2.1 longest run of zeros shortened; 4.2.2 a single zero group is not', () => {
    expect(v6('20010db8 00000000 00000000 00010002')).toBe('2001:db8::1:2');
    expect(v6('20010db8 00000001 00010001 00010001')).toBe('2001:db8:0:1:1:1:1:1');
  });

  it('4.2.3 the longest run wins, the first on a tie', () => {
    expect(v6('20010000 00000001 00000000 00000001')).toBe('2001:0:0:1::1');
    expect(v6('20010db8 00000000 00010000 00000001')).toBe('2001:db8::1:0:0:1');
  });

  it('edge cases: all zeros, loopback, leading and trailing runs, link-local', () => {
    expect(v6('00000000000000000000000000000000')).toBe('::');
    expect(v6('00000000000000000000000000000001')).toBe('::1');
    expect(v6('20010db8000000000000000000000000')).toBe('2001:db8::');
    expect(v6('fe800000000000000000000000000001')).toBe('fe80::1');
    expect(v6('ff020000000000000000000000010002')).toBe('ff02::1:2');
    expect(v6('00010002000300040005000600070008')).toBe('1:2:3:4:5:6:7:8');
    expect(v6('00000001000000000000000000000000')).toBe('0:1::');
  });

  it('5: IPv4-mapped addresses in mixed notation', () => {
    expect(v6('00000000000000000000ffffc0000201')).toBe('::ffff:192.0.2.1');
  });

  it('reads at an offset inside a larger buffer', () => {
    const b = Buffer.concat([hex('aabbcc'), hex('fe800000000000000000000000000001'), hex('dd')]);
    expect(ipText(b, 3, 6)).toBe('fe80::1');
  });
});

describe('srcText / dstText', () => {
  it('empty without an IP layer', () => {
    const p = new DecodedPacket();
    expect(srcText(p)).toBe('');
    expect(dstText(p)).toBe('');
  });
});
