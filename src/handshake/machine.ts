// The per-connection state machine (design.md "Phases of a connection"): it receives one TCP
// flow's events and in-order bytes, decodes each direction by content (TPKT / X.224, TLS records,
// fast-path PDUs), records the phases reached with the frames that prove them and a timeline in
// Wireshark's words, and at the end decides how the connection ended (ending.ts).
// State lives here; every byte is read by the pure decoders of src/rdp.
import type { Dir, FlowEndReason, FlowFacts, MissingRangeRef, StreamConsumer, TcpEvent } from '../flow/types.js';
import { endpointText } from '../flow/types.js';
import type {
  ConnectionRecord,
  CredsspInfo,
  DecodeStop,
  ErrorInfoEvent,
  LicensingEvent,
  McsInfo,
  NegotiationInfo,
  Outcome,
  Phase,
  PhaseReached,
  SideChannel,
  TimelineEvent,
  TlsInfo,
  Warning,
} from './types.js';
import { phaseIndex } from './types.js';
import { StreamBuf } from './stream.js';
import { decideEnding, type CloseRef, type EndInput, type MissingRef, type ProtocolEnd, type Ref } from './ending.js';
import { TlsTrack } from './tls-track.js';
import { SlowPathTrack } from './slow-path-track.js';
import { X224Track } from './x224-track.js';
import { CredsspTrack } from './credssp-track.js';
import { looksLikeTsRequest } from '../rdp/credssp.js';
import type { KeyLog } from '../rdp/keylog.js';

/** After decrypted decoding stopped: server records at least this large (plaintext bytes), this many of them, infer the active phase. */
const LARGE_PLAIN_RECORD = 1000;
const LARGE_RECORDS_FOR_ACTIVE = 3;
const ACTIVE_AFTER_STOP_CONFIDENCE = 0.6;
/** MS-RDPBCGR 2.2.1.1.1 PROTOCOL_HYBRID_EX: the Early User Authorization Result follows CredSSP. */
const PROTOCOL_HYBRID_EX = 0x08;
import { looksLikeTlsRecord } from '../rdp/tls.js';
import { readFastPathHeader } from '../rdp/fastpath.js';
import { readTpkt } from '../rdp/tpkt.js';

/** Bytes decoded per direction before the machine stops asking for more. */
export const DEFAULT_BYTE_BUDGET = 1 << 20;
/**
 * Timeline events kept per connection: the first TIMELINE_HEAD and the last TIMELINE_TAIL, with
 * one "… K events omitted" marker between them (a finished record stays small: the death is at
 * the end). Events at the frame of a close, ICMP error, protocol end or last data (the candidates
 * for the death, ending.ts) are kept even from the omitted middle, up to TIMELINE_PINNED.
 */
export const TIMELINE_HEAD = 48;
export const TIMELINE_TAIL = 16;
export const TIMELINE_PINNED = 8;
/** Timeline events kept per connection at most (plus the omitted marker). */
export const MAX_TIMELINE = TIMELINE_HEAD + TIMELINE_TAIL + TIMELINE_PINNED;
/** PDUs / records looked at in the active phase before the machine stops asking for bytes. */
export const ACTIVE_UNITS_BEFORE_STOP = 6;
/** Warnings kept per connection. */
const MAX_WARNINGS = 20;

export interface MachineOptions {
  id: string;
  file: string;
  fileIndex: number;
  byteBudget?: number;
  /** The list the record's side channels go into (given when the caller hands it out before the machine exists). */
  sideChannels?: SideChannel[];
  /** Called once when the flow ends, with the finished record. */
  onRecord(rec: ConnectionRecord, machine: ConnectionMachine): void;
  /** TLS secrets (key log files, the capture's Decryption Secrets Blocks); empty or absent: nothing is decrypted. */
  keys?: KeyLog | null;
}

export type Direction = 'c2s' | 's2c';
export const DIRS: readonly [Direction, Direction] = ['c2s', 's2c'];
export const SIDE: readonly ['client', 'server'] = ['client', 'server'];
const DIR_INDEXES: readonly [Dir, Dir] = [0, 1];

/**
 * What the protocol trackers (x224-track, tls-track, slow-path-track) call back into:
 * the shared record, the timeline, phases, endings.
 */
export interface MachineSink {
  readonly rec: Recorded;
  event(dir: Dir | -1, frame: number, time: number, event: string, detail?: string, inferred?: boolean): void;
  reach(phase: Phase, frame: number, time: number, inferred?: boolean, confidence?: number): void;
  reached(): Phase;
  end(e: ProtocolEnd): void;
  warn(frame: number | null, offset: number | null, message: string): void;
  /** A unit of the active phase was seen (the machine stops asking for bytes after a few). */
  activeUnit(): void;
  /** A large server record or a decoded Update in the active phase: the first is the session's first graphics. */
  graphics(frame: number, time: number): void;
  /** Set while bytes of a decrypted TLS record are decoded: the events then are marked `decrypted`. */
  plain: boolean;
  /** TLS secrets to decrypt with (null or empty: none). */
  readonly keys: KeyLog | null;
  /** Plaintext of a decrypted TLS application-data record, credited to the frame that completed the record. */
  plaintext(dir: Dir, data: Buffer, frame: number, time: number): void;
}

/** The parts of the record the trackers fill in. */
export interface Recorded {
  security: string | null;
  negotiation: NegotiationInfo | null;
  tls: TlsInfo | null;
  credssp: CredsspInfo | null;
  mcs: McsInfo | null;
  licensing: LicensingEvent[];
  errorInfo: ErrorInfoEvent[];
}

