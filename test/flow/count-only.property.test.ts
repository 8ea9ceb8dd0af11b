// The count-only path changes what is verified and reassembled, never what is counted: on random
// segment sequences (in order, retransmitted, ahead of a hole, keep-alives, zero windows, FIN, RST),
// a consumer that stops wanting bytes after its first delivery gets the same TCP facts and packet
// counts as one that takes every byte. Also with segments outside any receive window, capture copies
// (the same frame twice), connections picked up without their handshake, and two connections whose
// ports share a cell of the table's flow cache, interleaved.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_RECEIVE_WINDOW } from '../../src/flow/reassembly.js';
import { ACK, Conn, FIN, Harness, PSH, RST, handshake } from './harness.js';

interface Seg {
  fromServer: boolean;
  len: number;
  /** 0: next; 1: retransmit from an earlier point; 2: ahead, leaving a hole; 3: keep-alive (next - 1); 4: outside any receive window. */
  where: number;
  /** Which of the two connections sends it. */
  conn: number;
  /** Fed twice (a capture copy). */
  copy: boolean;
  back: number;
  ackBack: number;
  flags: number;
  window: number;
  dt: number;
}

const seg: fc.Arbitrary<Seg> = fc.record({
  fromServer: fc.boolean(),
  len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1400 })),
  where: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 3, 4) }),
  conn: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
  copy: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  back: fc.integer({ min: 1, max: 5000 }),
  ackBack: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }) }),
  flags: fc.oneof({ weight: 30, arbitrary: fc.constant(ACK | PSH) }, { weight: 1, arbitrary: fc.constantFrom(FIN | ACK, RST, RST | ACK) }),
  window: fc.oneof({ weight: 10, arbitrary: fc.constant(64240) }, { weight: 1, arbitrary: fc.constant(0) }),
  dt: fc.oneof(fc.constant(0.001), fc.double({ min: 0, max: 2, noNaN: true })),
});

function run(segs: Seg[], acceptChunks: number, handshakes: boolean): string {
  const h = new Harness();
  h.acceptChunks = acceptChunks;
  // The second connection's ports fall in the first one's cell of the flow cache (ports XOR, mod 1024).
  const conns = [new Conn('10.2.0.5', 50300, '10.2.0.9', 3389), new Conn('10.2.0.6', 50300 + 1024, '10.2.0.9', 3389, 7000, 9000)];
  const started = [false, false];
  for (const s of segs) {
    const c = conns[s.conn]!;
    if (!started[s.conn]) {
      started[s.conn] = true;
      // Without its handshake the flow is picked up by its port (clientBy 'port'), as a capture started mid-session.
      if (handshakes) handshake(h, c);
      else c.established();
    }
    const next = s.fromServer ? c.sSeq : c.cSeq;
    const seq =
      s.where === 0 ? next : s.where === 1 ? (next - s.back) >>> 0 : s.where === 2 ? (next + s.back) >>> 0 : s.where === 3 ? (next - 1) >>> 0 : (next + MAX_RECEIVE_WINDOW + s.back) >>> 0;
    const len = s.where === 3 ? Math.min(s.len, 1) : s.len;
    const ack = ((s.fromServer ? c.cSeq : c.sSeq) - s.ackBack) >>> 0;
    const o = { seq, ack, window: s.window };
    const payload = 'x'.repeat(len);
    const frame = s.fromServer ? c.s(payload, s.flags, o) : c.c(payload, s.flags, o);
    h.feed(frame, s.dt);
    if (s.copy) h.feed(frame, 0);
    if (s.where === 0 || s.where === 2) {
      // Advance that side past the segment (the harness does not when seq is given).
      const end = (seq + len + ((s.flags & FIN) !== 0 ? 1 : 0)) >>> 0;
      if (s.fromServer) c.sSeq = end;
      else c.cSeq = end;
    }
  }
  h.finish();
  return JSON.stringify(
    h.consumers.map((r) => ({
      tcp: r.ended?.facts.tcp,
      packets: r.ended?.facts.packets,
      bytes: r.ended?.facts.payloadBytes,
      copies: r.ended?.facts.captureDuplicateFrames,
      reason: r.ended?.reason,
      events: r.eventText(),
    })),
  );
}

describe('the count-only path counts as the full path does', () => {
  it('same TCP facts, packets and events whether the consumer stops after its first delivery or never', () => {
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 120 }), fc.boolean(), (segs, handshakes) => {
        expect(run(segs, 1, handshakes)).toBe(run(segs, Infinity, handshakes));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 150), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });
});
