// lookup.ts overlapping(): on a list that grows between calls (the pipeline appends connections as
// they end, not in start order), the same members in the same order as the filter it replaces. Its
// index is extended in place for the new members (issue 16), never rebuilt and sorted again; and
// countOverlapping() gives its length and its first few without building it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countOverlapping, overlapping } from '../../src/diagnose/lookup.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';

const time = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

describe('overlapping on a growing list', () => {
  it('equals the filter after every append, starts in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.record({ start: time, len: time, member: fc.boolean(), keep: fc.boolean() }), { maxLength: 6 }), { maxLength: 25 }),
        fc.array(fc.tuple(time, time), { minLength: 1, maxLength: 4 }),
        (batches, queries) => {
          const list: ConnectionRecord[] = [];
          const member = (c: ConnectionRecord): boolean => (c as unknown as { m: boolean }).m;
          const keep = (c: ConnectionRecord): boolean => (c as unknown as { k: boolean }).k;
          for (const batch of batches) {
            for (const b of batch) list.push({ id: `c${list.length}`, start: b.start, end: b.start + b.len, m: b.member, k: b.keep } as unknown as ConnectionRecord);
            for (const [from, to] of queries) {
              const got = overlapping(list, member, from, to, keep).map((c) => c.id);
              const want = list.filter((o) => member(o) && keep(o) && o.start <= to && o.end >= from).map((c) => c.id);
              expect(got).toEqual(want);
              // The count, and the first few in list order, without the list.
              for (const n of [0, 1, 5]) {
                const first: ConnectionRecord[] = [];
                expect(countOverlapping(list, member, from, to, keep, first, n)).toBe(want.length);
                expect(first.map((c) => c.id)).toEqual(want.slice(0, n));
              }
            }
          }
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 300), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });
});