export class ConnectionMachine implements StreamConsumer, MachineSink {
  readonly rec: Recorded = {
    security: null,
    negotiation: null,
    tls: null,
    credssp: null,
    mcs: null,
    licensing: [],
    errorInfo: [],
  };
  readonly sideChannels: SideChannel[];
  private phaseList: PhaseReached[] = [];
  private phase: Phase = 'none';
  /** The first TIMELINE_HEAD events; after record() assembled it, the whole kept timeline. */
  private timeline: TimelineEvent[] = [];
  /** The last TIMELINE_TAIL events after the head, a ring written at tailAt once full (allocated on first use). */
  private tail: TimelineEvent[] | null = null;
  private tailAt = 0;
  /** Death candidates pushed out of the tail (allocated on first use). */
  private pinned: TimelineEvent[] | null = null;
  private droppedEvents = 0;
  /** The first and last omitted events' frames and the first one's time and phase, for the marker. */
  private omittedFirst: TimelineEvent | null = null;
  private omittedLastFrame = 0;
  private timelineAssembled = false;
  private warnings: Warning[] = [];
  private droppedWarnings = 0;

  private syns: Ref[] = [];
  private synAck: Ref | null = null;
  private closes: CloseRef[] = [];
  private icmp: (Ref & { type: number; code: number; from: string }) | null = null;
  private protocolEnd: ProtocolEnd | null = null;
  private lastData: [Ref | null, Ref | null] = [null, null];
  /** lastData when the first FIN or RST came (what each side had sent by then). */
  private lastDataAtClose: [Ref | null, Ref | null] | null = null;
  /** The last gap (bytes the capture missed) per direction: not silence (ending.ts). */
  private gaps: [Ref | null, Ref | null] | null = null;
  private firstFrame = 0;

  /** Per direction, created with the trackers on first use (a half-open flow never needs them). */
  private streamPair: [StreamBuf, StreamBuf] | null = null;
  private readonly budget: number;
  /** Per direction: decoding stopped (unknown bytes, malformed PDU, budget). */
  private stopped: [boolean, boolean] = [false, false];
  /** Per direction: the first segment outside any receive window, its warning, and the count. */
  private outOfWindow: [OutOfWindow | null, OutOfWindow | null] = [null, null];
  /** Per direction: the first overlap with conflicting data, its warning, and the count (allocated on first use). */
  private conflicts: [{ warning: Warning; count: number } | null, { warning: Warning; count: number } | null] | null = null;
  /** Per direction: the stream was positioned at the flow's skipped prefix. */
  private positioned: [boolean, boolean] = [false, false];
  private wanted = true;
  private activeUnits = 0;
  /** The first large server record or Update of the active phase (the first graphics), or null. */
  private firstGraphics: Ref | null = null;
  private startedLate = false;
  /**
   * The capture starts after the X.224 exchange: a flow without SYN or Connection Request whose first
   * bytes are TLS records, TPKT PDUs or fast-path PDUs is decoded from there (its X.224 facts unknown).
   */
  private afterX224 = false;
  /**
   * The RDP stream after the Connection Confirm is in the clear although TLS was selected (a decrypted
   * export, or a tool's own pcap of the plaintext, such as FreeRDP's): TPKT and fast-path PDUs are
   * decoded as such. Decided by the bytes, once.
   */
  private clearDump = false;
  private finished = false;

  private x224Lazy: X224Track | null = null;
  private tlsLazy: TlsTrack | null = null;
  private slowLazy: SlowPathTrack | null = null;
  private credsspLazy: CredsspTrack | null = null;
  plain = false;
  /** Per direction: the decrypted TLS stream (created on the first decrypted byte) and whether its decoding stopped. */
  private inner: [StreamBuf | null, StreamBuf | null] = [null, null];
  private innerStopped: [boolean, boolean] = [false, false];
  /** Per direction: where and why decoding stopped before the flow's end (TlsDecryption.decodeStopped), allocated on first use. */
  private decodeStops: [DecodeStop | null, DecodeStop | null] | null = null;
  private largeAfterStop = 0;

  constructor(
    readonly facts: FlowFacts,
    private readonly opts: MachineOptions,
  ) {
    // Stream buffers and protocol trackers are built on first use (the first payload byte, or the
    // end of the flow): a SYN flood's half-open flows cost the machine's fields only.
    this.budget = opts.byteBudget ?? DEFAULT_BYTE_BUDGET;
    this.firstFrame = facts.firstFrame;
    this.sideChannels = opts.sideChannels ?? [];
  }

  get x224(): X224Track {
    return (this.x224Lazy ??= new X224Track(this));
  }
  get tlsTrack(): TlsTrack {
    return (this.tlsLazy ??= new TlsTrack(this));
  }
  get slow(): SlowPathTrack {
    return (this.slowLazy ??= new SlowPathTrack(this));
  }
  get credsspTrack(): CredsspTrack {
    return (this.credsspLazy ??= new CredsspTrack(this));
  }
  get keys(): KeyLog | null {
    return this.opts.keys ?? null;
  }
  private get streams(): [StreamBuf, StreamBuf] {
    return (this.streamPair ??= [new StreamBuf(this.budget), new StreamBuf(this.budget)]);
  }

