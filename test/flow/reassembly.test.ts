import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_RECEIVE_WINDOW, StreamReassembler, outsideAnyWindow, type HeldBudget, type ReassemblySink } from '../../src/flow/reassembly.js';

type Out = { kind: 'data'; bytes: Buffer; frame: number } | { kind: 'gap'; n: number; frame: number };

class Recorder implements ReassemblySink {
  out: Out[] = [];
  refuseAfter = Infinity;
  data(data: Buffer, frame: number): boolean {
    this.out.push({ kind: 'data', bytes: Buffer.from(data), frame });
    return this.out.filter((o) => o.kind === 'data').length < this.refuseAfter;
  }
  gap(n: number, frame: number): void {
    this.out.push({ kind: 'gap', n, frame });
  }
  /** Segments reported outside any receive window (never part of the stream). */
  outside: { distance: number; length: number; frame: number }[] = [];
  outOfWindow(distance: number, length: number, frame: number): void {
    this.outside.push({ distance, length, frame });
  }
  text(): string {
    return this.out.map((o) => (o.kind === 'data' ? o.bytes.toString('latin1') : `[${o.n}]`)).join('');
  }
}

function make(opts: { limit?: number; maxHeld?: number; budget?: number } = {}) {
  const rec = new Recorder();
  const budget: HeldBudget = { held: 0, limit: opts.budget ?? 1 << 20 };
  const r = new StreamReassembler(opts.limit ?? 1 << 20, opts.maxHeld ?? 64, budget, rec);
  return { rec, r, budget };
}

const B = (s: string) => Buffer.from(s, 'latin1');
function seg(r: StreamReassembler, seq: number, s: string, frame: number, fin = false): void {
  const b = B(s);
  r.segment(seq, b, 0, b.length, b.length, fin, frame, frame / 10);
}

