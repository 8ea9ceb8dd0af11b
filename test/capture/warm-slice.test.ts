// The record loops' first calls read a short slice of a large buffer (CaptureParser.warmStop, issue 16
// warm-up): the frames, offsets, `needed`, warnings and damage must be those of reading the buffer in
// one call, or in small pushed chunks.
import { describe, expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { copyView, epb, idb, parseBytes, pcapHeader, pcapRecord, pkt, shb, type Got, type Order } from './build.js';

/** Reads bytes with feed() over one owned buffer (as the file reader does), then finish(). */
function feedAll(bytes: Buffer): { frames: Got[]; info: ReturnType<CaptureParser['finish']>; off: number; needed: number } {
  const frames: Got[] = [];
  const parser = new CaptureParser('test.pcap', 0, { onFrame: (v) => frames.push(copyView(v)) });
  const off = parser.feed(bytes, 0, bytes.length);
  const needed = parser.needed;
  if (off < bytes.length && !parser.stopped) parser.push(bytes.subarray(off));
  const info = parser.finish();
  return { frames, info, off, needed };
}

// Sizes that put record ends on both sides of the 32 KiB slice, a first record longer than it, and a
// few hundred KB in all.
const SIZES = [40_000, 60, 1514, 31_000, 200, 1, 65_535, 0, 900, 9000, 1460, 54, 70_000, 3];

function pcapFile(order: Order, sizes = SIZES): Buffer {
  return Buffer.concat([pcapHeader({ order }), ...sizes.map((n, i) => pcapRecord(1_700_000_000 + i, i * 7, pkt(n, i), n, order))]);
}

function pcapngFile(order: Order, sizes = SIZES): Buffer {
  return Buffer.concat([shb(order), idb(1, order), ...sizes.map((n, i) => epb(0, 1_700_000_000_000_000n + BigInt(i * 1000), pkt(n, i), order))]);
}

describe('record loops: the first calls cut to a short slice read what one call reads', () => {
  for (const order of ['le', 'be'] as const) {
    for (const [name, build] of [
      ['pcap', pcapFile],
      ['pcapng', pcapngFile],
    ] as const) {
      it(`${name} ${order}: the same frames in one buffer, in one push and in small chunks`, () => {
        const bytes = build(order);
        const whole = feedAll(bytes);
        expect(whole.off).toBe(bytes.length);
        expect(whole.frames.map((f) => f.capLen)).toEqual(SIZES);
        expect(whole.info.damage).toBeNull();
        for (const chunk of [undefined, 1000, 4093, 50_000]) {
          const r = parseBytes(bytes, chunk);
          expect(r.frames).toEqual(whole.frames);
          expect(r.info).toEqual(whole.info);
        }
      });

      it(`${name} ${order}: a buffer that ends inside a record returns its start and the length it needs`, () => {
        const bytes = build(order);
        for (const cut of [24 + 16 + 40_000 + 10, 100_000, bytes.length - 5, bytes.length - 70_000]) {
          const frames: Got[] = [];
          const parser = new CaptureParser('test', 0, { onFrame: (v) => frames.push(copyView(v)) });
          const off = parser.feed(bytes, 0, cut);
          // The whole file's frames that end by `cut` were read, and `off` is where the next one starts.
          const all = feedAll(bytes).frames;
          const ends = all.map((f) => f.fileOffset + (name === 'pcap' ? 16 + f.capLen : 32 + Math.ceil(f.capLen / 4) * 4));
          const n = ends.filter((e) => e <= cut).length;
          expect(frames).toEqual(all.slice(0, n));
          const next = n < all.length ? all[n]!.fileOffset : bytes.length;
          expect(off).toBe(next);
          const left = cut - off;
          const unit = n < all.length ? ends[n]! - all[n]!.fileOffset : 0;
          const header = name === 'pcap' ? 16 : 12;
          expect(parser.needed).toBe(left < header ? header : unit);
        }
      });
    }
  }

  it('damage past the slice is reported at the same frame and offset', () => {
    const good = pcapFile('le', [20_000, 20_000, 100]);
    const bad = pcapRecord(5, 0, pkt(10), 10, 'le');
    bad.writeUInt32LE(300_000, 8); // capLen over the maximum
    const bytes = Buffer.concat([good, bad, pcapRecord(6, 0, pkt(10), 10, 'le')]);
    const whole = feedAll(bytes);
    expect(whole.frames).toHaveLength(3);
    expect(whole.info.damage).toMatchObject({ frame: 4, offset: good.length });
    expect(parseBytes(bytes, 777).info.damage).toEqual(whole.info.damage);
  });
});
