// One tracked flow: its identity (address bytes and ports, compared in place
// against each packet), its facts, its consumer, and its place in the table's
// lists (hash bucket chain, activity order, half-open order).
import type { DecodedPacket } from '../net/index.js';
import { StreamReassembler, ackFillsGap, type HeldBudget, type ReassemblySink } from './reassembly.js';
import { sameBytes } from './hash.js';
import { DuplicateDetector } from './duplicates.js';
import type { TcpTracker } from './tcp.js';
import type { Dir, FlowFacts, StreamConsumer } from './types.js';

export const FLOW_OPEN = 0;
/** Closed (FINs or RST): kept a while as a tombstone so late packets of it start no new flow. */
export const FLOW_CLOSED = 1;
/** The next stage did not want it: kept so its packets are dropped cheaply. */
export const FLOW_IGNORED = 2;

/** How the flows of a table reassemble (one object per table, shared by its flows). */
export interface ReassemblyConfig {
  limit: number;
  maxHeld: number;
  budget: HeldBudget;
}

export class Flow {
  bucketNext: Flow | null = null;
  lruPrev: Flow | null = null;
  lruNext: Flow | null = null;
  inLru = false;
  hoPrev: Flow | null = null;
  hoNext: Flow | null = null;
  halfOpen = false;
  state = FLOW_OPEN;
  facts: FlowFacts | null = null;
  consumer: StreamConsumer | null = null;
  /**
   * TCP flows with a consumer: the two reassemblers, created on first need (a payload byte, a FIN,
   * an ACK that leaves a gap): a flow that never carries data (a SYN flood's half-open one) keeps
   * only where each stream starts (start0 / start1, -1 until known).
   */
  reasm: [StreamReassembler, StreamReassembler] | null = null;
  private reasmConfig: ReassemblyConfig | null = null;
  private start0 = -1;
  private start1 = -1;
  tcp: TcpTracker | null = null;
  /** Capture duplicates of this flow's TCP segments (duplicates.ts); the object is kept when the flow is reused. */
  dups = new DuplicateDetector();
  /** UDP: datagram bytes delivered per direction (created on the first datagram); whether the consumer still wants bytes. */
  delivered: [number, number] | null = null;
  wantsBytes = true;
  /** Counted only (StreamConsumer.countsOnly, once no more bytes are wanted): FIN bits seen per side (bit 0 client, bit 1 server), or -1 while analysed. */
  bareFins = -1;
  lastTime = Number.NaN;
  /**
   * Client and server addresses as numbers (never a Buffer copy: that is a view into Node's shared
   * 8 KiB pool slab, which a flow kept as a tombstone would keep alive): the first four bytes as a
   * big-endian int32 (a Smi: the whole IPv4 address), and for IPv6 the other twelve in a small array.
   */
  cWord = 0;
  sWord = 0;
  cTail: number[] | null = null;
  sTail: number[] | null = null;
  // Identity (set by init()).
  hash = 0;
  proto = 0;
  ipVersion = 0;
  cPort = 0;
  sPort = 0;
  fileIndex = 0;

  constructor(hash: number, proto: number, ipVersion: number, buf: Uint8Array, cOff: number, cPort: number, sOff: number, sPort: number, fileIndex: number) {
    this.init(hash, proto, ipVersion, buf, cOff, cPort, sOff, sPort, fileIndex);
  }

  /**
   * A new flow with this identity, every other field as new: the table hands the flows it let go
   * (ended without a tombstone, or tombstones whose slot was taken) to new flows. A SYN flood ends
   * and starts a flow per SYN; a flow taken again is already in the old generation, so the
   * scavenger neither copies it nor leaves it there as garbage.
   */
  init(hash: number, proto: number, ipVersion: number, buf: Uint8Array, cOff: number, cPort: number, sOff: number, sPort: number, fileIndex: number): void {
    this.bucketNext = null;
    this.lruPrev = null;
    this.lruNext = null;
    this.inLru = false;
    this.hoPrev = null;
    this.hoNext = null;
    this.halfOpen = false;
    this.state = FLOW_OPEN;
    this.facts = null;
    this.consumer = null;
    this.reasm = null;
    this.reasmConfig = null;
    this.start0 = -1;
    this.start1 = -1;
    this.tcp = null;
    this.dups = this.dups instanceof DuplicateDetector ? this.dups.reset() : new DuplicateDetector();
    this.delivered = null;
    this.wantsBytes = true;
    this.bareFins = -1;
    this.unlimited = false;
    this.lastTime = Number.NaN;
    this.cWord = word(buf, cOff);
    this.sWord = word(buf, sOff);
    this.cTail = ipVersion === 6 ? copyBytes(buf, cOff + 4, 12) : null;
    this.sTail = ipVersion === 6 ? copyBytes(buf, sOff + 4, 12) : null;
    this.hash = hash;
    this.proto = proto;
    this.ipVersion = ipVersion;
    this.cPort = cPort;
    this.sPort = sPort;
    this.fileIndex = fileIndex;
  }