  get id(): string {
    return this.opts.id;
  }
  get client(): string {
    return endpointText(this.facts.client);
  }
  get server(): string {
    return endpointText(this.facts.server);
  }
  get ended(): boolean {
    return this.finished;
  }

  // ---- MachineSink

  event(dir: Dir | -1, frame: number, time: number, event: string, detail?: string, inferred?: boolean): void {
    // One literal per shape (not properties added afterwards): the object is built at its final
    // size, with the same key order as before (frame, time, direction, event, phase, detail, inferred).
    const direction = dir === -1 ? 'net' : DIRS[dir];
    const phase = this.phase;
    const e: TimelineEvent =
      detail !== undefined && detail !== ''
        ? inferred
          ? { frame, time, direction, event, phase, detail, inferred: true }
          : { frame, time, direction, event, phase, detail }
        : inferred
          ? { frame, time, direction, event, phase, inferred: true }
          : { frame, time, direction, event, phase };
    if (this.plain) e.decrypted = true;
    if (this.timeline.length < TIMELINE_HEAD || this.timelineAssembled) {
      // The first element as a one-element literal: push() on an empty array reserves 17 slots,
      // and a half-open flow (a SYN flood's) has one or two events in all.
      if (this.timeline.length === 0) this.timeline = [e];
      else this.timeline.push(e);
      return;
    }
    const tail = (this.tail ??= []);
    if (tail.length < TIMELINE_TAIL) {
      tail.push(e);
      return;
    }
    const out = tail[this.tailAt]!;
    tail[this.tailAt] = e;
    this.tailAt = (this.tailAt + 1) % TIMELINE_TAIL;
    this.omitEvent(out);
  }

  /** An event pushed out of the tail: pinned when it may show the death, else counted. */
  private omitEvent(e: TimelineEvent): void {
    const f = e.frame;
    const candidate =
      this.closes.some((c) => c.frame === f) ||
      this.icmp?.frame === f ||
      this.protocolEnd?.frame === f ||
      this.lastData[0]?.frame === f ||
      this.lastData[1]?.frame === f;
    if (candidate && (this.pinned ??= []).length < TIMELINE_PINNED) {
      this.pinned.push(e);
      return;
    }
    this.droppedEvents++;
    if (this.omittedFirst === null || f < this.omittedFirst.frame) this.omittedFirst = e;
    if (f > this.omittedLastFrame) this.omittedLastFrame = f;
  }

  /** Head, pinned events, the omitted marker and the tail (oldest first), in one array. */
  private assembleTimeline(): void {
    if (this.timelineAssembled) return;
    this.timelineAssembled = true;
    if (this.pinned !== null) this.timeline.push(...this.pinned);
    const o = this.omittedFirst;
    if (o !== null) {
      const range = o.frame === this.omittedLastFrame ? `frame ${o.frame}` : `frames ${o.frame}..${this.omittedLastFrame}`;
      this.timeline.push({
        frame: o.frame,
        time: o.time,
        direction: 'net',
        event: `… ${this.droppedEvents} events omitted`,
        detail: `${range}; the first ${TIMELINE_HEAD} and the last ${TIMELINE_TAIL} events are kept`,
        phase: o.phase,
      });
    }
    const tail = this.tail;
    if (tail !== null) for (let i = 0; i < tail.length; i++) this.timeline.push(tail[(this.tailAt + i) % tail.length]!);
    this.tail = null;
    this.pinned = null;
  }

  reach(phase: Phase, frame: number, time: number, inferred = false, confidence = 1): void {
    const i = phaseIndex(phase);
    if (i <= phaseIndex(this.phase)) {
      // A decoded proof replaces an inferred one for the same phase.
      const p = this.phaseList.find((x) => x.phase === phase);
      if (p && p.inferred && !inferred) {
        p.inferred = false;
        p.confidence = 1;
        p.frame = frame;
        p.time = time;
      }
      return;
    }
    this.phase = phase;
    const p: PhaseReached = { phase, frame, time, inferred, confidence };
    if (this.phaseList.length === 0) this.phaseList = [p];
    else this.phaseList.push(p);
  }

  reached(): Phase {
    return this.phase;
  }

  end(e: ProtocolEnd): void {
    if (this.protocolEnd === null) this.protocolEnd = e;
  }

  warn(frame: number | null, offset: number | null, message: string): void {
    if (this.warnings.length >= MAX_WARNINGS) {
      this.droppedWarnings++;
      return;
    }
    this.warnings.push({ frame, offset, message });
  }

  activeUnit(): void {
    this.activeUnits++;
  }

  graphics(frame: number, time: number): void {
    if (this.firstGraphics === null) this.firstGraphics = { frame, time };
  }

  // ---- StreamConsumer

