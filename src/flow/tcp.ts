// TCP analysis of one tracked flow: handshake, retransmissions, keep-alives,
// duplicate ACKs, zero windows, out-of-order, FIN/RST, RTT, lost segments
// (RFC 9293; the heuristics follow Wireshark's tcp.analysis.* where it has one).
// Counters and bounded lists only, whatever the flow's size.
import { TcpFlag, type DecodedPacket } from '../net/index.js';
import { MAX_LOST_SEGMENTS, MAX_RETRANSMISSION_FRAMES, MAX_RSTS, MAX_SYN_FRAMES, RttReservoir } from './facts.js';
import type { Flow } from './flow.js';
import { outsideAnyWindow } from './reassembly.js';
import { seqAdd, seqDiff } from './seq.js';
import type { Dir, TcpFacts } from './types.js';

/** Sent segments remembered per direction (for RTT samples and lost-segment detection). */
const MAX_SENT = 64;
/** Holes in a direction's sequence space remembered (to tell out-of-order from retransmission). */
const MAX_HOLES = 8;
/** Retransmission frames kept per remembered segment. */
const MAX_RETX_PER_SEGMENT = 8;
/** Wireshark's default: a hole filled within this time (or the RTT when larger) is out-of-order. */
const OUT_OF_ORDER_WINDOW = 0.003;

interface SentSegment {
  seq: number;
  end: number;
  len: number;
  frame: number;
  time: number;
  /** Frames of the retransmissions, or null when never retransmitted. */
  retx: number[] | null;
}

interface Hole {
  start: number;
  end: number;
  time: number;
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
  readonly rtt = new RttReservoir();
  readonly sent: SentSegment[] = [];
  readonly holes: Hole[] = [];

  addHole(start: number, end: number, time: number): void {
    if (this.holes.length >= MAX_HOLES) this.holes.shift();
    this.holes.push({ start, end, time });
  }

  /** The segment [s, e) arrived below highSeq: the time of the hole it fills, or -1. */
  fillHole(s: number, e: number): number {
    const holes = this.holes;
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
        if (holes.length < MAX_HOLES) holes.push({ start: e, end: h.end, time: t });
        h.end = s;
      }
      return t;
    }
    return -1;
  }
}

export class TcpTracker {
  readonly dirs: [DirState, DirState] = [new DirState(), new DirState()];
  synAckCount = 0;
  lastSynTime = -1;
  /** Handshake completed, data seen, or the flow started without a handshake. */
  established = false;
  anyFin = false;

  constructor(readonly facts: TcpFacts) {}

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
    const tf = this.facts;
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

    // ---- handshake (RFC 9293 3.5)
    if (syn && !ack) {
      if (d === 0 && (ds.isn < 0 || seq === ds.isn)) {
        const retransmission = tf.synFrames.length > 0;
        if (tf.synFrames.length < MAX_SYN_FRAMES) tf.synFrames.push(frame);
        ds.isn = seq;
        this.lastSynTime = time;
        if (tf.mss[0] === null && p.mss >= 0) tf.mss[0] = p.mss;
        f.reasm?.[0].start(seqAdd(seq, 1));
        c?.onTcpEvent({ kind: 'syn', dir: 0, frame, time, retransmission });
      }
    } else if (syn && ack) {
      if (d === 1) {
        const retransmission = this.synAckCount > 0;
        this.synAckCount++;
        if (tf.synAckFrames.length < MAX_SYN_FRAMES) tf.synAckFrames.push(frame);
        if (!retransmission) {
          ds.isn = seq;
          if (this.lastSynTime >= 0 && time >= this.lastSynTime) tf.handshakeRtt = time - this.lastSynTime;
          if (p.mss >= 0) tf.mss[1] = p.mss;
        }
        f.reasm?.[1].start(seqAdd(seq, 1));
        c?.onTcpEvent({ kind: 'syn_ack', dir: 1, frame, time, retransmission });
      }
    } else if (ack && !rst && d === 0 && tf.ackFrame === null && this.synAckCount > 0 && os.isn >= 0) {
      if (p.ack >>> 0 === seqAdd(os.isn, 1)) {
        tf.ackFrame = frame;
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
        if (wireLen > tf.maxSegment[d]) tf.maxSegment[d] = wireLen;
      }
      if (!syn && !fin && wireLen <= 1 && dd === -1) {
        // Keep-alive: 0 or 1 byte at next - 1 (RFC 9293 3.8.4).
        tf.keepAlives[d]++;
      } else if (wireLen > 0) {
        if (dd >= 0) {
          if (dd > 0) ds.addHole(ds.highSeq, segSeq, time);
          if (ds.sent.length >= MAX_SENT) ds.sent.shift();
          ds.sent.push({ seq: segSeq, end: segEnd, len: wireLen, frame, time, retx: null });
          ds.highSeq = segEnd;
        } else {
          const holeTime = ds.fillHole(segSeq, segEnd);
          const window = tf.handshakeRtt !== null && tf.handshakeRtt > OUT_OF_ORDER_WINDOW ? tf.handshakeRtt : OUT_OF_ORDER_WINDOW;
          if (holeTime >= 0 && time - holeTime <= window) {
            tf.outOfOrder[d]++;
          } else {
            tf.retransmissions[d]++;
            const frames = tf.retransmissionFrames[d];
            if (frames.length < MAX_RETRANSMISSION_FRAMES) frames.push(frame);
            markRetransmitted(ds.sent, segSeq, frame);
            c?.onTcpEvent({ kind: 'retransmission', dir: d, frame, time, length: wireLen });
          }
          if (seqDiff(segEnd, ds.highSeq) > 0) ds.highSeq = segEnd;
        }
      } else if (dd > 0 && !syn) {
        // A bare ACK ahead of what was seen: segments before it were not captured.
        ds.addHole(ds.highSeq, segSeq, time);
        ds.highSeq = segSeq;
      }
      if (fin && seqDiff(seqAdd(segEnd, 1), ds.highSeq) > 0) ds.highSeq = seqAdd(segEnd, 1);
    }

