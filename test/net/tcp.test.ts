import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decode, hex } from './helpers.js';
import { TcpFlag } from '../../src/net/packet.js';

const ip = { src: '192.168.1.200', dst: '192.168.1.150' };

/** A raw IPv4 packet (LINKTYPE_RAW) around a TCP header given as hex. */
function withTcp(tcpHex: string, payload = Buffer.alloc(0)): Buffer {
  return f.ipv4(Buffer.concat([hex(tcpHex), payload]), 6, ip);
}

describe('TCP header', () => {
  it('literal SYN from a Windows client: every field and option', () => {
    const frame = hex(`
      00155d010203 00155d0a0b0c 0800
      4500 0034 1234 4000 8006 63e1 c0a8 01c8 c0a8 0196
      c036 0d3d 8a5b 1c7e 0000 0000 8002 2000 5614 0000 0204 05b4 0103 0308 0101 0402`);
    const p = decode(frame, 1);
    expect(p.error).toBeNull();
    expect(p).toMatchObject({
      srcPort: 49206, dstPort: 3389, seq: 2321226878, ack: 0, tcpFlags: TcpFlag.SYN, window: 8192,
      tcpHdrLen: 32, mss: 1460, wscale: 8, sackPermitted: true, sackBlocks: 0, tsVal: -1, tsEcr: -1,
      payloadOff: 66, payloadLen: 0, payloadWireLen: 0,
    });
  });

  it('seq / ack are unsigned 32-bit numbers (high bit set)', () => {
    const p = decode(withTcp('0d3d c036 fffffffe 80000000 5010 ffff 0000 0000'), 101);
    expect(p.seq).toBe(0xfffffffe);
    expect(p.ack).toBe(0x80000000);
    expect(p.window).toBe(65535);
  });

  it('all eight flag bits', () => {
    for (const [name, bit] of Object.entries(TcpFlag)) {
      const p = decode(f.ipv4(f.tcp(Buffer.alloc(0), { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: bit }, ip), 6, ip), 101);
      expect(p.tcpFlags, name).toBe(bit);
    }
    const all = decode(withTcp('0001 0002 00000000 00000000 50ff 0000 0000 0000'), 101);
    expect(all.tcpFlags).toBe(0xff);
  });

  it('builder options: MSS, window scale, SACK permitted, timestamps', () => {
    const options = f.tcpOptions({ mss: 1360, wscale: 14, sackPermitted: true, timestamps: [0xdeadbeef, 7] });
    const seg = f.tcp(Buffer.from('x'), { srcPort: 3389, dstPort: 50000, seq: 1, ack: 2, flags: 0x12, options }, ip);
    const p = decode(f.ipv4(seg, 6, ip), 101);
    expect(p.error).toBeNull();
    expect(p).toMatchObject({ mss: 1360, wscale: 14, sackPermitted: true, tsVal: 0xdeadbeef, tsEcr: 7, sackBlocks: 0 });
    expect(p.tcpHdrLen).toBe(20 + options.length);
    expect(p.payloadLen).toBe(1);
    expect(p.buf[p.payloadOff]).toBe(0x78);
  });

  it('builder options: timestamps and SACK blocks', () => {
    for (const blocks of [1, 2]) {
      const sack: [number, number][] = Array.from({ length: blocks }, (_, i) => [i * 100, i * 100 + 50] as [number, number]);
      const options = f.tcpOptions({ timestamps: [1, 2], sack });
      const seg = f.tcp(Buffer.alloc(0), { srcPort: 3389, dstPort: 50000, seq: 1, ack: 2, flags: 0x10, options }, ip);
      const p = decode(f.ipv4(seg, 6, ip), 101);
      expect(p).toMatchObject({ error: null, sackBlocks: blocks, tsVal: 1, tsEcr: 2, mss: -1, sackPermitted: false });
    }
    const four = decode(withTcp('0001 0002 00000000 00000000 f010 0000 0000 0000 0101 0522' + '00'.repeat(32) + '00000000'), 101);
    expect(four.sackBlocks).toBe(4);
  });

  it('literal timestamps + SACK after NOPs', () => {
    const p = decode(
      withTcp(`
        0d3d c036 00000001 00000002 b010 0100 0000 0000
        0101 080a 00000064 000000c8   # NOP NOP TS 100 200
        0101 050a 00000010 00000020   # NOP NOP SACK, one block`),
      101,
    );
    expect(p).toMatchObject({ error: null, tcpHdrLen: 44, tsVal: 100, tsEcr: 200, sackBlocks: 1, mss: -1, wscale: -1 });
  });

  it('EOL ends the options; bytes after it are ignored', () => {
    const p = decode(withTcp('0001 0002 00000000 00000000 6002 0000 0000 0000 00 02 04 05'), 101);
    expect(p.mss).toBe(-1);
    expect(p.error).toBeNull();
  });

  it('unknown options are skipped by their length', () => {
    const p = decode(withTcp('0001 0002 00000000 00000000 8002 0000 0000 0000 fe 06 0102 0304 0204 0578 0000'), 101);
    expect(p.mss).toBe(1400);
  });

  it('bad option lengths stop option parsing, not the packet', () => {
    // length 1 (< 2)
    let p = decode(withTcp('0001 0002 00000000 00000000 7002 0000 0000 0000 0301 0204 0578 0000', Buffer.from('ab')), 101);
    expect(p).toMatchObject({ error: null, wscale: -1, mss: -1, payloadLen: 2 });
    // length past the header
    p = decode(withTcp('0001 0002 00000000 00000000 7002 0000 0000 0000 0204 0578 080c 0000', Buffer.from('ab')), 101);
    expect(p).toMatchObject({ error: null, mss: 1400, tsVal: -1, payloadLen: 2 });
    // wrong fixed length for MSS (3) is ignored but skipped
    p = decode(withTcp('0001 0002 00000000 00000000 7002 0000 0000 0000 0203 0501 0303 0700'), 101);
    expect(p).toMatchObject({ error: null, mss: -1, wscale: 7 });
    // kind with no length byte at the very end
    p = decode(withTcp('0001 0002 00000000 00000000 6002 0000 0000 0000 0101 0108'), 101);
    expect(p.error).toBeNull();
  });

  it('data offset < 5 is an error at byte 12 of the TCP header, ports kept', () => {
    const p = decode(withTcp('0d3d c036 00000001 00000002 4010 0100 0000 0000'), 101);
    expect(p.error).toBe('TCP data offset 16 < 20');
    expect(p.errorAt).toBe(32);
    expect(p.srcPort).toBe(3389);
  });

  it('data offset past the captured bytes is a cut header', () => {
    const p = decode(withTcp('0d3d c036 00000001 00000002 f010 0100 0000 0000 0204 05b4'), 101);
    expect(p.error).toBe('TCP header (options) cut: 24 of 60 bytes captured');
    expect(p.errorAt).toBe(20);
    expect(p.mss).toBe(1460); // options that were there are kept
    expect(p.payloadLen).toBe(0);
  });

  it('payload: captured vs wire length, bounded by the IP total length', () => {
    const payload = Buffer.alloc(1000, 0x41);
    const pkt = f.ethernet(f.ipv4(f.tcp(payload, { srcPort: 3389, dstPort: 5, seq: 0, ack: 0, flags: 0x18 }, ip), 6, ip));
    const full = decode(pkt, 1);
    expect(full).toMatchObject({ payloadOff: 54, payloadLen: 1000, payloadWireLen: 1000 });
    const cut = decode(pkt.subarray(0, 96), 1); // snaplen 96
    expect(cut).toMatchObject({ error: null, payloadOff: 54, payloadLen: 42, payloadWireLen: 1000 });
  });
});

