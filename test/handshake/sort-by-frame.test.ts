// sortByFrame (src/handshake/machine.ts) is the timeline's sort since issue 16 (an in-place insertion
// sort instead of Array.prototype.sort with a comparator): the same order, stable, as the sort it replaced.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortByFrame } from '../../src/handshake/machine.js';
import type { TimelineEvent } from '../../src/handshake/types.js';

const ev = (frame: number, event: string): TimelineEvent => ({ frame, time: frame / 10, direction: 'c2s', event, phase: 'tcp' });

describe('sortByFrame', () => {
  it('frame order, events of one frame in the order they were recorded', () => {
    const t = [ev(5, 'a'), ev(3, 'b'), ev(5, 'c'), ev(1, 'd'), ev(3, 'e')];
    sortByFrame(t);
    expect(t.map((e) => e.event)).toEqual(['d', 'b', 'e', 'a', 'c']);
    const empty: TimelineEvent[] = [];
    sortByFrame(empty);
    expect(empty).toEqual([]);
  });

  it('the same array as sort((a, b) => a.frame - b.frame) on random timelines', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 90 }), (frames) => {
        const a = frames.map((f, i) => ev(f, String(i)));
        const b = a.slice().sort((x, y) => x.frame - y.frame);
        sortByFrame(a);
        expect(a).toEqual(b);
      }),
    );
  });
});