describe('StreamReassembler', () => {
  it('delivers in-order segments as copies, with their frames', () => {
    const { rec, r } = make();
    r.start(1001);
    const b = B('hello');
    r.segment(1001, b, 0, 5, 5, false, 3, 0.3);
    b.fill(0x21); // the delivered bytes are a copy
    seg(r, 1006, ' world', 4);
    expect(rec.out).toEqual([
      { kind: 'data', bytes: B('hello'), frame: 3 },
      { kind: 'data', bytes: B(' world'), frame: 4 },
    ]);
    expect(r.offset).toBe(11);
    expect(r.next).toBe(1012);
  });

  it('drops a full retransmission and delivers only the new part of an overlap', () => {
    const { rec, r } = make();
    r.start(100);
    seg(r, 100, 'abcd', 1);
    seg(r, 100, 'abcd', 2); // full retransmission
    seg(r, 102, 'cdefg', 3); // partial overlap: only "efg" is new
    expect(rec.text()).toBe('abcdefg');
    expect(rec.out.map((o) => o.frame)).toEqual([1, 3]);
  });

  it('holds an out-of-order segment until the hole fills', () => {
    const { rec, r, budget } = make();
    r.start(0);
    seg(r, 0, 'aa', 1);
    seg(r, 4, 'cc', 2);
    expect(rec.text()).toBe('aa');
    expect(r.heldSegments).toBe(1);
    expect(budget.held).toBe(2);
    seg(r, 2, 'bb', 3);
    expect(rec.text()).toBe('aabbcc');
    expect(rec.out.map((o) => o.frame)).toEqual([1, 3, 2]);
    expect(budget.held).toBe(0);
  });

  it('gives a hole up as a gap of its exact size when the other side ACKs past it', () => {
    const { rec, r } = make();
    r.start(0);
    seg(r, 0, 'aa', 1);
    seg(r, 5, 'ff', 2);
    r.ackedTo(7, 9, 0.9);
    expect(rec.out).toEqual([
      { kind: 'data', bytes: B('aa'), frame: 1 },
      { kind: 'gap', n: 3, frame: 9 },
      { kind: 'data', bytes: B('ff'), frame: 2 },
    ]);
    expect(r.gapBytes).toBe(3);
    // The late copy of the missing bytes is not delivered after the gap.
    seg(r, 2, 'cde', 10);
    expect(rec.text()).toBe('aa[3]ff');
  });

  it('gives the first hole up when more than maxHeld segments wait', () => {
    const { rec, r } = make({ maxHeld: 2 });
    r.start(0);
    seg(r, 0, 'a', 1);
    seg(r, 3, 'd', 2);
    seg(r, 5, 'f', 3);
    seg(r, 7, 'h', 4); // third held segment: the hole at 1..3 is given up
    expect(rec.text()).toBe('a[2]d');
    seg(r, 4, 'e', 5);
    expect(rec.text()).toBe('a[2]def');
    r.finish(6, 0.6);
    expect(rec.text()).toBe('a[2]def[1]h');
  });

  it('delivers held segments with gaps when the flow ends', () => {
    const { rec, r, budget } = make();
    r.start(10);
    seg(r, 12, 'cc', 1);
    seg(r, 16, 'g', 2);
    r.finish(3, 0.3);
    expect(rec.text()).toBe('[2]cc[2]g');
    expect(budget.held).toBe(0);
  });

  it('handles sequence wrap-around at 2^32', () => {
    const { rec, r } = make();
    const isn = 0xfffffffd;
    r.start(isn + 1); // 0xfffffffe
    seg(r, 0xfffffffe, 'ab', 1);
    seg(r, 2, 'ef', 3); // held across the wrap
    seg(r, 0, 'cd', 2);
    expect(rec.text()).toBe('abcdef');
    expect(r.next).toBe(4);
  });

  it('consumes a sequence number for the FIN, so the ACK of the FIN is no gap', () => {
    const { rec, r } = make();
    r.start(0);
    seg(r, 0, 'xy', 1, true);
    expect(r.finConsumed).toBe(true);
    r.ackedTo(3, 2, 0.2);
    expect(rec.text()).toBe('xy');
  });

  it('consumes an out-of-order FIN when the hole before it fills', () => {
    const { rec, r } = make();
    r.start(0);
    seg(r, 2, '', 2, true);
    expect(r.finConsumed).toBe(false);
    seg(r, 0, 'ab', 1);
    expect(r.finConsumed).toBe(true);
    r.ackedTo(3, 3, 0.3);
    expect(rec.text()).toBe('ab');
  });

  it('cuts bytes beyond the per-direction bound and counts them', () => {
    const { rec, r } = make({ limit: 5 });
    r.start(0);
    seg(r, 0, 'abc', 1);
    seg(r, 3, 'defg', 2);
    seg(r, 7, 'hij', 3);
    seg(r, 7, 'hij', 4); // retransmitted beyond the bound: not counted twice
    expect(rec.text()).toBe('abcde');
    expect(r.cutBytes).toBe(5);
    expect(r.open).toBe(false);
  });

  it('counts a held segment beyond the bound as cut, never as delivered', () => {
    const { rec, r } = make({ limit: 4 });
    r.start(0);
    seg(r, 2, 'cdef', 1);
    seg(r, 0, 'ab', 2);
    expect(rec.text()).toBe('abcd');
    expect(r.cutBytes).toBe(2);
  });

  it('stops delivering and holding when the sink refuses more bytes', () => {
    const { rec, r, budget } = make();
    rec.refuseAfter = 1;
    r.start(0);
    seg(r, 3, 'dd', 1);
    seg(r, 0, 'abc', 2);
    expect(rec.text()).toBe('abc');
    expect(r.open).toBe(false);
    expect(budget.held).toBe(0);
    seg(r, 5, 'ff', 3);
    r.finish(4, 0.4);
    expect(rec.text()).toBe('abc');
  });

  it('does not hold over the table-wide budget (the bytes become a gap)', () => {
    const { rec, r, budget } = make({ budget: 3 });
    r.start(0);
    seg(r, 2, 'cc', 1);
    seg(r, 6, 'gg', 2); // over the budget: not held
    expect(budget.held).toBe(2);
    seg(r, 0, 'ab', 3);
    r.ackedTo(8, 4, 0.4);
    expect(rec.text()).toBe('abcc[4]');
  });

  it('treats the bytes a snaplen cut from a segment as a gap', () => {
    const { rec, r } = make();
    r.start(0);
    const b = B('abcdef');
    r.segment(0, b, 0, 4, 6, false, 1, 0.1);
    seg(r, 6, 'gh', 2);
    expect(rec.text()).toBe('abcd[2]gh');
  });

  it('ignores an ACK implausibly far ahead', () => {
    const { rec, r } = make();
    r.start(0);
    seg(r, 0, 'a', 1);
    r.ackedTo(0x7fff0000, 2, 0.2);
    expect(rec.text()).toBe('a');
  });
});

