// Hostile and random input: the table never throws, tells every consumer onEnd
// exactly once, and holds nothing once the capture is finished.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodedPacket, decodePacket } from '../../src/net/index.js';
import { ACK, FIN, Harness, PSH, RST, SYN, tcpFrame, udpFrame } from './harness.js';
import { ethernet, icmpv4, ipPacket } from '../../fixtures/lib/frames.js';

const HOSTS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const PORTS = [3389, 42356, 50000, 53];

const segment = fc.record({
  a: fc.integer({ min: 0, max: 2 }),
  b: fc.integer({ min: 0, max: 2 }),
  sp: fc.constantFrom(...PORTS),
  dp: fc.constantFrom(...PORTS),
  seq: fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 0xffffffff })),
  ack: fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 0xffffffff })),
  flags: fc.constantFrom(SYN, SYN | ACK, ACK, ACK | PSH, FIN | ACK, RST, RST | ACK, 0xff, 0),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.constant(Uint8Array.from(Buffer.from('030000130ee000000000000100080003000000', 'hex'))),
  ),
  window: fc.constantFrom(0, 1, 65535),
  udp: fc.boolean(),
  dt: fc.double({ min: 0, max: 5, noNaN: true }),
});

describe('FlowTable on random traffic', () => {
  it('never throws, ends every flow exactly once, and holds nothing after finish', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (segs, maxFlows) => {
        const h = new Harness({ maxFlows, perFlowBytes: 100, maxHeldSegments: 3 });
        for (const s of segs) {
          const ip = { src: HOSTS[s.a]!, dst: HOSTS[s.b]! };
          const payload = Buffer.from(s.payload);
          h.feed(s.udp ? udpFrame(ip, s.sp, s.dp, payload) : tcpFrame(ip, s.sp, s.dp, s.seq, s.ack, s.flags, payload, { window: s.window }), s.dt);
          expect(h.table.openFlows).toBeLessThanOrEqual(maxFlows);
        }
        h.finish();
        expect(h.table.openFlows).toBe(0);
        expect(h.table.heldBytes).toBe(0);
        for (const r of h.consumers) {
          expect(r.ends).toBe(1);
          expect(r.log.at(-1)!.kind).toBe('end');
          const f = r.ended!.facts;
          // Never more bytes delivered than the bound, per direction.
          for (const d of [0, 1] as const) {
            const got = r.log.reduce((n, x) => n + (x.kind === 'data' && x.dir === d ? x.data.length : 0), 0);
            expect(got).toBeLessThanOrEqual(100);
            expect(f.gapBytes[d]).toBeGreaterThanOrEqual(0);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random bytes decoded as frames', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 120 }), { maxLength: 30 }), fc.constantFrom(1, 101, 113, 0), (frames, linkType) => {
        const h = new Harness();
        const p = new DecodedPacket();
        let n = 0;
        for (const f of frames) {
          const b = Buffer.from(f);
          decodePacket(b, 0, b.length, linkType, p);
          h.table.handle(p, ++n, n, 0);
        }
        h.finish();
        expect(h.table.stats.packets).toBe(frames.length);
        for (const r of h.consumers) expect(r.ends).toBe(1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('FlowTable: half-open slots (halfopen.ts) against flows tracked from the SYN', () => {
  // SYN-heavy traffic on few 4-tuples: SYNs, their retransmissions and copies, SYN/ACKs right and
  // wrong, resets, ICMP-free; then the handshake's ACK or data now and then (the slot becomes a flow).
  const syny = fc.record({
    a: fc.integer({ min: 0, max: 2 }),
    cp: fc.constantFrom(50000, 50001, 50002),
    toServer: fc.boolean(),
    isn: fc.constantFrom(1000, 2000),
    ack: fc.constantFrom(1001, 2001, 5001, 0),
    flags: fc.constantFrom(SYN, SYN, SYN | ACK, SYN | ACK, RST, RST | ACK, ACK, ACK | PSH, FIN | ACK),
    payload: fc.constantFrom('', '', '', 'x'),
    id: fc.constantFrom(1, 2, 0),
    dt: fc.constantFrom(0, 0.0001, 0.5, 1, 3, 25),
    /** Instead of the segment: a router's ICMP unreachable quoting it (RFC 792: IP header + 8 bytes). */
    icmp: fc.constantFrom(false, false, false, false, false, true),
  });

  it('give the same events, bytes, facts and end reasons (caps on half-open and tracked flows included)', () => {
    fc.assert(
      fc.property(fc.array(syny, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), (segs, maxHalfOpen, maxFlows) => {
        const run = (halfOpenSlots: boolean): string => {
          const h = new Harness({ maxHalfOpen, maxFlows, halfOpenSlots });
          for (const s of segs) {
            const client = HOSTS[s.a]!;
            const server = '10.0.9.9';
            const ip = s.toServer ? { src: client, dst: server, id: s.id } : { src: server, dst: client, id: s.id };
            const [sp, dp] = s.toServer ? [s.cp, 3389] : [3389, s.cp];
            const seq = s.toServer ? s.isn : 5000;
            const frame = tcpFrame(ip, sp, dp, seq, s.ack, s.flags, s.payload);
            if (s.icmp) {
              const quoted = frame.subarray(14, 14 + 28);
              h.feed(ethernet(ipPacket(icmpv4(3, 13, Buffer.alloc(4), quoted), 1, { src: '10.0.0.254', dst: ip.src })), s.dt);
            } else h.feed(frame, s.dt);
          }
          h.finish();
          const st = h.table.stats;
          const out = [...h.consumers].sort((x, y) => x.facts.id - y.facts.id).map((r) => [r.facts.id, r.ends, r.ended?.reason, r.ended?.facts, r.eventText(), r.stream(0), r.stream(1)]);
          return JSON.stringify([out, st.flowsTracked, st.flowsEvicted, st.halfOpenEvicted, st.badChecksums, st.captureDuplicates, st.unmatchedIcmp]);
        };
        expect(run(true)).toBe(run(false));
      }),
      { numRuns: Number(process.env['PROP_RUNS'] ?? 400) },
    );
  });
});
