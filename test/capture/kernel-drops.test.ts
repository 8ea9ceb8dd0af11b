// libpcap's kernel drop counter without native code: the addon's loader (absent / broken / switched
// off), the counters of one capture picked by the socket its open() added, DropWatch for a counter
// that starts at zero when the socket opens, and startLiveCapture reading them before it closes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropWatch } from '../../src/capture/drops.js';
import { startLiveCapture } from '../../src/capture/live.js';
import {
  PACKET_STATS_NOT_BUILT,
  kernelCountersOf,
  kernelCountersText,
  loadPacketStats,
  packetSocketInodes,
  type PacketSocketStats,
  type PacketStats,
} from '../../src/capture/packet-stats.js';
import { fakeCap } from '../cli/fake-cap.js';

function sock(inode: number, packets: number, drops: number, o: Partial<PacketSocketStats> = {}): PacketSocketStats {
  return { fd: 10 + inode, inode, ifindex: 1, iface: 'lo', packets, drops, freezeQueue: null, ...o };
}

describe('loadPacketStats', () => {
  it('a missing addon is "not built", never a throw', () => {
    const r = loadPacketStats('/nonexistent/packet_stats.node');
    expect(r.reader).toBeNull();
    expect(r.unavailable).toBe(process.platform === 'linux' ? PACKET_STATS_NOT_BUILT : expect.stringContaining('Linux only'));
  });

  it('a module without read() is not taken for the addon', () => {
    const r = loadPacketStats('node:path');
    expect(r.reader).toBeNull();
  });

  it('RDP_AUTOPSY_NO_PACKET_STATS=1 switches it off', () => {
    const before = process.env.RDP_AUTOPSY_NO_PACKET_STATS;
    process.env.RDP_AUTOPSY_NO_PACKET_STATS = '1';
    try {
      expect(loadPacketStats('/nonexistent.node')).toEqual({ reader: null, unavailable: 'RDP_AUTOPSY_NO_PACKET_STATS=1' });
    } finally {
      if (before === undefined) delete process.env.RDP_AUTOPSY_NO_PACKET_STATS;
      else process.env.RDP_AUTOPSY_NO_PACKET_STATS = before;
    }
  });
});

describe('kernelCountersOf', () => {
  it("sums the capture's sockets only; null when none is open; a failing reader is null", () => {
    const rows = [sock(7, 100, 3), sock(8, 50, 1, { freezeQueue: 2 }), sock(9, 999, 999)];
    expect(kernelCountersOf(() => rows, [7])).toEqual({ packets: 100, drops: 3, freezeQueue: null });
    expect(kernelCountersOf(() => rows, [7, 8])).toEqual({ packets: 150, drops: 4, freezeQueue: 2 });
    expect(kernelCountersOf(() => rows, [1])).toBeNull();
    const broken = (): PacketSocketStats[] => {
      throw new Error('cannot read /proc/self/fd: EMFILE');
    };
    expect(kernelCountersOf(broken, [7])).toBeNull();
    expect(packetSocketInodes(broken)).toEqual([]);
    expect(packetSocketInodes(() => rows)).toEqual([7, 8, 9]);
  });

  it('reads as tcpdump says it', () => {
    expect(kernelCountersText({ packets: 3400, drops: 12, freezeQueue: null })).toBe("12 packets dropped by kernel, 3400 received by filter (libpcap's counter)");
    expect(kernelCountersText({ packets: 1, drops: 1, freezeQueue: 4 })).toBe("1 packet dropped by kernel, 1 received by filter (libpcap's counter, its ring frozen 4 times)");
    expect(kernelCountersText({ packets: 0, drops: 0, freezeQueue: 0 })).toBe("0 packets dropped by kernel, 0 received by filter (libpcap's counter)");
  });
});

