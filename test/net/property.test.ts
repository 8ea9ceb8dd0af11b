// Hostile input: random bytes and randomly damaged real-looking frames, for every
// link type. Never a throw, never an offset outside the captured bytes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as f from '../../fixtures/lib/frames.js';
import { DecodedPacket } from '../../src/net/packet.js';
import { decodePacket, decodeQuoted } from '../../src/net/decode.js';
import { checkIpChecksum, checkTransportChecksum } from '../../src/net/checksum.js';
import { decodeDns } from '../../src/net/dns.js';
import { ipText, srcText, dstText } from '../../src/net/addr.js';

const LINK_TYPES = [0, 1, 9, 12, 14, 50, 101, 105, 108, 113, 127, 228, 229, 276, 147, 65000];

function checkBounds(p: DecodedPacket, off: number, end: number, what: string): void {
  const inRange = (x: number): boolean => x >= off && x <= end;
  if (p.error === null) expect(p.errorAt, what).toBe(-1);
  else expect(inRange(p.errorAt), `${what} errorAt ${p.errorAt} (${p.error})`).toBe(true);
  if (p.ipOff >= 0) {
    expect(inRange(p.ipOff), `${what} ipOff`).toBe(true);
    expect(p.ipEnd >= p.ipOff && p.ipEnd <= end, `${what} ipEnd`).toBe(true);
  }
  const alen = p.ipVersion === 6 ? 16 : 4;
  if (p.srcOff >= 0) expect(p.srcOff >= off && p.srcOff + alen <= end, `${what} srcOff`).toBe(true);
  if (p.dstOff >= 0) expect(p.dstOff >= off && p.dstOff + alen <= end, `${what} dstOff`).toBe(true);
  if (p.l4Off >= 0) {
    expect(p.l4Off >= p.ipOff && p.l4Off <= p.ipEnd, `${what} l4Off`).toBe(true);
    expect(inRange(p.payloadOff), `${what} payloadOff`).toBe(true);
  }
  expect(p.payloadLen >= 0 && p.payloadWireLen >= 0, `${what} lengths`).toBe(true);
  if (p.payloadLen > 0) expect(p.payloadOff >= off && p.payloadOff + p.payloadLen <= end, `${what} payload`).toBe(true);
  if (p.quotedOff >= 0) expect(p.quotedOff >= off && p.quotedOff + p.quotedLen <= end && p.quotedLen >= 0, `${what} quoted`).toBe(true);
  expect(p.seq >= 0 && p.seq <= 0xffffffff && p.ack >= 0 && p.ack <= 0xffffffff, `${what} seq/ack`).toBe(true);
  expect(p.srcPort >= 0 && p.srcPort <= 0xffff && p.dstPort >= 0 && p.dstPort <= 0xffff, `${what} ports`).toBe(true);
}

function exercise(buf: Buffer, off: number, capLen: number, linkType: number): void {
  const p = new DecodedPacket();
  decodePacket(buf, off, capLen, linkType, p);
  const end = Math.min(off + capLen, buf.length);
  checkBounds(p, off, end, `lt ${linkType}`);
  checkIpChecksum(p);
  checkTransportChecksum(p);
  srcText(p);
  dstText(p);
  const inner = new DecodedPacket();
  decodeQuoted(p, inner);
  if (p.quotedOff >= 0) checkBounds(inner, p.quotedOff, p.quotedOff + p.quotedLen, `quoted in lt ${linkType}`);
  checkTransportChecksum(inner);
  if (p.payloadLen > 0 && (p.srcPort === 53 || p.dstPort === 53)) decodeDns(buf, p.payloadOff, p.payloadLen);
}

/** A chunk holding one packet somewhere in the middle, as the capture reader hands it out. */
const chunk = fc.record({
  before: fc.nat(16),
  bytes: fc.uint8Array({ maxLength: 300 }),
  after: fc.nat(16),
  linkType: fc.constantFrom(...LINK_TYPES),
});