  onTcpEvent(ev: TcpEvent): void {
    switch (ev.kind) {
      case 'syn':
        if (ev.dir !== 0) return;
        if (this.syns.length === 0) this.syns = [{ frame: ev.frame, time: ev.time }];
        else if (this.syns.length < 16) this.syns.push({ frame: ev.frame, time: ev.time });
        if (this.syns.length === 1) this.reach('tcp', ev.frame, ev.time);
        this.event(0, ev.frame, ev.time, ev.retransmission || this.syns.length > 1 ? 'SYN (retransmission)' : 'SYN');
        return;
      case 'syn_ack':
        if (this.synAck === null) this.synAck = { frame: ev.frame, time: ev.time };
        this.reach('tcp', ev.frame, ev.time);
        this.event(ev.dir, ev.frame, ev.time, ev.retransmission ? 'SYN, ACK (retransmission)' : 'SYN, ACK');
        return;
      case 'ack':
        this.event(ev.dir, ev.frame, ev.time, 'ACK', 'three-way handshake complete');
        return;
      case 'fin':
        // Inferred steps still open are settled by the close (its event then shows their phase).
        this.tlsLazy?.shape.flush();
        if (!ev.retransmission && !this.closes.some((c) => c.kind === 'fin' && c.dir === ev.dir)) {
          if (this.closes.length === 0) this.lastDataAtClose = [this.lastData[0], this.lastData[1]];
          this.closes.push({ kind: 'fin', dir: ev.dir, frame: ev.frame, time: ev.time });
          this.event(ev.dir, ev.frame, ev.time, 'FIN', `${SIDE[ev.dir]} closes`);
        }
        return;
      case 'rst':
        this.tlsLazy?.shape.flush();
        if (this.closes.some((c) => c.kind === 'rst' && c.dir === ev.dir)) return;
        if (this.closes.length === 0) this.lastDataAtClose = [this.lastData[0], this.lastData[1]];
        this.closes.push({ kind: 'rst', dir: ev.dir, frame: ev.frame, time: ev.time });
        this.event(ev.dir, ev.frame, ev.time, 'RST', `${SIDE[ev.dir]} resets (TTL ${ev.ttl})`);
        return;
      case 'icmp': {
        const i = ev.icmp;
        if (this.icmp === null) this.icmp = { frame: ev.frame, time: ev.time, type: i.type, code: i.code, from: i.from };
        this.event(-1, ev.frame, ev.time, `ICMP${i.ipVersion === 6 ? 'v6' : ''} type ${i.type} code ${i.code}`, `from ${i.from}${i.mtu !== null ? `, next-hop MTU ${i.mtu}` : ''}`);
        return;
      }
      case 'retransmission':
        return;
    }
  }

  onData(dir: Dir, data: Buffer, frame: number, time: number): boolean {
    if (!this.wanted) return false;
    const last = this.lastData[dir];
    if (last === null || frame >= last.frame) this.lastData[dir] = { frame, time };
    if (this.stopped[dir]) return this.stillWanted();
    const s = this.stream(dir);
    // Decrypting: the whole session is read (its end is decoded); only a unit being assembled is held.
    if (!s.pendingBudget && this.tlsLazy !== null && this.tlsLazy.decrypting) this.readWhole();
    if (!s.append(data, frame, time)) {
      this.stopped[dir] = true;
      this.noteDecodeStop(dir, frame, `the per-connection budget of ${s.budget} bytes was used up`);
      this.warn(frame, s.endPosition, `${DIRS[dir]} stream: decoding stopped after the per-connection budget of ${s.budget} bytes`);
      return this.stillWanted();
    }
    this.pump(dir);
    return this.stillWanted();
  }

  onGap(dir: Dir, missingBytes: number, frame: number, time: number): void {
    (this.gaps ??= [null, null])[dir] = { frame, time };
    const s = this.stream(dir);
    const pending = s.available;
    const at = s.endPosition;
    s.skip(missingBytes);
    this.warn(frame, at, `${missingBytes} bytes of the ${SIDE[dir]}'s stream are missing before frame ${frame}${pending > 0 ? ` (a ${pending}-byte partial PDU was dropped)` : ''}`);
    this.event(dir, frame, time, 'Bytes missing', `${missingBytes} bytes lost before the capture point`);
    if (this.x224.requestFrame === null && dir === 0) this.startedLate = this.syns.length === 0;
  }

  /**
   * A segment outside any receive window (src/flow/reassembly.ts): not data of this stream. Warned
   * once per direction with its frame; the warning counts the later ones at the end.
   */
  onOutOfWindow(dir: Dir, distance: number, length: number, frame: number, time: number): void {
    const o = this.outOfWindow[dir];
    if (o !== null) {
      o.segments++;
      o.bytes += length;
      return;
    }
    const at = this.stream(dir).endPosition;
    const w: Warning = {
      frame,
      offset: at,
      message: `${SIDE[dir]}'s segment of ${length} bytes is ${distance >= 0 ? `${distance} bytes ahead of` : `${-distance} bytes behind`} the next expected sequence number, outside any TCP receive window (RFC 7323 2.3): a jump in the stream, not data of it; ignored`,
    };
    this.outOfWindow[dir] = { warning: w, segments: 1, bytes: length };
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(w);
    else this.droppedWarnings++;
    this.event(dir, frame, time, 'Sequence jump', `segment ${distance >= 0 ? 'ahead of' : 'behind'} the stream by ${Math.abs(distance)} bytes, outside any receive window; ignored`);
  }

  /**
   * A segment overlapped bytes of an earlier one with different data (src/flow/reassembly.ts): the first
   * copy was kept. Warned once per direction with both frames; the warning counts the later ones.
   */
  onOverlapConflict(dir: Dir, originalFrame: number, frame: number, offset: number, time: number): void {
    const o = (this.conflicts ??= [null, null]);
    const c = o[dir];
    if (c !== null) {
      c.count++;
      return;
    }
    const w: Warning = {
      frame,
      offset,
      message: `${SIDE[dir]}'s segment in frame ${frame} overlaps bytes already received in frame ${originalFrame} with different data (from stream offset ${offset}); the first copy is kept, as Wireshark does`,
    };
    o[dir] = { warning: w, count: 1 };
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(w);
    else this.droppedWarnings++;
    this.event(dir, frame, time, 'Overlapping data conflict', `overlaps frame ${originalFrame} with different bytes; the first copy is kept`);
  }

