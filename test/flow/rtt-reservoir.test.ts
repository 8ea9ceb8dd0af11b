// RttReservoir.stats() sorts the samples in a scratch array shared by every reservoir (issue 16) instead
// of a sorted copy per flow: the same median as that copy, the samples themselves left as they were.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RTT_RESERVOIR, RttReservoir } from '../../src/flow/facts.js';

/** The median as stats() computed it before: from a sorted copy of the reservoir. */
function copyMedian(samples: number[]): number {
  const sorted = samples.slice().sort((a, b) => a - b);
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) >> 1]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

const samplesOf = (r: RttReservoir): number[] => (r as unknown as { samples: number[] }).samples;

describe('RttReservoir.stats', () => {
  it('count, min, max and the median of the reservoir; none without samples', () => {
    const r = new RttReservoir();
    expect(r.stats()).toBeNull();
    for (const s of [0.3, 0.1, 0.2, 0.4]) r.add(s);
    expect(r.stats()).toEqual({ count: 4, min: 0.1, median: 0.25, max: 0.4 });
  });

  it('the same median as a sorted copy, over and under the reservoir size, two reservoirs interleaved', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { maxLength: RTT_RESERVOIR * 3 }),
        fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 1, maxLength: 10 }),
        (xs, ys) => {
          const a = new RttReservoir();
          const b = new RttReservoir();
          for (const x of xs) a.add(x);
          for (const y of ys) b.add(y);
          const before = samplesOf(a).slice();
          const sa = a.stats();
          const sb = b.stats();
          expect(samplesOf(a)).toEqual(before);
          if (xs.length === 0) expect(sa).toBeNull();
          else expect(sa!.median).toBe(copyMedian(samplesOf(a)));
          expect(sb!.median).toBe(copyMedian(samplesOf(b)));
          expect(a.stats()).toEqual(sa);
        },
      ),
    );
  });
});
