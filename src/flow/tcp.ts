// TCP analysis of one tracked flow: handshake, retransmissions, keep-alives,
// duplicate ACKs, zero windows, out-of-order, FIN/RST, RTT, lost segments
// (RFC 9293; the heuristics follow Wireshark's tcp.analysis.* where it has one).
// Counters and bounded lists only, whatever the flow's size.
import { TcpFlag, type DecodedPacket } from '../net/index.js';
import { MAX_LOST_SEGMENTS, MAX_RETRANSMISSION_FRAMES, MAX_RSTS, MAX_SYN_FRAMES, MAX_TTLS, RttReservoir } from './facts.js';
import type { Flow } from './flow.js';
import { outsideAnyWindow } from './reassembly.js';
import { seqAdd, seqDiff } from './seq.js';
import type { Dir, DirFrameRef, KeepAliveRunRef, LostSegmentRef, MissingRangeRef, PerDir, RstRef, TcpFacts } from './types.js';

/** Sent segments remembered per direction (for RTT samples and lost-segment detection). */
const MAX_SENT = 64;
/** Holes in a direction's sequence space remembered (to tell out-of-order from retransmission). */
const MAX_HOLES = 8;
/** Retransmission frames kept per remembered segment. */
const MAX_RETX_PER_SEGMENT = 8;
/** Wireshark's default: a hole filled within this time (or the RTT when larger) is out-of-order. */
const OUT_OF_ORDER_WINDOW = 0.003;

/**
 * The sent segments remembered per direction, oldest first, as a ring in typed arrays (issue 16: a
 * `SentSegment` object per data segment was 70 % of all allocation on RDP session traffic). Slot i
 * holds at SENT_STRIDE * i: sequence number of the first byte, sequence number past the last, length,
 * frame, time, and how many retransmission frames are kept (0: never retransmitted; the frames
 * themselves in `SentRing.retx`, created on the first retransmission). Taken on a direction's first
 * data segment from a pool of rings of ended flows (takeRing), so a flow's data segments allocate nothing.
 */
const SENT_STRIDE = 6;
const S_SEQ = 0;
const S_END = 1;
const S_LEN = 2;
const S_FRAME = 3;
const S_TIME = 4;
const S_RETXN = 5;

/** Rings of ended flows kept for reuse, at most (as many as the table's pooled trackers' directions). */
const RING_POOL = 2048;
const ringPool: SentRing[] = [];

function takeRing(): SentRing {
  const r = ringPool.pop();
  if (r === undefined) return new SentRing();
  r.clear();
  return r;
}

class SentRing {
  readonly slots = new Float64Array(MAX_SENT * SENT_STRIDE);
  /** Retransmission frames of slot i at MAX_RETX_PER_SEGMENT * i (created on first need). */
  retx: Int32Array | null = null;
  /** Slot of the oldest segment, and how many are held. */
  head = 0;
  count = 0;

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Slot index of the k-th oldest segment (0 <= k < count). */
  at(k: number): number {
    const i = this.head + k;
    return i >= MAX_SENT ? i - MAX_SENT : i;
  }

  /** Appends a segment (the oldest is dropped when MAX_SENT are held). */
  push(seq: number, end: number, len: number, frame: number, time: number): void {
    if (this.count >= MAX_SENT) this.shift();
    const k = this.at(this.count) * SENT_STRIDE;
    const a = this.slots;
    a[k + S_SEQ] = seq;
    a[k + S_END] = end;
    a[k + S_LEN] = len;
    a[k + S_FRAME] = frame;
    a[k + S_TIME] = time;
    a[k + S_RETXN] = 0;
    this.count++;
  }

  /** Drops the oldest segment. */
  shift(): void {
    this.head = this.head + 1 === MAX_SENT ? 0 : this.head + 1;
    this.count--;
  }

