// The consumer of a new TCP flow until the flow carries data. Most flows that never do are a SYN
// flood's or a port scan's half-open attempts, tracked by the thousand at once: for them a whole
// ConnectionMachine (its record parts, timeline, trackers' fields: ~1.3 KB that survive until the
// flow ends, so V8 promotes them and frees them only in a full GC) would be built for two TCP
// events. PendingMachine keeps the events as they come and builds the machine on the first stream
// byte, gap or out-of-window segment, or when the flow ends, replaying the events into it first: the
// machine sees the same calls in the same order, so the record is the same.
//
// A connection that ends once the run's records are full is only counted (its outcome, per
// server). One that never carried data is then judged from its TCP events alone (countedOutcome),
// without building the machine or the flow's TcpFacts: V8 pretenures the allocation sites of both
// (the records kept early on survive), so for each of a flood's million flows they went straight to
// the old generation as ~2.6 KB of garbage, and full GCs came that much more often.
import type { Dir, FlowEndReason, FlowFacts, StreamConsumer, TcpEvent } from '../flow/types.js';
import type { HalfOpenView } from '../flow/halfopen.js';
import { CLIENT_TIMEOUT_S, SYN_GIVE_UP_S, SYN_RETRY_WAIT_S, decideEnding, type CloseRef, type Ref } from './ending.js';
import { ConnectionMachine, type MachineOptions } from './machine.js';
import type { Outcome, SideChannel } from './types.js';
import { GATEWAY_TCP_PORT } from './gateway-watch.js';

/** Where connections that are counted, not recorded, go (the run's records are full). */
export interface OutcomeCounter {
  /** Whether a connection that ends now is only counted. */
  countsOnly(): boolean;
  /** Whether a connection that never carried data (a half-open SYN, say) and ends now is only counted. */
  bareCountsOnly?(): boolean;
  /** A connection counted: how it ended (the outcome its record would have). */
  count(conn: PendingMachine, outcome: Outcome): void;
}

/** A PendingMachine's options: the machine's, but its id and side-channel list, and the counter. */
export type PendingOptions = Omit<MachineOptions, 'id' | 'sideChannels'> & {
  counter?: OutcomeCounter;
  /**
   * A connection to GATEWAY_TCP_PORT (analysed as RDP with `--port 443`) whose client starts with a
   * TLS handshake record instead of an X.224 Connection Request (MS-RDPBCGR 1.3.1.1) is no direct RDP
   * connection but HTTPS, maybe to an RD Gateway: the consumer this returns takes it over (the events
   * so far replayed into it), and no ConnectionMachine or record is made for it.
   */
  gateway?: (facts: FlowFacts) => StreamConsumer;
};

export class PendingMachine implements StreamConsumer {
  private built: ConnectionMachine | null = null;
  /** The consumer that took over an HTTPS connection (PendingOptions.gateway), or null. */
  private diverted: StreamConsumer | null = null;
  /** TCP events before the machine exists, in order (a one- or two-element list at its length). */
  private events: TcpEvent[] | null = null;
  /** countedBare(): -1 not decided yet, 1 yes, 0 no. */
  private bare = -1;

  /**
   * `id`: the connection's; `sideChannels`: the list its record will carry (the caller may hand it
   * to RDPEUDP flows before the machine exists); `common`: the rest of the machine's options, one
   * object for every flow of a run, and where to count a connection whose record is not wanted.
   */
  constructor(
    readonly facts: FlowFacts,
    readonly id: string,
    readonly sideChannels: SideChannel[],
    private readonly common: PendingOptions,
  ) {}

  /** Whether the machine has been built (the flow carried data, or ended). */
  get hasMachine(): boolean {
    return this.built !== null;
  }

  /** The machine, built (and the events so far replayed into it) on first use. */
  get machine(): ConnectionMachine {
    let m = this.built;
    if (m === null) {
      const c = this.common;
      m = new ConnectionMachine(this.facts, {
        id: this.id,
        file: c.file,
        fileIndex: c.fileIndex,
        byteBudget: c.byteBudget,
        sideChannels: this.sideChannels,
        onRecord: c.onRecord,
        keys: c.keys ?? null,
      });
      this.built = m;
      const evs = this.events;
      this.events = null;
      if (evs !== null) for (let i = 0; i < evs.length; i++) m.onTcpEvent(evs[i]!);
    }
    return m;
  }

