// The duplicate check's first test (duplicates.ts, issue 16): a counting filter over the ring only
// skips scans that could find nothing. On random segment sequences with few distinct values (so that
// copies, near-copies and filter collisions are common), DuplicateDetector answers as the plain scan of
// the same ring does (the detector before the filter, kept here as the reference): the same verdict
// and the same original frame, segment after segment, also across a reset.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COPY_WITHOUT_ID_S, COPY_WITH_ID_S, DuplicateDetector } from '../../src/flow/duplicates.js';
import { DecodedPacket } from '../../src/net/index.js';

const RING = 16;

/** The detector without the filter: the last segment inline, then a ring of the last RING, scanned in slot order. */
class ScanDetector {
  private last: number[] | null = null;
  private lt = 0;
  private lf = -1;
  private ring: { w: number[]; t: number; f: number }[] = [];
  private at = 0;
  originalFrame = 0;

  isCopy(w: number[], withId: boolean, bareAck: boolean, frame: number, time: number): boolean {
    if (this.lf >= 0 && (withId || !bareAck)) {
      const limit = withId ? COPY_WITH_ID_S : COPY_WITHOUT_ID_S;
      if (this.last!.every((x, i) => x === w[i]) && Math.abs(time - this.lt) <= limit) {
        this.originalFrame = this.lf;
        return true;
      }
      for (const e of this.ring) {
        if (e.w.every((x, i) => x === w[i]) && Math.abs(time - e.t) <= limit) {
          this.originalFrame = e.f;
          return true;
        }
      }
    }
    if (this.lf >= 0) {
      if (this.ring.length === 0) this.push(this.last!, this.lt, this.lf);
      this.push(w, time, frame);
    }
    this.last = w;
    this.lt = time;
    this.lf = frame;
    return false;
  }

  private push(w: number[], t: number, f: number): void {
    if (this.ring.length < RING) this.ring.push({ w, t, f });
    else this.ring[this.at] = { w, t, f };
    this.at = (this.at + 1) % RING;
  }
}

interface Seg {
  seq: number;
  ack: number;
  ipId: number;
  checksum: number;
  len: number;
  flags: number;
  window: number;
  dir: number;
  dt: number;
}

const seg: fc.Arbitrary<Seg> = fc.record({
  seq: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(0xfffffff0), fc.integer({ min: 0, max: 0xffffffff })),
  ack: fc.integer({ min: 0, max: 2 }),
  ipId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
  checksum: fc.integer({ min: 0, max: 3 }),
  len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 })),
  flags: fc.constantFrom(0x10, 0x18, 0x11, 0x02, 0x04),
  window: fc.constantFrom(0, 64240),
  dir: fc.integer({ min: 0, max: 1 }),
  dt: fc.oneof(fc.constant(0), fc.constant(0.005), fc.constant(0.5), fc.constant(2)),
});

function packet(p: DecodedPacket, s: Seg): void {
  const buf = Buffer.alloc(40);
  buf[36] = s.checksum >> 8;
  buf[37] = s.checksum & 255;
  p.reset(buf, 1);
  p.ipVersion = 4;
  p.ipId = s.ipId;
  p.l4Off = 20;
  p.seq = s.seq >>> 0;
  p.ack = s.ack >>> 0;
  p.tcpFlags = s.flags;
  p.window = s.window;
  p.payloadLen = s.len;
  p.payloadWireLen = s.len;
}

/** The words the detector compares (duplicates.ts), for the reference. */
function words(s: Seg): number[] {
  return [s.seq | 0, s.ack | 0, (s.ipId << 16) | s.checksum, (s.len << 8) | s.flags, s.window | (s.dir << 16)];
}

describe('DuplicateDetector: the counting filter changes no answer', () => {
  it('finds the same copies, with the same original frames, as the plain scan of its ring', () => {
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 200 }), (segs, resetAt) => {
        const d = new DuplicateDetector();
        let ref = new ScanDetector();
        const p = new DecodedPacket();
        let time = 0;
        segs.forEach((s, i) => {
          if (i === resetAt) {
            d.reset();
            ref = new ScanDetector();
          }
          time += s.dt;
          packet(p, s);
          const got = d.isCopy(p, s.dir, i + 1, time);
          const bareAck = s.len === 0 && (s.flags & 0x07) === 0;
          const want = ref.isCopy(words(s), s.ipId !== 0, bareAck, i + 1, time);
          expect(got).toBe(want);
          if (want) expect(d.originalFrame).toBe(ref.originalFrame);
        });
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 200), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });

  it('finds a copy of a segment fifteen segments back, and none of one that left the ring', () => {
    const d = new DuplicateDetector();
    const p = new DecodedPacket();
    const s = (seq: number): Seg => ({ seq, ack: 1, ipId: 100 + seq, checksum: seq * 7, len: 100, flags: 0x18, window: 64240, dir: 1, dt: 0 });
    for (let i = 0; i < 40; i++) {
      packet(p, s(i * 100));
      expect(d.isCopy(p, 1, i + 1, i * 0.001)).toBe(false);
    }
    packet(p, s(25 * 100)); // frame 26: in the ring (the last 16 are frames 25..40)
    expect(d.isCopy(p, 1, 41, 0.04)).toBe(true);
    expect(d.originalFrame).toBe(26);
    packet(p, s(20 * 100)); // frame 21: gone from the ring
    expect(d.isCopy(p, 1, 42, 0.04)).toBe(false);
  });
});