  onEnd(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): void {
    if (this.finished) return;
    this.finished = true;
    this.opts.onRecord(this.record(facts, reason, captureEnd), this);
  }

  // ---- decoding

  /**
   * A direction's stream, positioned on first use past the bytes the flow table skipped before the
   * first reassembled one (FlowFacts.skippedPrefix), so that positions are TCP stream offsets.
   */
  private stream(dir: Dir): StreamBuf {
    const s = this.streams[dir];
    if (!this.positioned[dir]) {
      this.positioned[dir] = true;
      s.skip(this.facts.skippedPrefix[dir]);
    }
    return s;
  }

  private stillWanted(): boolean {
    if (this.stopped[0] && this.stopped[1]) this.wanted = false;
    // While TLS is decrypted the session's end (Set Error Info, Disconnect Provider Ultimatum) is
    // readable, and so it is in a clear dump: bytes are kept coming, within the per-connection budget.
    else if (this.activeUnits >= ACTIVE_UNITS_BEFORE_STOP && !this.clearDump && !this.slow.wantsMore() && !(this.tlsLazy?.decrypting ?? false)) this.wanted = false;
    return this.wanted;
  }

  /** Decodes every complete unit of one direction, deciding each unit's kind by its first bytes. */
  private pump(dir: Dir): void {
    const s = this.streams[dir];
    while (s.available > 0 && !this.stopped[dir]) {
      const buf = s.bytes;
      const off = s.off;
      const end = s.end;
      let used: number;
      if (!this.afterX224 && !this.x224.started(dir)) {
        if (this.syns.length === 0 && this.x224.requestFrame === null && this.joinsLate(dir, s)) continue;
        used = this.x224.first(dir, s);
      } else if (buf[off] === 0x03) {
        // TPKT (RFC 1006): X.224 (Disconnect Request, Data) and the MCS / Standard RDP Security PDUs inside.
        if (dir === 0 && !this.clearDump && this.x224.seenConfirm()) this.checkClearDump(s);
        used = this.x224.seenConfirm() || dir === 0 || this.afterX224 ? this.slow.tpkt(dir, s) : this.x224.first(dir, s);
      } else if (this.rec.security !== 'rdp' && !this.clearDump && this.tlsTrack.isRecordStart(buf, off, end)) {
        used = this.tlsTrack.record(dir, s);
      } else if ((buf[off]! & 0x03) === 0 && (this.rec.security === 'rdp' || this.clearDump || (this.afterX224 && this.rec.tls === null))) {
        used = this.slow.fastPath(dir, s);
      } else {
        used = -1;
        this.warn(s.frameOfStart(), s.position, `${SIDE[dir]} sent ${describeBytes(buf, off, end)}: not TPKT, TLS or fast-path; decoding of this direction stopped`);
      }
      if (used === 0) return; // incomplete: wait for more bytes
      if (used < 0) {
        this.noteDecodeStop(dir, s.frameOfStart(), 'bytes no decoder frames');
        this.stopDir(dir);
        return;
      }
      s.consume(used);
    }
  }

  // ---- decrypted TLS (design.md phases 4-6 read rather than inferred)

  plaintext(dir: Dir, data: Buffer, frame: number, time: number): void {
    if (data.length === 0) return;
    if (this.innerStopped[dir]) {
      this.afterInnerStop(dir, data.length, frame, time);
      return;
    }
    const s = (this.inner[dir] ??= this.wholeStreamBuf());
    if (!s.append(data, frame, time)) {
      this.innerStopped[dir] = true;
      this.noteDecodeStop(dir, frame, `the per-connection budget of ${s.budget} decrypted bytes was used up`);
      this.warn(frame, null, `${DIRS[dir]} decrypted stream: decoding stopped after the per-connection budget of ${s.budget} bytes`);
      return;
    }
    const was = this.plain;
    this.plain = true;
    this.pumpInner(dir, s);
    this.plain = was;
  }

  /**
   * Decoding of a decrypted direction stopped (bytes none of our decoders frame): the phases after it
   * are not read. So that a session that goes on is not called failed where decoding stopped, a run
   * of large server records (only the active phase's updates are that large and that many) infers
   * the active phase, as the shape of the records does without keys (tls-shape.ts).
   */
  private afterInnerStop(dir: Dir, length: number, frame: number, time: number): void {
    if (dir !== 1 || length < LARGE_PLAIN_RECORD || this.phase === 'active') return;
    if (++this.largeAfterStop < LARGE_RECORDS_FOR_ACTIVE) return;
    this.reach('active', frame, time, true, ACTIVE_AFTER_STOP_CONFIDENCE);
    const was = this.plain;
    this.plain = false;
    this.event(1, frame, time, 'Application Data', `${LARGE_RECORDS_FOR_ACTIVE} large server records after decoding stopped: session data`, true);
    this.plain = was;
  }

