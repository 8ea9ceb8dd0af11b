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

const PCAP_A = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/cert_name_mismatch.pcap');

/** A classic little-endian pcap's records with each record's seconds moved by `shift` (header left as it is). */
function shifted(file: Buffer, shift: number): Buffer {
  const out = Buffer.from(file);
  expect(out.readUInt32LE(0)).toBe(0xa1b2c3d4);
  for (let off = 24; off + 16 <= out.length; ) {
    out.writeUInt32LE(out.readUInt32LE(off) + shift, off);
    off += 16 + out.readUInt32LE(off + 8);
  }
  return out;
}

describe.skipIf(!existsSync(PCAP_A))('a capture not in time order (captures merged end to end)', () => {
  async function run(shiftSecond: number) {
    const { readFileSync } = await import('node:fs');
    const a = readFileSync(PCAP_A);
    // The same frames again, dated `shiftSecond` s away, appended after the first copy's frames (mergecap -a).
    const b = shifted(a, shiftSecond).subarray(24);
    return analyze([{ kind: 'buffer', name: 'merged.pcap', data: Buffer.concat([a, b]) }], { rdpPorts: [3389] });
  }

  it('a part dated a day earlier: the span runs from the earliest frame to the latest, and a warning says the frames are out of order', async () => {
    const r = await run(-86400);
    expect(r.connections).toHaveLength(2);
    expect(r.capture.start).toBe('2026-03-09T09:00:00.000Z');
    expect(r.capture.end!.startsWith('2026-03-10T09:00:00.')).toBe(true);
    const w = r.warnings.filter((x) => /not in time order/.test(x));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^the frames are not in time order: a frame is earlier than the frame before it \(the largest step back: 1 day at frame 19;/);
    expect(renderText(r, { color: false })).toContain(w[0]!);
  });

  it('a step back under a second (interfaces interleaved) adjusts the span but warns of nothing', async () => {
    // Shift by 0 s: the second copy starts at the first one's first time, a few ms before its last frame.
    const r = await run(0);
    expect(r.warnings.filter((x) => /not in time order/.test(x))).toEqual([]);
    expect(r.capture.start).toBe('2026-03-10T09:00:00.000Z');
  });

  it('a capture in time order warns of nothing', async () => {
    const r = await run(3600 * 5);
    expect(r.warnings.filter((x) => /not in time order/.test(x))).toEqual([]);
  });
});