describe('UDP', () => {
  it('literal header: ports, length bounds the payload', () => {
    const p = decode(f.ipv4(hex('d6d8 0d3d 000c 0000 01020304 ffff'), 17, ip), 101);
    expect(p).toMatchObject({ error: null, srcPort: 55000, dstPort: 3389, payloadOff: 28, payloadLen: 4, payloadWireLen: 4 });
  });

  it('UDP length < 8 is an error at the length field; IP length still bounds the payload', () => {
    const p = decode(f.ipv4(hex('0035 1234 0004 0000 61626364'), 17, ip), 101);
    expect(p.error).toBe('UDP length 4 < 8');
    expect(p.errorAt).toBe(24);
    expect(p.payloadLen).toBe(4);
  });

  it('cut UDP header', () => {
    const p = decode(f.ipv4(hex('0035 1234 00'), 17, ip), 101);
    expect(p.error).toBe('UDP header cut: 5 of 8 bytes captured');
    expect(p.srcPort).toBe(53); // the ports that were there are kept
    expect(p.dstPort).toBe(0x1234);
    expect(decode(f.ipv4(hex('0035 12'), 17, ip), 101).srcPort).toBe(0);
  });

  it('builder UDP over IPv6', () => {
    const ip6 = { src: '2001:db8::1', dst: '2001:db8::2' };
    const p = decode(f.ipv6(f.udp(Buffer.from('hello'), 3389, 3389, ip6), 17, ip6), 101);
    expect(p).toMatchObject({ srcPort: 3389, dstPort: 3389, payloadLen: 5, payloadWireLen: 5, l4Off: 40 });
  });
});