  onTcpEvent(ev: TcpEvent): void {
    if (this.diverted !== null) {
      this.diverted.onTcpEvent(ev);
      return;
    }
    const m = this.built;
    if (m !== null) {
      m.onTcpEvent(ev);
      return;
    }
    const l = this.events;
    // push() on an empty (or one-element) array would reserve 17 slots; a half-open flow has one or two events.
    if (l === null) this.events = [ev];
    else if (l.length === 1) this.events = [l[0]!, ev];
    else l.push(ev);
  }

  onData(dir: Dir, data: Buffer, frame: number, time: number): boolean {
    const d = this.diverted;
    if (d !== null) return d.onData(dir, data, frame, time);
    if (this.built === null && dir === 0 && this.common.gateway !== undefined && this.facts.server.port === GATEWAY_TCP_PORT && startsTlsHandshake(data)) {
      const g = this.common.gateway(this.facts);
      this.diverted = g;
      const evs = this.events;
      this.events = null;
      if (evs !== null) for (let i = 0; i < evs.length; i++) g.onTcpEvent(evs[i]!);
      return g.onData(dir, data, frame, time);
    }
    return this.machine.onData(dir, data, frame, time);
  }

  /** The machine reads the whole stream once its TLS is decrypted (StreamConsumer.wholeStream). */
  get wholeStream(): boolean {
    return this.built?.wholeStream ?? false;
  }

  onGap(dir: Dir, missingBytes: number, frame: number, time: number): void {
    if (this.diverted !== null) this.diverted.onGap(dir, missingBytes, frame, time);
    else this.machine.onGap(dir, missingBytes, frame, time);
  }

  onOutOfWindow(dir: Dir, distance: number, length: number, frame: number, time: number): void {
    if (this.diverted !== null) this.diverted.onOutOfWindow?.(dir, distance, length, frame, time);
    else this.machine.onOutOfWindow(dir, distance, length, frame, time);
  }

  onOverlapConflict(dir: Dir, originalFrame: number, frame: number, offset: number, time: number): void {
    if (this.diverted !== null) this.diverted.onOverlapConflict?.(dir, originalFrame, frame, offset, time);
    else this.machine.onOverlapConflict(dir, originalFrame, frame, offset, time);
  }

  /** Whether the flow ends as a connection only counted that never carried data (decided once). */
  private countedBare(): boolean {
    if (this.bare === -1) {
      const c = this.common.counter;
      this.bare = this.built === null && c !== undefined && (c.countsOnly() || c.bareCountsOnly?.() === true) ? 1 : 0;
    }
    return this.bare === 1;
  }

  /** A connection counted without data needs no TcpFacts (countedOutcome does not read them). */
  wantsFinalFacts(): boolean {
    return this.diverted !== null || !this.countedBare();
  }

  onEnd(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): void {
    if (this.diverted !== null) {
      this.diverted.onEnd(facts, reason, captureEnd);
      return;
    }
    const counter = this.common.counter;
    if (counter === undefined) {
      this.machine.onEnd(facts, reason, captureEnd);
    } else if (this.countedBare()) {
      counter.count(this, countedOutcome(this.events, captureEnd));
    } else if (counter.countsOnly()) {
      // Only counted (beyond the records kept): the outcome without the record.
      counter.count(this, this.machine.outcomeAtEnd(facts, reason, captureEnd));
    } else {
      this.machine.onEnd(facts, reason, captureEnd);
    }
  }
}

/** A TLS handshake record's header (RFC 5246 6.2.1: content type 22, version 3.x), where an X.224 request's TPKT (03 00) would be. */
function startsTlsHandshake(data: Buffer): boolean {
  return data.length >= 3 && data[0] === 22 && data[1] === 3 && data[2]! <= 4;
}

/**
 * The outcome of a connection that carried no data, from its TCP events: what ConnectionMachine
 * keeps of them (onTcpEvent: the client's SYNs, up to 16; the first SYN/ACK; the first FIN and the
 * first RST of each side, retransmitted FINs aside; the first ICMP error; phase 'tcp' from the first
 * SYN or SYN/ACK on) judged by decideEnding as its record() would. Without data the machine never
 * builds a tracker, so nothing else reaches the ending: no X.224 request (startedLate = no SYN),
 * no protocol end, no last data, and the phase stays below 'active' (lostBeforeEnd, read only
 * there, cannot matter). test/handshake/pending.test.ts checks it against the machine.
 */
