// Kerberos over TCP (RFC 4120 7.2.2): each message is preceded by a 4-byte big-endian record mark
// (high bit reserved, the rest the length), and a KDC's reply may span several segments (a large
// e-data, a small MSS, or the mark written on its own). This joins a KDC's segments into whole
// records so that a KRB-ERROR split across segments is read like one sent in a single segment.
//
// Only segments from port 88 reach it (src/flow/table.ts): other traffic never allocates here.
// State is bounded: at most MAX_PENDING connections at once (the oldest given up), a record of at
// most MAX_RECORD bytes, and only a record whose message starts with the KRB-ERROR tag is kept.
import { KRB_ERROR_TAG } from '../net/kerberos.js';
import { seqDiff } from './seq.js';

/** Connections with a partial record held at once; a new one past it gives up the oldest. */
export const MAX_PENDING = 64;
/** Largest record (mark included) joined: a KRB-ERROR's e-data is at most a few KB in practice. */
export const MAX_RECORD = 64 * 1024;

interface Pending {
  /** Bytes of the record gathered so far (mark included), in `buf[0 .. have)`. */
  buf: Uint8Array;
  have: number;
  /** Record length with its mark, or -1 until the 4 mark bytes are in. */
  total: number;
  /** The TCP sequence number of the next byte expected. */
  nextSeq: number;
}

export class KerberosTcpJoiner {
  private readonly pending = new Map<string, Pending>();

  /** Connections with a partial record held now. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * One segment from a KDC (`key` names the connection and its direction): returns the bytes of a
   * record that this segment completes (mark included, the first record only when the segment holds
   * more), or null. A segment that does not continue a held record in order, or that starts a record
   * which is not a KRB-ERROR, is let go (a hole or a retransmission is not guessed over).
   */
  segment(key: string, seq: number, b: Uint8Array, off: number, len: number): Uint8Array | null {
    if (len <= 0) return null;
    const p = this.pending.get(key);
    if (p !== undefined) {
      const d = seqDiff(seq, p.nextSeq);
      if (d === 0) return this.append(key, p, b, off, len, seq);
      if (d < 0 && d + len > 0) {
        // Overlaps what was held (a retransmission carrying more): take the new bytes only.
        return this.append(key, p, b, off - d, len + d, p.nextSeq);
      }
      if (d < 0) return null; // a retransmission of bytes already held
      this.pending.delete(key); // a hole: the record cannot be joined
    }
    return this.start(key, seq, b, off, len);
  }

  /** A segment that may start a record: whole already (returned as a view), or held. */
  private start(key: string, seq: number, b: Uint8Array, off: number, len: number): Uint8Array | null {
    if ((b[off]! & 0x80) !== 0) return null; // RFC 4120 7.2.2: the reserved bit is 0
    if (len > 4 && b[off + 4] !== KRB_ERROR_TAG) return null;
    if (len >= 4) {
      const total = markTotal(b, off);
      if (total > MAX_RECORD || total <= 4) return null;
      if (len >= total) return b.subarray(off, off + total);
      const p: Pending = { buf: new Uint8Array(total), have: 0, total, nextSeq: seq };
      this.hold(key, p);
      return this.append(key, p, b, off, len, seq);
    }
    // Not even the mark in this segment: hold its first bytes until the rest says what it is.
    const p: Pending = { buf: new Uint8Array(4), have: 0, total: -1, nextSeq: seq };
    this.hold(key, p);
    return this.append(key, p, b, off, len, seq);
  }

  private hold(key: string, p: Pending): void {
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(key, p);
  }

  private append(key: string, p: Pending, b: Uint8Array, off: number, len: number, seq: number): Uint8Array | null {
    let o = off;
    let n = len;
    if (p.total < 0) {
      // Still gathering the mark (RFC 4120 7.2.2: 4 bytes).
      const k = Math.min(4 - p.have, n);
      p.buf.set(b.subarray(o, o + k), p.have);
      p.have += k;
      o += k;
      n -= k;
      if (p.have < 4) {
        p.nextSeq = (seq + len) >>> 0;
        return null;
      }
      const total = markTotal(p.buf, 0);
      if (total > MAX_RECORD || total <= 4 || (n > 0 && b[o] !== KRB_ERROR_TAG)) {
        this.pending.delete(key);
        return null;
      }
      const buf = new Uint8Array(total);
      buf.set(p.buf.subarray(0, 4), 0);
      p.buf = buf;
      p.total = total;
    } else if (p.have === 4 && n > 0 && b[o] !== KRB_ERROR_TAG) {
      this.pending.delete(key); // the message after a lone mark is not a KRB-ERROR
      return null;
    }
    const k = Math.min(p.total - p.have, n);
    p.buf.set(b.subarray(o, o + k), p.have);
    p.have += k;
    p.nextSeq = (seq + len) >>> 0;
    if (p.have < p.total) return null;
    this.pending.delete(key);
    return p.buf;
  }
}

/** The record's length with its 4-byte mark (RFC 4120 7.2.2), from the mark at `off`. */
function markTotal(b: Uint8Array, off: number): number {
  return (((b[off]! & 0x7f) << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) + 4;
}
