// Issue 18: clocks that jump. ClockCheck on time sequences, and end to end on field_clock_jump.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLOCK_JUMP_S, ClockCheck } from '../../src/capture/clock.js';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';

/** The times ClockCheck gives a sequence of frame times (1-based frames), as the pipeline drives it. */
function judge(times: number[]): { used: number[]; clock: ClockCheck } {
  const clock = new ClockCheck();
  const used: number[] = new Array<number>(times.length);
  let pending = -1;
  times.forEach((t, i) => {
    if (pending >= 0) {
      used[pending] = clock.resolve(pending + 1, times[pending]!, t);
      pending = -1;
    }
    if (Number.isNaN(clock.last)) clock.accept(t);
    else if (clock.suspect(t)) {
      pending = i;
      return;
    } else clock.accept(t);
    used[i] = t;
  });
  if (pending >= 0) {
    clock.accept(times[pending]!);
    used[pending] = times[pending]!;
  }
  return { used, clock };
}

describe('ClockCheck', () => {
  it('an isolated frame years away takes the time of the frame before it and is named', () => {
    const { used, clock } = judge([100, 100.1, 100.2 + 3 * 365 * 86400, 100.3, 100.4]);
    expect(used).toEqual([100, 100.1, 100.1, 100.3, 100.4]);
    expect(clock.outliers).toEqual([{ frame: 3, time: 100.2 + 3 * 365 * 86400, plausible: 100.1 }]);
    expect([clock.min, clock.max]).toEqual([100, 100.4]);
  });
  it('a frame at the epoch in a capture of today is an outlier too', () => {
    const t0 = 1_773_133_200;
    const { used, clock } = judge([t0, t0 + 1, 0, t0 + 2]);
    expect(used[2]).toBe(t0 + 1);
    expect(clock.outlierCount).toBe(1);
  });
  it('a real jump (the frames after it go on from there) keeps every time', () => {
    const times = [100, 101, 101 + 2 * CLOCK_JUMP_S, 102 + 2 * CLOCK_JUMP_S, 103 + 2 * CLOCK_JUMP_S];
    const { used, clock } = judge(times);
    expect(used).toEqual(times);
    expect(clock.outlierCount).toBe(0);
  });
  it('gaps under an hour are never judged; a suspect last frame keeps its time', () => {
    const times = [100, 100 + CLOCK_JUMP_S - 1, 200 + 2 * CLOCK_JUMP_S];
    const { used, clock } = judge(times);
    expect(used).toEqual(times);
    expect(clock.outlierCount).toBe(0);
  });
});

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/field_clock_jump.pcap');

describe.skipIf(!existsSync(FILE))('a capture with two implausible timestamps (field_clock_jump)', () => {
  it('durations and the span come from the plausible frames; both outliers are named once in a warning', async () => {
    const r = await analyze([{ kind: 'file', path: FILE }], { rdpPorts: [3389] });
    const c = r.connections[0]!;
    expect(c.outcome).toBe('completed');
    expect(c.findings).toEqual([]);
    expect(c.end - c.start).toBeLessThan(1);
    expect(c.flow.tcp!.maxIdle!.seconds).toBeLessThan(1);
    expect(c.timeline.every((e) => Math.abs(e.time - c.start) < 1)).toBe(true);
    expect(r.capture.start).toBe('2026-03-10T09:00:00.000Z');
    expect(r.capture.end!.startsWith('2026-03-10T09:00:00.')).toBe(true);
    const w = r.warnings.filter((x) => /timestamps far outside/.test(x));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^2 frames have timestamps far outside the frames around them \(a bogus clock or a corrupted record\): frame 8 \(2029-03-09T09:00:00\.\d+Z, 3 years after the frame before it\), frame 14 \(1970-01-01T00:00:00\.\d+Z, 56 years before the frame before it\)/);
    expect(renderText(r, { color: false })).toContain(w[0]!);
  });
});
