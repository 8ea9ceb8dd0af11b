// Test harness: frames built with fixtures/lib/frames.ts, decoded with the net
// stage, fed to a FlowTable whose consumers record everything they are told.
import { frameTime, readCapture, type FrameView } from '../../src/capture/index.js';
import { DecodedPacket, TcpFlag, decodePacket } from '../../src/net/index.js';
import { FlowTable, type FlowTableOptions } from '../../src/flow/index.js';
import type { Dir, FlowEndReason, FlowFacts, StreamConsumer, TcpEvent } from '../../src/flow/types.js';
import { ethernet, ipPacket, tcp, tcpOptions, udp, type Ip } from '../../fixtures/lib/frames.js';

export const { SYN, ACK, FIN, RST, PSH } = TcpFlag;

export type Rec =
  | { kind: 'data'; dir: Dir; data: Buffer; frame: number }
  | { kind: 'gap'; dir: Dir; n: number; frame: number }
  | { kind: 'event'; ev: TcpEvent }
  | { kind: 'end'; reason: FlowEndReason; captureEnd: number };

export class Recording implements StreamConsumer {
  log: Rec[] = [];
  ended: { facts: FlowFacts; reason: FlowEndReason } | null = null;
  ends = 0;
  /** onData returns false after this many deliveries. */
  acceptChunks = Infinity;
  /** StreamConsumer.wholeStream: the consumer reads the whole stream (the per-flow limit is lifted). */
  wholeStream = false;
  /** StreamConsumer.countsOnly: once it wants no more bytes, only counts and FIN / RST. */
  countsOnly = false;
  private chunks = 0;

  constructor(readonly facts: FlowFacts) {}

  onData(dir: Dir, data: Buffer, frame: number): boolean {
    this.log.push({ kind: 'data', dir, data, frame });
    return ++this.chunks < this.acceptChunks;
  }
  onGap(dir: Dir, n: number, frame: number): void {
    this.log.push({ kind: 'gap', dir, n, frame });
  }
  /** Segments reported outside any receive window. */
  outside: { dir: Dir; distance: number; length: number; frame: number }[] = [];
  onOutOfWindow(dir: Dir, distance: number, length: number, frame: number): void {
    this.outside.push({ dir, distance, length, frame });
  }
  onTcpEvent(ev: TcpEvent): void {
    this.log.push({ kind: 'event', ev });
  }
  onEnd(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): void {
    this.ends++;
    this.ended = { facts, reason };
    this.log.push({ kind: 'end', reason, captureEnd });
  }

  /** Stream of one direction as text, gaps as [n]. */
  stream(dir: Dir): string {
    return this.log
      .map((r) => (r.kind === 'data' && r.dir === dir ? r.data.toString('latin1') : r.kind === 'gap' && r.dir === dir ? `[${r.n}]` : ''))
      .join('');
  }
  events(): TcpEvent[] {
    return this.log.flatMap((r) => (r.kind === 'event' ? [r.ev] : []));
  }
  eventText(): string[] {
    return this.events().map((e) => `${e.kind}@${e.frame}${'retransmission' in e && e.retransmission ? '(re)' : ''}`);
  }
}

export class Harness {
  readonly table: FlowTable;
  readonly consumers: Recording[] = [];
  frame = 0;
  time = 1000;
  fileIndex = 0;
  private readonly pkt = new DecodedPacket();
  /** Consumers to refuse (onNewFlow returns null) when the predicate says so. */
  decline: ((f: FlowFacts) => boolean) | null = null;
  acceptChunks = Infinity;
  countsOnly = false;

  constructor(opts: Partial<FlowTableOptions> = {}) {
    this.table = new FlowTable({ rdpPorts: [3389], ...opts }, (facts) => {
      if (this.decline?.(facts)) return null;
      const r = new Recording(facts);
      r.acceptChunks = this.acceptChunks;
      r.countsOnly = this.countsOnly;
      this.consumers.push(r);
      return r;
    });
  }

  /** Feed one Ethernet frame; dt seconds after the previous one. */
  feed(frame: Buffer, dt = 0.001): number {
    this.frame++;
    this.time += dt;
    decodePacket(frame, 0, frame.length, 1, this.pkt);
    this.table.handle(this.pkt, this.frame, this.time, this.fileIndex);
    return this.frame;
  }

  get only(): Recording {
    if (this.consumers.length !== 1) throw new Error(`expected one flow, got ${this.consumers.length}`);
    return this.consumers[0]!;
  }

  finish(): void {
    this.table.finish(this.time);
  }
}

export interface TcpOpts {
  window?: number;
  ttl?: number;
  mss?: number;
  badChecksum?: boolean;
}