  /** The retransmission frames kept for slot i, as a new list (a LostSegmentRef's). */
  retxFrames(i: number): number[] {
    const n = this.slots[i * SENT_STRIDE + S_RETXN]!;
    const out = new Array<number>(n);
    const r = this.retx!;
    for (let j = 0; j < n; j++) out[j] = r[i * MAX_RETX_PER_SEGMENT + j]!;
    return out;
  }
}

interface Hole {
  start: number;
  end: number;
  time: number;
  /** The segment that arrived after the hole (a hole never filled is a MissingRangeRef). */
  frame: number;
}

class DirState {
  /** Whether a segment of this direction has been seen (highSeq valid). */
  init = false;
  /** Sequence number just past the highest byte (or FIN) sent. */
  highSeq = 0;
  /** ISN from the SYN / SYN-ACK, or -1. */
  isn = -1;
  seen = false;
  ackInit = false;
  lastAck = 0;
  lastWin = 0;
  /** Sequence number of this side's FIN, or -1; finAcked once the other side ACKed it. */
  finSeq = -1;
  finAcked = false;
  // This direction's TcpFacts counters (written into the facts when the flow ends).
  retransmissions = 0;
  dupAcks = 0;
  zeroWindows = 0;
  keepAlives = 0;
  outOfOrder = 0;
  maxSegment = 0;
  maxAckedSegment = 0;
  mss: number | null = null;
  /** The first TTL / hop limit seen; every distinct one (bounded) once there are two. */
  ttl: number | null = null;
  ttls: number[] | null = null;
  retransmissionFrames: number[] | null = null;
  // Created on first use: a half-open flow sends no data, so it never needs them.
  rtt: RttReservoir | null = null;
  /** Taken from the ring pool on the first data segment, given back by reset(): see SentRing. */
  sent: SentRing | null = null;
  holes: Hole[] | null = null;
  /** Keep-alives this side sent since the other side's last packet (unanswered so far), first and last frame. */
  keepAliveRun = 0;
  keepAliveFirst = -1;
  keepAliveLast = -1;

  /** As new (a tracker taken again from the table's pool). */
  reset(): void {
    this.init = false;
    this.highSeq = 0;
    this.isn = -1;
    this.seen = false;
    this.ackInit = false;
    this.lastAck = 0;
    this.lastWin = 0;
    this.finSeq = -1;
    this.finAcked = false;
    this.retransmissions = 0;
    this.dupAcks = 0;
    this.zeroWindows = 0;
    this.keepAlives = 0;
    this.outOfOrder = 0;
    this.maxSegment = 0;
    this.maxAckedSegment = 0;
    this.mss = null;
    this.ttl = null;
    this.ttls = null;
    this.retransmissionFrames = null;
    this.rtt = null;
    if (this.sent instanceof SentRing && ringPool.length < RING_POOL) ringPool.push(this.sent);
    this.sent = null;
    this.holes = null;
    this.keepAliveRun = 0;
    this.keepAliveFirst = -1;
    this.keepAliveLast = -1;
  }

  addTtl(ttl: number): void {
    const first = this.ttl;
    if (first === null) this.ttl = ttl;
    else if (ttl !== first) {
      const list = this.ttls;
      if (list === null) this.ttls = [first, ttl];
      else if (list.length < MAX_TTLS && !list.includes(ttl)) list.push(ttl);
    }
  }

  /** Every distinct TTL seen, first one first (TcpFacts.ttlsSeen). */
  ttlsSeen(): number[] {
    return this.ttls ?? (this.ttl !== null ? [this.ttl] : []);
  }

  addHole(start: number, end: number, time: number, frame: number): void {
    const holes = (this.holes ??= []);
    if (holes.length >= MAX_HOLES) holes.shift();
    holes.push({ start, end, time, frame });
  }

