// One direction of a TCP stream, reassembled in sequence order (RFC 9293 3.4,
// 3.10.7.4): only never-seen bytes are delivered, out-of-order segments are held
// (bounded) until the hole fills, and a hole that will not fill is delivered as a
// gap of its exact size, never papered over.
//
// Positions are kept as stream offsets (bytes since the first byte of the
// stream, gaps included) next to the sequence number of the next byte, so
// wrap-around at 2^32 only matters in seqDiff. Offsets at or beyond `limit` are
// not reassembled: they are counted in cutBytes.
//
// A segment further from the next expected byte than any receive window can reach
// (RFC 7323 2.3) is not data of this stream: a receiver drops it (RFC 9293
// 3.10.7.4, segment acceptability). It is counted as out of window, reported to
// the sink, and changes nothing else: no gap, no cut bytes, no FIN.
import { seqAdd, seqDiff } from './seq.js';

/** Where a reassembler delivers its bytes (one object per flow direction, no closure per packet). */
export interface ReassemblySink {
  /** A copy of new in-order bytes; false = no more bytes wanted. */
  data(data: Buffer, frame: number, time: number): boolean;
  /** Bytes that will never come. */
  gap(missingBytes: number, frame: number, time: number): void;
  /**
   * A segment outside any receive window, dropped: `distance` from the next expected sequence
   * number (negative: behind it), `length` bytes sent.
   */
  outOfWindow(distance: number, length: number, frame: number, time: number): void;
  /**
   * Optional: a segment (frame) overlaps bytes already taken from an earlier one (originalFrame) with
   * different data, first at stream offset `offset`: the first copy is kept, as Wireshark does.
   */
  conflict?(originalFrame: number, frame: number, offset: number, time: number): void;
}

/** RFC 7323 2.3: the largest receive window TCP can announce (65535 << 14, just under 1 GiB). */
export const MAX_RECEIVE_WINDOW = 65535 * 16384;

/**
 * Whether a segment of `length` bytes starting `distance` from the receiver's next expected
 * sequence number lies wholly outside any receive window (RFC 9293 3.10.7.4 with RFC 7323 2.3).
 */
export function outsideAnyWindow(distance: number, length: number): boolean {
  return distance >= MAX_RECEIVE_WINDOW || distance + length <= -MAX_RECEIVE_WINDOW;
}

/** Out-of-order bytes held by all reassemblers of a table together. */
export interface HeldBudget {
  held: number;
  readonly limit: number;
}

interface HeldSegment {
  start: number;
  end: number;
  data: Buffer;
  frame: number;
  time: number;
}

const OPEN = 0;
const CAPPED = 1;
const STOPPED = 2;

/** An ACK further ahead than this from what was seen is not believed (garbage / not an ACK). */
const MAX_ACK_JUMP = 0x40000000;

/**
 * Whether an ACK of `ack` moves a started stream whose next expected byte is `next` (ackedTo: the
 * bytes up to it will never be seen and become a gap). For a reassembler not created yet.
 */
export function ackFillsGap(next: number, ack: number): boolean {
  const rel = seqDiff(ack, next);
  return rel > 0 && rel <= MAX_ACK_JUMP;
}

export class StreamReassembler {
  started = false;
  /** Sequence number of the byte at stream offset `offset` (the next one to deliver). */
  next = 0;
  /** Stream offset of the next byte to deliver (= bytes delivered + gap bytes). */
  offset = 0;
  gapBytes = 0;
  cutBytes = 0;
  /** Segments (and their bytes) outside any receive window, dropped. */
  outOfWindowSegments = 0;
  outOfWindowBytes = 0;
  /** Stream offset where the FIN sits, or -1; the FIN consumes one sequence number (RFC 9293 3.4). */
  finOffset = -1;
  finConsumed = false;
  private mode = OPEN;
  private held: HeldSegment[] = [];
  /** The last bytes delivered (the consumer's copy, only referenced), their stream offset and frame: a later overlap is compared with them. */
  private lastData: Buffer | null = null;
  private lastStart = 0;
  private lastFrame = 0;
  /** Highest stream offset (end of a segment) seen while OPEN. */
  private maxEnd = 0;
  /** CAPPED: sequence number of the end of the highest byte seen. */
  private capRef = 0;