  /**
   * Decodes the decrypted stream of one direction: TSRequests while CredSSP runs (MS-CSSP 2.2.1),
   * the Early User Authorization Result (MS-RDPBCGR 2.2.10.2), then TPKT (slow-path: MCS, share
   * data) and fast-path PDUs (MS-RDPBCGR 2.2.8.1.2, 2.2.9.1.2), each by its first bytes.
   */
  private pumpInner(dir: Dir, s: StreamBuf): void {
    while (s.available > 0 && !this.innerStopped[dir]) {
      const buf = s.bytes;
      const off = s.off;
      const end = s.end;
      const hybridEx = ((this.rec.negotiation?.selectedProtocol ?? 0) & PROTOCOL_HYBRID_EX) !== 0;
      let used: number;
      if (this.rec.security === 'credssp' && !this.credsspTrack.done && looksLikeTsRequest(buf, off, end)) {
        used = this.credsspTrack.tsRequest(dir, s);
      } else if (this.credsspLazy !== null && this.credsspLazy.wantsEarlyResult(dir, hybridEx) && buf[off] !== 0x03) {
        used = this.credsspLazy.earlyResult(dir, s);
      } else if (buf[off] === 0x03) {
        used = this.slow.tpkt(dir, s);
      } else if ((buf[off]! & 0x03) === 0) {
        used = this.slow.fastPath(dir, s);
      } else if (this.rec.security === 'credssp' && end - off < 7 && buf[off] === 0x30) {
        used = 0; // a TSRequest's first bytes: wait for the rest
      } else {
        used = -1;
        this.warn(s.frameOfStart(), null, `${SIDE[dir]}'s decrypted TLS data is ${describeBytes(buf, off, end)}: not CredSSP, TPKT or fast-path; decoding of it stopped`);
      }
      if (used === 0) return;
      if (used < 0) {
        this.innerStopped[dir] = true;
        this.noteDecodeStop(dir, s.frameOfStart(), 'decrypted bytes no decoder frames');
        s.clear();
        return;
      }
      s.consume(used);
    }
  }

  /**
   * A flow with no SYN and no Connection Request whose first bytes are a TLS record (a ClientHello,
   * or records of a session already running), an X.224 Data TPDU in TPKT (MCS, share PDUs) or
   * fast-path PDUs (MS-RDPBCGR 2.2.8.1.2, 2.2.9.1.2): the capture started after the X.224 exchange.
   * Decoding goes on from there, the X.224 facts stay unknown, and the connection stays
   * incomplete_capture (started late). False when the bytes are none of these (or too few to tell).
   */
  private joinsLate(dir: Dir, s: StreamBuf): boolean {
    const buf = s.bytes;
    const off = s.off;
    const end = s.end;
    if (end - off < 5) return false;
    let what: string;
    if (looksLikeTlsRecord(buf, off, end)) {
      what = buf[off] === 22 && buf[off + 5] === 1 ? 'a TLS ClientHello' : buf[off] === 22 && buf[off + 5] === 2 ? 'a TLS ServerHello' : 'TLS records';
      if (buf[off] === 23) this.tlsTrack.joinEstablished();
    } else if (isX224Data(buf, off, end)) {
      what = 'TPKT PDUs (X.224 Data)';
    } else if (isFastPathRun(buf, off, end)) {
      what = 'fast-path PDUs';
    } else return false;
    this.afterX224 = true;
    this.startedLate = true;
    const frame = s.frameOfStart();
    this.warn(
      frame,
      s.position,
      `the capture starts after the X.224 exchange: the ${SIDE[dir]}'s first bytes (frame ${frame}) are ${what}, decoded from there; the Connection Request and Confirm (cookie, requested and selected protocols) are not in the capture, so they are unknown`,
    );
    this.event(-1, frame, s.timeOfEnd(1), 'Capture starts after the X.224 exchange', `first ${SIDE[dir]} bytes: ${what}; X.224 facts unknown`);
    return true;
  }

  /**
   * The client's first PDU after a Connection Confirm that selected a TLS-based protocol is a TPKT
   * rather than a ClientHello: the stream was saved in the clear (a decrypted export or a tool's
   * plaintext dump). Said once; TPKT and fast-path PDUs are then decoded as such.
   */
  private checkClearDump(s: StreamBuf): void {
    const sec = this.rec.security;
    if (sec === null || sec === 'rdp' || this.rec.tls !== null || !isX224Data(s.bytes, s.off, s.end)) return;
    this.clearDump = true;
    const frame = s.frameOfStart();
    const name = this.rec.negotiation?.selectedProtocolName ?? sec;
    this.warn(
      frame,
      s.position,
      `the RDP stream after the Connection Confirm is in the clear although ${name} was selected (the client's frame ${frame} is a TPKT PDU, not a TLS ClientHello): a decrypted export or a tool's plaintext dump; its PDUs are decoded as such`,
    );
    this.event(0, frame, s.timeOfEnd(1), 'Clear RDP stream', `${name} was selected but the bytes after the Confirm are not TLS (decrypted or plaintext dump)`);
  }

  /** Set once TLS is decrypted (StreamConsumer.wholeStream): the flow table then reassembles past its per-flow limit. */
  wholeStream = false;

  /** A decrypted direction's plaintext stream: read to its end, the budget bounding what is pending. */
  private wholeStreamBuf(): StreamBuf {
    const s = new StreamBuf(this.budget);
    s.pendingBudget = true;
    return s;
  }

  /** The session is decrypted: both outer streams are read to the end, and so are the flow's bytes. */
  private readWhole(): void {
    this.wholeStream = true;
    for (const x of this.streams) x.pendingBudget = true;
  }

  /** The first reason decoding of a direction stopped (only one per direction is kept). */
  private noteDecodeStop(dir: Dir, frame: number | null, reason: string): void {
    const d = (this.decodeStops ??= [null, null]);
    d[dir] ??= { by: SIDE[dir], frame, reason };
  }

