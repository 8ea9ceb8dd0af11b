// The flow table: decides per packet whether it matters (design.md "Fast path"),
// tracks the flows that do, and hands their facts and in-order bytes to a
// consumer created per flow. Packets that do not matter are dropped after their
// headers are read, without allocating anything.
import {
  DecodedPacket,
  IpProto,
  TcpFlag,
  checkIpChecksum,
  checkTransportChecksum,
  decodeDns,
  decodeKrbErrorMessage,
  krbErrorName,
  looksLikeKrbError,
  KERBEROS_PORT,
  decodeQuoted,
  ipText,
  srcText,
  dstText,
} from '../net/index.js';
import { DnsLog } from './dns.js';
import { KerberosTcpJoiner } from './kerberos-tcp.js';
import { MAX_DUPLICATE_FRAMES, MAX_ICMP, newFlowFacts } from './facts.js';
import { FLOW_CLOSED, FLOW_IGNORED, FLOW_OPEN, Flow, type ReassemblyConfig } from './flow.js';
import { endpointHash, tupleHash } from './hash.js';
import type { HeldBudget } from './reassembly.js';
import { seqDiff, seqAdd } from './seq.js';
import { SynLog } from './synlog.js';
import { HalfOpenTable, SLOT_BYTES, type HalfOpenSink } from './halfopen.js';
import { OtherPortLog } from './other-ports.js';
import { TcpTracker } from './tcp.js';
import type { Dir, DnsTransaction, FlowEndReason, FlowFacts, IcmpRef, KerberosErrorRef, StreamConsumer, TcpEvent } from './types.js';
import { isX224ConnectionRequest } from './x224.js';

/**
 * The half-open connections' memory budget (issue 19: a SYN flood of a million flows under the
 * tool's 150 MB). A connection that has only sent its SYN (and maybe got its SYN/ACK) is a slot of
 * the half-open table (halfopen.ts: SLOT_BYTES of typed arrays, allocated once); the cap is the
 * budget over that size, and a flood's oldest half-open connections are evicted and counted.
 */
export const HALF_OPEN_BUDGET_BYTES = 12 * 1024 * 1024;
export const MAX_HALF_OPEN = Math.floor(HALF_OPEN_BUDGET_BYTES / SLOT_BYTES);
/**
 * Half-open connections that left the table as full flows without completing their handshake (an
 * ICMP error, a capture copy, a fifth segment): such a flow held ~2.2 KB of heap (docs/architecture.md
 * "Where the memory goes"), so at most 12 MiB of them.
 */
export const HALF_OPEN_FLOW_BYTES = 2200;
export const MAX_HALF_OPEN_FLOWS = Math.floor(HALF_OPEN_BUDGET_BYTES / HALF_OPEN_FLOW_BYTES);

/** FlowTable.rdpPort bits. */
const RDP_PORT = 1;
const GATEWAY_TCP = 2;
const GATEWAY_UDP = 4;

export interface FlowTableOptions {
  /** TCP and UDP ports that make a flow matter (default [3389]; --port adds). */
  rdpPorts: number[];
  /**
   * Ports of an RD Gateway (MS-TSGU 2.1: HTTPS on TCP 443, the UDP transport on 3391): flows on them
   * are tracked too (default none), numbered apart from the RDP flows (FlowTableStats.gatewayFlows)
   * so that the RDP flows' ids do not depend on them. A port that is also an RDP port is an RDP port.
   */
  gatewayPorts?: { tcp: number[]; udp: number[] };
  /** Tracked flows at once (default 200_000); over it the oldest half-open flows are evicted first. */
  maxFlows?: number;
  /**
   * Half-open flows (SYN seen, handshake not complete) at once (default MAX_HALF_OPEN, from a memory
   * budget): a new one over it evicts the oldest half-open flow, counted in halfOpenEvicted
   * (design.md: a SYN flood stays under a fixed cap, evictions counted, never silent). Its consumer
   * still ends it ('evicted').
   */
  maxHalfOpen?: number;
  /**
   * Of those, half-open connections held as full flows (default MAX_HALF_OPEN_FLOWS, at most
   * maxHalfOpen): the ones that left the half-open table's slots before completing their handshake.
   */
  maxHalfOpenFlows?: number;
  /**
   * Where a connection that ends in the half-open table goes when the next stage only counts it
   * (halfopen.ts). Without it every such connection is built as a flow (onNewFlow) when it ends.
   */
  halfOpenSink?: HalfOpenSink;
  /**
   * Whether a SYN starts its connection in a slot of the half-open table (default true). false:
   * every connection is a flow from its first packet (the slower, larger way, kept for tests that
   * compare the two: they give the same events, facts and records).
   */
  halfOpenSlots?: boolean;
  /** Reassembly bound per direction (default 256 KiB): bytes beyond it are counted in cutBytes. */
  perFlowBytes?: number;
  /** Bound of all held out-of-order bytes together (default 64 MiB). */
  totalBytes?: number;
  /** Out-of-order segments held per direction (default 64); over it the hole is given up as a gap. */
  maxHeldSegments?: number;
  /** DNS transactions kept (default 10_000). */
  maxDns?: number;
}

export interface FlowTableStats {
  packets: number;
  tcpPackets: number;
  udpPackets: number;
  ipFragments: number;
  nonIp: number;
  /** Flows created (RDP flows and flows the next stage declined alike). */
  flowsTracked: number;
  /** Flows on a gateway port (FlowTableOptions.gatewayPorts), not in flowsTracked. */
  gatewayFlows: number;
  /** Flows evicted to stay under maxFlows or maxHalfOpen (half-open ones included). */
  flowsEvicted: number;
  /** Of those, flows evicted while their handshake was not complete (maxHalfOpen, or first under maxFlows). */
  halfOpenEvicted: number;
  cutBytes: number;
  /** TCP segments (and their bytes) outside any receive window, not taken as stream data (reassembly.ts). */
  outOfWindowSegments: number;
  outOfWindowBytes: number;
  badChecksums: number;
  /**
   * Packets of tracked flows whose checksums were not verified: those after the next stage stopped
   * wanting the flow's bytes (its handshake decided: the count-only path, docs/architecture.md).
   * A bad checksum there could change no verdict; the report says they were not verified.
   */
  checksumsNotVerified: number;
  unmatchedIcmp: number;
  /** Frames of tracked flows that were exact copies of an earlier frame (duplicates.ts), dropped. */
  captureDuplicates: number;
}

/** Closed flows remembered (so late ACKs / RSTs of a closed flow start no new flow). */
const TOMBSTONES = 4096;
const DNS_PORT = 53;
/** KRB-ERRORs kept per run (the most recent). */
const MAX_KERBEROS_ERRORS = 1000;
/** Flows and trackers kept for reuse, at most. */
const POOL = 1024;
/** Cells of the TCP flow cache (FlowTable.tcpCache), a power of two. */
const TCP_CACHE = 1024;

export class FlowTable {
  readonly dns: DnsTransaction[];
  /** KRB-ERRORs sent by KDCs (port 88), the most recent MAX_KERBEROS_ERRORS. */
  readonly kerberosErrors: KerberosErrorRef[] = [];
  /** KDC replies over TCP joined into records (RFC 4120 7.2.2): used by port-88 segments only. */
  private readonly kerberosTcp = new KerberosTcpJoiner();
  readonly stats: FlowTableStats = {
    packets: 0,
    tcpPackets: 0,
    udpPackets: 0,
    ipFragments: 0,
    nonIp: 0,
    flowsTracked: 0,
    gatewayFlows: 0,
    flowsEvicted: 0,
    halfOpenEvicted: 0,
    cutBytes: 0,
    outOfWindowSegments: 0,
    outOfWindowBytes: 0,
    badChecksums: 0,
    checksumsNotVerified: 0,
    unmatchedIcmp: 0,
    captureDuplicates: 0,
  };

