// Construction of the per-flow facts (types.ts) and the bounded RTT reservoir.
import type { Endpoint, FlowFacts, RttStats, TcpFacts, UdpFacts } from './types.js';

/** Bounds of the per-flow lists (the facts stay small whatever the flow's size). */
export const MAX_SYN_FRAMES = 16;
export const MAX_RETRANSMISSION_FRAMES = 8;
export const MAX_RSTS = 8;
export const MAX_TTLS = 8;
export const MAX_LOST_SEGMENTS = 32;
/** Capture duplicates whose frames a flow keeps (the count goes on). */
export const MAX_DUPLICATE_FRAMES = 8;
export const MAX_ICMP = 16;
export const RTT_RESERVOIR = 64;

export function newTcpFacts(): TcpFacts {
  return {
    synFrames: [],
    synAckFrames: [],
    ackFrame: null,
    handshakeRtt: null,
    rtt: [null, null],
    retransmissions: [0, 0],
    retransmissionFrames: [[], []],
    dupAcks: [0, 0],
    zeroWindows: [0, 0],
    keepAlives: [0, 0],
    outOfOrder: [0, 0],
    fins: [],
    rsts: [],
    ttl: [null, null],
    ttlsSeen: [[], []],
    maxSegment: [0, 0],
    maxAckedSegment: [0, 0],
    lostSegments: [],
    missingRanges: [],
    unansweredKeepAlives: [null, null],
    maxIdle: null,
    mss: [null, null],
    dataAcks: [null, null],
  };
}

export function newUdpFacts(): UdpFacts {
  return { firstFrames: [null, null] };
}

/**
 * The facts of a new flow. `tcp`: the TCP facts to start with; the flow table passes null and
 * fills them in when the flow ends (TcpTracker.finalize), so that a flow it tracks (a SYN flood's
 * half-open one) holds counters, not some twenty small arrays.
 */
export function newFlowFacts(
  id: number,
  transport: 'tcp' | 'udp',
  fileIndex: number,
  ipVersion: 4 | 6,
  client: Endpoint,
  server: Endpoint,
  clientBy: FlowFacts['clientBy'],
  frame: number,
  time: number,
  tcp: TcpFacts | null = transport === 'tcp' ? newTcpFacts() : null,
): FlowFacts {
  return {
    id,
    transport,
    fileIndex,
    ipVersion,
    client,
    server,
    clientBy,
    firstFrame: frame,
    lastFrame: frame,
    start: time,
    end: time,
    packets: [0, 0],
    payloadBytes: [0, 0],
    badChecksums: 0,
    icmp: [],
    tcp,
    udp: transport === 'udp' ? newUdpFacts() : null,
    gapBytes: [0, 0],
    cutBytes: [0, 0],
    skippedPrefix: [0, 0],
    captureDuplicates: 0,
    captureDuplicateFrames: [],
  };
}

/**
 * RTT samples: exact count/min/max, median over a bounded reservoir (Vitter's
 * algorithm R with a fixed-seed generator, so a capture always gives the same result).
 */
const RTT_SCRATCH = new Float64Array(RTT_RESERVOIR);

/** An array of doubles, sliced to an empty array of the same kind (RttReservoir.samples). */
const NO_DOUBLES: number[] = [0.5];

export class RttReservoir {
  count = 0;
  min = Infinity;
  max = -Infinity;
  // Holding doubles from the start (RTTs are fractions of seconds): an array created with `[]` holds
  // small integers until its first fraction, and that change deoptimised the optimised ACK path
  // (TcpTracker.acked, which inlines add) once per run (issue 16, warm-up).
  private samples: number[] = NO_DOUBLES.slice(0, 0);
  private rng = 0x2545f491;

  add(s: number): void {
    if (!(s >= 0) || !Number.isFinite(s)) return;
    this.count++;
    if (s < this.min) this.min = s;
    if (s > this.max) this.max = s;
    if (this.samples.length < RTT_RESERVOIR) {
      this.samples.push(s);
      return;
    }
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    const j = (x >>> 0) % this.count;
    if (j < RTT_RESERVOIR) this.samples[j] = s;
  }

  stats(): RttStats | null {
    if (this.count === 0) return null;
    // Sorted in a scratch array shared by every reservoir (no copy of the samples, no comparator
    // per flow, no view; issue 16, attempt storms), by insertion into its first n slots (at most
    // RTT_RESERVOIR, usually a handful: no sort of the whole scratch array per direction of each flow).
    const n = this.samples.length;
    const sorted = RTT_SCRATCH;
    for (let k = 0; k < n; k++) {
      const v = this.samples[k]!;
      let i = k;
      while (i > 0 && sorted[i - 1]! > v) {
        sorted[i] = sorted[i - 1]!;
        i--;
      }
      sorted[i] = v;
    }
    const median = n % 2 === 1 ? sorted[(n - 1) >> 1]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
    return { count: this.count, min: this.min, median, max: this.max };
  }
}
