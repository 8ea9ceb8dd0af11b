// The half-open table (issue 19): a TCP connection to an RDP port that has only sent its SYN (and
// maybe got its SYN/ACK, or a reset) lives here, in typed arrays, with no object per connection. A
// SYN flood's or a scan's million attempts cost a slot each (HalfOpenTable.SLOT_BYTES), not a Flow,
// its FlowFacts, a TcpTracker and the next stage's consumer. A slot keeps the few segments it saw
// (RFC 9293 3.5: SYN, its retransmissions, SYN/ACK, RST) as the words the flow table needs to
// replay them into a full flow when the connection goes on (handshake ACK, data, FIN, an ICMP
// error, anything else), or when it ends and its record is wanted. When only its outcome is wanted,
// it is read from the arrays (HalfOpenView).
import { COPY_WITHOUT_ID_S, COPY_WITH_ID_S } from './duplicates.js';

/** Segments a slot keeps; one more and the connection becomes a full flow. */
export const SLOT_SEGMENTS = 4;

/** Bytes of one slot, every array counted (the table's memory budget divides by it). */
export const SLOT_BYTES =
  // identity: hash, next in bucket, older / newer, addresses (4 + 4 words), ports, file, id, version, state, count, last frame
  4 + 4 + 8 + 32 + 4 + 4 + 8 + 1 + 1 + 1 + 8 +
  // per segment: seq, ack, ipId|checksum, flags|dir, window, mss, ttl, bad checksum, frame, time
  SLOT_SEGMENTS * (4 + 4 + 4 + 2 + 2 + 4 + 1 + 1 + 8 + 8) +
  // bucket heads (two per slot)
  8;

/** TCP flag bits (RFC 9293 3.1) as DecodedPacket.tcpFlags carries them. */
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** What a slot's segments say, read by the next stage to judge a connection that never left the table. */
export interface HalfOpenView {
  /** Segments kept in slot s, in frame order. */
  segments(s: number): number;
  /** Direction (0 client -> server, 1 server -> client), TCP flags, frame and time of segment k of slot s. */
  dir(s: number, k: number): 0 | 1;
  flags(s: number, k: number): number;
  frame(s: number, k: number): number;
  time(s: number, k: number): number;
  /** The connection's flow id (FlowFacts.id it would have had). */
  id(s: number): number;
  fileIndex(s: number): number;
  /** Server address: IP version, the bytes written at out[off..] (4 or 16), and port. */
  ipVersion(s: number): 4 | 6;
  serverAddress(s: number, out: Uint8Array, off: number): void;
  serverPort(s: number): number;
  /** Client address bytes written at out[off..] (4 or 16). */
  clientAddress(s: number, out: Uint8Array, off: number): void;
  /** Whether slot s's server (version, address words, port) is the one written in key (serverKey). */
  sameServer(s: number, key: Int32Array): boolean;
  /** Writes slot s's server as 6 numbers (version, four address words, port) into key. */
  serverKey(s: number, key: Int32Array): void;
}

/**
 * Where the flow table hands a connection that ends while still in the half-open table, when the
 * next stage only counts it (its record is not wanted): no Flow, no facts, no consumer is built.
 */
export interface HalfOpenSink {
  /** Whether a half-open connection that ends now is only counted (else it is built and ended as a flow). */
  countsOnly(): boolean;
  /** Slot s of v ended ('evicted', 'closed' by a reset, 'capture_end') at captureEnd: count it. */
  count(v: HalfOpenView, s: number, reason: 'closed' | 'capture_end' | 'evicted', captureEnd: number): void;
}