  /** The segment [s, e) arrived below highSeq: the time of the hole it fills, or -1. */
  fillHole(s: number, e: number): number {
    const holes = this.holes;
    if (holes === null) return -1;
    for (let i = 0; i < holes.length; i++) {
      const h = holes[i]!;
      if (seqDiff(s, h.start) < 0 || seqDiff(s, h.end) >= 0) continue;
      const t = h.time;
      const endsAfter = seqDiff(e, h.end) >= 0;
      if (s === h.start) {
        if (endsAfter) holes.splice(i, 1);
        else h.start = e;
      } else if (endsAfter) {
        h.end = s;
      } else {
        if (holes.length < MAX_HOLES) holes.push({ start: e, end: h.end, time: t, frame: h.frame });
        h.end = s;
      }
      return t;
    }
    return -1;
  }
}

/**
 * The TCP state of one flow. Its facts are counters and small lists kept here while the flow
 * lives; finalize() writes them into the flow's TcpFacts (a tracked flow that never carries data,
 * a SYN flood's, so costs this object and two DirStates, not the facts' twenty-odd arrays).
 */
export class TcpTracker {
  readonly dirs: [DirState, DirState] = [new DirState(), new DirState()];
  synAckCount = 0;
  lastSynTime = -1;
  /** Handshake completed, data seen, or the flow started without a handshake. */
  established = false;
  anyFin = false;
  // TcpFacts of the flow as a whole (lists created on first use). SYN and SYN/ACK frames: the
  // first one, and the list of them all from the second on (a half-open flow has one of each).
  private firstSyn = -1;
  private syns: number[] | null = null;
  private firstSynAck = -1;
  private synAcks: number[] | null = null;
  ackFrame: number | null = null;
  handshakeRtt: number | null = null;
  fins: DirFrameRef[] | null = null;
  rsts: RstRef[] | null = null;
  lostSegments: LostSegmentRef[] | null = null;
  /** Holes never filled (bytes that never appeared in the capture), written at the flow's end. */
  missingRanges: MissingRangeRef[] | null = null;
  /** Largest gap between two consecutive packets, and the frame after it (-1: none yet). */
  maxIdle = 0;
  maxIdleFrame = -1;
  /** Per side: the last segment that acknowledged new data of the other side (-1: none). */
  dataAckFrame0 = -1;
  dataAckTime0 = 0;
  dataAckFrame1 = -1;
  dataAckTime1 = 0;

  /**
   * As new: the table keeps the trackers of flows that ended and hands them to new flows (a SYN
   * flood ends and starts a flow per SYN; a tracker taken again is already in the old generation,
   * so it costs the scavenger nothing and leaves no garbage there).
   */
  reset(): void {
    this.dirs[0].reset();
    this.dirs[1].reset();
    this.synAckCount = 0;
    this.lastSynTime = -1;
    this.established = false;
    this.anyFin = false;
    this.firstSyn = -1;
    this.syns = null;
    this.firstSynAck = -1;
    this.synAcks = null;
    this.ackFrame = null;
    this.handshakeRtt = null;
    this.fins = null;
    this.rsts = null;
    this.lostSegments = null;
    this.missingRanges = null;
    this.maxIdle = 0;
    this.maxIdleFrame = -1;
    this.dataAckFrame0 = -1;
    this.dataAckTime0 = 0;
    this.dataAckFrame1 = -1;
    this.dataAckTime1 = 0;
  }

  /** Backfill the handshake from the SYN log (a flow recognised by its X.224 request). */
  setHandshake(clientIsn: number, serverIsn: number, synAcks: number, lastSynTime: number): void {
    this.dirs[0].isn = clientIsn;
    this.dirs[1].isn = serverIsn;
    this.synAckCount = synAcks;
    this.lastSynTime = lastSynTime;
  }

  get clientIsn(): number {
    return this.dirs[0].isn;
  }

  /** A SYN frame (the first `max` are kept). */
  addSynFrame(frame: number, max: number): void {
    if (this.firstSyn < 0) this.firstSyn = frame;
    else if (this.syns === null) {
      if (max > 1) this.syns = [this.firstSyn, frame];
    } else if (this.syns.length < max) this.syns.push(frame);
  }

