// StreamBuf's chunk columns (issue 16: typed arrays cut by an index and emptied by a count, instead of
// arrays pushed and spliced) against the former list semantics: the frame and time credited to every
// byte, and the bytes themselves, over random appends and consumes (many chunks pending, so the
// columns grow and move down).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamBuf } from '../../src/handshake/stream.js';

/** The former bookkeeping: every chunk's absolute end, frame and time in arrays, spliced from the front. */
class Reference {
  ends: number[] = [];
  frames: number[] = [];
  times: number[] = [];
  bytes: number[] = [];
  base = 0;
  append(data: number[], frame: number, time: number): void {
    if (data.length === 0) return;
    this.bytes.push(...data);
    this.ends.push(this.base + this.bytes.length);
    this.frames.push(frame);
    this.times.push(time);
  }
  index(abs: number): number {
    for (let i = 0; i < this.ends.length; i++) if (abs < this.ends[i]!) return i;
    return this.ends.length - 1;
  }
  frameOfEnd(n: number): number {
    return this.frames[this.index(this.base + Math.max(n, 1) - 1)] ?? 0;
  }
  timeOfEnd(n: number): number {
    return this.times[this.index(this.base + Math.max(n, 1) - 1)] ?? 0;
  }
  frameOfStart(): number {
    return this.frames[this.index(this.base)] ?? 0;
  }
  consume(n: number): void {
    n = Math.min(n, this.bytes.length);
    this.bytes.splice(0, n);
    this.base += n;
    const abs = this.base;
    let drop = 0;
    while (drop < this.ends.length - 1 && this.ends[drop]! <= abs) drop++;
    if (this.bytes.length === 0 && drop === this.ends.length - 1 && this.ends[drop]! <= abs) drop++;
    this.ends.splice(0, drop);
    this.frames.splice(0, drop);
    this.times.splice(0, drop);
  }
}

// Appends outnumber consumes and consumes are short, so that many chunks stay pending while the
// first ones are consumed: the columns fill up with consumed chunks in front and are moved down.
const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('append' as const), len: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('consume' as const), len: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), len: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('consume' as const), len: fc.integer({ min: 0, max: 80 }) }) },
);

describe('StreamBuf chunk columns', () => {
  it('credit the same frames and times and keep the same bytes as the former lists', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), (ops) => {
        const s = new StreamBuf(1 << 20);
        const r = new Reference();
        let frame = 1;
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'append') {
            const data = Array.from({ length: o.len }, () => next++ & 0xff);
            s.append(Buffer.from(data), frame, frame / 10);
            r.append(data, frame, frame / 10);
            frame++;
          } else {
            s.consume(o.len);
            r.consume(o.len);
          }
          expect(s.available).toBe(r.bytes.length);
          expect([...s.bytes.subarray(s.off, s.end)]).toEqual(r.bytes);
          expect(s.frameOfStart()).toBe(r.frameOfStart());
          for (const n of [0, 1, 2, 7, r.bytes.length, r.bytes.length + 3]) {
            expect(s.frameOfEnd(n)).toBe(r.frameOfEnd(n));
            expect(s.timeOfEnd(n)).toBe(r.timeOfEnd(n));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('many small segments pending at once (a record over dozens of segments), then consumed piece by piece', () => {
    const s = new StreamBuf(1 << 20);
    for (let f = 1; f <= 100; f++) s.append(Buffer.from([f & 0xff, (f + 1) & 0xff]), f, f);
    expect(s.frameOfEnd(200)).toBe(100);
    expect(s.frameOfEnd(101)).toBe(51);
    s.consume(150);
    expect(s.frameOfStart()).toBe(76);
    for (let f = 101; f <= 140; f++) s.append(Buffer.from([1]), f, f);
    expect(s.frameOfEnd(50)).toBe(100);
    expect(s.frameOfEnd(51)).toBe(101);
    expect(s.timeOfEnd(90)).toBe(140);
    // The columns were full (128) with 75 consumed chunks in front: moved down, frames and times with them.
    expect(s.frameOfEnd(1)).toBe(76);
    expect(s.timeOfEnd(1)).toBe(76);
    expect(s.timeOfEnd(51)).toBe(101);
    s.consume(90);
    expect(s.available).toBe(0);
    expect(s.frameOfStart()).toBe(0);
  });
});
