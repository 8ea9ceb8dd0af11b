// One tracked flow: its identity (address bytes and ports, compared in place
// against each packet), its facts, its consumer, and its place in the table's
// lists (hash bucket chain, activity order, half-open order).
import type { DecodedPacket } from '../net/index.js';
import { StreamReassembler, type HeldBudget, type ReassemblySink } from './reassembly.js';
import { sameBytes } from './hash.js';
import type { TcpTracker } from './tcp.js';
import type { Dir, FlowFacts, StreamConsumer } from './types.js';

export const FLOW_OPEN = 0;
/** Closed (FINs or RST): kept a while as a tombstone so late packets of it start no new flow. */
export const FLOW_CLOSED = 1;
/** The next stage did not want it: kept so its packets are dropped cheaply. */
export const FLOW_IGNORED = 2;

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
  reasm: [StreamReassembler, StreamReassembler] | null = null;
  tcp: TcpTracker | null = null;
  /** UDP: datagram bytes delivered per direction; whether the consumer still wants bytes. */
  delivered: [number, number] = [0, 0];
  wantsBytes = true;
  lastTime = Number.NaN;
  /**
   * Client and server address bytes, copied into plain arrays of small integers: a small Buffer
   * copy (Buffer.from) is a view into Node's shared 8 KiB pool slab, and a flow kept as a
   * tombstone would keep that whole slab alive.
   */
  readonly cAddr: number[];
  readonly sAddr: number[];

  constructor(
    readonly hash: number,
    readonly proto: number,
    readonly ipVersion: number,
    cAddr: Uint8Array,
    readonly cPort: number,
    sAddr: Uint8Array,
    readonly sPort: number,
    readonly fileIndex: number,
  ) {
    this.cAddr = copyBytes(cAddr);
    this.sAddr = copyBytes(sAddr);
  }

  /** 0 when p goes client -> server, 1 server -> client, -1 when p is not of this flow. */
  dirOf(p: DecodedPacket): number {
    if (p.ipProto !== this.proto || p.ipVersion !== this.ipVersion) return -1;
    const len = this.cAddr.length;
    if (
      p.srcPort === this.cPort &&
      p.dstPort === this.sPort &&
      sameBytes(p.buf, p.srcOff, this.cAddr, len) &&
      sameBytes(p.buf, p.dstOff, this.sAddr, len)
    )
      return 0;
    if (
      p.srcPort === this.sPort &&
      p.dstPort === this.cPort &&
      sameBytes(p.buf, p.srcOff, this.sAddr, len) &&
      sameBytes(p.buf, p.dstOff, this.cAddr, len)
    )
      return 1;
    return -1;
  }

  /** Set up the two reassemblers (TCP flows with a consumer). */
  initReassembly(limit: number, maxHeld: number, budget: HeldBudget): void {
    this.reasm = [
      new StreamReassembler(limit, maxHeld, budget, new DirSink(this, 0)),
      new StreamReassembler(limit, maxHeld, budget, new DirSink(this, 1)),
    ];
  }

  /** The consumer wants no more bytes: stop both directions. */
  stopBytes(): void {
    this.wantsBytes = false;
    if (this.reasm) {
      this.reasm[0].stop();
      this.reasm[1].stop();
    }
  }
}

function copyBytes(b: Uint8Array): number[] {
  // Allocated at its length (an array grown by push() has room for 17 elements).
  const out = new Array<number>(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i]!;
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
    if (c.onData(this.dir, data, frame, time)) return true;
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
}
