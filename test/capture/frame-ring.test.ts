// The live sensor's ring of recent frames (src/capture/frame-ring.ts): whatever sizes come, it keeps
// a contiguous run of the newest frames, byte for byte, within its size.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameRing } from '../../src/capture/frame-ring.js';
import type { FrameView } from '../../src/capture/types.js';

function view(frame: number, data: Buffer): FrameView {
  return { buf: data, off: 0, capLen: data.length, origLen: data.length + 3, frame, fileIndex: 0, ifIndex: 0, linkType: 1, tsSec: 1_700_000_000 + frame, tsNsec: frame * 1000, fileOffset: 0 };
}

function kept(r: FrameRing, from = 0, to = Number.MAX_SAFE_INTEGER): { frame: number; data: Buffer; tsSec: number; origLen: number }[] {
  const out: { frame: number; data: Buffer; tsSec: number; origLen: number }[] = [];
  r.visit(from, to, (v) => out.push({ frame: v.frame, data: Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)), tsSec: v.tsSec, origLen: v.origLen }));
  return out;
}

describe('FrameRing', () => {
  it('keeps what fits and hands it back with its number, time and lengths', () => {
    const r = new FrameRing(64 * 1024);
    const a = Buffer.from('first packet');
    const b = Buffer.alloc(1500, 7);
    r.push(view(1, a));
    r.push(view(2, b));
    expect(kept(r)).toEqual([
      { frame: 1, data: a, tsSec: 1_700_000_001, origLen: a.length + 3 },
      { frame: 2, data: b, tsSec: 1_700_000_002, origLen: 1503 },
    ]);
    expect(kept(r, 2, 2).map((x) => x.frame)).toEqual([2]);
    expect(r.oldestFrame).toBe(1);
    expect(r.newestFrame).toBe(2);
  });

  it('overwrites the oldest frames first, wrapping around', () => {
    const r = new FrameRing(64 * 1024);
    for (let i = 1; i <= 200; i++) r.push(view(i, Buffer.alloc(1000, i & 0xff)));
    const k = kept(r);
    expect(k.at(-1)!.frame).toBe(200);
    expect(k.length).toBeGreaterThan(50);
    expect(k.length).toBeLessThan(66);
    for (const x of k) expect(x.data.every((byte) => byte === (x.frame & 0xff))).toBe(true);
  });

  it('any sizes: a contiguous run of the newest frames, byte for byte, within its size', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 64 * 1024, max: 256 * 1024 }), (sizes, size) => {
        const r = new FrameRing(size);
        const pushed: { frame: number; data: Buffer }[] = [];
        sizes.forEach((n, i) => {
          const data = Buffer.alloc(Math.min(n, 65535), (i * 31) & 0xff);
          r.push(view(i + 1, data));
          if (24 + data.length <= size) pushed.push({ frame: i + 1, data });
        });
        const k = kept(r);
        if (pushed.length === 0) return k.length === 0;
        // The newest frame that fits is always kept, and the kept frames are the last ones pushed, in order.
        const tail = pushed.slice(pushed.length - k.length);
        expect(k.map((x) => x.frame)).toEqual(tail.map((x) => x.frame));
        for (let i = 0; i < k.length; i++) expect(k[i]!.data.equals(tail[i]!.data)).toBe(true);
        expect(k.at(-1)!.frame).toBe(pushed.at(-1)!.frame);
        const bytes = k.reduce((a, x) => a + 24 + x.data.length, 0);
        expect(bytes).toBeLessThanOrEqual(size);
        // Space lost to wrapping is at most one frame: what fits in half the ring is always kept.
        let room = size / 2 - 65_559;
        let expectKept = 0;
        for (let i = pushed.length - 1; i >= 0 && room >= 24 + pushed[i]!.data.length; i--) {
          room -= 24 + pushed[i]!.data.length;
          expectKept++;
        }
        expect(k.length).toBeGreaterThanOrEqual(Math.min(expectKept, pushed.length));
        return true;
      }),
      { numRuns: 400, seed: 15 },
    );
  });
});