  constructor(
    private limit: number,
    private readonly maxHeld: number,
    private readonly budget: HeldBudget,
    private readonly sink: ReassemblySink,
  ) {}

  /** Lifts the per-flow byte limit (the consumer reads the whole stream); no effect once capped. */
  unlimit(): void {
    if (this.mode === OPEN) this.limit = Number.MAX_SAFE_INTEGER;
  }

  /** Whether bytes are still reassembled (not capped, not refused by the consumer). */
  get open(): boolean {
    return this.mode === OPEN;
  }

  get heldSegments(): number {
    return this.held.length;
  }

  /** Set the sequence number of the first stream byte (ISN + 1 after a SYN). No effect once started. */
  start(seq: number): void {
    if (this.started) return;
    this.started = true;
    this.next = seq >>> 0;
  }

  /**
   * One segment: `capLen` payload bytes captured at buf[off..], `wireLen` bytes sent
   * (more when the snaplen cut the packet: the missing tail is a gap).
   */
  segment(
    seq: number,
    buf: Buffer,
    off: number,
    capLen: number,
    wireLen: number,
    fin: boolean,
    frame: number,
    time: number,
  ): void {
    if (!this.started) this.start(seq);
    if (wireLen < capLen) wireLen = capLen;
    if (this.mode === STOPPED) return;
    const distance = seqDiff(seq, this.mode === CAPPED ? this.capRef : this.next);
    if (outsideAnyWindow(distance, wireLen)) {
      this.outOfWindowSegments++;
      this.outOfWindowBytes += wireLen;
      this.sink.outOfWindow(distance, wireLen, frame, time);
      return;
    }
    if (this.mode === CAPPED) {
      const end = seqAdd(seq, wireLen);
      const d = seqDiff(end, this.capRef);
      if (d > 0) {
        this.cutBytes += d;
        this.capRef = end;
      }
      return;
    }
    const start = this.offset + distance;
    const end = start + wireLen;
    if (end > this.maxEnd) {
      if (end > this.limit) this.cutBytes += end - Math.max(this.maxEnd, this.limit);
      this.maxEnd = end;
    }
    if (fin && this.finOffset < 0) this.finOffset = end;
    this.place(start, buf, off, capLen, frame, time);
    if (this.mode === OPEN && capLen < wireLen && end > this.offset && start + capLen <= this.offset) {
      // Cut by the snaplen: the rest of this segment was sent but not captured.
      this.gap(Math.min(end, this.limit) - this.offset, frame, time);
      this.drain();
    }
    this.checkFin();
  }

  /** The other side acknowledged up to `ack`: whatever is missing before it will never be seen. */
  ackedTo(ack: number, frame: number, time: number): void {
    if (!this.started || this.mode !== OPEN) return;
    const rel = seqDiff(ack, this.next);
    if (rel <= 0 || rel > MAX_ACK_JUMP) return;
    let target = this.offset + rel;
    if (this.finOffset >= 0 && target > this.finOffset) target = this.finOffset;
    this.fillTo(target, frame, time);
  }

  /** The flow ends: held segments are delivered, the holes before them as gaps. */
  finish(frame: number, time: number): void {
    while (this.mode === OPEN && this.held.length > 0) {
      const first = this.held[0]!;
      if (first.start > this.offset) this.gap(first.start - this.offset, frame, time);
      this.drain();
    }
    this.checkFin();
    this.release();
  }

  /** Stop delivering and holding (the consumer wants no more bytes). */
  stop(): void {
    this.mode = STOPPED;
    this.release();
  }

  private place(start: number, buf: Buffer, off: number, len: number, frame: number, time: number): void {
    if (start < this.offset && this.lastData !== null) this.compare(this.lastData, this.lastStart, this.lastFrame, start, buf, off, len, frame, time);
    if (start + len <= this.offset) return; // retransmission / overlap of delivered bytes
    if (start <= this.offset) {
      const skip = this.offset - start;
      this.deliver(Buffer.from(buf.subarray(off + skip, off + len)), frame, time);
      this.drain();
      return;
    }
    this.hold(start, buf, off, len, frame, time);
  }

