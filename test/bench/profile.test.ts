// The benchmark's profile summaries (bench/profile.ts): a CPU profile's self time by part of the code
// within the measured window, and V8's --trace-opt/--trace-deopt log summed.
import { describe, expect, it } from 'vitest';
import { partOf, summarizeProfile, summarizeTraceOpt, type CpuProfile } from '../../bench/profile.js';

const SRC = 'file:///repo/bench/out/js/src';

function profile(): CpuProfile {
  const node = (id: number, functionName: string, url: string, lineNumber = 0) => ({ id, callFrame: { functionName, url, lineNumber } });
  return {
    nodes: [
      node(1, '(root)', ''),
      node(2, 'pcapLoopLE', `${SRC}/capture/parser.js`, 329),
      node(3, 'decodeIpv4', `${SRC}/net/decode.js`, 309),
      node(4, '(garbage collector)', ''),
      node(5, 'read', ''),
      node(6, 'onTcpEvent', `${SRC}/handshake/machine.js`, 225),
    ],
    startTime: 1_000_000,
    endTime: 1_010_000,
    // Sample i is taken at startTime + sum(timeDeltas[0..i]) and stands for the time to sample i + 1.
    samples: [2, 2, 3, 4, 5, 6, 2],
    timeDeltas: [0, 1000, 1000, 2000, 1000, 1000, 3000],
  };
}

describe('summarizeProfile', () => {
  it('sums self time per part of the code, each sample standing for the time to the next', () => {
    const s = summarizeProfile(profile());
    // pcapLoopLE: 1000 + 1000 (the last sample has no successor and counts nothing).
    expect(s.totalMs).toBeCloseTo(9, 6);
    const parts = Object.fromEntries(s.parts.map((p) => [p.part, p.ms]));
    expect(parts[partOf('pcapLoopLE', `${SRC}/capture/parser.js`)]).toBeCloseTo(2, 6);
    expect(parts[partOf('decodeIpv4', `${SRC}/net/decode.js`)]).toBeCloseTo(2, 6);
    expect(parts[partOf('(garbage collector)', '')]).toBeCloseTo(1, 6);
    expect(parts[partOf('read', '')]).toBeCloseTo(1, 6);
    expect(parts[partOf('onTcpEvent', `${SRC}/handshake/machine.js`)]).toBeCloseTo(3, 6);
    expect(s.parts[0]!.part).toContain('src/handshake');
    expect(s.top[0]).toEqual({ fn: 'onTcpEvent', where: 'src/handshake/machine.js:226', ms: 3 });
    expect(s.top.find((t) => t.fn === 'read')!.where).toBe('');
  });

  it('counts only the samples inside the window', () => {
    // Samples at 1,002,000 (decodeIpv4), 1,004,000 (GC), 1,005,000 (read) and 1,006,000 (onTcpEvent).
    const s = summarizeProfile(profile(), 1_002_000, 1_006_000);
    expect(s.totalMs).toBeCloseTo(2 + 1 + 1 + 3, 6);
    expect(s.parts.some((p) => p.part.includes('src/capture'))).toBe(false);
  });

  it('names the parts of the code by directory', () => {
    expect(partOf('x', `${SRC}/flow/tcp.js`)).toContain('src/flow');
    expect(partOf('x', `${SRC}/rdp/tls.js`)).toContain('src/rdp');
    expect(partOf('x', `${SRC}/diagnose/index.js`)).toContain('src/diagnose');
    expect(partOf('x', `${SRC}/report/json.js`)).toContain('src/report');
    expect(partOf('x', `${SRC}/pipeline.js`)).toContain('pipeline');
    expect(partOf('x', 'node:internal/buffer')).toContain('Node.js internals');
    expect(partOf('(program)', '')).toContain('(program)');
    expect(partOf('(idle)', '')).toBe('idle');
    expect(partOf('openat', '')).toBe('other native calls');
  });
});

describe('summarizeTraceOpt', () => {
  const log = [
    '[marking 0x1 <JSFunction onPacket (sfi = 0x2)> for optimization to TURBOFAN, ConcurrencyMode::kConcurrent, reason: hot and stable]',
    '[completed compiling 0x1 <JSFunction onPacket (sfi = 0x2)> (target TURBOFAN) - took 0.010, 30.000, 0.100 ms]',
    '[aborted optimizing 0x3 <JSFunction onPacket (sfi = 0x2)> (target TURBOFAN) because: Bailed out due to dependency change - took 0.011, 46.279, 0.061 ms]',
    '[completed compiling 0x4 <JSFunction pcapLoopLE (sfi = 0x5)> (target TURBOFAN) OSR - took 0.003, 8.519, 0.032 ms]',
    '[completed compiling 0x6 <JSFunction get protocol (sfi = 0x7)> (target TURBOFAN) - took 0.008, 0.496, 0.008 ms]',
    '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x1 <JSFunction onPacket (sfi = 0x2)>, opt id 3, bytecode offset 12]',
    '[bailout (kind: deopt-lazy, reason: (unknown)): begin. deoptimizing 0x1 <JSFunction onPacket (sfi = 0x2)>]',
    '{"mode":"analyze"}',
  ].join('\n');

  it('counts jobs, aborted jobs, functions compiled twice and deoptimisations, and sums the phases', () => {
    const c = summarizeTraceOpt(log);
    expect(c.jobs).toBe(3);
    expect(c.aborted).toBe(1);
    expect(c.recompiled).toBe(1);
    expect(c.deopts).toBe(2);
    expect(c.backgroundMs).toBeCloseTo(30 + 46.279 + 8.519 + 0.496, 6);
    expect(c.mainMs).toBeCloseTo(0.11 + 0.072 + 0.035 + 0.016, 6);
    expect(c.top[0]).toEqual({ fn: 'onPacket', jobs: 2, ms: expect.closeTo(76.461, 6) as number });
    expect(c.top.map((t) => t.fn)).toEqual(['onPacket', 'pcapLoopLE', 'get protocol']);
  });

  it('finds nothing in a log without V8 trace lines', () => {
    expect(summarizeTraceOpt('hello\n{"ms":1}\n')).toMatchObject({ jobs: 0, aborted: 0, deopts: 0, backgroundMs: 0, top: [] });
  });
});
