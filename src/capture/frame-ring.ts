// The most recent frames of a live capture, kept in one circular buffer of a fixed size, so that a
// sensor can cut a failed connection's evidence out of them when the connection ends (its frames
// are gone from libpcap by then, and the pcap it writes may be rotating). Memory is the buffer's
// size, whatever the traffic: the oldest frames are overwritten first.
import type { FrameView } from './types.js';

/** Bytes before each frame's data: frame number, seconds, nanoseconds, wire length, link type, captured length. */
const HEADER = 24;

export class FrameRing {
  private readonly buf: Buffer;
  /** Offset where the next frame is written. */
  private head = 0;
  /** Offset of the oldest frame kept. */
  private tail = 0;
  /** Frames kept. */
  private count = 0;
  /** Where the frames at the top of the buffer end when writing has wrapped to 0 (the rest is unused). */
  private wrapEnd: number;
  /** Frame numbers of the oldest and newest frames kept. */
  private first = 0;
  private last = 0;
  /** Frames not kept because each is larger than the whole ring. */
  oversized = 0;
  /** A reused view handed to visitors. */
  private readonly view: FrameView;

  constructor(readonly size: number) {
    if (!(size >= 64 * 1024)) throw new RangeError('FrameRing: size must be at least 64 KiB');
    this.buf = Buffer.alloc(size);
    this.wrapEnd = size;
    this.view = { buf: this.buf, off: 0, capLen: 0, origLen: 0, frame: 0, fileIndex: 0, ifIndex: 0, linkType: 0, tsSec: 0, tsNsec: 0, fileOffset: 0 };
  }

  /** Number of the oldest frame still kept (0 when none). */
  get oldestFrame(): number {
    return this.count === 0 ? 0 : this.first;
  }

  /** Number of the newest frame kept (0 when none). */
  get newestFrame(): number {
    return this.count === 0 ? 0 : this.last;
  }

  /** Keeps a copy of the frame, overwriting the oldest frames as needed. */
  push(v: FrameView): void {
    const need = HEADER + v.capLen;
    if (need > this.size) {
      this.oversized++;
      return;
    }
    // A frame never wraps: when it does not fit before the end, the rest of the buffer is left
    // unused and writing starts again at 0.
    if (this.head + need > this.size) {
      this.evict(this.head, this.size);
      this.wrapEnd = this.count > 0 ? this.head : this.size;
      this.head = 0;
    }
    this.evict(this.head, this.head + need);
    const b = this.buf;
    const o = this.head;
    b.writeUInt32LE(v.frame >>> 0, o);
    b.writeUInt32LE(Math.floor(v.frame / 0x1_0000_0000), o + 4);
    b.writeUInt32LE(v.tsSec >>> 0, o + 8);
    b.writeUInt32LE(v.tsNsec >>> 0, o + 12);
    b.writeUInt32LE(v.origLen >>> 0, o + 16);
    b.writeUInt16LE(v.linkType & 0xffff, o + 20);
    b.writeUInt16LE(v.capLen & 0xffff, o + 22);
    v.buf.copy(b, o + HEADER, v.off, v.off + v.capLen);
    if (this.count === 0) {
      this.tail = o;
      this.first = v.frame;
    }
    this.count++;
    this.last = v.frame;
    this.head = o + need;
  }

  /** Drops the oldest frames while the oldest starts in [from, to) (the space about to be written). */
  private evict(from: number, to: number): void {
    while (this.count > 0 && this.tail >= from && this.tail < to) {
      this.count--;
      if (this.count === 0) {
        this.wrapEnd = this.size;
        return;
      }
      const n = this.next(this.tail);
      // The oldest frame is at the bottom of the buffer again: its top is no longer in use.
      if (n < this.tail) this.wrapEnd = this.size;
      this.tail = n;
      this.first = this.frameAt(n);
    }
  }

  private frameAt(o: number): number {
    return this.buf.readUInt32LE(o) + this.buf.readUInt32LE(o + 4) * 0x1_0000_0000;
  }

  /** Offset of the frame after the one at `o` (past the unused top of the buffer to 0). */
  private next(o: number): number {
    const n = o + HEADER + this.buf.readUInt16LE(o + 22);
    return n >= this.wrapEnd && n !== this.head ? 0 : n;
  }

  /**
   * Visits the frames kept whose numbers are in [fromFrame, toFrame], oldest first, with a reused
   * view into the ring (valid only during the call).
   */
  visit(fromFrame: number, toFrame: number, fn: (v: FrameView) => void): void {
    const v = this.view;
    let o = this.tail;
    for (let i = 0; i < this.count; i++) {
      const frame = this.frameAt(o);
      if (frame > toFrame) return;
      if (frame >= fromFrame) {
        v.frame = frame;
        v.tsSec = this.buf.readUInt32LE(o + 8);
        v.tsNsec = this.buf.readUInt32LE(o + 12);
        v.origLen = this.buf.readUInt32LE(o + 16);
        v.linkType = this.buf.readUInt16LE(o + 20);
        v.capLen = this.buf.readUInt16LE(o + 22);
        v.off = o + HEADER;
        fn(v);
      }
      o = this.next(o);
    }
  }
}