  /** A SYN/ACK frame (the first `max` are kept). */
  addSynAckFrame(frame: number, max: number): void {
    if (this.firstSynAck < 0) this.firstSynAck = frame;
    else if (this.synAcks === null) {
      if (max > 1) this.synAcks = [this.firstSynAck, frame];
    } else if (this.synAcks.length < max) this.synAcks.push(frame);
  }

  /** Bookkeeping of every packet (FlowTable.countPacket): idle time, TTL of its side. */
  count(d: Dir, ttl: number, frame: number, idle: number): void {
    if (idle > 0 && (this.maxIdleFrame < 0 || idle > this.maxIdle)) {
      this.maxIdle = idle;
      this.maxIdleFrame = frame;
    }
    this.dirs[d].addTtl(ttl);
  }

  /** Whether a SYN from `dir` with `seq` starts a new connection on this 4-tuple (port reuse). */
  isReuse(dir: Dir, seq: number): boolean {
    if (this.anyFin) return true;
    if (dir === 1) return this.established;
    const isn = this.dirs[0].isn;
    return isn >= 0 && seq >>> 0 !== isn && (this.synAckCount > 0 || this.established);
  }

  /**
   * One packet of the flow from `d`. Emits TCP events and feeds the reassemblers.
   * Returns true when the flow is closed by it (RST, or the ACK of the second FIN).
   */
  onPacket(f: Flow, p: DecodedPacket, d: Dir, frame: number, time: number): boolean {
    const c = f.consumer;
    const o: Dir = d === 0 ? 1 : 0;
    const ds = this.dirs[d];
    const os = this.dirs[o];
    const flags = p.tcpFlags;
    const syn = (flags & TcpFlag.SYN) !== 0;
    const ack = (flags & TcpFlag.ACK) !== 0;
    const fin = (flags & TcpFlag.FIN) !== 0;
    const rst = (flags & TcpFlag.RST) !== 0;
    const seq = p.seq >>> 0;
    const wireLen = p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    const firstFromSide = !ds.seen;
    ds.seen = true;
    // Any packet from this side answers the other side's keep-alives (RFC 9293 3.8.4).
    os.keepAliveRun = 0;

    // ---- handshake (RFC 9293 3.5)
    if (syn && !ack) {
      if (d === 0 && (ds.isn < 0 || seq === ds.isn)) {
        const retransmission = this.firstSyn >= 0;
        this.addSynFrame(frame, MAX_SYN_FRAMES);
        ds.isn = seq;
        this.lastSynTime = time;
        if (ds.mss === null && p.mss >= 0) ds.mss = p.mss;
        f.startStream(0, seqAdd(seq, 1));
        c?.onTcpEvent({ kind: 'syn', dir: 0, frame, time, retransmission });
      }
    } else if (syn && ack) {
      if (d === 1) {
        const retransmission = this.synAckCount > 0;
        this.synAckCount++;
        this.addSynAckFrame(frame, MAX_SYN_FRAMES);
        if (!retransmission) {
          ds.isn = seq;
          if (this.lastSynTime >= 0 && time >= this.lastSynTime) this.handshakeRtt = time - this.lastSynTime;
          if (p.mss >= 0) ds.mss = p.mss;
        }
        f.startStream(1, seqAdd(seq, 1));
        c?.onTcpEvent({ kind: 'syn_ack', dir: 1, frame, time, retransmission });
      }
    } else if (ack && !rst && d === 0 && this.ackFrame === null && this.synAckCount > 0 && os.isn >= 0) {
      if (p.ack >>> 0 === seqAdd(os.isn, 1)) {
        this.ackFrame = frame;
        this.established = true;
        c?.onTcpEvent({ kind: 'ack', dir: 0, frame, time, retransmission: false });
      }
    }

    // ---- sequence analysis of this direction
    const segSeq = syn ? seqAdd(seq, 1) : seq;
    const segEnd = seqAdd(segSeq, wireLen);
    // A segment outside any receive window is not of this stream (reassembly.ts): it moves nothing.
    const outOfWindow = ds.init && !syn && outsideAnyWindow(seqDiff(segSeq, ds.highSeq), wireLen);
    if (!rst && !outOfWindow) {
      if (!ds.init) {
        ds.init = true;
        ds.highSeq = segSeq;
      }
      const dd = seqDiff(segSeq, ds.highSeq);
      if (wireLen > 0) {
        this.established = true;
        if (wireLen > ds.maxSegment) ds.maxSegment = wireLen;
      }
      if (!syn && !fin && wireLen <= 1 && dd === -1) {
        // Keep-alive: 0 or 1 byte at next - 1 (RFC 9293 3.8.4).
        ds.keepAlives++;
        if (ds.keepAliveRun++ === 0) ds.keepAliveFirst = frame;
        ds.keepAliveLast = frame;
      } else if (wireLen > 0) {
        this.dataSegment(ds, d, dd, segSeq, segEnd, wireLen, frame, time, c);
      } else if (dd > 0 && !syn) {
        // A bare ACK ahead of what was seen: segments before it were not captured.
        ds.addHole(ds.highSeq, segSeq, time, frame);
        ds.highSeq = segSeq;
      }
      if (fin && seqDiff(seqAdd(segEnd, 1), ds.highSeq) > 0) ds.highSeq = seqAdd(segEnd, 1);
    }

    // ---- what this packet acknowledges of the other direction
    if (ack && !rst) {
      const a = p.ack >>> 0;
      if (os.init) {
        this.acked(os, o, a, time, frame, d);
        if (os.finSeq >= 0 && seqDiff(a, seqAdd(os.finSeq, 1)) >= 0) os.finAcked = true;
        if (
          wireLen === 0 &&
          !syn &&
          !fin &&
          ds.ackInit &&
          a === ds.lastAck &&
          p.window === ds.lastWin &&
          seqDiff(os.highSeq, a) > 0
        )
          ds.dupAcks++;
      }
      f.ackedTo(o, a, frame, time);
      ds.ackInit = true;
      ds.lastAck = a;
      ds.lastWin = p.window;
    }
    if (p.window === 0 && !syn && !fin && !rst) ds.zeroWindows++;

    // ---- stream bytes
    // (Not once the consumer wants no more bytes: a stopped reassembler takes nothing.)
    if (!rst && f.wantsBytes && f.reassembles) {
      if (!syn) f.startStream(d, seq); // no SYN seen: the first segment gives the ISN
      if (wireLen > 0 || fin) f.stream(d).segment(segSeq, p.buf, p.payloadOff, p.payloadLen, wireLen, fin, frame, time);
    }

    // ---- FIN / RST
    if (fin && !outOfWindow) {
      this.anyFin = true;
      if (ds.finSeq < 0) {
        ds.finSeq = segEnd;
        const ref: DirFrameRef = { dir: d, frame, time };
        if (this.fins === null) this.fins = [ref];
        else this.fins.push(ref);
        c?.onTcpEvent({ kind: 'fin', dir: d, frame, time, retransmission: false });
      } else {
        c?.onTcpEvent({ kind: 'fin', dir: d, frame, time, retransmission: segEnd === ds.finSeq });
      }
    }
    if (rst) {
      const answersSyn = ack && firstFromSide && this.firstSyn >= 0 && d === 1;
      const ref: RstRef = { dir: d, frame, time, ttl: p.ttl, answersSyn };
      if (this.rsts === null) this.rsts = [ref];
      else if (this.rsts.length < MAX_RSTS) this.rsts.push(ref);
      // The flow ends here: held bytes (and the holes before them) come before the reset.
      f.finishStreams(frame, time);
      c?.onTcpEvent({ kind: 'rst', dir: d, frame, time, ttl: p.ttl });
      return true;
    }
    return ds.finSeq >= 0 && os.finSeq >= 0 && ds.finAcked && os.finAcked;
  }