/** Empty lists to start from (frozen: never written; decideEnding only reads its input). */
const NO_REFS = Object.freeze([]) as unknown as Ref[];
const NO_CLOSES = Object.freeze([]) as unknown as CloseRef[];

export function countedOutcome(events: readonly TcpEvent[] | null, captureEnd: number): Outcome {
  // Lists built at their length while short (push() on an empty array reserves 17 slots).
  let syns: Ref[] = NO_REFS;
  let synAck: Ref | null = null;
  let closes: CloseRef[] = NO_CLOSES;
  let icmp: (Ref & { type: number; code: number; from: string }) | null = null;
  let tcp = false;
  if (events !== null) {
    for (const ev of events) {
      switch (ev.kind) {
        case 'syn':
          if (ev.dir !== 0) break;
          if (syns.length === 0) syns = [{ frame: ev.frame, time: ev.time }];
          else if (syns.length < 16) syns.push({ frame: ev.frame, time: ev.time });
          tcp = true;
          break;
        case 'syn_ack':
          if (synAck === null) synAck = { frame: ev.frame, time: ev.time };
          tcp = true;
          break;
        case 'fin':
          if (!ev.retransmission && !closes.some((c) => c.kind === 'fin' && c.dir === ev.dir)) closes = closes.concat({ kind: 'fin', dir: ev.dir, frame: ev.frame, time: ev.time });
          break;
        case 'rst':
          if (!closes.some((c) => c.kind === 'rst' && c.dir === ev.dir)) closes = closes.concat({ kind: 'rst', dir: ev.dir, frame: ev.frame, time: ev.time });
          break;
        case 'icmp':
          if (icmp === null) icmp = { frame: ev.frame, time: ev.time, type: ev.icmp.type, code: ev.icmp.code, from: ev.icmp.from };
          break;
        default:
          break;
      }
    }
  }
  return decideEnding({
    reached: tcp ? 'tcp' : 'none',
    startedLate: syns.length === 0,
    syns,
    synAck,
    closes,
    icmp,
    protocolEnd: null,
    lastData: [null, null],
    captureEnd,
    lostBeforeEnd: false,
  }).outcome;
}

/** TCP flag bits (RFC 9293 3.1). */
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/**
 * countedOutcome of a connection that never left the flow table's half-open slots (halfopen.ts),
 * read from the slot without building its events: the client's SYNs (one ISN), SYN/ACKs of it and
 * at most one reset, the last segment. decideEnding's branches for such input, in its order: no
 * SYN/ACK: a server reset, else no answer once the client would have given up (SYN_GIVE_UP_S
 * after the first SYN, or SYN_RETRY_WAIT_S after a retransmission), else ended early; a SYN/ACK:
 * any reset fails it, else the client's silence past CLIENT_TIMEOUT_S after the SYN/ACK.
 * test/handshake/pending.test.ts checks it against countedOutcome.
 */
export function halfOpenOutcome(v: HalfOpenView, s: number, captureEnd: number): Outcome {
  const n = v.segments(s);
  let syns = 0;
  let firstSyn = 0;
  let lastSyn = 0;
  let synAck = -1;
  let rstServer = false;
  let rst = false;
  for (let k = 0; k < n; k++) {
    const f = v.flags(s, k);
    const d = v.dir(s, k);
    if ((f & RST) !== 0) {
      rst = true;
      if (d === 1) rstServer = true;
    } else if ((f & (SYN | ACK)) === SYN && d === 0) {
      // countedOutcome keeps the first 16 SYNs; a slot keeps at most 4 segments.
      if (syns === 0) firstSyn = v.time(s, k);
      lastSyn = v.time(s, k);
      syns++;
    } else if ((f & (SYN | ACK)) === (SYN | ACK) && d === 1 && synAck < 0) synAck = v.time(s, k);
  }
  if (syns === 0) return 'incomplete_capture';
  if (synAck < 0) {
    if (rstServer) return 'failed';
    if (captureEnd - firstSyn >= SYN_GIVE_UP_S || (syns > 1 && captureEnd - lastSyn >= SYN_RETRY_WAIT_S)) return 'failed';
    return 'incomplete_capture';
  }
  if (rst) return 'failed';
  return captureEnd - synAck >= CLIENT_TIMEOUT_S ? 'failed' : 'incomplete_capture';
}
