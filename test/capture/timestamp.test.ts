import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { splitTimestamp, tsUnits } from '../../src/capture/pcapng.js';

/** Reference: exact BigInt arithmetic (pcapng 4.3 timestamp in if_tsresol units). */
function reference(ts: bigint, units: bigint, offset: bigint): [number, number] {
  return [Number(ts / units + offset), Number(((ts % units) * 1_000_000_000n) / units)];
}

function split(ts: bigint, tsresol: number | null, offset = 0): [number, number] {
  const out = { tsSec: -1, tsNsec: -1 };
  splitTimestamp(Number(ts >> 32n), Number(ts & 0xffffffffn), tsUnits(tsresol, offset), out);
  return [out.tsSec, out.tsNsec];
}

function unitsOf(tsresol: number | null): bigint {
  if (tsresol === null) return 1_000_000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

describe('pcapng timestamps split with integer arithmetic (pcapng 4.2 if_tsresol, 4.3)', () => {
  it('tsUnits: default, powers of ten and of two', () => {
    expect(tsUnits(null)).toMatchObject({ perSec: 1e6, nsMul: 1000, big: null });
    expect(tsUnits(9)).toMatchObject({ perSec: 1e9, nsMul: 1, big: null });
    expect(tsUnits(3)).toMatchObject({ perSec: 1e3, nsMul: 1e6 });
    expect(tsUnits(0x80 | 20)).toMatchObject({ perSec: 2 ** 20, nsMul: 0, big: null });
    expect(tsUnits(12).big).toBe(10n ** 12n);
    expect(tsUnits(0x80 | 40).big).toBe(1n << 40n);
  });

  it('nanoseconds past 2^53 are exact (a float multiply would round)', () => {
    expect(split(1700000000999999999n, 9)).toEqual([1700000000, 999999999]);
    expect(split(0xffffffffffffffffn, 9)).toEqual(reference(0xffffffffffffffffn, 10n ** 9n, 0n));
  });

  it('picoseconds and 2^-32 take the exact slow path', () => {
    expect(split(1700000000_123456789012n & 0xffffffffffffffffn, 12)).toEqual(
      reference(1700000000_123456789012n & 0xffffffffffffffffn, 10n ** 12n, 0n),
    );
    const ts = (1700000000n << 32n) | 0x80000001n;
    expect(split(ts, 0x80 | 32)).toEqual([1700000000, 500000000]);
  });

  it('matches the BigInt reference for random timestamps and resolutions', () => {
    const resol = fc.oneof(
      fc.constant(null),
      fc.integer({ min: 0, max: 19 }),
      fc.integer({ min: 0, max: 63 }).map((e) => 0x80 | e),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), resol, fc.integer({ min: -1e9, max: 1e9 }), (ts, r, off) => {
        const got = split(ts, r, off);
        const [s, ns] = reference(ts, unitsOf(r), BigInt(off));
        expect(got[1]).toBe(ns);
        // Seconds beyond 2^53 cannot be exact as a number: there, only within a relative 1e-15.
        if (Math.abs(s) < 2 ** 53) expect(got[0]).toBe(s);
        else expect(Math.abs(got[0] - s) / Math.abs(s)).toBeLessThan(1e-15);
        expect(got[1]).toBeGreaterThanOrEqual(0);
        expect(got[1]).toBeLessThan(1e9);
      }),
      { numRuns: 3000 },
    );
  });
});
