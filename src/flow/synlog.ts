// A small direct-mapped table of recent SYN / SYN-ACK / handshake ACK on ports
// that are not RDP ports, so that when an X.224 Connection Request shows up
// later on such a connection (RDP behind a SOCKS proxy, a changed port), its
// handshake frames, times and ISNs are known. Typed arrays only: recording a
// SYN allocates nothing, and a newer connection simply overwrites its slot.

const SYNS = 4;
const SYNACKS = 2;

export class SynLog {
  private readonly mask: number;
  private readonly used: Uint8Array;
  private readonly key: Int32Array;
  private readonly cHash: Int32Array;
  private readonly sHash: Int32Array;
  private readonly cPort: Uint16Array;
  private readonly sPort: Uint16Array;
  private readonly file: Int32Array;
  readonly synCount: Uint8Array;
  readonly synFrame: Float64Array;
  readonly synTime: Float64Array;
  readonly cIsn: Uint32Array;
  readonly synAckCount: Uint8Array;
  readonly synAckFrame: Float64Array;
  readonly synAckTime: Float64Array;
  readonly sIsn: Uint32Array;
  readonly ackFrame: Float64Array;
  readonly ackTime: Float64Array;
  readonly mss: Int32Array; // [slot*2 + dir]
  readonly ttl: Int16Array; // [slot*2 + dir]
  /**
   * Per client port: slots waiting for the handshake's third packet (SYN-ACK seen, no ACK of it yet).
   * A client's ACK from a port with none here needs no lookup (the flow table's fast path: the bulk
   * data of connections that are not RDP).
   */
  readonly awaitingAck = new Uint32Array(65536);

  constructor(capacityLog2 = 12) {
    const n = 1 << capacityLog2;
    this.mask = n - 1;
    this.used = new Uint8Array(n);
    this.key = new Int32Array(n);
    this.cHash = new Int32Array(n);
    this.sHash = new Int32Array(n);
    this.cPort = new Uint16Array(n);
    this.sPort = new Uint16Array(n);
    this.file = new Int32Array(n);
    this.synCount = new Uint8Array(n);
    this.synFrame = new Float64Array(n * SYNS);
    this.synTime = new Float64Array(n * SYNS);
    this.cIsn = new Uint32Array(n);
    this.synAckCount = new Uint8Array(n);
    this.synAckFrame = new Float64Array(n * SYNACKS);
    this.synAckTime = new Float64Array(n * SYNACKS);
    this.sIsn = new Uint32Array(n);
    this.ackFrame = new Float64Array(n);
    this.ackTime = new Float64Array(n);
    this.mss = new Int32Array(n * 2);
    this.ttl = new Int16Array(n * 2);
  }

  /** The slot of the connection whose SYN sender is (cHash, cPort), or -1. */
  find(h: number, cHash: number, cPort: number, sHash: number, sPort: number, file: number): number {
    const i = h & this.mask;
    if (
      this.used[i] === 1 &&
      this.key[i] === h &&
      this.cHash[i] === cHash &&
      this.sHash[i] === sHash &&
      this.cPort[i] === cPort &&
      this.sPort[i] === sPort &&
      this.file[i] === file
    )
      return i;
    return -1;
  }

  /** A SYN (without ACK) from (cHash, cPort) to (sHash, sPort). */
  syn(h: number, cHash: number, cPort: number, sHash: number, sPort: number, file: number, frame: number, time: number, seq: number, mss: number, ttl: number): void {
    let i = this.find(h, cHash, cPort, sHash, sPort, file);
    if (i >= 0 && this.cIsn[i] !== seq >>> 0) i = -1; // a new connection on the same 4-tuple
    if (i < 0) {
      i = h & this.mask;
      this.leaveAwaiting(i);
      this.used[i] = 1;
      this.key[i] = h;
      this.cHash[i] = cHash;
      this.sHash[i] = sHash;
      this.cPort[i] = cPort;
      this.sPort[i] = sPort;
      this.file[i] = file;
      this.synCount[i] = 0;
      this.cIsn[i] = seq >>> 0;
      this.synAckCount[i] = 0;
      this.ackFrame[i] = -1;
      this.ackTime[i] = 0;
      this.mss[i * 2] = mss;
      this.mss[i * 2 + 1] = -1;
      this.ttl[i * 2] = ttl;
      this.ttl[i * 2 + 1] = -1;
    }
    const k = this.synCount[i]!;
    if (k < SYNS) {
      this.synFrame[i * SYNS + k] = frame;
      this.synTime[i * SYNS + k] = time;
    }
    if (k < 255) this.synCount[i] = k + 1;
  }

  /** A SYN-ACK from the server (sHash, sPort) to the client (cHash, cPort). */
  synAck(h: number, cHash: number, cPort: number, sHash: number, sPort: number, file: number, frame: number, time: number, seq: number, mss: number, ttl: number): void {
    const i = this.find(h, cHash, cPort, sHash, sPort, file);
    if (i < 0) return;
    const k = this.synAckCount[i]!;
    if (k === 0) {
      this.sIsn[i] = seq >>> 0;
      this.mss[i * 2 + 1] = mss;
      this.ttl[i * 2 + 1] = ttl;
      if (this.ackFrame[i]! < 0) this.awaitingAck[this.cPort[i]!]!++;
    }
    if (k < SYNACKS) {
      this.synAckFrame[i * SYNACKS + k] = frame;
      this.synAckTime[i * SYNACKS + k] = time;
    }
    if (k < 255) this.synAckCount[i] = k + 1;
  }

  /** A packet from the client with ACK: the third packet of the handshake when it acknowledges the SYN-ACK. */
  ack(h: number, cHash: number, cPort: number, sHash: number, sPort: number, file: number, frame: number, time: number, ack: number): void {
    const i = this.find(h, cHash, cPort, sHash, sPort, file);
    if (i < 0 || this.synAckCount[i] === 0 || this.ackFrame[i]! >= 0) return;
    if (ack >>> 0 !== (this.sIsn[i]! + 1) >>> 0) return;
    this.leaveAwaiting(i);
    this.ackFrame[i] = frame;
    this.ackTime[i] = time;
  }

  /** SYN frames / times recorded in slot i (at most 4 kept). */
  synsKept(i: number): number {
    return Math.min(this.synCount[i]!, SYNS);
  }

  synAcksKept(i: number): number {
    return Math.min(this.synAckCount[i]!, SYNACKS);
  }

  static readonly SYNS = SYNS;
  static readonly SYNACKS = SYNACKS;

  forget(i: number): void {
    this.leaveAwaiting(i);
    this.used[i] = 0;
  }

  clear(): void {
    this.used.fill(0);
    this.awaitingAck.fill(0);
  }

  /** Slot i no longer waits for the handshake's third packet (if it did). */
  private leaveAwaiting(i: number): void {
    if (this.used[i] === 1 && this.synAckCount[i]! > 0 && this.ackFrame[i]! < 0) this.awaitingAck[this.cPort[i]!]!--;
  }
}
