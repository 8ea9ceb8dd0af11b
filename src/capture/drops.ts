// Packets lost before they reached the capture. Two counters: the interface's own
// (/sys/class/net/IFACE/statistics: rx_dropped, rx_missed_errors, rx_fifo_errors), which count
// packets the interface or its driver dropped for every reader, and libpcap's kernel counter of the
// capture's socket (src/capture/packet-stats.ts, when its addon is built). A sensor reads them now
// and then (a DropWatch each): an increase while an attempt ran means frames of that attempt may
// be missing.
import { readFileSync } from 'node:fs';

/** Counter files read (sum of them is the interface's drop count). */
const COUNTERS = ['rx_dropped', 'rx_missed_errors', 'rx_fifo_errors'];

/** The interface's drop counters summed, or null when the system does not expose them (not Linux, `any`). */
export function interfaceDrops(iface: string, root = '/sys/class/net'): number | null {
  if (!/^[\w.:@-]+$/.test(iface)) return null;
  let sum = 0;
  let found = false;
  for (const c of COUNTERS) {
    try {
      const n = Number(readFileSync(`${root}/${iface}/statistics/${c}`, 'utf8').trim());
      if (Number.isFinite(n)) {
        sum += n;
        found = true;
      }
    } catch {
      // This counter is not there: the others may be.
    }
  }
  return found ? sum : null;
}

/** Drops seen between two readings: (from, to] in seconds, and how many. */
export interface DropInterval {
  from: number;
  to: number;
  drops: number;
}

/**
 * Reads the counters when asked (poll), keeps the intervals in which they grew (the last `keep`),
 * and tells how many drops overlap a time span.
 */
export class DropWatch {
  private last: number | null;
  private lastTime: number;
  private seen: boolean;
  readonly intervals: DropInterval[] = [];
  /** Drops since the watch started. */
  total = 0;

  /**
   * `startsAtZero`: the counter belongs to something that may appear after the watch started (the
   * capture's socket, whose counters start at 0 when it opens): when it appears, or comes back
   * lower (a new socket), its whole value is drops of that interval. Otherwise (the interface's
   * counters, counting since boot) the first reading is the baseline and a decrease a reset.
   */
  constructor(
    readonly iface: string,
    now: number,
    private readonly read: (iface: string) => number | null = interfaceDrops,
    private readonly keep = 256,
    private readonly startsAtZero = false,
  ) {
    this.last = read(iface);
    this.seen = this.last !== null;
    this.lastTime = now;
  }

  /** Whether the counters could be read (now, or once since the watch started). */
  get available(): boolean {
    return this.seen;
  }

  /** Reads the counters; returns the drops since the last reading (0 when none or unavailable). */
  poll(now: number): number {
    const n = this.read(this.iface);
    const from = this.lastTime;
    this.lastTime = now;
    if (n === null || (this.last === null && !this.startsAtZero)) {
      this.last = n;
      if (n !== null) this.seen = true;
      return 0;
    }
    this.seen = true;
    // A counter that goes down (interface reset) starts again from its new value; one that starts
    // at zero (a new socket) counts all of it.
    const base = this.last ?? 0;
    const d = n >= base ? n - base : this.startsAtZero ? n : 0;
    this.last = n;
    if (d > 0) {
      this.total += d;
      this.intervals.push({ from, to: now, drops: d });
      if (this.intervals.length > this.keep) this.intervals.shift();
    }
    return d;
  }

  /** Drops counted in intervals that overlap [start, end] (seconds). */
  dropsDuring(start: number, end: number): number {
    let n = 0;
    for (const i of this.intervals) if (i.to >= start && i.from <= end) n += i.drops;
    return n;
  }
}