  /**
   * A data segment of direction d, dd bytes past the highest sequence seen (onPacket and
   * countedSegment): new data (a gap before it is a hole of segments not captured) goes into the
   * sent ring; data at or below the highest sequence fills a hole (out of order, within the
   * window of the handshake's RTT) or is a retransmission (counted, its frame listed, the segment in
   * the ring marked, the consumer told).
   */
  private dataSegment(ds: DirState, d: Dir, dd: number, segSeq: number, segEnd: number, wireLen: number, frame: number, time: number, c: Flow['consumer']): void {
    if (dd >= 0) {
      if (dd > 0) ds.addHole(ds.highSeq, segSeq, time, frame);
      (ds.sent ??= takeRing()).push(segSeq, segEnd, wireLen, frame, time);
      ds.highSeq = segEnd;
      return;
    }
    const holeTime = ds.fillHole(segSeq, segEnd);
    const window = this.handshakeRtt !== null && this.handshakeRtt > OUT_OF_ORDER_WINDOW ? this.handshakeRtt : OUT_OF_ORDER_WINDOW;
    if (holeTime >= 0 && time - holeTime <= window) {
      ds.outOfOrder++;
    } else {
      ds.retransmissions++;
      const frames = (ds.retransmissionFrames ??= []);
      if (frames.length < MAX_RETRANSMISSION_FRAMES) frames.push(frame);
      if (ds.sent !== null) markRetransmitted(ds.sent, segSeq, frame);
      c?.onTcpEvent({ kind: 'retransmission', dir: d, frame, time, length: wireLen });
    }
    if (seqDiff(segEnd, ds.highSeq) > 0) ds.highSeq = segEnd;
  }