export function tcpFrame(ip: Ip, sport: number, dport: number, seq: number, ack: number, flags: number, payload: string | Buffer = '', o: TcpOpts = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const options = o.mss !== undefined ? tcpOptions({ mss: o.mss }) : undefined;
  const seg = tcp(data, { srcPort: sport, dstPort: dport, seq, ack, flags, window: o.window ?? 64240, options }, ip, { badChecksum: o.badChecksum });
  return ethernet(ipPacket(seg, 6, { ...ip, ttl: o.ttl ?? ip.ttl }));
}

export function udpFrame(ip: Ip, sport: number, dport: number, payload: Buffer): Buffer {
  return ethernet(ipPacket(udp(payload, sport, dport, ip), 17, ip));
}

/**
 * A TCP connection between a client and a server: c()/s() build a frame from
 * either side with the sequence numbers tracked (each call advances them unless
 * seq is given), so tests read like a capture.
 */
export class Conn {
  cSeq: number;
  sSeq: number;
  constructor(
    readonly client: string,
    readonly cPort: number,
    readonly server: string,
    readonly sPort: number,
    cIsn = 1000,
    sIsn = 5000,
    readonly cTtl = 128,
    readonly sTtl = 64,
  ) {
    this.cSeq = cIsn;
    this.sSeq = sIsn;
  }
  // Each side numbers its datagrams (IP identification, RFC 791 3.1) as real stacks do: a
  // retransmission is a new datagram, so it is not taken for a capture duplicate (duplicates.ts).
  private cId = 0x1000;
  private sId = 0x5000;
  private ipC(ttl?: number): Ip {
    return { src: this.client, dst: this.server, ttl: ttl ?? this.cTtl, id: this.cId++ & 0xffff };
  }
  private ipS(ttl?: number): Ip {
    return { src: this.server, dst: this.client, ttl: ttl ?? this.sTtl, id: this.sId++ & 0xffff };
  }
  syn(o: TcpOpts = {}): Buffer {
    return tcpFrame(this.ipC(o.ttl), this.cPort, this.sPort, this.cSeq, 0, SYN, '', { mss: 1460, ...o });
  }
  synAck(o: TcpOpts = {}): Buffer {
    return tcpFrame(this.ipS(o.ttl), this.sPort, this.cPort, this.sSeq, this.cSeq + 1, SYN | ACK, '', { mss: 1400, ...o });
  }
  /** After the handshake: both ISNs consumed. */
  established(): void {
    this.cSeq = (this.cSeq + 1) >>> 0;
    this.sSeq = (this.sSeq + 1) >>> 0;
  }
  c(payload: string | Buffer = '', flags = ACK | PSH, o: TcpOpts & { seq?: number; ack?: number; advance?: boolean } = {}): Buffer {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const seq = o.seq ?? this.cSeq;
    const f = tcpFrame(this.ipC(o.ttl), this.cPort, this.sPort, seq, o.ack ?? this.sSeq, data.length === 0 && flags === (ACK | PSH) ? ACK : flags, data, o);
    if (o.advance !== false && o.seq === undefined) this.cSeq = (this.cSeq + data.length + (flags & FIN ? 1 : 0)) >>> 0;
    return f;
  }
  s(payload: string | Buffer = '', flags = ACK | PSH, o: TcpOpts & { seq?: number; ack?: number; advance?: boolean } = {}): Buffer {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const seq = o.seq ?? this.sSeq;
    const f = tcpFrame(this.ipS(o.ttl), this.sPort, this.cPort, seq, o.ack ?? this.cSeq, data.length === 0 && flags === (ACK | PSH) ? ACK : flags, data, o);
    if (o.advance !== false && o.seq === undefined) this.sSeq = (this.sSeq + data.length + (flags & FIN ? 1 : 0)) >>> 0;
    return f;
  }
}

/** The three-way handshake fed to h; returns the frames of SYN, SYN-ACK, ACK. */
export function handshake(h: Harness, c: Conn, rtt = 0.02): [number, number, number] {
  const a = h.feed(c.syn());
  const b = h.feed(c.synAck(), rtt);
  c.established();
  const d = h.feed(c.c(), 0.001);
  return [a, b, d];
}

/** Reads a capture file into the table (decoded frame by frame) and finishes it at the last frame's time. */
export async function feedCaptureFile(table: FlowTable, file: string): Promise<void> {
  const pkt = new DecodedPacket();
  let last = 0;
  await readCapture({ kind: 'file', path: file }, 0, {
    onFrame(v: FrameView) {
      decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
      last = frameTime(v);
      table.handle(pkt, v.frame, last, v.fileIndex);
    },
  });
  table.finish(last);
}
