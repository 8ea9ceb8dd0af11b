import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CaptureParser } from '../../src/capture/parser.js';
import { epb, idb, pcapHeader, pcapRecord, pkt, shb, spb } from './build.js';

/** Runs the parser over bytes in the given chunk sizes (cycled); checks per-frame invariants as it goes. */
function run(bytes: Buffer, chunks: number[]): { frames: number[]; parser: CaptureParser } {
  const frames: number[] = [];
  const parser = new CaptureParser('p', 0, {
    onFrame: (v) => {
      // Views stay inside their buffer and inside the input.
      expect(v.off).toBeGreaterThanOrEqual(0);
      expect(v.off + v.capLen).toBeLessThanOrEqual(v.buf.length);
      expect(v.fileOffset).toBeGreaterThanOrEqual(0);
      expect(v.fileOffset + v.capLen).toBeLessThanOrEqual(bytes.length);
      expect(v.tsNsec).toBeGreaterThanOrEqual(0);
      expect(v.tsNsec).toBeLessThan(1e9);
      frames.push(v.frame);
    },
  });
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = chunks.length === 0 ? bytes.length : Math.max(1, chunks[k++ % chunks.length]!);
    parser.push(bytes.subarray(i, i + n));
    i += n;
  }
  parser.finish();
  return { frames, parser };
}

function checkInvariants(bytes: Buffer, chunks: number[]): void {
  const { frames, parser } = run(bytes, chunks);
  const info = parser.info;
  // Frame numbers strictly increase from 1 (a custom block is counted but not emitted, so gaps may occur).
  frames.forEach((f, i) => expect(f).toBeGreaterThan(i === 0 ? 0 : frames[i - 1]!));
  expect(info.frames).toBeGreaterThanOrEqual(frames.at(-1) ?? 0);
  expect(info.bytes).toBeLessThanOrEqual(bytes.length);
  if (info.damage !== null) {
    expect(info.damage.offset).toBeGreaterThanOrEqual(0);
    expect(info.damage.offset).toBeLessThanOrEqual(bytes.length);
    expect(info.damage.frame).toBe(info.frames + 1);
    expect(info.damage.message).not.toContain('\n');
  }
}

const validPcap = Buffer.concat([pcapHeader(), pcapRecord(1, 2, pkt(30)), pcapRecord(3, 4, pkt(50), 60)]);
const validPcapng = Buffer.concat([shb(), idb(1, 'le', { tsresol: 9 }), idb(101), epb(1, 5n, pkt(30)), spb(pkt(9)), epb(0, 1n << 60n, pkt(3))]);
const chunkList = fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 6 });

describe('hostile input never throws, views stay in bounds (fast-check)', () => {
  for (const [name, head] of [
    ['pcap header', pcapHeader()],
    ['pcap be-ns header', pcapHeader({ order: 'be', nano: true })],
    ['pcapng SHB+IDB', Buffer.concat([shb(), idb(1)])],
    ['pcapng be SHB+IDB', Buffer.concat([shb('be'), idb(1, 'be')])],
  ] as const) {
    it(`random bytes after a valid ${name}`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), chunkList, (tail, chunks) => {
          checkInvariants(Buffer.concat([head, Buffer.from(tail)]), chunks);
        }),
        { numRuns: 400 },
      );
    });
  }

  it('random bytes from byte 0', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), chunkList, (bytes, chunks) => {
        checkInvariants(Buffer.from(bytes), chunks);
      }),
      { numRuns: 400 },
    );
  });

  for (const [name, valid] of [
    ['pcap', validPcap],
    ['pcapng', validPcapng],
  ] as const) {
    it(`${name}: random truncations give monotone frame counts and never throw`, () => {
      const full = run(valid, []).frames.length;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: valid.length }), fc.integer({ min: 0, max: valid.length }), chunkList, (a, b, chunks) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const nLo = run(valid.subarray(0, lo), chunks).frames.length;
          const nHi = run(valid.subarray(0, hi), chunks).frames.length;
          expect(nLo).toBeLessThanOrEqual(nHi);
          expect(nHi).toBeLessThanOrEqual(full);
          checkInvariants(valid.subarray(0, hi), chunks);
        }),
        { numRuns: 300 },
      );
    });

    it(`${name}: random byte flips never throw`, () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), chunkList, (flips, chunks) => {
          const b = Buffer.from(valid);
          for (const [at, v] of flips) b[at] = v;
          checkInvariants(b, chunks);
        }),
        { numRuns: 400 },
      );
    });

    it(`${name}: the chunking never changes the result`, () => {
      const ref = run(valid, []);
      fc.assert(
        fc.property(chunkList, (chunks) => {
          const r = run(valid, chunks);
          expect(r.frames).toEqual(ref.frames);
          expect(r.parser.info.damage).toEqual(ref.parser.info.damage);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('an announced huge block does not allocate past the bytes that arrived', () => {
    const head = Buffer.concat([shb(), idb(1)]);
    const hugeLen = Buffer.from('7700000000000004', 'hex'); // unknown block, total length 64 MiB
    const p = new CaptureParser('h', 0, { onFrame: () => undefined });
    p.push(Buffer.concat([head, hugeLen, Buffer.alloc(100)]));
    expect(p.pending).toBe(108);
    expect(p.needed).toBe(64 * 1024 * 1024);
    expect((p as unknown as { carry: Buffer }).carry.length).toBeLessThan(4096);
    expect(p.finish().damage?.message).toContain('has total length 67108864 but only 108 bytes remain');
  });
});