describe('DropWatch for a counter that starts at zero (the capture socket)', () => {
  it('a socket that appears after the watch started: all of its drops count, in the interval they appeared', () => {
    let n: number | null = null;
    const w = new DropWatch('lo', 0, () => n, 256, true);
    expect(w.available).toBe(false);
    expect(w.poll(5)).toBe(0);
    n = 40; // the socket opened and dropped 40 before the next reading
    expect(w.poll(10)).toBe(40);
    expect(w.available).toBe(true);
    n = 45;
    expect(w.poll(15)).toBe(5);
    expect(w.total).toBe(45);
    expect(w.dropsDuring(6, 9)).toBe(40);
    expect(w.dropsDuring(11, 14)).toBe(5);
    expect(w.dropsDuring(0, 4)).toBe(0);
    // The socket went away (null) and a new one came: counted from zero again.
    n = null;
    expect(w.poll(20)).toBe(0);
    expect(w.available).toBe(true);
    n = 3;
    expect(w.poll(25)).toBe(3);
    // A lower value without a gap is a new socket too (its own 2).
    n = 2;
    expect(w.poll(30)).toBe(2);
    expect(w.total).toBe(50);
  });

  it('property: over any run of socket lifetimes, the total is the sum of what each socket counted, and each reading lands in its interval', () => {
    fc.assert(
      fc.property(
        // Each socket: its counter at each reading (made non-decreasing below), then a gap (closed).
        fc.array(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        (sockets) => {
          let n: number | null = null;
          let t = 0;
          const w = new DropWatch('lo', t, () => n, 1000, true);
          let expected = 0;
          for (const steps of sockets) {
            let acc = 0;
            for (const x of steps) {
              acc += x;
              n = acc;
              const at = ++t;
              const d = w.poll(at);
              expect(d).toBe(x);
              if (d > 0) expect(w.dropsDuring(at - 0.5, at - 0.5)).toBeGreaterThanOrEqual(d);
            }
            expected += acc;
            n = null; // closed before the next one opens
            w.poll(++t);
          }
          expect(w.total).toBe(expected);
          expect(w.dropsDuring(-1, t + 1)).toBe(expected);
        },
      ),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });

  it('the interface counters keep their baseline semantics (the first reading is not drops)', () => {
    let n: number | null = null;
    const w = new DropWatch('eth0', 0, () => n);
    n = 1000;
    expect(w.poll(5)).toBe(0);
    n = 1003;
    expect(w.poll(10)).toBe(3);
    n = 1; // reset
    expect(w.poll(15)).toBe(0);
    expect(w.total).toBe(3);
  });
});

describe('startLiveCapture and the kernel counters', () => {
  /** A counter source that has one AF_PACKET socket once the fake cap's open() ran, besides another of the process. */
  function fakeStats(opened: () => boolean): { stats: PacketStats; set: (packets: number, drops: number) => void; reads: () => number } {
    let packets = 0;
    let drops = 0;
    let reads = 0;
    const other = sock(1, 5000, 700, { iface: 'lo' });
    return {
      stats: {
        reader: () => {
          reads++;
          return opened() ? [other, sock(42, packets, drops)] : [other];
        },
        unavailable: null,
      },
      set: (p, d) => ((packets = p), (drops = d)),
      reads: () => reads,
    };
  }

  it("reads the socket open() added (not the process's other one), and keeps the last reading after stop", () => {
    const { cap, log } = fakeCap([]);
    const f = fakeStats(() => log.opened.length > 0);
    const live = startLiveCapture(cap, { iface: 'lo', filter: '', packetStats: f.stats }, { onFrame() {} });
    expect(live.kernelUnavailable).toBeNull();
    expect(live.kernel()).toEqual({ packets: 0, drops: 0, freezeQueue: null });
    f.set(120, 7);
    expect(live.kernel()).toEqual({ packets: 120, drops: 7, freezeQueue: null });
    f.set(300, 9);
    const info = live.stop();
    // Read as it stopped, before the socket closed.
    expect(info.kernel).toEqual({ packets: 300, drops: 9, freezeQueue: null });
    const reads = f.reads();
    f.set(999, 999);
    expect(live.kernel()).toEqual({ packets: 300, drops: 9, freezeQueue: null });
    expect(f.reads()).toBe(reads);
  });

  it('no addon: no counters, and why', () => {
    const { cap } = fakeCap([]);
    const live = startLiveCapture(cap, { iface: 'lo', filter: '', packetStats: { reader: null, unavailable: PACKET_STATS_NOT_BUILT } }, { onFrame() {} });
    expect(live.kernel()).toBeNull();
    expect(live.kernelUnavailable).toBe(PACKET_STATS_NOT_BUILT);
    const info = live.stop();
    expect(info.kernel).toBeNull();
    expect(info.kernelUnavailable).toBe(PACKET_STATS_NOT_BUILT);
  });

  it('an addon that finds no new packet socket (not libpcap on Linux) says so', () => {
    const { cap } = fakeCap([]);
    const live = startLiveCapture(cap, { iface: 'lo', filter: '', packetStats: { reader: () => [sock(1, 1, 1)], unavailable: null } }, { onFrame() {} });
    expect(live.kernel()).toBeNull();
    expect(live.kernelUnavailable).toMatch(/no packet socket of this capture/);
    live.stop();
  });
});