// A known byte stream cut into segments, delivered in a random order with
// duplicates, overlaps and losses: the output is exactly the stream where
// bytes were received, and gaps of the exact missing sizes elsewhere.
describe('StreamReassembler property', () => {
  const arb = fc
    .record({
      len: fc.integer({ min: 1, max: 400 }),
      isn: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xfffffe00, max: 0xffffffff })),
      cuts: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 60 })), { minLength: 1, maxLength: 40 }),
      seed: fc.integer(),
    })
    .map(({ len, isn, cuts, seed }) => {
      const segs = cuts.map(([a, l]) => {
        const start = a % len;
        return [start, Math.min(len, start + l)] as [number, number];
      });
      return { len, isn, segs, seed };
    });

  function stream(len: number, seed: number): Buffer {
    const b = Buffer.alloc(len);
    let x = seed | 1;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  }

  function run(len: number, isn: number, segs: [number, number][], seed: number, maxHeld: number) {
    const s = stream(len, seed);
    const { rec, r, budget } = make({ maxHeld });
    r.start((isn + 1) >>> 0);
    segs.forEach(([a, b], i) => r.segment((isn + 1 + a) >>> 0, s, a, b - a, b - a, false, i + 1, i));
    r.finish(segs.length + 1, segs.length);
    expect(budget.held).toBe(0);
    // Replay the output over positions.
    let pos = 0;
    const seen = new Uint8Array(len);
    for (const o of rec.out) {
      if (o.kind === 'data') {
        expect(o.bytes.length).toBeGreaterThan(0);
        expect(o.bytes.equals(s.subarray(pos, pos + o.bytes.length))).toBe(true);
        for (let i = pos; i < pos + o.bytes.length; i++) seen[i] = 1;
        pos += o.bytes.length;
      } else {
        expect(o.n).toBeGreaterThan(0);
        pos += o.n;
      }
    }
    expect(pos).toBeLessThanOrEqual(len);
    return { s, rec, pos, seen };
  }

  it('delivers exactly the received bytes and gaps of the exact missing sizes', () => {
    fc.assert(
      fc.property(arb, ({ len, isn, segs, seed }) => {
        const { rec, pos } = run(len, isn, segs, seed, 1000);
        const received = new Uint8Array(len);
        let maxEnd = 0;
        for (const [a, b] of segs) {
          for (let i = a; i < b; i++) received[i] = 1;
          if (b > a) maxEnd = Math.max(maxEnd, b);
        }
        expect(pos).toBe(maxEnd);
        // Every received position is delivered as data, every other one is in a gap.
        let p = 0;
        for (const o of rec.out) {
          const n = o.kind === 'data' ? o.bytes.length : o.n;
          for (let i = p; i < p + n; i++) expect(received[i]).toBe(o.kind === 'data' ? 1 : 0);
          p += n;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never delivers more than the stream, whatever the bound on held segments', () => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 4 }), ({ len, isn, segs, seed }, maxHeld) => {
        run(len, isn, segs, seed, maxHeld);
      }),
      { numRuns: 300 },
    );
  });
});