  stopDir(dir: Dir): void {
    this.stopped[dir] = true;
    this.streams[dir].clear();
  }

  /**
   * The first payload of a direction is not the X.224 PDU it should be: that direction is not
   * decoded further. `offset`: where in the direction's TCP stream the check failed.
   */
  notRdp(dir: Dir, frame: number, offset: number, detail: string): void {
    if (this.syns.length === 0 && this.x224.requestFrame === null) this.startedLate = true;
    this.warn(frame, offset, detail);
    this.stopDir(dir);
  }

  // ---- the record

  /**
   * The flow ended and only how it ended is wanted (a connection counted, not recorded: beyond the
   * records a run keeps). Decided as record() decides it, without building the record (its strings,
   * warnings and sorted timeline: an attempt storm's thousands of counted connections).
   */
  outcomeAtEnd(facts: FlowFacts, _reason: FlowEndReason, captureEnd: number): Outcome {
    this.finished = true;
    // What record() does before decideEnding that the ending reads: whether the capture began late,
    // and the TLS track's end (its inferred steps flushed: phases reached; a TLS 1.3 close whose last
    // record has an alert's size: the protocol's end). The rest of record() before it only warns.
    this.noteStartedLate();
    this.tlsLazy?.end(this.closes[0]?.dir ?? null);
    return decideEnding(this.endInput(facts, captureEnd)).outcome;
  }

  /** No SYN and no X.224 Connection Request: the capture began after the start. */
  private noteStartedLate(): void {
    const x224 = this.x224Lazy;
    if (this.syns.length === 0 && (x224 === null || x224.requestFrame === null)) this.startedLate = true;
  }

  /** What decideEnding() judges the connection by, at its end. */
  private endInput(facts: FlowFacts, captureEnd: number): EndInput {
    const tcp = facts.tcp;
    const lostBeforeEnd =
      tcp !== null && (tcp.lostSegments.some((l) => !l.acked) || tcp.keepAlives[0] + tcp.keepAlives[1] > 0);
    const logonMode = !!this.rec.negotiation?.logonMode;
    const redirection = this.rec.mcs?.redirection;
    // Every key written, the optional ones undefined when absent (decideEnding reads them so): spreads
    // of conditional literals made V8 build the object by copying properties, per connection.
    return {
      reached: this.phase,
      startedLate: this.startedLate,
      syns: this.syns,
      synAck: this.synAck,
      closes: this.closes,
      icmp: this.icmp,
      protocolEnd: this.protocolEnd,
      lastData: this.lastData,
      lastDataAtClose: this.lastDataAtClose,
      captureEnd,
      lostBeforeEnd,
      missing: tcp !== null && tcp.missingRanges.length > 0 ? [lastMissing(tcp.missingRanges, 0), lastMissing(tcp.missingRanges, 1)] : undefined,
      dataAcks: tcp !== null ? tcp.dataAcks : [null, null],
      gaps: this.gaps !== null ? this.gaps : undefined,
      logonMode: logonMode ? true : undefined,
      activeAt: logonMode ? (this.phaseList.find((p) => p.phase === 'active') ?? null) : undefined,
      graphicsAt: logonMode ? this.firstGraphics : undefined,
      redirected: redirection !== undefined && !redirection.noRedirect ? true : undefined,
    };
  }

  /**
   * A decrypted connection whose data was not all read (the reassembly's per-direction limit cut it,
   * or decoding stopped): its decryption says where, so that nothing is concluded from a fact's
   * absence after that point (e.g. no Save Session Info: no logon).
   */
  private noteDecryptionStops(facts: FlowFacts): void {
    const d = this.rec.tls?.decryption;
    if (d === undefined || d.status === 'no_key' || d.status === 'unsupported') return;
    for (const dir of DIR_INDEXES) {
      if (facts.cutBytes[dir] > 0) this.noteDecodeStop(dir, null, `${facts.cutBytes[dir]} bytes past the reassembly limit were not read`);
    }
    const stops = this.decodeStops;
    if (stops === null) return;
    const list = stops.filter((x): x is DecodeStop => x !== null);
    if (list.length > 0) d.decodeStopped = list;
  }