  /**
   * Whether a packet with these flags can take `countedSegment` instead of `onPacket`: no SYN, FIN or
   * RST (their events and lists), and the handshake's ACK not awaited (its event).
   */
  counts(flags: number): boolean {
    return (flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) === 0 && (this.ackFrame !== null || this.synAckCount === 0);
  }

  /**
   * `onPacket` for a packet of the count-only path (docs/architecture.md): the flow's consumer wants
   * no more bytes (its reassemblers stopped: nothing to hand them, and an ACK moves none of them) and
   * `counts(flags)` holds. The same sequence analysis and counters as onPacket, in one pass without
   * the handshake, stream, FIN and RST steps, which do nothing for such a packet. Returns true when
   * the flow is closed by it (the ACK of the second FIN).
   */
  countedSegment(f: Flow, p: DecodedPacket, d: Dir, frame: number, time: number): boolean {
    const o: Dir = d === 0 ? 1 : 0;
    const ds = this.dirs[d];
    const os = this.dirs[o];
    const wireLen = p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    const segSeq = p.seq >>> 0;
    ds.seen = true;
    // Any packet from this side answers the other side's keep-alives (RFC 9293 3.8.4).
    os.keepAliveRun = 0;
    // ---- sequence analysis of this direction (as onPacket)
    if (!ds.init) {
      ds.init = true;
      ds.highSeq = segSeq;
    }
    const dd = seqDiff(segSeq, ds.highSeq);
    if (!outsideAnyWindow(dd, wireLen)) {
      if (wireLen > 0) {
        this.established = true;
        if (wireLen > ds.maxSegment) ds.maxSegment = wireLen;
      }
      if (wireLen <= 1 && dd === -1) {
        ds.keepAlives++;
        if (ds.keepAliveRun++ === 0) ds.keepAliveFirst = frame;
        ds.keepAliveLast = frame;
      } else if (wireLen > 0) {
        this.dataSegment(ds, d, dd, segSeq, seqAdd(segSeq, wireLen), wireLen, frame, time, f.consumer);
      } else if (dd > 0) {
        ds.addHole(ds.highSeq, segSeq, time, frame);
        ds.highSeq = segSeq;
      }
    }
    // ---- what this packet acknowledges of the other direction
    if ((p.tcpFlags & TcpFlag.ACK) !== 0) {
      const a = p.ack >>> 0;
      if (os.init) {
        this.acked(os, o, a, time, frame, d);
        if (os.finSeq >= 0 && seqDiff(a, seqAdd(os.finSeq, 1)) >= 0) os.finAcked = true;
        if (wireLen === 0 && ds.ackInit && a === ds.lastAck && p.window === ds.lastWin && seqDiff(os.highSeq, a) > 0) ds.dupAcks++;
      }
      ds.ackInit = true;
      ds.lastAck = a;
      ds.lastWin = p.window;
    }
    if (p.window === 0) ds.zeroWindows++;
    return ds.finSeq >= 0 && os.finSeq >= 0 && ds.finAcked && os.finAcked;
  }