export class HalfOpenTable implements HalfOpenView {
  readonly capacity: number;
  /** Slots in use. */
  count = 0;
  private mask: number;
  /** Slots allocated so far (grown by doubling up to capacity: a small capture allocates little). */
  private size = 0;
  private heads: Int32Array;
  private hash: Int32Array;
  private next: Int32Array;
  /** Creation order (oldest first: the eviction order), -1 at the ends. */
  private older: Int32Array;
  private newer: Int32Array;
  oldest = -1;
  private newest = -1;
  private free = -1;
  private addr: Int32Array; // [s*8 .. s*8+3] client, [s*8+4 ..] server
  private ports: Uint16Array; // [s*2] client, [s*2+1] server
  private file: Int32Array;
  private ids: Float64Array;
  private version: Uint8Array;
  private n: Uint8Array;
  /** Frame of the last segment (activity order at the end of a file). */
  lastFrame: Float64Array;
  // Per segment, at s * SLOT_SEGMENTS + k.
  private seq: Int32Array;
  private ackNo: Int32Array;
  private idSum: Int32Array;
  private flagsDir: Uint16Array;
  private win: Uint16Array;
  private mssOpt: Int32Array;
  private ttlV: Uint8Array;
  private bad: Uint8Array;
  private frames: Float64Array;
  private times: Float64Array;

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.floor(capacity));
    this.mask = 0;
    this.heads = new Int32Array(0);
    this.hash = new Int32Array(0);
    this.next = new Int32Array(0);
    this.older = new Int32Array(0);
    this.newer = new Int32Array(0);
    this.addr = new Int32Array(0);
    this.ports = new Uint16Array(0);
    this.file = new Int32Array(0);
    this.ids = new Float64Array(0);
    this.version = new Uint8Array(0);
    this.n = new Uint8Array(0);
    this.lastFrame = new Float64Array(0);
    this.seq = new Int32Array(0);
    this.ackNo = new Int32Array(0);
    this.idSum = new Int32Array(0);
    this.flagsDir = new Uint16Array(0);
    this.win = new Uint16Array(0);
    this.mssOpt = new Int32Array(0);
    this.ttlV = new Uint8Array(0);
    this.bad = new Uint8Array(0);
    this.frames = new Float64Array(0);
    this.times = new Float64Array(0);
    this.grow();
  }

  /** More slots: twice as many (at least 256), at most capacity; the buckets are rebuilt. */
  private grow(): void {
    const old = this.size;
    const c = Math.min(this.capacity, Math.max(256, old * 2));
    if (c <= old) return;
    const k = c * SLOT_SEGMENTS;
    this.hash = more(this.hash, new Int32Array(c));
    this.next = more(this.next, new Int32Array(c));
    this.older = more(this.older, new Int32Array(c));
    this.newer = more(this.newer, new Int32Array(c));
    this.addr = more(this.addr, new Int32Array(c * 8));
    this.ports = more(this.ports, new Uint16Array(c * 2));
    this.file = more(this.file, new Int32Array(c));
    this.ids = more(this.ids, new Float64Array(c));
    this.version = more(this.version, new Uint8Array(c));
    this.n = more(this.n, new Uint8Array(c));
    this.lastFrame = more(this.lastFrame, new Float64Array(c));
    this.seq = more(this.seq, new Int32Array(k));
    this.ackNo = more(this.ackNo, new Int32Array(k));
    this.idSum = more(this.idSum, new Int32Array(k));
    this.flagsDir = more(this.flagsDir, new Uint16Array(k));
    this.win = more(this.win, new Uint16Array(k));
    this.mssOpt = more(this.mssOpt, new Int32Array(k));
    this.ttlV = more(this.ttlV, new Uint8Array(k));
    this.bad = more(this.bad, new Uint8Array(k));
    this.frames = more(this.frames, new Float64Array(k));
    this.times = more(this.times, new Float64Array(k));
    // Buckets: rebuilt for the new size from the slots in use (every slot is in use when it grows).
    let b = 1;
    while (b < c * 2) b <<= 1;
    this.mask = b - 1;
    this.heads = new Int32Array(b).fill(-1);
    for (let s = this.oldest; s >= 0; s = this.newer[s]!) {
      const h = this.hash[s]! & this.mask;
      this.next[s] = this.heads[h]!;
      this.heads[h] = s;
    }
    // The new slots go on the free list.
    for (let i = c - 1; i >= old; i--) {
      this.next[i] = this.free;
      this.free = i;
    }
    this.size = c;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /**
   * The slot of the connection between (buf[aOff..], aPort) and (buf[bOff..], bPort) (addresses of
   * IP version v), or -1; `dirOut[0]` is set to 0 when a is the client, 1 when a is the server.
   */
  find(h: number, v: number, buf: Uint8Array, aOff: number, aPort: number, bOff: number, bPort: number, dirOut: Int32Array): number {
    for (let s = this.heads[h & this.mask]!; s >= 0; s = this.next[s]!) {
      if (this.hash[s] !== h || this.version[s] !== v) continue;
      const cp = this.ports[s * 2]!;
      const sp = this.ports[s * 2 + 1]!;
      if (cp === aPort && sp === bPort && this.sameAddr(s * 8, buf, aOff, v) && this.sameAddr(s * 8 + 4, buf, bOff, v)) {
        dirOut[0] = 0;
        return s;
      }
      if (sp === aPort && cp === bPort && this.sameAddr(s * 8 + 4, buf, aOff, v) && this.sameAddr(s * 8, buf, bOff, v)) {
        dirOut[0] = 1;
        return s;
      }
    }
    return -1;
  }

  private sameAddr(at: number, buf: Uint8Array, off: number, v: number): boolean {
    const words = v === 6 ? 4 : 1;
    for (let i = 0; i < words; i++) if (this.addr[at + i] !== word(buf, off + i * 4)) return false;
    return true;
  }

  /** A new slot (the table must not be full) for the client (buf[cOff..], cPort) -> server; returns it. */
  add(h: number, v: 4 | 6, buf: Uint8Array, cOff: number, cPort: number, sOff: number, sPort: number, file: number, id: number): number {
    if (this.free < 0) this.grow();
    const s = this.free;
    this.free = this.next[s]!;
    this.hash[s] = h;
    this.version[s] = v;
    const words = v === 6 ? 4 : 1;
    for (let i = 0; i < 4; i++) {
      this.addr[s * 8 + i] = i < words ? word(buf, cOff + i * 4) : 0;
      this.addr[s * 8 + 4 + i] = i < words ? word(buf, sOff + i * 4) : 0;
    }
    this.ports[s * 2] = cPort;
    this.ports[s * 2 + 1] = sPort;
    this.file[s] = file;
    this.ids[s] = id;
    this.n[s] = 0;
    const b = h & this.mask;
    this.next[s] = this.heads[b]!;
    this.heads[b] = s;
    this.older[s] = this.newest;
    this.newer[s] = -1;
    if (this.newest >= 0) this.newer[this.newest] = s;
    else this.oldest = s;
    this.newest = s;
    this.count++;
    return s;
  }

  /** Frees slot s. */
  remove(s: number): void {
    const b = this.hash[s]! & this.mask;
    let p = this.heads[b]!;
    if (p === s) this.heads[b] = this.next[s]!;
    else {
      while (p >= 0 && this.next[p] !== s) p = this.next[p]!;
      if (p >= 0) this.next[p] = this.next[s]!;
    }
    const o = this.older[s]!;
    const w = this.newer[s]!;
    if (o >= 0) this.newer[o] = w;
    else this.oldest = w;
    if (w >= 0) this.older[w] = o;
    else this.newest = o;
    this.next[s] = this.free;
    this.free = s;
    this.count--;
  }

  /** The slot created after s (creation order), or -1. */
  newerThan(s: number): number {
    return this.newer[s]!;
  }

  /**
   * Whether a segment with these words would be a capture copy of one slot s keeps (the rule of
   * DuplicateDetector.isCopy: same TCP header words and IP identification, close in time).
   */
  isCopy(s: number, dir: number, seq: number, ack: number, idSum: number, flags: number, window: number, time: number): boolean {
    const withId = idSum >>> 16 !== 0;
    const limit = withId ? COPY_WITH_ID_S : COPY_WITHOUT_ID_S;
    const fd = (flags & 0xff) | (dir << 8);
    for (let k = 0, i = s * SLOT_SEGMENTS; k < this.n[s]!; k++, i++) {
      if (this.seq[i] === (seq | 0) && this.ackNo[i] === (ack | 0) && this.idSum[i] === (idSum | 0) && this.flagsDir[i] === fd && this.win[i] === (window & 0xffff) && Math.abs(time - this.times[i]!) <= limit) return true;
    }
    return false;
  }

  /** Whether slot s has room for one more segment. */
  hasRoom(s: number): boolean {
    return this.n[s]! < SLOT_SEGMENTS;
  }

  /** Appends a segment (the slot must have room). */
  push(s: number, dir: 0 | 1, flags: number, seq: number, ack: number, idSum: number, window: number, mss: number, ttl: number, badChecksum: boolean, frame: number, time: number): void {
    const k = this.n[s]!;
    const i = s * SLOT_SEGMENTS + k;
    this.seq[i] = seq | 0;
    this.ackNo[i] = ack | 0;
    this.idSum[i] = idSum | 0;
    this.flagsDir[i] = (flags & 0xff) | (dir << 8);
    this.win[i] = window & 0xffff;
    this.mssOpt[i] = mss;
    this.ttlV[i] = ttl;
    this.bad[i] = badChecksum ? 1 : 0;
    this.frames[i] = frame;
    this.times[i] = time;
    this.n[s] = k + 1;
    this.lastFrame[s] = frame;
  }

  /** The client's ISN (the first segment is its SYN). */
  clientIsn(s: number): number {
    return this.seq[s * SLOT_SEGMENTS]! >>> 0;
  }

  /** Whether slot s kept a SYN/ACK. */
  answered(s: number): boolean {
    for (let k = 0, i = s * SLOT_SEGMENTS; k < this.n[s]!; k++, i++) if ((this.flagsDir[i]! & (SYN | ACK)) === (SYN | ACK)) return true;
    return false;
  }

  /** Time of the last segment. */
  lastTime(s: number): number {
    return this.times[s * SLOT_SEGMENTS + this.n[s]! - 1]!;
  }

  // ---- HalfOpenView and the replay's reads

  segments(s: number): number {
    return this.n[s]!;
  }
  dir(s: number, k: number): 0 | 1 {
    return (this.flagsDir[s * SLOT_SEGMENTS + k]! >> 8) === 0 ? 0 : 1;
  }
  flags(s: number, k: number): number {
    return this.flagsDir[s * SLOT_SEGMENTS + k]! & 0xff;
  }
  frame(s: number, k: number): number {
    return this.frames[s * SLOT_SEGMENTS + k]!;
  }
  time(s: number, k: number): number {
    return this.times[s * SLOT_SEGMENTS + k]!;
  }
  seqOf(s: number, k: number): number {
    return this.seq[s * SLOT_SEGMENTS + k]!;
  }
  ackOf(s: number, k: number): number {
    return this.ackNo[s * SLOT_SEGMENTS + k]!;
  }
  ipIdOf(s: number, k: number): number {
    return this.idSum[s * SLOT_SEGMENTS + k]! >>> 16;
  }
  checksumOf(s: number, k: number): number {
    return this.idSum[s * SLOT_SEGMENTS + k]! & 0xffff;
  }
  windowOf(s: number, k: number): number {
    return this.win[s * SLOT_SEGMENTS + k]!;
  }
  mssOf(s: number, k: number): number {
    return this.mssOpt[s * SLOT_SEGMENTS + k]!;
  }
  ttlOf(s: number, k: number): number {
    return this.ttlV[s * SLOT_SEGMENTS + k]!;
  }
  badChecksum(s: number, k: number): boolean {
    return this.bad[s * SLOT_SEGMENTS + k] === 1;
  }
  id(s: number): number {
    return this.ids[s]!;
  }
  fileIndex(s: number): number {
    return this.file[s]!;
  }
  ipVersion(s: number): 4 | 6 {
    return this.version[s] === 6 ? 6 : 4;
  }
  clientPort(s: number): number {
    return this.ports[s * 2]!;
  }
  serverPort(s: number): number {
    return this.ports[s * 2 + 1]!;
  }
  clientAddress(s: number, out: Uint8Array, off: number): void {
    this.writeAddr(s * 8, this.version[s] === 6 ? 4 : 1, out, off);
  }
  serverAddress(s: number, out: Uint8Array, off: number): void {
    this.writeAddr(s * 8 + 4, this.version[s] === 6 ? 4 : 1, out, off);
  }
  sameServer(s: number, key: Int32Array): boolean {
    if (key[0] !== this.version[s] || key[5] !== this.ports[s * 2 + 1]) return false;
    for (let i = 0; i < 4; i++) if (this.addr[s * 8 + 4 + i] !== key[1 + i]) return false;
    return true;
  }
  serverKey(s: number, key: Int32Array): void {
    key[0] = this.version[s]!;
    for (let i = 0; i < 4; i++) key[1 + i] = this.addr[s * 8 + 4 + i]!;
    key[5] = this.ports[s * 2 + 1]!;
  }
  hashOf(s: number): number {
    return this.hash[s]!;
  }

  private writeAddr(at: number, words: number, out: Uint8Array, off: number): void {
    for (let i = 0; i < words; i++) {
      const w = this.addr[at + i]!;
      out[off + i * 4] = (w >>> 24) & 255;
      out[off + i * 4 + 1] = (w >>> 16) & 255;
      out[off + i * 4 + 2] = (w >>> 8) & 255;
      out[off + i * 4 + 3] = w & 255;
    }
  }
}

/** `to` with `from` copied at its start. */
function more<T extends Int32Array | Uint16Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** Four bytes at b[off] as a big-endian int32. */
function word(b: Uint8Array, off: number): number {
  return (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
}

/** Flags of the segments a slot keeps (others make the connection a full flow). */
export const SLOT_FLAGS = { FIN, SYN, RST, ACK } as const;