describe('random bytes never throw and stay in bounds', () => {
  it('for every link type', () => {
    fc.assert(
      fc.property(chunk, ({ before, bytes, after, linkType }) => {
        const buf = Buffer.alloc(before + bytes.length + after, 0x5a);
        buf.set(bytes, before);
        exercise(buf, before, bytes.length, linkType);
      }),
      { numRuns: 3000 },
    );
  });

  it('with a plausible link header in front (so the IP layers are reached)', () => {
    const heads: [number, Buffer][] = [
      [1, Buffer.from('0200000000020200000000010800', 'hex')],
      [1, Buffer.from('02000000000202000000000181000001 86dd'.replace(/ /g, ''), 'hex')],
      [113, Buffer.from('00000001000602000000000100000800', 'hex')],
      [276, Buffer.from('86dd00000000000200010006020000000001 0000'.replace(/ /g, ''), 'hex')],
      [0, Buffer.from('02000000', 'hex')],
      [0, Buffer.from('0000001e', 'hex')],
      [101, Buffer.alloc(0)],
    ];
    fc.assert(
      fc.property(fc.nat(heads.length - 1), fc.constantFrom(0x45, 0x46, 0x4f, 0x60), fc.uint8Array({ maxLength: 200 }), (i, first, rest) => {
        const [lt, head] = heads[i]!;
        const pkt = Buffer.concat([head, Buffer.from([first]), rest]);
        exercise(pkt, 0, pkt.length, lt);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('damaged well-formed frames never throw and stay in bounds', () => {
  const ip4 = { src: '10.0.0.1', dst: '10.0.0.2' };
  const ip6 = { src: '2001:db8::1', dst: '2001:db8::2' };
  const syn = (ip: f.Ip): Buffer =>
    f.tcp(Buffer.from('abc'), { srcPort: 1, dstPort: 3389, seq: 1, ack: 0, flags: 2, options: f.tcpOptions({ mss: 1460, sack: [[1, 2]] }) }, ip);
  const samples: [number, Buffer][] = [
    [1, f.ethernet(f.ipv4(syn(ip4), 6, ip4, { options: Buffer.alloc(8, 1) }), { vlan: [1, 2] })],
    [1, f.ethernet(f.ipv6(syn(ip6), 6, ip6, { extHeaders: [{ type: 0, body: Buffer.alloc(6) }, { type: 44, body: f.ipv6FragmentBody(0, true, 5) }, { type: 51, body: Buffer.alloc(10) }] }))],
    [1, f.ethernet(f.ipv4(f.icmpv4(3, 4, f.mtuRest(1400), f.ipv4(syn(ip4), 6, ip4)), 1, ip4))],
    [1, f.ethernet(f.ipv6(f.icmpv6(2, 0, f.mtuRest(1280, true), f.ipv6(f.udp(Buffer.from('q'), 5, 53, ip6), 17, ip6), ip6), 58, ip6))],
    [113, f.sll(f.ipv4(f.udp(f.dnsResponse(1, 'a.example', 1, 0, [{ type: 5, data: 'b.example' }, { type: 1, data: '1.2.3.4' }]), 53, 5000, ip4), 17, ip4), 0x800)],
    [276, f.sll2(f.ipv6(syn(ip6), 6, ip6), 0x86dd)],
    [0, f.nullLoopback(f.ipv4(syn(ip4), 6, ip4), 2, true)],
  ];
  it('random byte overwrites and random capture lengths', () => {
    fc.assert(
      fc.property(
        fc.nat(samples.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
        fc.nat(),
        (i, edits, cutAt) => {
          const [lt, frame] = samples[i]!;
          const buf = Buffer.from(frame);
          for (const [at, v] of edits) buf[at % buf.length] = v;
          exercise(buf, 0, cutAt % (buf.length + 1), lt);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('DNS and address text on hostile input', () => {
  it('decodeDns never throws on random bytes, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -4, max: 210 }), fc.integer({ min: -4, max: 400 }), (bytes, off, len) => {
        const m = decodeDns(bytes, off, len);
        if (m !== null) {
          expect(m.id).toBeGreaterThanOrEqual(0);
          for (const q of m.questions) expect(q.name.length).toBeLessThan(4 * 256);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decodeDns on damaged builder responses never throws', () => {
    const base = f.dnsResponse(9, 'rdp.corp.example.com', 1, 0, [{ type: 5, data: 'gw.corp.example.com' }, { type: 1, data: '192.0.2.7' }, { type: 28, data: '2001:db8::7' }]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (edits) => {
        const b = Buffer.from(base);
        for (const [at, v] of edits) b[at % b.length] = v;
        decodeDns(b, 0, b.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('builder names round-trip through decodeDns', () => {
    const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 6 }), fc.nat(0xffff), (labels, id) => {
        const name = labels.join('.');
        const m = decodeDns(f.dnsQuery(id, name, 1), 0, 1000);
        expect(m).toEqual({ id, response: false, rcode: 0, questions: [{ name, qtype: 1 }], answers: [] });
      }),
    );
  });

  it('IPv6 text round-trips through the builder parser for random addresses', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (b, zeros) => {
        const bytes = Buffer.from(b);
        if (zeros) bytes.fill(0, 4, 12);
        const text = ipText(bytes, 0, 6);
        expect(f.ipv6Bytes(text).equals(bytes)).toBe(true);
        expect(text).toBe(text.toLowerCase());
        expect(text.split('::').length).toBeLessThanOrEqual(2);
      }),
      { numRuns: 2000 },
    );
  });
});