describe('StreamReassembler: segments outside any receive window (RFC 9293 3.10.7.4, RFC 7323 2.3)', () => {
  it('the largest window is 65535 << 14', () => {
    expect(MAX_RECEIVE_WINDOW).toBe(1_073_725_440);
    expect(outsideAnyWindow(MAX_RECEIVE_WINDOW - 1, 10)).toBe(false);
    expect(outsideAnyWindow(MAX_RECEIVE_WINDOW, 10)).toBe(true);
    expect(outsideAnyWindow(-MAX_RECEIVE_WINDOW - 10, 10)).toBe(true);
    expect(outsideAnyWindow(-MAX_RECEIVE_WINDOW - 10, 11)).toBe(false);
    expect(outsideAnyWindow(0, 0)).toBe(false);
  });

  it('drops a segment 1 GiB ahead: reported with its distance, no gap, no cut bytes, no hold', () => {
    const { rec, r, budget } = make({ limit: 64 });
    r.start(1000);
    seg(r, 1000, 'abc', 1);
    seg(r, (1003 + 0x40000000) >>> 0, 'JUMP', 2, true);
    expect(rec.outside).toEqual([{ distance: 0x40000000, length: 4, frame: 2 }]);
    expect([r.outOfWindowSegments, r.outOfWindowBytes]).toEqual([1, 4]);
    expect([r.cutBytes, r.gapBytes, r.heldSegments, budget.held, r.finOffset]).toEqual([0, 0, 0, 0, -1]);
    // The stream goes on where it was.
    seg(r, 1003, 'def', 3);
    r.ackedTo(1006, 4, 0.4);
    r.finish(5, 0.5);
    expect(rec.text()).toBe('abcdef');
    expect(r.gapBytes).toBe(0);
  });

  it('drops a segment far behind the stream, across the 2^32 wrap', () => {
    const { rec, r } = make();
    r.start(0x10);
    seg(r, 0x10, 'ab', 1);
    seg(r, (0x12 - 0x50000000) >>> 0, 'old', 2);
    expect(rec.outside).toEqual([{ distance: -0x50000000, length: 3, frame: 2 }]);
    expect(rec.text()).toBe('ab');
  });

  it('takes a segment just inside the largest window as a hole, not a jump', () => {
    const { rec, r } = make({ limit: 1 << 20 });
    r.start(0);
    seg(r, MAX_RECEIVE_WINDOW - 1, 'x', 1);
    expect(rec.outside).toEqual([]);
    expect(r.cutBytes).toBe(MAX_RECEIVE_WINDOW - (1 << 20));
  });

  it('once capped, a jump is not counted as cut bytes', () => {
    const { rec, r } = make({ limit: 4 });
    r.start(0);
    seg(r, 0, 'abcdef', 1);
    expect(r.cutBytes).toBe(2);
    seg(r, 6 + 0x40000000, 'zz', 2);
    expect(r.cutBytes).toBe(2);
    expect(rec.outside).toHaveLength(1);
    seg(r, 6, 'gh', 3);
    expect(r.cutBytes).toBe(4);
  });

  it('property: whatever the jumps, the stream delivered is the stream sent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: MAX_RECEIVE_WINDOW, max: 0x7fffffff }), fc.boolean()), { maxLength: 12 }),
        (isn, jumps) => {
          const { rec, r } = make();
          r.start(isn);
          let sent = '';
          jumps.forEach(([n, far, behind], i) => {
            const chunk = String.fromCharCode(97 + (i % 26)).repeat(n);
            seg(r, (isn + sent.length) >>> 0, chunk, 2 * i + 1);
            sent += chunk;
            const at = behind ? isn + sent.length - far - 5 : isn + sent.length + far;
            seg(r, at >>> 0, 'JUNK!', 2 * i + 2);
          });
          r.finish(99, 9);
          expect(rec.text()).toBe(sent);
          expect(r.outOfWindowSegments).toBe(jumps.length);
          expect(r.cutBytes + r.gapBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