  private hold(start: number, buf: Buffer, off: number, len: number, frame: number, time: number): void {
    if (start >= this.limit) return;
    if (start + len > this.limit) len = this.limit - start;
    if (len <= 0) return;
    const end = start + len;
    const held = this.held;
    for (let i = 0; i < held.length; i++) {
      const h = held[i]!;
      if (h.start < end && start < h.end) this.compare(h.data, h.start, h.frame, start, buf, off, len, frame, time);
      if (h.start <= start && h.end >= end) return; // already held
    }
    // Over the table-wide bound the segment is not held: its bytes become a gap later.
    if (this.budget.held + len > this.budget.limit) return;
    if (held.length >= this.maxHeld) {
      // Too many holes: give up the first one as a gap, then place this segment again.
      this.gap(held[0]!.start - this.offset, frame, time);
      this.drain();
      if (this.mode !== OPEN) return;
      this.place(start, buf, off, len, frame, time);
      return;
    }
    const seg: HeldSegment = {
      start,
      end,
      data: Buffer.from(buf.subarray(off, off + len)),
      frame,
      time,
    };
    let i = held.length;
    while (i > 0 && held[i - 1]!.start > start) i--;
    held.splice(i, 0, seg);
    this.budget.held += len;
  }

  /** Deliver held segments that have become in order. */
  private drain(): void {
    const held = this.held;
    while (this.mode === OPEN && held.length > 0 && held[0]!.start <= this.offset) {
      const h = held.shift()!;
      this.budget.held -= h.data.length;
      if (h.end > this.offset) this.deliver(h.data.subarray(this.offset - h.start), h.frame, h.time);
    }
  }

  private fillTo(target: number, frame: number, time: number): void {
    while (this.mode === OPEN && this.offset < target) {
      const held = this.held;
      if (held.length > 0 && held[0]!.start <= this.offset) {
        this.drain();
        continue;
      }
      const upTo = held.length > 0 ? Math.min(target, held[0]!.start) : target;
      this.gap(upTo - this.offset, frame, time);
    }
    this.drain();
    this.checkFin();
  }

  /**
   * Overlapping bytes of a kept segment (`kept` at stream offset keptStart, from keptFrame) and a new
   * one (buf[off, off + len) at stream offset start): the first byte that differs is told to the sink.
   */
  private compare(kept: Buffer, keptStart: number, keptFrame: number, start: number, buf: Buffer, off: number, len: number, frame: number, time: number): void {
    const from = Math.max(start, keptStart);
    const to = Math.min(start + len, keptStart + kept.length);
    for (let p = from; p < to; p++) {
      if (kept[p - keptStart] !== buf[off + p - start]) {
        this.sink.conflict?.(keptFrame, frame, p, time);
        return;
      }
    }
  }

  private deliver(data: Buffer, frame: number, time: number): void {
    const room = this.limit - this.offset;
    if (data.length > room) data = data.subarray(0, room);
    if (data.length === 0) {
      this.cap();
      return;
    }
    this.lastData = data;
    this.lastStart = this.offset;
    this.lastFrame = frame;
    this.offset += data.length;
    this.next = seqAdd(this.next, data.length);
    if (!this.sink.data(data, frame, time)) {
      this.stop();
      return;
    }
    if (this.offset >= this.limit) this.cap();
  }

  private gap(n: number, frame: number, time: number): void {
    const room = this.limit - this.offset;
    if (n > room) n = room;
    if (n > 0) {
      this.offset += n;
      this.next = seqAdd(this.next, n);
      this.gapBytes += n;
      this.sink.gap(n, frame, time);
    }
    if (this.offset >= this.limit) this.cap();
  }

  private checkFin(): void {
    if (!this.finConsumed && this.finOffset >= 0 && this.offset === this.finOffset && this.mode === OPEN) {
      this.finConsumed = true;
      this.next = seqAdd(this.next, 1);
    }
  }

  private cap(): void {
    if (this.mode !== OPEN) return;
    this.mode = CAPPED;
    this.capRef = seqAdd(this.next, Math.max(0, this.maxEnd - this.offset));
    this.release();
  }

  private release(): void {
    for (const h of this.held) this.budget.held -= h.data.length;
    this.held.length = 0;
    this.lastData = null;
  }
}