    // ---- what this packet acknowledges of the other direction
    if (ack && !rst) {
      const a = p.ack >>> 0;
      if (os.init) {
        this.acked(os, o, a, time);
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
          tf.dupAcks[d]++;
      }
      f.reasm?.[o].ackedTo(a, frame, time);
      ds.ackInit = true;
      ds.lastAck = a;
      ds.lastWin = p.window;
    }
    if (p.window === 0 && !syn && !fin && !rst) tf.zeroWindows[d]++;

    // ---- stream bytes
    const r = f.reasm?.[d];
    if (r && !rst) {
      if (!syn) r.start(seq); // no SYN seen: the first segment gives the ISN
      if (wireLen > 0 || fin) r.segment(segSeq, p.buf, p.payloadOff, p.payloadLen, wireLen, fin, frame, time);
    }

    // ---- FIN / RST
    if (fin && !outOfWindow) {
      this.anyFin = true;
      if (ds.finSeq < 0) {
        ds.finSeq = segEnd;
        tf.fins.push({ dir: d, frame, time });
        c?.onTcpEvent({ kind: 'fin', dir: d, frame, time, retransmission: false });
      } else {
        c?.onTcpEvent({ kind: 'fin', dir: d, frame, time, retransmission: segEnd === ds.finSeq });
      }
    }
    if (rst) {
      const answersSyn = ack && firstFromSide && tf.synFrames.length > 0 && d === 1;
      if (tf.rsts.length < MAX_RSTS) tf.rsts.push({ dir: d, frame, time, ttl: p.ttl, answersSyn });
      // The flow ends here: held bytes (and the holes before them) come before the reset.
      if (f.reasm) {
        f.reasm[0].finish(frame, time);
        f.reasm[1].finish(frame, time);
      }
      c?.onTcpEvent({ kind: 'rst', dir: d, frame, time, ttl: p.ttl });
      return true;
    }
    return ds.finSeq >= 0 && os.finSeq >= 0 && ds.finAcked && os.finAcked;
  }

  /** The other side ACKed `a` for direction `dir` (state s): RTT sample, acked sizes, lost segments. */
  private acked(s: DirState, dir: Dir, a: number, time: number): void {
    const sent = s.sent;
    const tf = this.facts;
    let newest: SentSegment | null = null;
    while (sent.length > 0 && seqDiff(a, sent[0]!.end) >= 0) {
      const seg = sent.shift()!;
      if (seg.len > tf.maxAckedSegment[dir]) tf.maxAckedSegment[dir] = seg.len;
      if (seg.retx !== null) pushLost(tf, dir, seg, true);
      newest = seg;
    }
    // One sample per ACK, from the newest segment it covers; never from a retransmitted one (Karn).
    if (newest !== null && newest.retx === null) s.rtt.add(time - newest.time);
  }

  /** The flow ends: RTT statistics and the segments retransmitted and never acknowledged. */
  finalize(): void {
    const tf = this.facts;
    for (const dir of [0, 1] as const) {
      const s = this.dirs[dir];
      tf.rtt[dir] = s.rtt.stats();
      for (const seg of s.sent) if (seg.retx !== null) pushLost(tf, dir, seg, false);
      s.sent.length = 0;
      s.holes.length = 0;
    }
  }
}

function markRetransmitted(sent: SentSegment[], seq: number, frame: number): void {
  for (let i = sent.length - 1; i >= 0; i--) {
    const s = sent[i]!;
    if (seqDiff(seq, s.seq) >= 0 && seqDiff(seq, s.end) < 0) {
      if (s.retx === null) s.retx = [];
      if (s.retx.length < MAX_RETX_PER_SEGMENT) s.retx.push(frame);
      return;
    }
  }
}

function pushLost(tf: TcpFacts, dir: Dir, seg: SentSegment, acked: boolean): void {
  if (tf.lostSegments.length >= MAX_LOST_SEGMENTS) return;
  tf.lostSegments.push({ dir, frame: seg.frame, retransmitFrames: seg.retx ?? [], length: seg.len, acked });
}