  /** Per port: RDP_PORT (an RDP port, TCP and UDP), GATEWAY_TCP (a gateway's TCP port), GATEWAY_UDP (its UDP port); 0: none. */
  private readonly rdpPort = new Uint8Array(65536);
  private readonly maxFlows: number;
  private readonly maxHalfOpen: number;
  private readonly maxHalfOpenFlows: number;
  /** Half-open flows held as Flow objects (in the hoHead list); the others are slots. */
  private halfOpen = 0;
  /** Connections that have sent only a SYN (and got at most a SYN/ACK or a reset): typed-array slots. */
  private readonly slots: HalfOpenTable;
  private readonly halfOpenSink: HalfOpenSink | null;
  private readonly useSlots: boolean;
  /** Direction found by the last slot lookup. */
  private readonly slotDir = new Int32Array(1);
  /** The packet a slot's segments are replayed with when it becomes a flow (its buf: addresses, checksum). */
  private readonly replayPkt = new DecodedPacket();
  private readonly replayBuf = Buffer.alloc(64);
  /** A replayed segment's checksum verdict (countPacket reads it instead of checking the packet). */
  private replaying = false;
  private replayBad = false;
  private readonly perFlowBytes: number;
  private readonly budget: HeldBudget;
  /** What every TCP flow's reassemblers are made with (created on first need, flow.ts). */
  private readonly reasmConfig: ReassemblyConfig;
  private readonly dnsLog: DnsLog;
  private readonly synLog = new SynLog();
  /** SYNs and resets of TCP connections to other ports (other-ports.ts). */
  readonly otherPorts = new OtherPortLog();
  private readonly inner = new DecodedPacket();
  private readonly buckets = new Map<number, Flow>();
  /**
   * Per port: flows in `buckets` (tombstones included) with that port at either end. A packet can
   * belong to a tracked flow only if both its ports count here (the fast path of tcpPacket).
   */
  private readonly portRefs = new Uint32Array(65536);
  /**
   * The TCP flows last matched, by their ports (TCP_CACHE cells, `(srcPort ^ dstPort) & (TCP_CACHE - 1)`,
   * the same for both directions): a packet of a flow found here and confirmed by its addresses
   * (Flow.dirOf) skips the endpoint hashes and the bucket probe (issue 16: nearly every packet of an
   * RDP server's capture is one of a few dozen open flows). A flow leaves its cell when it leaves its
   * bucket (unlinkBucket), and a cell's flow is used only while open: a flow in the cache is always
   * the one the bucket probe would find (a table holds one flow per connection's addresses and ports,
   * tombstones included; test/flow/flow-cache.property.test.ts).
   */
  private readonly tcpCache: (Flow | null)[] = new Array<Flow | null>(TCP_CACHE).fill(null);
  private open = 0;
  private nextId = 1;
  private nextGatewayId = 1;
  private lruHead: Flow | null = null;
  private lruTail: Flow | null = null;
  private hoHead: Flow | null = null;
  private hoTail: Flow | null = null;
  private readonly tombs: (Flow | null)[] = new Array<Flow | null>(TOMBSTONES).fill(null);
  private tombPos = 0;
  /** addrText's cache: IPv4 addresses (as int32) and their texts. */
  private readonly v4Words = new Int32Array(256);
  private readonly v4Texts: (string | undefined)[] = new Array<string | undefined>(256).fill(undefined);
  /** Trackers of ended flows, handed to new flows (TcpTracker.reset). */
  private readonly trackers: TcpTracker[] = [];
  /**
   * Flows no list, bucket or tombstone slot refers to any more, handed to new flows (Flow.init):
   * flows ended without a tombstone, and tombstones whose slot is taken (a flow is a tombstone
   * once at most before it is let go, so no other slot holds it).
   */
  private readonly flowPool: Flow[] = [];
  /** Direction found by the last lookup (avoids returning a pair). */
  private matchDir: Dir = 0;
  /** Endpoint hashes of the packet being handled. */
  private srcHash = 0;
  private dstHash = 0;

  constructor(
    opts: FlowTableOptions,
    private readonly onNewFlow: (facts: FlowFacts) => StreamConsumer | null,
  ) {
    const ports = opts.rdpPorts.length > 0 ? opts.rdpPorts : [3389];
    for (const p of ports) if (Number.isInteger(p) && p >= 0 && p < 65536) this.rdpPort[p] = RDP_PORT;
    const gw = opts.gatewayPorts;
    if (gw !== undefined) {
      for (const p of gw.tcp) if (Number.isInteger(p) && p >= 0 && p < 65536 && this.rdpPort[p] !== RDP_PORT) this.rdpPort[p] |= GATEWAY_TCP;
      for (const p of gw.udp) if (Number.isInteger(p) && p >= 0 && p < 65536 && this.rdpPort[p] !== RDP_PORT) this.rdpPort[p] |= GATEWAY_UDP;
    }
    this.maxFlows = Math.max(1, opts.maxFlows ?? 200_000);
    this.maxHalfOpen = Math.max(1, opts.maxHalfOpen ?? MAX_HALF_OPEN);
    this.maxHalfOpenFlows = Math.max(1, Math.min(this.maxHalfOpen, opts.maxHalfOpenFlows ?? MAX_HALF_OPEN_FLOWS));
    this.slots = new HalfOpenTable(this.maxHalfOpen);
    this.halfOpenSink = opts.halfOpenSink ?? null;
    this.useSlots = opts.halfOpenSlots ?? true;
    this.perFlowBytes = Math.max(0, opts.perFlowBytes ?? 256 * 1024);
    this.budget = { held: 0, limit: Math.max(0, opts.totalBytes ?? 64 * 1024 * 1024) };
    this.reasmConfig = { limit: this.perFlowBytes, maxHeld: Math.max(1, opts.maxHeldSegments ?? 64), budget: this.budget };
    this.dnsLog = new DnsLog(Math.max(0, opts.maxDns ?? 10_000));
    this.dns = this.dnsLog.transactions;
  }

  /** Flows open now, half-open slots included (tombstones of closed flows not included). */
  get openFlows(): number {
    return this.open + this.slots.count;
  }

  /** Half-open connections tracked now, slots and flows (at most maxHalfOpen). */
  get halfOpenFlows(): number {
    return this.halfOpen + this.slots.count;
  }

  /** Half-open connections held in slots now (no object each). */
  get halfOpenSlots(): number {
    return this.slots.count;
  }

  /** Flow ids given so far (FlowFacts.id runs 1..flowIds; a slot's id is given with its SYN). */
  get flowIds(): number {
    return this.nextId - 1;
  }

  /** Out-of-order bytes held by all flows now. */
  get heldBytes(): number {
    return this.budget.held;
  }

  /** DNS responses that matched no query kept. */
  get unmatchedDnsResponses(): number {
    return this.dnsLog.unmatchedResponses;
  }