  /** 0 when p goes client -> server, 1 server -> client, -1 when p is not of this flow. */
  dirOf(p: DecodedPacket): number {
    if (p.ipProto !== this.proto || p.ipVersion !== this.ipVersion) return -1;
    const buf = p.buf;
    const src = word(buf, p.srcOff);
    const dst = word(buf, p.dstOff);
    if (p.srcPort === this.cPort && p.dstPort === this.sPort && src === this.cWord && dst === this.sWord) {
      if (this.cTail === null || (sameBytes(buf, p.srcOff + 4, this.cTail, 12) && sameBytes(buf, p.dstOff + 4, this.sTail!, 12))) return 0;
    }
    if (p.srcPort === this.sPort && p.dstPort === this.cPort && src === this.sWord && dst === this.cWord) {
      if (this.cTail === null || (sameBytes(buf, p.srcOff + 4, this.sTail!, 12) && sameBytes(buf, p.dstOff + 4, this.cTail, 12))) return 1;
    }
    return -1;
  }

  /** TCP flows with a consumer: their streams are reassembled (the reassemblers come on first need). */
  initReassembly(config: ReassemblyConfig): void {
    this.reasmConfig = config;
  }

  /** Whether this flow's streams are reassembled. */
  get reassembles(): boolean {
    return this.reasmConfig !== null;
  }

  /** The reassembler of direction d, both created on first call (the flow must reassemble). */
  stream(d: Dir): StreamReassembler {
    let r = this.reasm;
    if (r === null) {
      const c = this.reasmConfig!;
      r = [
        new StreamReassembler(c.limit, c.maxHeld, c.budget, new DirSink(this, 0)),
        new StreamReassembler(c.limit, c.maxHeld, c.budget, new DirSink(this, 1)),
      ];
      if (this.start0 >= 0) r[0].start(this.start0);
      if (this.start1 >= 0) r[1].start(this.start1);
      if (!this.wantsBytes) {
        r[0].stop();
        r[1].stop();
      }
      this.reasm = r;
    }
    return r[d];
  }

  /** Sets where direction d's stream starts (StreamReassembler.start: the first call counts). */
  startStream(d: Dir, seq: number): void {
    const r = this.reasm;
    if (r !== null) r[d].start(seq);
    else if (this.reasmConfig === null) return;
    else if (d === 0) {
      if (this.start0 < 0) this.start0 = seq >>> 0;
    } else if (this.start1 < 0) this.start1 = seq >>> 0;
  }

  /** The other side acknowledged `ack` of direction d (StreamReassembler.ackedTo). */
  ackedTo(d: Dir, ack: number, frame: number, time: number): void {
    if (this.reasm === null) {
      // Not created yet: only an ACK beyond the stream's start changes anything (a gap).
      const start = d === 0 ? this.start0 : this.start1;
      if (this.reasmConfig === null || start < 0 || !this.wantsBytes || !ackFillsGap(start, ack)) return;
    }
    this.stream(d).ackedTo(ack, frame, time);
  }

  /** Held bytes delivered, the holes before them as gaps (RST, end of the flow). */
  finishStreams(frame: number, time: number): void {
    const r = this.reasm;
    if (r === null) return; // nothing held, nothing delivered: nothing to finish
    r[0].finish(frame, time);
    r[1].finish(frame, time);
  }

  /** The consumer wants no more bytes: stop both directions. */
  /** The consumer reads the whole stream (StreamConsumer.wholeStream): both directions lose their byte limit, once. */
  unlimitBytes(): void {
    const r = this.reasm;
    if (r === null || this.unlimited) return;
    this.unlimited = true;
    r[0].unlimit();
    r[1].unlimit();
  }
  private unlimited = false;

  stopBytes(): void {
    this.wantsBytes = false;
    // A consumer that needs only counts from here (StreamConsumer.countsOnly): the table counts the
    // flow's next packets without TCP analysis (FlowTable.barePacket).
    if (!this.halfOpen && this.consumer?.countsOnly === true) this.bareFins = 0;
    if (this.reasm) {
      this.reasm[0].stop();
      this.reasm[1].stop();
    }
  }
}

/** Four bytes at b[off] as a big-endian int32. */
function word(b: Uint8Array, off: number): number {
  return (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
}

function copyBytes(b: Uint8Array, off: number, len: number): number[] {
  // Allocated at its length (an array grown by push() has room for 17 elements).
  const out = new Array<number>(len);
  for (let i = 0; i < len; i++) out[i] = b[off + i]!;
  return out;
}

/** Delivers one direction's reassembled bytes and gaps to the flow's consumer. */
class DirSink implements ReassemblySink {
  constructor(
    private readonly flow: Flow,
    private readonly dir: Dir,
  ) {}

  data(data: Buffer, frame: number, time: number): boolean {
    const c = this.flow.consumer;
    if (!c || !this.flow.wantsBytes) return false;
    if (c.onData(this.dir, data, frame, time)) {
      if (c.wholeStream === true) this.flow.unlimitBytes();
      return true;
    }
    this.flow.stopBytes();
    return false;
  }

  gap(missingBytes: number, frame: number, time: number): void {
    const f = this.flow;
    if (f.facts) f.facts.gapBytes[this.dir] += missingBytes;
    f.consumer?.onGap(this.dir, missingBytes, frame, time);
  }

  outOfWindow(distance: number, length: number, frame: number, time: number): void {
    this.flow.consumer?.onOutOfWindow?.(this.dir, distance, length, frame, time);
  }

  conflict(originalFrame: number, frame: number, offset: number, time: number): void {
    this.flow.consumer?.onOverlapConflict?.(this.dir, originalFrame, frame, offset, time);
  }
}
