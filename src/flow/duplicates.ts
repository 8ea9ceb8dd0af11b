// Capture duplicates: the same frame written twice (a mirror port that copies both directions of
// two ports, a capture on several interfaces at once, a tool's merge of overlapping files). Such a
// copy is not a retransmission: it is what `editcap -d` removes. A frame is a copy of one of the
// last few of its flow when its TCP header is identical (sequence and acknowledgment numbers,
// flags, window, payload length, and the TCP checksum, which covers the payload, RFC 9293 3.1),
// and, for IPv4, its IP identification too (RFC 791 3.1; RFC 6864: a sender gives a retransmitted
// datagram a new one). Its TTL may differ (a copy taken after a router). Without an IP
// identification (IPv6, or an IPv4 sender that leaves it 0) only a copy within COPY_WITHOUT_ID_S
// counts, and a bare ACK never does (genuine duplicate ACKs are identical segments).
import type { DecodedPacket } from '../net/index.js';

/** Recent segments remembered per flow (both directions together). */
const RING = 16;
const WORDS = 5;
/**
 * The ring's first test (issue 16: the scan of 16 entries was most of this check's cost on session
 * traffic, where copies are rare): a counting filter of FILTER cells, one per hash of a segment's
 * sequence number and IP identification / checksum word, counting the ring's entries with that hash.
 * A zero cell proves no entry can be a copy (a copy has the same words, so the same hash); any other
 * count scans the ring as before, so the answer and the original frame found are the same.
 */
const FILTER = 256;

/** The filter cell of a segment's words w0 (sequence number) and w2 (IP identification, TCP checksum). */
function cell(w0: number, w2: number): number {
  return Math.imul(w0 ^ w2, 0x9e3779b1) >>> 24;
}
/**
 * A copy with the same IP identification this far apart at most: a mirror or a second interface
 * writes it within milliseconds, and this stays below RFC 6298's 1 s initial retransmission timeout,
 * so that a SYN retransmitted by a stack that keeps its IP identification is never taken for a copy.
 */
export const COPY_WITH_ID_S = 0.9;
/** A copy without an IP identification this far apart at most (a genuine retransmission waits at least an RTO of 200 ms or three duplicate ACKs). */
export const COPY_WITHOUT_ID_S = 0.01;

/**
 * The segments of one flow remembered for the check: the last one inline (a half-open flow, a SYN
 * flood's, never allocates), and from the second segment on a ring of the last RING.
 */
export class DuplicateDetector {
  // The last segment: its five words, time and frame (-1: none yet).
  private l0 = 0;
  private l1 = 0;
  private l2 = 0;
  private l3 = 0;
  private l4 = 0;
  private lt = 0;
  private lf = -1;
  private words: Int32Array | null = null;
  private times: Float64Array | null = null;
  private frames: Int32Array | null = null;
  /** How many ring entries have each cell (see FILTER); created with the ring. */
  private filter: Uint8Array | null = null;
  private n = 0;
  private at = 0;
  /** The frame the last copy found repeats. */
  originalFrame = 0;

  /** As new (the ring let go: a reused flow that stays half-open allocates none). Returns this. */
  reset(): this {
    this.lf = -1;
    this.words = null;
    this.times = null;
    this.frames = null;
    this.filter = null;
    this.n = 0;
    this.at = 0;
    this.originalFrame = 0;
    return this;
  }

  /**
   * Whether the TCP segment in p (direction d) is a copy of one of the flow's last RING segments;
   * if not, it is remembered. No allocation but the ring's, once per Flow object.
   */
  isCopy(p: DecodedPacket, d: number, frame: number, time: number): boolean {
    const buf = p.buf;
    const l4 = p.l4Off;
    const checksum = l4 >= 0 && l4 + 18 <= buf.length ? (buf[l4 + 16]! << 8) | buf[l4 + 17]! : 0;
    const ipId = p.ipVersion === 4 ? p.ipId & 0xffff : 0;
    const len = p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    const w0 = p.seq | 0;
    const w1 = p.ack | 0;
    const w2 = (ipId << 16) | checksum;
    const w3 = ((len & 0xffffff) << 8) | (p.tcpFlags & 0xff);
    const w4 = (p.window & 0xffff) | (d << 16);
    const withId = ipId !== 0;
    const bareAck = len === 0 && (p.tcpFlags & 0x07) === 0; // no SYN, FIN, RST
    if (this.lf >= 0 && (withId || !bareAck)) {
      const limit = withId ? COPY_WITH_ID_S : COPY_WITHOUT_ID_S;
      if (this.l0 === w0 && this.l1 === w1 && this.l2 === w2 && this.l3 === w3 && this.l4 === w4 && Math.abs(time - this.lt) <= limit) {
        this.originalFrame = this.lf;
        return true;
      }
      const words = this.words;
      if (words !== null && this.filter![cell(w0, w2)] !== 0) {
        for (let i = 0; i < this.n; i++) {
          const k = i * WORDS;
          if (words[k] === w0 && words[k + 1] === w1 && words[k + 2] === w2 && words[k + 3] === w3 && words[k + 4] === w4 && Math.abs(time - this.times![i]!) <= limit) {
            this.originalFrame = this.frames![i]!;
            return true;
          }
        }
      }
    }
    if (this.lf >= 0) {
      // A second segment: the ring takes the last one and every one after it.
      if (this.words === null) {
        this.words = new Int32Array(RING * WORDS);
        this.times = new Float64Array(RING);
        this.frames = new Int32Array(RING);
        this.filter = new Uint8Array(FILTER);
      }
      if (this.n === 0) this.push(this.l0, this.l1, this.l2, this.l3, this.l4, this.lt, this.lf);
      this.push(w0, w1, w2, w3, w4, time, frame);
    }
    this.l0 = w0;
    this.l1 = w1;
    this.l2 = w2;
    this.l3 = w3;
    this.l4 = w4;
    this.lt = time;
    this.lf = frame;
    return false;
  }

  private push(w0: number, w1: number, w2: number, w3: number, w4: number, time: number, frame: number): void {
    const k = this.at * WORDS;
    const words = this.words!;
    const filter = this.filter!;
    // The entry overwritten (the ring full) leaves the filter.
    if (this.n === RING) filter[cell(words[k]!, words[k + 2]!)]!--;
    filter[cell(w0, w2)]!++;
    words[k] = w0;
    words[k + 1] = w1;
    words[k + 2] = w2;
    words[k + 3] = w3;
    words[k + 4] = w4;
    this.times![this.at] = time;
    this.frames![this.at] = frame;
    this.at = (this.at + 1) % RING;
    if (this.n < RING) this.n++;
  }
}