  /** One decoded packet (pkt filled by decodePacket for the frame). */
  handle(pkt: DecodedPacket, frame: number, time: number, fileIndex: number): void {
    this.stats.packets++;
    const v = pkt.ipVersion;
    if (v !== 4 && v !== 6) {
      this.stats.nonIp++;
      return;
    }
    if (pkt.isFragment) {
      // Fragments are not reassembled (RDP over TCP is not fragmented in practice).
      this.stats.ipFragments++;
      return;
    }
    const proto = pkt.ipProto;
    if (proto === IpProto.TCP) {
      this.stats.tcpPackets++;
      if (pkt.tcpHdrLen >= 20) this.tcpPacket(pkt, frame, time, fileIndex);
    } else if (proto === IpProto.UDP) {
      this.stats.udpPackets++;
      if (pkt.l4Off >= 0 && pkt.payloadOff - pkt.l4Off === 8) this.udpPacket(pkt, frame, time, fileIndex);
    } else if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
      if (pkt.quotedOff >= 0) this.icmpError(pkt, frame, time, fileIndex);
    }
  }

  /** End of a file (fileIndex given: its flows only) or of the run: open flows end with 'capture_end'. */
  finish(captureEnd: number, fileIndex?: number): void {
    // Slots and flows end in the order of their last packet, as one list of flows would.
    const slots = this.slots;
    let ends: number[] = [];
    for (let s = slots.oldest; s >= 0; s = slots.newerThan(s)) if (fileIndex === undefined || slots.fileIndex(s) === fileIndex) ends.push(s);
    if (ends.length > 1) ends = ends.sort((a, b) => slots.lastFrame[a]! - slots.lastFrame[b]!);
    let i = 0;
    let f = this.lruHead;
    while (f) {
      const next = f.lruNext;
      const last = f.facts !== null ? f.facts.lastFrame : -1;
      while (i < ends.length && slots.lastFrame[ends[i]!]! < last) this.endSlot(ends[i++]!, 'capture_end', captureEnd);
      if (fileIndex === undefined || f.fileIndex === fileIndex) this.endFlow(f, 'capture_end', captureEnd);
      f = next;
    }
    while (i < ends.length) this.endSlot(ends[i++]!, 'capture_end', captureEnd);
    for (let i = 0; i < TOMBSTONES; i++) {
      const t = this.tombs[i];
      if (t && (fileIndex === undefined || t.fileIndex === fileIndex)) {
        this.unlinkBucket(t);
        this.tombs[i] = null;
      }
    }
    this.synLog.clear();
  }

  // ------------------------------------------------------------------ TCP

  private tcpPacket(pkt: DecodedPacket, frame: number, time: number, fileIndex: number): void {
    const flags = pkt.tcpFlags;
    const sp = pkt.srcPort;
    const dp = pkt.dstPort;
    // A KDC's answer (RFC 4120 7.2.2): a KRB-ERROR is kept for the diagnosis; port 88 carries no RDP.
    if (sp === KERBEROS_PORT && pkt.payloadLen > 0 && this.rdpPort[sp] === 0 && this.rdpPort[dp] === 0) {
      this.kerberosPacket(pkt, true, frame, time);
      return;
    }
    // A packet of an open flow found in the cache: what the bucket probe (tcpLookup) would find, and
    // then do with it (checkExisting lets an open flow of this file through unless a SYN reuses its ports).
    const cacheAt = (sp ^ dp) & (TCP_CACHE - 1);
    const cached = this.tcpCache[cacheAt]!;
    if (cached !== null && cached.state === FLOW_OPEN && cached.fileIndex === fileIndex) {
      const cd = cached.dirOf(pkt);
      if (cd >= 0 && ((flags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN || cached.tcp === null || !cached.tcp.isReuse(cd === 0 ? 0 : 1, pkt.seq))) {
        const d: Dir = cd === 0 ? 0 : 1;
        this.matchDir = d;
        this.openFlowPacket(cached, pkt, d, frame, time);
        return;
      }
    }
    this.tcpLookup(pkt, frame, time, fileIndex, cacheAt);
  }

  /** A TCP packet the cache did not match: the fast path, the bucket probe, the half-open slots, new flows. */
  private tcpLookup(pkt: DecodedPacket, frame: number, time: number, fileIndex: number, cacheAt: number): void {
    const flags = pkt.tcpFlags;
    const sp = pkt.srcPort;
    const dp = pkt.dstPort;
    // Fast path, the bulk of other connections: no tracked flow has both these ports, neither is an
    // RDP port, no SYN or RST, no handshake waits for an ACK from this port, and the payload is not
    // an X.224 Connection Request. The slow path below would do nothing with such a packet, so it is
    // dropped without hashing its addresses.
    if (
      (flags & (TcpFlag.SYN | TcpFlag.RST)) === 0 &&
      (this.portRefs[sp] === 0 || this.portRefs[dp] === 0) &&
      this.rdpPort[sp] === 0 &&
      this.rdpPort[dp] === 0 &&
      this.synLog.awaitingAck[sp] === 0 &&
      !(pkt.payloadLen >= 11 && isX224ConnectionRequest(pkt.buf, pkt.payloadOff, pkt.payloadLen))
    )
      return;
    const h = this.hashPacket(pkt);
    let f = this.lookup(h, pkt);
    if (f !== null) this.tcpCache[cacheAt] = f;
    const synOnly = (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    if (f === null && this.slots.count > 0) {
      const s = this.findSlot(h, pkt);
      if (s >= 0) {
        const d: Dir = this.slotDir[0] === 0 ? 0 : 1;
        if (this.slots.fileIndex(s) !== fileIndex) {
          // A connection of an earlier file (checkExisting): it ended there.
          this.endSlot(s, 'capture_end', this.slots.lastTime(s));
        } else if (this.keepsInSlot(s, pkt, d, time)) {
          this.pushSegment(s, pkt, d, frame, time);
          if ((flags & TcpFlag.RST) !== 0) this.endSlot(s, 'closed', time);
          return;
        } else {
          // The connection goes on (or does something a slot does not keep): a full flow from here.
          f = this.promote(s, time, true);
          this.matchDir = d;
        }
      }
    }
    if (f !== null) f = this.checkExisting(f, pkt, synOnly, fileIndex, time);
    if (f !== null) {
      if (f.state === FLOW_OPEN) this.openFlowPacket(f, pkt, this.matchDir, frame, time);
      else if (f.state === FLOW_IGNORED) this.touch(f);
      return;
    }
    const spKind = this.rdpPort[pkt.srcPort]! & (RDP_PORT | GATEWAY_TCP);
    const dpKind = this.rdpPort[pkt.dstPort]! & (RDP_PORT | GATEWAY_TCP);
    if (spKind !== 0 || dpKind !== 0) {
      let clientIsSrc: boolean;
      let clientBy: FlowFacts['clientBy'] = 'syn';
      if (synOnly) clientIsSrc = true;
      else if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) === (TcpFlag.SYN | TcpFlag.ACK)) clientIsSrc = false;
      else {
        clientBy = 'port';
        clientIsSrc = dpKind === RDP_PORT || (dpKind !== 0 && spKind !== RDP_PORT);
      }
      // (A gateway port's SYN is a flow at once: slots take their ids from the RDP flows' numbering.)
      if (synOnly && this.useSlots && ((spKind | dpKind) & RDP_PORT) !== 0 && pkt.payloadLen === 0 && pkt.payloadWireLen === 0 && (flags & (TcpFlag.RST | TcpFlag.FIN)) === 0) {
        // A SYN that starts a connection: a slot of the half-open table until the connection goes on.
        this.addSlot(pkt, h, frame, time, fileIndex);
        return;
      }
      if (clientBy === 'syn' && this.halfOpen >= this.maxHalfOpenFlows) this.evictHalfOpen(time);
      if (clientBy === 'syn' && this.halfOpen + this.slots.count >= this.maxHalfOpen) this.evictOldestHalfOpen(time);
      const nf = this.createFlow(pkt, h, clientIsSrc, clientBy, frame, time, fileIndex);
      if (nf.state === FLOW_OPEN) {
        nf.dups.isCopy(pkt, clientIsSrc ? 0 : 1, frame, time);
        if (clientBy === 'syn') this.linkHalfOpen(nf);
        else nf.tcp!.established = true;
        this.tcpFlowPacket(nf, pkt, clientIsSrc ? 0 : 1, frame, time);
      }
      return;
    }
    if (pkt.payloadLen >= 11 && isX224ConnectionRequest(pkt.buf, pkt.payloadOff, pkt.payloadLen)) {
      const nf = this.createFlow(pkt, h, true, 'x224', frame, time, fileIndex);
      if (nf.state === FLOW_OPEN) {
        nf.dups.isCopy(pkt, 0, frame, time);
        this.backfillHandshake(nf, pkt, h, fileIndex);
        nf.tcp!.established = true;
        this.tcpFlowPacket(nf, pkt, 0, frame, time);
      }
      return;
    }
    // Not a flow that matters: remember its handshake in case an X.224 request follows, and count
    // the attempts to this port (a failed one may be RDP on a port we were not told about).
    if ((flags & (TcpFlag.SYN | TcpFlag.RST)) !== 0) this.otherPorts.packet(pkt, frame, fileIndex);
    if ((flags & TcpFlag.RST) !== 0) return;
    if (synOnly) {
      this.synLog.syn(h, this.srcHash, pkt.srcPort, this.dstHash, pkt.dstPort, fileIndex, frame, time, pkt.seq, pkt.mss, pkt.ttl);
    } else if ((flags & TcpFlag.SYN) !== 0) {
      this.synLog.synAck(h, this.dstHash, pkt.dstPort, this.srcHash, pkt.srcPort, fileIndex, frame, time, pkt.seq, pkt.mss, pkt.ttl);
    } else if ((flags & TcpFlag.ACK) !== 0) {
      this.synLog.ack(h, this.srcHash, pkt.srcPort, this.dstHash, pkt.dstPort, fileIndex, frame, time, pkt.ack);
    }
  }

  /**
   * A packet matched flow f: tombstones let only a new SYN through, a SYN on a
   * finished connection (port reuse) ends it, and a flow of an earlier file ends.
   * Returns the flow to use, or null when the packet starts a new one.
   */
  private checkExisting(f: Flow, pkt: DecodedPacket, synOnly: boolean, fileIndex: number, time: number): Flow | null {
    if (f.fileIndex !== fileIndex) {
      if (f.state === FLOW_CLOSED) this.unlinkBucket(f);
      else this.endFlow(f, 'capture_end', f.lastTime, true);
      return null;
    }
    if (f.state === FLOW_CLOSED) {
      if (!synOnly) return f;
      this.unlinkBucket(f);
      return null;
    }
    if (synOnly && f.state === FLOW_OPEN && f.tcp !== null && f.tcp.isReuse(this.matchDir, pkt.seq)) {
      this.endFlow(f, 'closed', time, true);
      return null;
    }
    return f;
  }

  /** A packet of an open TCP flow (direction d): counted only, a capture copy, or tracked. */
  private openFlowPacket(f: Flow, pkt: DecodedPacket, d: Dir, frame: number, time: number): void {
    if (f.bareFins >= 0) this.barePacket(f, pkt, d, frame, time);
    else if (f.consumer !== null && f.dups.isCopy(pkt, d, frame, time)) this.captureDuplicate(f, frame);
    else this.tcpFlowPacket(f, pkt, d, frame, time);
  }

  /** A frame that repeats one of the flow's (duplicates.ts): counted, then dropped as `editcap -d` would. */
  private captureDuplicate(f: Flow, frame: number): void {
    this.stats.captureDuplicates++;
    const facts = f.facts!;
    facts.captureDuplicates++;
    if (facts.captureDuplicateFrames.length < MAX_DUPLICATE_FRAMES) facts.captureDuplicateFrames.push([frame, f.dups.originalFrame]);
    this.touch(f);
  }

  private tcpFlowPacket(f: Flow, pkt: DecodedPacket, d: Dir, frame: number, time: number): void {
    const t = f.tcp!;
    if (!f.wantsBytes && !this.replaying && t.counts(pkt.tcpFlags)) {
      this.countedPacket(f, t, pkt, d, frame, time);
      return;
    }
    this.countPacket(f, pkt, d, frame, time);
    const closed = t.onPacket(f, pkt, d, frame, time);
    this.syncCut(f);
    if (f.halfOpen && t.established) this.unlinkHalfOpen(f);
    if (closed) this.endFlow(f, 'closed', time);
  }

  /**
   * A packet of the count-only path (docs/architecture.md): the consumer wants no more bytes and the
   * packet carries no SYN, FIN or RST. countPacket and TcpTracker.onPacket folded into the steps that
   * such a packet takes (TcpTracker.countedSegment): the same counters, no checksum (counted as not
   * verified), nothing for the stopped reassemblers (so no cut bytes to carry over either).
   */
  private countedPacket(f: Flow, t: TcpTracker, p: DecodedPacket, d: Dir, frame: number, time: number): void {
    const facts = f.facts!;
    facts.packets[d]++;
    facts.payloadBytes[d] += p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    facts.lastFrame = frame;
    if (time > facts.end) facts.end = time;
    t.count(d, p.ttl, frame, time - f.lastTime);
    f.lastTime = time;
    this.stats.checksumsNotVerified++;
    this.touch(f);
    const closed = t.countedSegment(f, p, d, frame, time);
    if (f.halfOpen && t.established) this.unlinkHalfOpen(f);
    if (closed) this.endFlow(f, 'closed', time);
  }

  /**
   * A packet of a flow counted only (StreamConsumer.countsOnly): its counts, and its FIN / RST for the
   * consumer; the flow closes at a RST or once both sides sent a FIN. No checksum, no TCP analysis.
   */
  private barePacket(f: Flow, p: DecodedPacket, d: Dir, frame: number, time: number): void {
    const facts = f.facts!;
    facts.packets[d]++;
    facts.payloadBytes[d] += p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    facts.lastFrame = frame;
    if (time > facts.end) facts.end = time;
    f.lastTime = time;
    this.stats.checksumsNotVerified++;
    this.touch(f);
    const flags = p.tcpFlags;
    if ((flags & TcpFlag.RST) !== 0) {
      f.consumer!.onTcpEvent({ kind: 'rst', dir: d, frame, time, ttl: p.ttl });
      this.endFlow(f, 'closed', time);
    } else if ((flags & TcpFlag.FIN) !== 0) {
      const bit = d === 0 ? 1 : 2;
      if ((f.bareFins & bit) !== 0) return;
      f.bareFins |= bit;
      f.consumer!.onTcpEvent({ kind: 'fin', dir: d, frame, time, retransmission: false });
      if (f.bareFins === 3) this.endFlow(f, 'closed', time);
    }
  }

  /** The handshake of a flow recognised by its X.224 request, from the SYN log. */
  private backfillHandshake(f: Flow, pkt: DecodedPacket, h: number, fileIndex: number): void {
    const log = this.synLog;
    const i = log.find(h, this.srcHash, pkt.srcPort, this.dstHash, pkt.dstPort, fileIndex);
    const facts = f.facts!;
    const t = f.tcp!;
    const hasAck = (pkt.tcpFlags & TcpFlag.ACK) !== 0;
    if (i >= 0) {
      const events: TcpEvent[] = [];
      const syns = log.synsKept(i);
      const synAcks = log.synAcksKept(i);
      const firstSynAckTime = synAcks > 0 ? log.synAckTime[i * SynLog.SYNACKS]! : Infinity;
      let lastSynTime = -1;
      for (let k = 0; k < syns; k++) {
        const fr = log.synFrame[i * SynLog.SYNS + k]!;
        const tm = log.synTime[i * SynLog.SYNS + k]!;
        t.addSynFrame(fr, SynLog.SYNS);
        if (tm <= firstSynAckTime) lastSynTime = tm;
        events.push({ kind: 'syn', dir: 0, frame: fr, time: tm, retransmission: k > 0 });
      }
      for (let k = 0; k < synAcks; k++) {
        const fr = log.synAckFrame[i * SynLog.SYNACKS + k]!;
        const tm = log.synAckTime[i * SynLog.SYNACKS + k]!;
        t.addSynAckFrame(fr, SynLog.SYNACKS);
        events.push({ kind: 'syn_ack', dir: 1, frame: fr, time: tm, retransmission: k > 0 });
      }
      if (synAcks > 0 && lastSynTime >= 0) t.handshakeRtt = firstSynAckTime - lastSynTime;
      if (log.ackFrame[i]! >= 0) {
        t.ackFrame = log.ackFrame[i]!;
        events.push({ kind: 'ack', dir: 0, frame: t.ackFrame, time: log.ackTime[i]!, retransmission: false });
      }
      const mssC = log.mss[i * 2]!;
      const mssS = log.mss[i * 2 + 1]!;
      if (mssC >= 0) t.dirs[0].mss = mssC;
      if (mssS >= 0) t.dirs[1].mss = mssS;
      const ttlC = log.ttl[i * 2]!;
      const ttlS = log.ttl[i * 2 + 1]!;
      if (ttlC >= 0) t.dirs[0].addTtl(ttlC);
      if (ttlS >= 0) t.dirs[1].addTtl(ttlS);
      if (syns > 0) {
        facts.firstFrame = log.synFrame[i * SynLog.SYNS]!;
        facts.start = log.synTime[i * SynLog.SYNS]!;
      }
      const cIsn = log.cIsn[i]!;
      const sIsn = log.sIsn[i]!;
      t.setHandshake(cIsn, synAcks > 0 ? sIsn : -1, log.synAckCount[i]!, lastSynTime);
      const before = seqDiff(pkt.seq, seqAdd(cIsn, 1));
      if (before >= 0) facts.skippedPrefix[0] = before;
      if (synAcks > 0 && hasAck) {
        const sBefore = seqDiff(pkt.ack, seqAdd(sIsn, 1));
        if (sBefore >= 0) facts.skippedPrefix[1] = sBefore;
      }
      log.forget(i);
      events.sort((a, b) => a.frame - b.frame);
      const c = f.consumer;
      if (c) for (const ev of events) c.onTcpEvent(ev);
    }
    // The streams start at the request and at what it acknowledges of the server.
    f.startStream(0, pkt.seq);
    if (hasAck) f.startStream(1, pkt.ack);
  }

  // ------------------------------------------------------------------ Kerberos

  /**
   * A payload from a KDC (source port 88): kept when it is a whole KRB-ERROR, over UDP or as a TCP
   * record (RFC 4120 7.2.2), joined across segments when the KDC's reply spans several; the frame
   * is the one that completed it (where Wireshark shows the reassembled message).
   */
  private kerberosPacket(pkt: DecodedPacket, tcp: boolean, frame: number, time: number): void {
    let b: Uint8Array = pkt.buf;
    let off = pkt.payloadOff;
    let len = pkt.payloadLen;
    if (tcp) {
      const rec = this.kerberosTcp.segment(`${srcText(pkt)}:${pkt.srcPort}>${dstText(pkt)}:${pkt.dstPort}`, pkt.seq, b, off, len);
      if (rec === null) return;
      b = rec;
      off = 0;
      len = rec.length;
    } else if (!looksLikeKrbError(b, off, len, false)) return;
    const r = decodeKrbErrorMessage(b, off, len, tcp);
    if (!r.ok) return;
    const e = r.value;
    const list = this.kerberosErrors;
    if (list.length >= MAX_KERBEROS_ERRORS) list.shift();
    list.push({
      fileIndex: 0,
      frame,
      time,
      transport: tcp ? 'tcp' : 'udp',
      kdc: srcText(pkt),
      client: dstText(pkt),
      errorCode: e.errorCode,
      errorName: krbErrorName(e.errorCode),
      crealm: e.crealm,
      cname: e.cname ? e.cname.nameString.join('/') : null,
      realm: e.realm,
      sname: e.sname.nameString.join('/'),
      eText: e.eText,
    });
  }

  // ------------------------------------------------------------------ UDP

  private udpPacket(pkt: DecodedPacket, frame: number, time: number, fileIndex: number): void {
    const sp = pkt.srcPort;
    const dp = pkt.dstPort;
    const rdp = this.rdpPort[sp] === RDP_PORT || this.rdpPort[dp] === RDP_PORT;
    const watched = rdp || (this.rdpPort[sp]! & GATEWAY_UDP) !== 0 || (this.rdpPort[dp]! & GATEWAY_UDP) !== 0;
    if (sp === KERBEROS_PORT && !rdp) {
      this.kerberosPacket(pkt, false, frame, time);
      return;
    }
    if (sp === DNS_PORT || dp === DNS_PORT) {
      const m = decodeDns(pkt.buf, pkt.payloadOff, pkt.payloadLen);
      if (m) this.dnsLog.onMessage(m, srcText(pkt), dstText(pkt), frame, time);
      if (!rdp) return;
    }
    const h = this.hashPacket(pkt);
    let f = this.lookup(h, pkt);
    if (f !== null && f.fileIndex !== fileIndex) {
      this.endFlow(f, 'capture_end', f.lastTime, true);
      f = null;
    }
    let d = this.matchDir;
    if (f === null) {
      if (!watched) return;
      const clientIsSrc = rdp ? this.rdpPort[dp] === RDP_PORT : (this.rdpPort[dp]! & GATEWAY_UDP) !== 0;
      f = this.createFlow(pkt, h, clientIsSrc, 'port', frame, time, fileIndex);
      d = clientIsSrc ? 0 : 1;
    }
    if (f.state !== FLOW_OPEN) {
      this.touch(f);
      return;
    }
    this.countPacket(f, pkt, d, frame, time);
    const facts = f.facts!;
    const udp = facts.udp!;
    if (udp.firstFrames[d] === null) udp.firstFrames[d] = frame;
    const c = f.consumer;
    if (!c || !f.wantsBytes) return;
    // RDPEUDP (MS-RDPEUDP): whole datagrams, bounded per direction.
    const len = pkt.payloadLen;
    const delivered = (f.delivered ??= [0, 0]);
    if (delivered[d] + len > this.perFlowBytes) {
      facts.cutBytes[d] += len;
      this.stats.cutBytes += len;
      return;
    }
    delivered[d] += len;
    const data = Buffer.from(pkt.buf.subarray(pkt.payloadOff, pkt.payloadOff + len));
    if (!c.onData(d, data, frame, time)) {
      f.stopBytes();
      return;
    }
    const missing = pkt.payloadWireLen - len;
    if (missing > 0) {
      facts.gapBytes[d] += missing;
      c.onGap(d, missing, frame, time);
    }
  }

  // ------------------------------------------------------------------ ICMP

  /** An ICMP / ICMPv6 error (RFC 792, RFC 4443 2.4): tie it to the flow of the packet it quotes. */
  private icmpError(pkt: DecodedPacket, frame: number, time: number, fileIndex: number): void {
    const inner = this.inner;
    if (!decodeQuoted(pkt, inner) || inner.ipVersion !== 4 && inner.ipVersion !== 6) {
      this.stats.unmatchedIcmp++;
      return;
    }
    const h = this.hashPacket(inner);
    let f = this.lookup(h, inner);
    if (f === null && this.slots.count > 0) {
      // An ICMP error about a half-open connection: it becomes a full flow, which keeps the error.
      const s = this.findSlot(h, inner);
      if (s >= 0 && this.slots.fileIndex(s) === fileIndex) {
        const d: Dir = this.slotDir[0] === 0 ? 0 : 1;
        f = this.promote(s, time, true);
        this.matchDir = d;
      }
    }
    if (f === null || f.state !== FLOW_OPEN || f.fileIndex !== fileIndex) {
      this.stats.unmatchedIcmp++;
      return;
    }
    const facts = f.facts!;
    const ref: IcmpRef = {
      frame,
      time,
      ipVersion: pkt.ipVersion === 6 ? 6 : 4,
      from: srcText(pkt),
      type: pkt.icmpType,
      code: pkt.icmpCode,
      mtu: pkt.icmpMtu >= 0 ? pkt.icmpMtu : null,
      quotedDir: this.matchDir,
    };
    if (facts.icmp.length < MAX_ICMP) facts.icmp.push(ref);
    f.consumer?.onTcpEvent({ kind: 'icmp', frame, time, icmp: ref });
  }

  // ------------------------------------------------------------------ flows

  private hashPacket(p: DecodedPacket): number {
    const alen = p.ipVersion === 6 ? 16 : 4;
    this.srcHash = endpointHash(p.buf, p.srcOff, alen, p.srcPort);
    this.dstHash = endpointHash(p.buf, p.dstOff, alen, p.dstPort);
    return tupleHash(this.srcHash, this.dstHash, p.ipProto);
  }

  private lookup(h: number, p: DecodedPacket): Flow | null {
    let f: Flow | null = this.buckets.get(h) ?? null;
    while (f !== null) {
      const d = f.dirOf(p);
      if (d >= 0) {
        this.matchDir = d === 0 ? 0 : 1;
        return f;
      }
      f = f.bucketNext;
    }
    return null;
  }

  private createFlow(
    p: DecodedPacket,
    h: number,
    clientIsSrc: boolean,
    clientBy: FlowFacts['clientBy'],
    frame: number,
    time: number,
    fileIndex: number,
  ): Flow {
    const v = p.ipVersion === 6 ? 6 : 4;
    const cOff = clientIsSrc ? p.srcOff : p.dstOff;
    const sOff = clientIsSrc ? p.dstOff : p.srcOff;
    const cPort = clientIsSrc ? p.srcPort : p.dstPort;
    const sPort = clientIsSrc ? p.dstPort : p.srcPort;
    return this.newFlow(p.buf, v, p.ipProto, cOff, cPort, sOff, sPort, h, clientBy, frame, time, fileIndex, 0);
  }

  /** A new flow of these endpoints (addresses in buf); `id` 0: the next id, else the one a slot was given. */
  private newFlow(
    buf: Buffer,
    v: 4 | 6,
    proto: number,
    cOff: number,
    cPort: number,
    sOff: number,
    sPort: number,
    h: number,
    clientBy: FlowFacts['clientBy'],
    frame: number,
    time: number,
    fileIndex: number,
    id: number,
  ): Flow {
    // A slot becoming a flow (id given) leaves the slots first: the count of tracked flows stays.
    if (id === 0 && this.open + this.slots.count >= this.maxFlows) this.evictOne(time);
    let f = this.flowPool.pop();
    if (f === undefined) f = new Flow(h, proto, v, buf, cOff, cPort, sOff, sPort, fileIndex);
    else f.init(h, proto, v, buf, cOff, cPort, sOff, sPort, fileIndex);
    const tcp = proto === IpProto.TCP;
    // A gateway port's flow (neither end an RDP port) is numbered apart (FlowTableOptions.gatewayPorts).
    const gateway = id === 0 && clientBy !== 'x224' && ((this.rdpPort[cPort]! | this.rdpPort[sPort]!) & RDP_PORT) === 0;
    const facts = newFlowFacts(
      id > 0 ? id : gateway ? this.nextGatewayId++ : this.nextId++,
      tcp ? 'tcp' : 'udp',
      fileIndex,
      v,
      { ip: this.addrText(buf, cOff, v), port: cPort },
      { ip: this.addrText(buf, sOff, v), port: sPort },
      clientBy,
      frame,
      time,
      null, // TCP: filled in when the flow ends, from its TcpTracker
    );
    if (gateway) this.stats.gatewayFlows++;
    else if (id === 0) this.stats.flowsTracked++;
    f.bucketNext = this.buckets.get(h) ?? null;
    this.buckets.set(h, f);
    this.portRefs[f.cPort]!++;
    this.portRefs[f.sPort]!++;
    this.open++;
    this.linkLru(f);
    const consumer = this.onNewFlow(facts);
    if (consumer === null) {
      f.state = FLOW_IGNORED;
      return f;
    }
    f.facts = facts;
    f.consumer = consumer;
    if (tcp) {
      f.tcp = this.trackers.pop() ?? new TcpTracker();
      f.initReassembly(this.reasmConfig);
    }
    return f;
  }

  /**
   * An address's text for a new flow's facts. IPv4 texts are kept in a small cache by address (256
   * entries, the last one per slot): a server's address is written once, not once per flow (a SYN
   * flood's million flows go to one server).
   */
  private addrText(buf: Buffer, off: number, v: 4 | 6): string {
    if (v !== 4 || off + 4 > buf.length) return ipText(buf, off, v);
    const w = (buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
    const i = (w ^ (w >>> 8) ^ (w >>> 16) ^ (w >>> 24)) & 255;
    const hit = this.v4Texts[i];
    if (hit !== undefined && this.v4Words[i] === w) return hit;
    const t = ipText(buf, off, 4);
    this.v4Words[i] = w;
    this.v4Texts[i] = t;
    return t;
  }

  /** Bookkeeping common to every packet of a tracked flow. */
  private countPacket(f: Flow, p: DecodedPacket, d: Dir, frame: number, time: number): void {
    const facts = f.facts!;
    facts.packets[d]++;
    facts.payloadBytes[d] += p.payloadWireLen > p.payloadLen ? p.payloadWireLen : p.payloadLen;
    facts.lastFrame = frame;
    if (time > facts.end) facts.end = time;
    const t = f.tcp;
    if (t !== null) t.count(d, p.ttl, frame, time - f.lastTime);
    f.lastTime = time;
    // Checksums only for packets that matter; counted, never dropped (offload leaves them zero or wrong).
    // A slot's segment replayed (promote) was checked, and counted in stats, when it came. Once the
    // consumer wants no more bytes (the handshake is decided: the count-only path) the payload is not
    // summed: such a packet is counted as not verified (the report says so).
    if (!this.replaying && !f.wantsBytes) this.stats.checksumsNotVerified++;
    else if (this.replaying ? this.replayBad : checkIpChecksum(p) === false || checkTransportChecksum(p) === false) {
      facts.badChecksums++;
      if (!this.replaying) this.stats.badChecksums++;
    }
    this.touch(f);
  }

  private syncCut(f: Flow): void {
    const r = f.reasm;
    const facts = f.facts;
    if (!r || !facts) return;
    const d0 = r[0].cutBytes - facts.cutBytes[0];
    const d1 = r[1].cutBytes - facts.cutBytes[1];
    if (d0 > 0 || d1 > 0) {
      facts.cutBytes[0] = r[0].cutBytes;
      facts.cutBytes[1] = r[1].cutBytes;
      this.stats.cutBytes += d0 + d1;
    }
  }

  /**
   * The flow ends: held bytes are delivered (with their gaps), the facts are
   * completed and the consumer told, once. A closed flow stays as a tombstone.
   * `drop` removes it from the table even when closed (replaced by a new flow).
   */
  private endFlow(f: Flow, reason: FlowEndReason, when: number, drop = false): void {
    if (f.state === FLOW_OPEN && f.consumer && f.facts) {
      const facts = f.facts;
      const endTime = Number.isFinite(when) ? when : facts.end;
      if (f.reasm) {
        f.reasm[0].finish(facts.lastFrame, endTime);
        f.reasm[1].finish(facts.lastFrame, endTime);
        this.syncCut(f);
        this.stats.outOfWindowSegments += f.reasm[0].outOfWindowSegments + f.reasm[1].outOfWindowSegments;
        this.stats.outOfWindowBytes += f.reasm[0].outOfWindowBytes + f.reasm[1].outOfWindowBytes;
      }
      if (f.tcp !== null && f.consumer.wantsFinalFacts?.() !== false) facts.tcp = f.tcp.finalize();
      f.consumer.onEnd(facts, reason, endTime);
    }
    if (f.state !== FLOW_CLOSED) {
      this.unlinkLru(f);
      if (f.halfOpen) this.unlinkHalfOpen(f);
      this.open--;
    }
    f.consumer = null;
    f.facts = null;
    f.reasm = null;
    if (f.tcp !== null && this.trackers.length < POOL) {
      f.tcp.reset();
      this.trackers.push(f.tcp);
    }
    f.tcp = null;
    if (reason === 'closed' && !drop && f.state === FLOW_OPEN) {
      this.bury(f);
    } else {
      f.state = FLOW_CLOSED;
      this.unlinkBucket(f);
      this.release(f);
    }
  }

  /** A closed flow (in its bucket) becomes a tombstone; the oldest tombstone goes. */
  private bury(f: Flow): void {
    f.state = FLOW_CLOSED;
    const old = this.tombs[this.tombPos];
    if (old && old.state === FLOW_CLOSED) {
      this.unlinkBucket(old);
      this.release(old);
    }
    this.tombs[this.tombPos] = f;
    this.tombPos = (this.tombPos + 1) % TOMBSTONES;
  }

  // ------------------------------------------------------------------ half-open slots

  /** The slot of the connection p belongs to, or -1 (slotDir[0]: p's direction). */
  private findSlot(h: number, p: DecodedPacket): number {
    if (p.ipProto !== IpProto.TCP) return -1;
    return this.slots.find(h, p.ipVersion, p.buf, p.srcOff, p.srcPort, p.dstOff, p.dstPort, this.slotDir);
  }

  /** A client's SYN to an RDP port starts a connection in a slot (its id given now, as a flow's would be). */
  private addSlot(p: DecodedPacket, h: number, frame: number, time: number, fileIndex: number): void {
    if (this.halfOpen + this.slots.count >= this.maxHalfOpen) this.evictOldestHalfOpen(time);
    if (this.slots.full) this.evictOldestHalfOpen(time);
    if (this.open + this.slots.count >= this.maxFlows) this.evictOne(time);
    this.stats.flowsTracked++;
    const s = this.slots.add(h, p.ipVersion === 6 ? 6 : 4, p.buf, p.srcOff, p.srcPort, p.dstOff, p.dstPort, fileIndex, this.nextId++);
    this.pushSegment(s, p, 0, frame, time);
  }

  /**
   * Whether slot s keeps this segment of its connection: no payload, room left, not a capture copy
   * (duplicates.ts: the flow decides those), and the client's SYN again (same ISN), the server's
   * SYN/ACK of it (RFC 9293 3.5: ACK = ISN + 1), or a reset from either side. Anything else makes
   * the connection a full flow (promote).
   */
  private keepsInSlot(s: number, p: DecodedPacket, d: Dir, time: number): boolean {
    const slots = this.slots;
    if (p.payloadLen !== 0 || p.payloadWireLen !== 0 || !slots.hasRoom(s)) return false;
    const k = p.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN);
    const isn = slots.clientIsn(s);
    const ok =
      k === TcpFlag.RST ||
      k === (TcpFlag.RST | TcpFlag.ACK) ||
      (d === 0 ? k === TcpFlag.SYN && p.seq >>> 0 === isn : k === (TcpFlag.SYN | TcpFlag.ACK) && p.ack >>> 0 === (isn + 1) >>> 0);
    return ok && !slots.isCopy(s, d, p.seq, p.ack, idSum(p), p.tcpFlags, p.window, time);
  }

  /** Appends p to slot s (its checksums checked and counted now, as countPacket would). */
  private pushSegment(s: number, p: DecodedPacket, d: Dir, frame: number, time: number): void {
    const bad = checkIpChecksum(p) === false || checkTransportChecksum(p) === false;
    if (bad) this.stats.badChecksums++;
    this.slots.push(s, d, p.tcpFlags, p.seq, p.ack, idSum(p), p.window, p.mss, p.ttl, bad, frame, time);
  }

  /**
   * Slot s becomes a full flow: its segments replayed through the path they would have taken as a
   * flow's packets (duplicates, counters, TcpTracker, the consumer's events), so the flow is the
   * one that would have been tracked all along. `live`: the connection goes on (it joins the
   * half-open flows); else it is built only to be ended now. Returns the flow (null: none).
   */
  private promote(s: number, now: number, live: boolean): Flow | null {
    const slots = this.slots;
    if (live && this.halfOpen >= this.maxHalfOpenFlows) this.evictHalfOpen(now);
    // Out of the slots first (its segments stay readable: no slot is added before the replay ends).
    slots.remove(s);
    const b = this.replayBuf;
    const v = slots.ipVersion(s);
    slots.clientAddress(s, b, 0);
    slots.serverAddress(s, b, 16);
    const f = this.newFlow(b, v, IpProto.TCP, 0, slots.clientPort(s), 16, slots.serverPort(s), slots.hashOf(s), 'syn', slots.frame(s, 0), slots.time(s, 0), slots.fileIndex(s), slots.id(s));
    const rp = this.replayPkt;
    rp.buf = b;
    rp.ipVersion = v;
    rp.ipProto = IpProto.TCP;
    rp.l4Off = 32;
    rp.tcpHdrLen = 20;
    rp.payloadOff = 52;
    rp.payloadLen = 0;
    rp.payloadWireLen = 0;
    rp.error = null;
    rp.isFragment = false;
    this.replaying = true;
    const n = slots.segments(s);
    for (let k = 0; k < n; k++) {
      const d = slots.dir(s, k);
      rp.tcpFlags = slots.flags(s, k);
      rp.seq = slots.seqOf(s, k) >>> 0;
      rp.ack = slots.ackOf(s, k) >>> 0;
      rp.window = slots.windowOf(s, k);
      rp.mss = slots.mssOf(s, k);
      rp.ttl = slots.ttlOf(s, k);
      rp.ipId = slots.ipIdOf(s, k);
      const sum = slots.checksumOf(s, k);
      b[48] = sum >>> 8;
      b[49] = sum & 255;
      rp.srcPort = d === 0 ? slots.clientPort(s) : slots.serverPort(s);
      rp.dstPort = d === 0 ? slots.serverPort(s) : slots.clientPort(s);
      this.replayBad = slots.badChecksum(s, k);
      const frame = slots.frame(s, k);
      const time = slots.time(s, k);
      if (f.state !== FLOW_OPEN) {
        if (f.state === FLOW_IGNORED) this.touch(f);
        continue;
      }
      if (k === 0) {
        f.dups.isCopy(rp, 0, frame, time);
        if (live) this.linkHalfOpen(f);
        this.tcpFlowPacket(f, rp, 0, frame, time);
      } else if (f.consumer !== null && f.dups.isCopy(rp, d, frame, time)) this.captureDuplicate(f, frame);
      else this.tcpFlowPacket(f, rp, d, frame, time);
    }
    this.replaying = false;
    this.replayBad = false;
    return f;
  }

  /**
   * Slot s's connection ends: counted by the sink when the next stage only counts it (a closed one
   * leaves a tombstone, as a flow does), else built as a flow and ended as one.
   */
  private endSlot(s: number, reason: FlowEndReason, when: number): void {
    const sink = this.halfOpenSink;
    const slots = this.slots;
    if (sink !== null && sink.countsOnly()) {
      sink.count(slots, s, reason, Number.isFinite(when) ? when : slots.lastTime(s));
      if (reason === 'closed') {
        const b = this.replayBuf;
        slots.clientAddress(s, b, 0);
        slots.serverAddress(s, b, 16);
        const h = slots.hashOf(s);
        let f = this.flowPool.pop();
        if (f === undefined) f = new Flow(h, IpProto.TCP, slots.ipVersion(s), b, 0, slots.clientPort(s), 16, slots.serverPort(s), slots.fileIndex(s));
        else f.init(h, IpProto.TCP, slots.ipVersion(s), b, 0, slots.clientPort(s), 16, slots.serverPort(s), slots.fileIndex(s));
        f.bucketNext = this.buckets.get(h) ?? null;
        this.buckets.set(h, f);
        this.portRefs[f.cPort]!++;
        this.portRefs[f.sPort]!++;
        this.bury(f);
      }
      slots.remove(s);
      return;
    }
    const f = this.promote(s, when, false);
    if (f !== null && f.state !== FLOW_CLOSED) this.endFlow(f, reason, when);
  }

  /**
   * Over maxHalfOpen: the oldest half-open connection goes, a slot or a flow (ids are given in the
   * order connections start), counted. False when there is none.
   */
  private evictOldestHalfOpen(now: number): boolean {
    const s = this.slots.oldest;
    const ho = this.hoHead;
    if (s >= 0 && (ho === null || ho.facts === null || this.slots.id(s) < ho.facts.id)) {
      this.stats.flowsEvicted++;
      this.stats.halfOpenEvicted++;
      this.endSlot(s, 'evicted', now);
      return true;
    }
    if (ho === null) return false;
    this.evictHalfOpen(now);
    return true;
  }

  /** A flow nothing refers to any more goes to the pool. */
  private release(f: Flow): void {
    if (this.flowPool.length < POOL) this.flowPool.push(f);
  }

  /** Over maxFlows: the oldest half-open connection goes first, else the least recently active flow. */
  private evictOne(now: number): void {
    if (this.evictOldestHalfOpen(now)) return;
    const victim = this.lruHead;
    if (!victim) return;
    this.stats.flowsEvicted++;
    if (victim.halfOpen) this.stats.halfOpenEvicted++;
    this.endFlow(victim, 'evicted', now);
  }

  /** Over maxHalfOpen: the oldest half-open flow goes. */
  private evictHalfOpen(now: number): void {
    const victim = this.hoHead;
    if (!victim) return;
    this.stats.flowsEvicted++;
    this.stats.halfOpenEvicted++;
    this.endFlow(victim, 'evicted', now);
  }

  private unlinkBucket(f: Flow): void {
    const at = (f.cPort ^ f.sPort) & (TCP_CACHE - 1);
    if (this.tcpCache[at] === f) this.tcpCache[at] = null;
    const head = this.buckets.get(f.hash);
    if (head === undefined) return;
    let removed = false;
    if (head === f) {
      if (f.bucketNext) this.buckets.set(f.hash, f.bucketNext);
      else this.buckets.delete(f.hash);
      removed = true;
    } else {
      let p: Flow = head;
      while (p.bucketNext && p.bucketNext !== f) p = p.bucketNext;
      if (p.bucketNext === f) {
        p.bucketNext = f.bucketNext;
        removed = true;
      }
    }
    f.bucketNext = null;
    if (removed) {
      this.portRefs[f.cPort]!--;
      this.portRefs[f.sPort]!--;
    }
  }

  private linkLru(f: Flow): void {
    f.lruPrev = this.lruTail;
    f.lruNext = null;
    if (this.lruTail) this.lruTail.lruNext = f;
    else this.lruHead = f;
    this.lruTail = f;
    f.inLru = true;
  }

  private unlinkLru(f: Flow): void {
    if (!f.inLru) return;
    if (f.lruPrev) f.lruPrev.lruNext = f.lruNext;
    else this.lruHead = f.lruNext;
    if (f.lruNext) f.lruNext.lruPrev = f.lruPrev;
    else this.lruTail = f.lruPrev;
    f.lruPrev = f.lruNext = null;
    f.inLru = false;
  }

  /** Most recently active goes last. */
  private touch(f: Flow): void {
    if (this.lruTail === f || !f.inLru) return;
    this.unlinkLru(f);
    this.linkLru(f);
  }

  /**
   * The half-open list is in the order connections started (their ids): a new flow goes last, a
   * slot that became a flow (promote) after the flows that started before it (the list is short:
   * half-open connections are slots).
   */
  private linkHalfOpen(f: Flow): void {
    const id = f.facts !== null ? f.facts.id : Infinity;
    let after = this.hoTail;
    while (after !== null && after.facts !== null && after.facts.id > id) after = after.hoPrev;
    const before = after !== null ? after.hoNext : this.hoHead;
    f.hoPrev = after;
    f.hoNext = before;
    if (after !== null) after.hoNext = f;
    else this.hoHead = f;
    if (before !== null) before.hoPrev = f;
    else this.hoTail = f;
    f.halfOpen = true;
    this.halfOpen++;
  }

  private unlinkHalfOpen(f: Flow): void {
    if (!f.halfOpen) return;
    if (f.hoPrev) f.hoPrev.hoNext = f.hoNext;
    else this.hoHead = f.hoNext;
    if (f.hoNext) f.hoNext.hoPrev = f.hoPrev;
    else this.hoTail = f.hoPrev;
    f.hoPrev = f.hoNext = null;
    f.halfOpen = false;
    this.halfOpen--;
  }
}

/** IPv4 identification and TCP checksum of p as one word (DuplicateDetector's w2). */
function idSum(p: DecodedPacket): number {
  const buf = p.buf;
  const l4 = p.l4Off;
  const checksum = l4 >= 0 && l4 + 18 <= buf.length ? (buf[l4 + 16]! << 8) | buf[l4 + 17]! : 0;
  const ipId = p.ipVersion === 4 ? p.ipId & 0xffff : 0;
  return (ipId << 16) | checksum;
}
