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
  private chunkEnds: Float64Array = NO_CHUNKS;
  private chunkFrames: Float64Array = NO_CHUNKS;
  private chunkTimes: Float64Array = NO_CHUNKS;
  /**
   * Live chunks are [chunkStart, chunkCount) of those columns: cut from the front by an index and
   * emptied by a count instead of spliced and pushed (issue 16: on attempt storms the list growth was
   * the machine's largest allocation; the columns are allocated once per direction and doubled).
   */
  private chunkStart = 0;
  private chunkCount = 0;
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
        // Small joins come from Node's buffer pool (under 4 KB); doubling keeps growth amortised.
        const next = Buffer.allocUnsafe(Math.max(need * 2, 256));
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
    let k = this.chunkCount;
    if (k === this.chunkEnds.length) {
      if (this.chunkStart > 0) {
        // Consumed chunks in front: moved down first.
        this.chunkEnds.copyWithin(0, this.chunkStart, k);
        this.chunkFrames.copyWithin(0, this.chunkStart, k);
        this.chunkTimes.copyWithin(0, this.chunkStart, k);
        k -= this.chunkStart;
        this.chunkStart = 0;
      }
      if (k === this.chunkEnds.length) {
        const cap = Math.max(8, k * 2);
        this.chunkEnds = grown(this.chunkEnds, cap, k);
        this.chunkFrames = grown(this.chunkFrames, cap, k);
        this.chunkTimes = grown(this.chunkTimes, cap, k);
      }
    }
    this.chunkEnds[k] = this.base + this.tail;
    this.chunkFrames[k] = frame;
    this.chunkTimes[k] = time;
    this.chunkCount = k + 1;
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
    const i = this.chunkIndex(this.base + this.head + Math.max(n, 1) - 1);
    return i < 0 ? 0 : this.chunkFrames[i]!;
  }
  timeOfEnd(n: number): number {
    const i = this.chunkIndex(this.base + this.head + Math.max(n, 1) - 1);
    return i < 0 ? 0 : this.chunkTimes[i]!;
  }
  /** The frame that carried the first unconsumed byte. */
  frameOfStart(): number {
    const i = this.chunkIndex(this.base + this.head);
    return i < 0 ? 0 : this.chunkFrames[i]!;
  }

  /** The live chunk holding absolute offset `abs` (the last one when past them all), or -1 when none. */
  private chunkIndex(abs: number): number {
    const ends = this.chunkEnds;
    for (let i = this.chunkStart; i < this.chunkCount; i++) if (abs < ends[i]!) return i;
    return this.chunkCount - 1;
  }

  consume(n: number): void {
    this.head = Math.min(this.head + n, this.tail);
    const abs = this.base + this.head;
    const ends = this.chunkEnds;
    const len = this.chunkCount;
    let d = this.chunkStart;
    while (d < len - 1 && ends[d]! <= abs) d++;
    if (this.head === this.tail && d === len - 1 && ends[d]! <= abs) d++;
    if (d === len) {
      // Every chunk consumed.
      this.chunkStart = 0;
      this.chunkCount = 0;
    } else this.chunkStart = d;
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
const NO_CHUNKS = new Float64Array(0);

/** `a`'s first `n` values in a new column of `cap`. */
function grown(a: Float64Array, cap: number, n: number): Float64Array {
  const b = new Float64Array(cap);
  b.set(a.subarray(0, n));
  return b;
}