  /** The other side ACKed `a` for direction `dir` (state s): RTT sample, acked sizes, lost segments. */
  private acked(s: DirState, dir: Dir, a: number, time: number, frame: number, by: Dir): void {
    const sent = s.sent;
    if (sent === null) return;
    const slots = sent.slots;
    // The newest segment the ACK covers (-1: none): its slot index.
    let newest = -1;
    while (sent.count > 0) {
      const i = sent.head;
      const k = i * SENT_STRIDE;
      if (seqDiff(a, slots[k + S_END]!) < 0) break;
      const len = slots[k + S_LEN]!;
      if (len > s.maxAckedSegment) s.maxAckedSegment = len;
      if (slots[k + S_RETXN]! > 0) this.pushLost(dir, sent, i, true);
      newest = i;
      sent.shift();
    }
    if (newest < 0) return;
    // An ACK is an answer: the last segment from `by` that acknowledged new data of the other side.
    if (by === 0) {
      this.dataAckFrame0 = frame;
      this.dataAckTime0 = time;
    } else {
      this.dataAckFrame1 = frame;
      this.dataAckTime1 = time;
    }
    // One sample per ACK, from the newest segment it covers; never from a retransmitted one (Karn).
    // (The slot was let go by shift() but not overwritten: nothing is pushed in between.)
    const k = newest * SENT_STRIDE;
    if (slots[k + S_RETXN] === 0) (s.rtt ??= new RttReservoir()).add(time - slots[k + S_TIME]!);
  }

  private pushLost(dir: Dir, sent: SentRing, i: number, acked: boolean): void {
    const k = i * SENT_STRIDE;
    const ref: LostSegmentRef = { dir, frame: sent.slots[k + S_FRAME]!, retransmitFrames: sent.retxFrames(i), length: sent.slots[k + S_LEN]!, acked };
    if (this.lostSegments === null) this.lostSegments = [ref];
    else if (this.lostSegments.length < MAX_LOST_SEGMENTS) this.lostSegments.push(ref);
  }