  private record(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): ConnectionRecord {
    // Trackers and streams a connection never used (a half-open flow's) are not built here either.
    const x224 = this.x224Lazy;
    this.noteStartedLate();
    const streams = this.streamPair;
    if (streams !== null) {
      for (const dir of DIR_INDEXES) {
        const s = streams[dir];
        if (!this.afterX224 && (x224 === null || !x224.started(dir)) && !this.stopped[dir] && s.available > 0) {
          this.warn(s.frameOfStart(), s.position, this.x224.notX224(dir, s.bytes, s.off, s.end));
        }
      }
    }
    for (const o of this.outOfWindow) {
      if (o !== null && o.segments > 1) o.warning.message += ` (${o.segments} such segments in all, ${o.bytes} bytes)`;
    }
    if (this.conflicts !== null) {
      for (const c of this.conflicts) if (c !== null && c.count > 1) c.warning.message += ` (${c.count} such overlaps in all)`;
    }
    // The flow table followed the connection from the client's X.224 Connection Request on (a
    // connection on another port, adopted when the request showed it was RDP): what came before it
    // is not in the report.
    const skipped = facts.skippedPrefix;
    if (skipped[0] > 0) {
      this.warn(
        this.x224.requestFrame,
        null,
        `the connection was followed from the client's X.224 Connection Request on: the ${skipped[0]} bytes the client${skipped[1] > 0 ? ` and the ${skipped[1]} bytes the server` : ''} sent before it (a proxy exchange such as SOCKS or HTTP CONNECT) were not kept, so ${endpointText(facts.server)} is the proxy's address and the RDP host is behind it; the packet counts start at that request`,
      );
    }
    if (reason === 'evicted') this.warn(null, null, 'the flow table evicted this flow before it ended (too many flows)');
    if (this.droppedEvents > 0) this.warn(null, null, `${this.droppedEvents} timeline events were omitted (the first ${TIMELINE_HEAD} and the last ${TIMELINE_TAIL} are kept)`);
    if (this.droppedWarnings > 0) this.warnings.push({ frame: null, offset: null, message: `${this.droppedWarnings} more warnings were not kept` });
    this.tlsLazy?.end(this.closes[0]?.dir ?? null);
    this.noteDecryptionStops(facts);
    const ending = decideEnding(this.endInput(facts, captureEnd));
    const died = ending.died;
    const ce = this.tlsLazy?.shape.credsspError ?? null;
    if (died && died.phase === 'credssp' && ce && (died.frame === null || ce.frame <= died.frame)) {
      // MS-CSSP 3.1.5: from version 3 the server reports a failed authentication in the TSRequest's
      // errorCode and the client then closes; who closed matters less than that reply.
      died.detail = `the server rejected the authentication: its TSRequest in frame ${ce.frame} (${ce.length}-byte record) has the size of an errorCode reply (MS-CSSP 2.2.1), and the ${died.by} then ended the connection (${died.detail})`;
    }
    // Inferred steps are recorded when recognised, at the frame that started them: restore frame order.
    this.assembleTimeline();
    sortByFrame(this.timeline);
    if (ending.outcome === 'incomplete_capture' && ending.incompleteReason === 'ended_early') {
      this.event(-1, facts.lastFrame, captureEnd, 'Capture ends', `the capture stops during phase ${this.phase}`);
    }
    return {
      id: this.opts.id,
      transport: 'tcp',
      file: this.opts.file,
      fileIndex: this.opts.fileIndex,
      client: endpointText(facts.client),
      server: endpointText(facts.server),
      start: facts.start,
      end: facts.end,
      outcome: ending.outcome,
      incompleteReason: ending.incompleteReason,
      reached: this.phase,
      phases: this.phaseList,
      died: ending.died,
      security: this.rec.security,
      negotiation: this.rec.negotiation,
      tls: this.rec.tls,
      credssp: this.rec.credssp,
      mcs: this.rec.mcs,
      licensing: this.rec.licensing,
      errorInfo: this.rec.errorInfo,
      sideChannels: this.sideChannels,
      timeline: this.timeline,
      flow: facts,
      warnings: this.warnings,
    };
  }
}

interface OutOfWindow {
  warning: Warning;
  segments: number;
  bytes: number;
}

/**
 * Fast-path PDUs at `off` (MS-RDPBCGR 2.2.8.1.2, 2.2.9.1.2): a header whose length ends exactly at
 * `end` or at another fast-path or TPKT header, so that stray bytes with two zero low bits are not
 * taken for one. Used only where nothing else identified the stream.
 */
function isFastPathRun(buf: Uint8Array, off: number, end: number): boolean {
  const h = readFastPathHeader(buf, off, end);
  if (!h.ok) return false;
  const next = h.value.end;
  if (next === end) return true;
  return buf[next] === 0x03 || readFastPathHeader(buf, next, end).ok;
}

/**
 * A TPKT header (RFC 1006) with a valid length and an X.224 Data TPDU (X.224 13.7: LI 2, code 0xf0,
 * EOT): the framing of every MCS PDU (MS-RDPBCGR 2.2.1.3 onwards). Needs the 7 header bytes.
 */
function isX224Data(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 7) return false;
  const t = readTpkt(buf, off, end);
  return (t.ok || t.kind === 'incomplete') && buf[off + 4] === 2 && buf[off + 5] === 0xf0 && buf[off + 6] === 0x80;
}

/** "16 bytes starting 16 03 01 ..." for warnings. */
export function describeBytes(buf: Uint8Array, off: number, end: number): string {
  const n = Math.min(end - off, 8);
  const hex: string[] = [];
  for (let i = 0; i < n; i++) hex.push(buf[off + i]!.toString(16).padStart(2, '0'));
  return `${end - off} bytes starting ${hex.join(' ')}${end - off > n ? ' ...' : ''}`;
}

/** The last hole of direction `dir` that no segment filled, as decideEnding reads it. */
function lastMissing(ranges: MissingRangeRef[], dir: Dir): MissingRef | null {
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i]!;
    if (r.dir === dir) return { frame: r.frame, time: r.time, bytes: r.bytes };
  }
  return null;
}

/**
 * Stable in-place sort of timeline events by frame, what `sort((a, b) => a.frame - b.frame)` gives:
 * an insertion sort (at most MAX_TIMELINE events, nearly always in order already), without the
 * comparator closure and the work copy V8's sort makes per connection (issue 16, attempt storms).
 */
export function sortByFrame(events: TimelineEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    const e = events[i]!;
    let j = i - 1;
    if (events[j]!.frame <= e.frame) continue;
    while (j >= 0 && events[j]!.frame > e.frame) {
      events[j + 1] = events[j]!;
      j--;
    }
    events[j + 1] = e;
  }
}
