// One direction of a connection's byte stream as the state machine sees it: the bytes not yet
// decoded, and which frame carried which byte, so that a PDU is credited to the frame holding its
// last byte (Wireshark shows a reassembled PDU in that frame). Bounded: `budget` bytes in all.

export class StreamBuf {
  private buf: Buffer = EMPTY;
  /** Offsets in buf: first byte not yet consumed, and end of the valid bytes. */
  private head = 0;
  private tail = 0;
  /** Absolute stream offset of buf[0]. */
  private base = 0;
  /** Per appended chunk still (partly) unconsumed: absolute end offset, frame, time. */
  private chunkEnds: number[] = [];
  private chunkFrames: number[] = [];
  private chunkTimes: number[] = [];
  /** Bytes appended in all. */
  total = 0;
  /**
   * The budget bounds the bytes pending (not yet consumed) instead of all bytes appended: a stream
   * read to its end (decrypted TLS), whose memory stays bounded by one unit being assembled.
   */
  pendingBudget = false;

  constructor(readonly budget: number) {}

  /** Appends a segment's new bytes. Returns false when the budget is used up (the bytes are not kept). */
  append(data: Buffer, frame: number, time: number): boolean {
    if (data.length === 0) return true;
    if ((this.pendingBudget ? this.tail - this.head : this.total) + data.length > this.budget) return false;
    this.total += data.length;
    const pending = this.tail - this.head;
    if (pending === 0) {
      // Common case: nothing left over, keep the segment as is (it is already a copy).
      this.base += this.tail;
      this.buf = data;
      this.head = 0;
      this.tail = data.length;
    } else {
      const need = pending + data.length;
      if (this.head + need > this.buf.length || this.buf === this.lastShared) {
        const next = Buffer.allocUnsafe(Math.max(need * 2, 4096));
        this.buf.copy(next, 0, this.head, this.tail);
        this.base += this.head;
        this.buf = next;
        this.tail = pending;
        this.head = 0;
      }
      data.copy(this.buf, this.tail);
      this.tail += data.length;
    }
    this.lastShared = pending === 0 ? data : null;
    this.chunkEnds.push(this.base + this.tail);
    this.chunkFrames.push(frame);
    this.chunkTimes.push(time);
    return true;
  }

  /** A segment appended as is must not be written into (the caller's copy may be shared). */
  private lastShared: Buffer | null = null;

  get bytes(): Buffer {
    return this.buf;
  }
  /** Offset in `bytes` of the first byte not yet consumed. */
  get off(): number {
    return this.head;
  }
  /** Offset in `bytes` just past the last byte received. */
  get end(): number {
    return this.tail;
  }
  get available(): number {
    return this.tail - this.head;
  }
  /** Absolute stream offset of the first unconsumed byte. */
  get position(): number {
    return this.base + this.head;
  }
  /** Absolute stream offset just past the last byte received (where the next byte belongs). */
  get endPosition(): number {
    return this.base + this.tail;
  }

  /** The frame that carried the byte at `bytes[off + n - 1]` (the last byte of an n-byte PDU starting at `off`). */
  frameOfEnd(n: number): number {
    return this.chunkFrames[this.chunkIndex(this.base + this.head + Math.max(n, 1) - 1)] ?? 0;
  }
  timeOfEnd(n: number): number {
    return this.chunkTimes[this.chunkIndex(this.base + this.head + Math.max(n, 1) - 1)] ?? 0;
  }
  /** The frame that carried the first unconsumed byte. */
  frameOfStart(): number {
    return this.chunkFrames[this.chunkIndex(this.base + this.head)] ?? 0;
  }

  private chunkIndex(abs: number): number {
    const ends = this.chunkEnds;
    for (let i = 0; i < ends.length; i++) if (abs < ends[i]!) return i;
    return ends.length - 1;
  }

  consume(n: number): void {
    this.head = Math.min(this.head + n, this.tail);
    const abs = this.base + this.head;
    let drop = 0;
    while (drop < this.chunkEnds.length - 1 && this.chunkEnds[drop]! <= abs) drop++;
    if (this.head === this.tail && drop === this.chunkEnds.length - 1 && this.chunkEnds[drop]! <= abs) drop++;
    if (drop > 0) {
      this.chunkEnds.splice(0, drop);
      this.chunkFrames.splice(0, drop);
      this.chunkTimes.splice(0, drop);
    }
    if (this.head === this.tail) {
      // Nothing pending: release the buffer.
      this.base += this.tail;
      this.buf = EMPTY;
      this.head = 0;
      this.tail = 0;
      this.lastShared = null;
    }
  }

  /** Drops every pending byte (after a gap the pending PDU can never complete). */
  clear(): void {
    this.consume(this.tail - this.head);
  }

  /**
   * Drops every pending byte and moves the stream position past `n` bytes that will never be
   * appended (a gap, or the bytes before the first reassembled one), so that `position` stays
   * the offset in the direction's TCP stream.
   */
  skip(n: number): void {
    this.clear();
    if (n > 0) this.base += n;
  }
}

const EMPTY = Buffer.alloc(0);