  /**
   * The flow ends: the segments retransmitted and never acknowledged, then the TcpFacts (every
   * list at its length, the per-direction values as pairs; same key order as newTcpFacts).
   */
  finalize(): TcpFacts {
    const c = this.dirs[0];
    const s = this.dirs[1];
    this.lostAtEnd(c, 0);
    this.lostAtEnd(s, 1);
    return {
      synFrames: this.syns ?? (this.firstSyn >= 0 ? [this.firstSyn] : []),
      synAckFrames: this.synAcks ?? (this.firstSynAck >= 0 ? [this.firstSynAck] : []),
      ackFrame: this.ackFrame,
      handshakeRtt: this.handshakeRtt,
      rtt: c.rtt === null && s.rtt === null ? [null, null] : [c.rtt?.stats() ?? null, s.rtt?.stats() ?? null],
      retransmissions: counts(c.retransmissions, s.retransmissions),
      retransmissionFrames: [c.retransmissionFrames ?? [], s.retransmissionFrames ?? []],
      dupAcks: counts(c.dupAcks, s.dupAcks),
      zeroWindows: counts(c.zeroWindows, s.zeroWindows),
      keepAlives: counts(c.keepAlives, s.keepAlives),
      outOfOrder: counts(c.outOfOrder, s.outOfOrder),
      fins: this.fins ?? [],
      rsts: this.rsts ?? [],
      ttl: values(c.ttl, s.ttl),
      ttlsSeen: [c.ttlsSeen(), s.ttlsSeen()],
      maxSegment: counts(c.maxSegment, s.maxSegment),
      maxAckedSegment: counts(c.maxAckedSegment, s.maxAckedSegment),
      lostSegments: this.lostSegments ?? [],
      missingRanges: this.missingRanges ?? [],
      unansweredKeepAlives: [keepAliveRun(c), keepAliveRun(s)],
      maxIdle: this.maxIdleFrame >= 0 ? { seconds: this.maxIdle, frame: this.maxIdleFrame } : null,
      mss: values(c.mss, s.mss),
      dataAcks:
        this.dataAckFrame0 < 0 && this.dataAckFrame1 < 0
          ? [null, null]
          : [
              this.dataAckFrame0 < 0 ? null : { frame: this.dataAckFrame0, time: this.dataAckTime0 },
              this.dataAckFrame1 < 0 ? null : { frame: this.dataAckFrame1, time: this.dataAckTime1 },
            ],
    };
  }

  private lostAtEnd(s: DirState, dir: Dir): void {
    const sent = s.sent;
    if (sent !== null) {
      for (let k = 0; k < sent.count; k++) {
        const i = sent.at(k);
        if (sent.slots[i * SENT_STRIDE + S_RETXN]! > 0) this.pushLost(dir, sent, i, false);
      }
      sent.clear();
    }
    if (s.holes !== null) {
      for (const h of s.holes) {
        const ref: MissingRangeRef = { dir, bytes: seqDiff(h.end, h.start), frame: h.frame, time: h.time };
        if (this.missingRanges === null) this.missingRanges = [ref];
        else if (this.missingRanges.length < MAX_HOLES * 2) this.missingRanges.push(ref);
      }
    }
    s.holes = null;
  }
}

/** A side's keep-alives the other side never answered (the run at the flow's end), or null. */
function keepAliveRun(s: DirState): KeepAliveRunRef | null {
  return s.keepAliveRun > 0 ? { count: s.keepAliveRun, firstFrame: s.keepAliveFirst, lastFrame: s.keepAliveLast } : null;
}

/** The remembered segment holding `seq` (newest first) gets `frame` as a retransmission of it. */
function markRetransmitted(sent: SentRing, seq: number, frame: number): void {
  const slots = sent.slots;
  for (let k = sent.count - 1; k >= 0; k--) {
    const i = sent.at(k);
    const b = i * SENT_STRIDE;
    if (seqDiff(seq, slots[b + S_SEQ]!) >= 0 && seqDiff(seq, slots[b + S_END]!) < 0) {
      const n = slots[b + S_RETXN]!;
      if (n < MAX_RETX_PER_SEGMENT) {
        (sent.retx ??= new Int32Array(MAX_SENT * MAX_RETX_PER_SEGMENT))[i * MAX_RETX_PER_SEGMENT + n] = frame;
        slots[b + S_RETXN] = n + 1;
      }
      return;
    }
  }
}

/**
 * A pair of counters. [0, 0] is written as a constant literal: V8 then shares the literal's
 * copy-on-write elements until a write, so a pair that stays zero (most of them) costs its header only.
 */
function counts(a: number, b: number): PerDir<number> {
  return a === 0 && b === 0 ? [0, 0] : [a, b];
}

/** A pair of values that may be unknown (null); [null, null] as a constant literal (see counts). */
function values(a: number | null, b: number | null): PerDir<number | null> {
  return a === null && b === null ? [null, null] : [a, b];
}
