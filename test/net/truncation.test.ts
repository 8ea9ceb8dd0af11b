// A packet cut at every byte: never a throw, an error exactly when a header is cut,
// errorAt within the captured bytes, and what was read before the cut kept.
import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decodeAt } from './helpers.js';
import { DecodedPacket } from '../../src/net/packet.js';
import { decodePacket } from '../../src/net/decode.js';

const ip4 = { src: '192.0.2.1', dst: '198.51.100.2' };
const ip6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const opts = f.tcpOptions({ mss: 1460, wscale: 8, sackPermitted: true, timestamps: [1, 2] });
const seg4 = f.tcp(Buffer.from('payload!'), { srcPort: 50000, dstPort: 3389, seq: 1, ack: 2, flags: 0x18, options: opts }, ip4);
const eth4 = f.ethernet(f.ipv4(seg4, 6, ip4, { options: Buffer.from([1, 1, 1, 0]) }), { vlan: [5] });
const seg6 = f.tcp(Buffer.from('payload!'), { srcPort: 50000, dstPort: 3389, seq: 1, ack: 2, flags: 0x18, options: opts }, ip6);
const eth6 = f.ethernet(f.ipv6(seg6, 6, ip6, { extHeaders: [{ type: 0, body: Buffer.alloc(6) }, { type: 44, body: f.ipv6FragmentBody(0, false, 1) }] }));

const BEFORE = 11;

function sweep(name: string, frame: Buffer, linkType: number, l2: number, ipHdr: number, tcpHdr: number): void {
  describe(name, () => {
    it('every prefix length decodes without throwing; error exactly while a header is incomplete', () => {
      const tcpEnd = l2 + ipHdr + tcpHdr;
      for (let n = 0; n <= frame.length; n++) {
        const p = decodeAt(frame.subarray(0, n), linkType, BEFORE, 0);
        const ctx = `cut at ${n}`;
        if (n < tcpEnd) {
          expect(p.error, ctx).not.toBeNull();
          expect(p.errorAt, ctx).toBeGreaterThanOrEqual(BEFORE);
          expect(p.errorAt, ctx).toBeLessThanOrEqual(BEFORE + n);
        } else {
          expect(p.error, ctx).toBeNull();
          expect(p.payloadOff, ctx).toBe(BEFORE + tcpEnd);
          expect(p.payloadLen, ctx).toBe(n - tcpEnd);
          expect(p.payloadWireLen, ctx).toBe(8);
        }
        // What was read before the cut stays.
        if (n >= l2 + ipHdr) expect(p.dstPort === 3389 || n < l2 + ipHdr + 4, ctx).toBe(true);
        if (n >= l2 + (ipHdr === 24 ? 20 : 40)) expect(p.ipVersion, ctx).not.toBe(0);
        if (n >= l2 + ipHdr + 20) expect(p.tcpFlags, ctx).toBe(0x18);
      }
    });
  });
}

sweep('Ethernet + VLAN / IPv4 with options / TCP with options', eth4, 1, 18, 24, 20 + opts.length);
sweep('Ethernet / IPv6 + hop-by-hop + fragment / TCP with options', eth6, 1, 14, 56, 20 + opts.length);

describe('cuts inside the other link layers', () => {
  const inner = f.ipv4(seg4, 6, ip4);
  const frames: [string, Buffer, number][] = [
    ['SLL', f.sll(inner, 0x0800), 113],
    ['SLL2', f.sll2(inner, 0x0800), 276],
    ['null', f.nullLoopback(inner, 2, true), 0],
    ['raw', inner, 101],
    ['PPP', Buffer.concat([Buffer.from([0xff, 0x03, 0x00, 0x21]), inner]), 9],
  ];
  for (const [name, frame, lt] of frames) {
    it(`${name}: every prefix`, () => {
      const p = new DecodedPacket();
      for (let n = 0; n <= frame.length; n++) {
        expect(() => decodePacket(frame, 0, n, lt, p)).not.toThrow();
        if (p.error !== null) {
          expect(p.errorAt).toBeGreaterThanOrEqual(0);
          expect(p.errorAt).toBeLessThanOrEqual(n);
        }
        if (n === frame.length) expect(p.error).toBeNull();
      }
    });
  }

  it('capLen larger than the buffer is bounded by the buffer', () => {
    const p = new DecodedPacket();
    decodePacket(eth4.subarray(0, 30), 0, 1000, 1, p);
    expect(p.error).toMatch(/IPv4 header cut/);
    expect(p.errorAt).toBe(18);
  });
});
