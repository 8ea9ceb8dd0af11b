// Compaction of a finished connection record. A record is kept until the report is made (the
// diagnosis looks at all of them), so what it costs in heap is what memory grows by per connection.
// Arrays grown by push() carry spare capacity (a one-element list has room for 17), and strings
// built from template literals are trees of concatenated pieces; a finished record no longer
// changes, so its grown arrays are copied at their exact length and its built strings flattened
// (V8 then drops the pieces). The counter pairs of the flow facts are array literals whose elements
// V8 shares copy-on-write until the first write; a pair written but still [0, 0] or [null, null]
// (the RTT of a direction without samples) becomes such a literal again.
//
// The walk follows the record's known shape (handshake/types.ts, flow/types.ts) field by field:
// a generic deep walk (for-in over every object, Object.isFrozen on each) cost ~20 us per
// connection and a large optimising compile job; this one touches only the arrays that can grow
// and the strings that are built. Lists of strings or numbers that records repeat (a client's
// cipher suites ...) are shared between records, frozen (StringInterner.internList). Shared frozen
// values (the certificate cache's infos) are not descended into, and `sideChannels` is left as it
// is: its identity matters, an RDPEUDP flow that starts later still adds itself to it
// (src/pipeline.ts). A field added to the record types should be added here when it holds a grown
// array or a built string.
import type { FlowFacts, PerDir, TcpFacts } from '../flow/types.js';
import type { ConnectionRecord, McsInfo, NegotiationInfo, TlsInfo } from './types.js';

/** Strings shorter than this are flat already (V8 builds a concatenation of fewer characters flat). */
const CONS_MIN_LENGTH = 13;

/**
 * Returns s, flattened: reading a character of a concatenated string makes V8 flatten it in place,
 * and the garbage collector then replaces references to it by the flat string.
 */
export function flatString(s: string): string {
  if (s.length >= CONS_MIN_LENGTH) s.charCodeAt(0);
  return s;
}

function flatOrNull(s: string | null): void {
  if (s !== null && s.length >= CONS_MIN_LENGTH) s.charCodeAt(0);
}

/** An array at its length: a copy when it may have been grown by push(), else the array itself. */
function exact<T>(a: T[]): T[] {
  return a.length === 0 ? a : a.slice();
}

/** [0, 0] and [null, null] as literals (their elements shared copy-on-write), else the pair itself. */
function zeroPair(p: PerDir<number>): PerDir<number> {
  return p[0] === 0 && p[1] === 0 ? [0, 0] : p;
}
function nullPair<T>(p: PerDir<T | null>): PerDir<T | null> {
  return p[0] === null && p[1] === null ? [null, null] : p;
}

/**
 * Flattens the strings of plain objects and arrays in place, copying nothing (for findings, whose
 * remediation lists may be shared by many of them).
 */
export function flattenStrings(v: unknown): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) {
      if (typeof x === 'string') flatString(x);
      else flattenStrings(x);
    }
    return;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') flatString(x);
    else flattenStrings(x);
  }
}

/**
 * One copy of each string that records repeat (timeline event names and details, warnings): a
 * retried connection, or every connection to the same server, writes the same details again
 * ("client closes", "Cookie: mstshash=alice, RDP_NEG_REQ ...": 23,206 details on the 1 GB corpus, 153
 * distinct). Bounded: strings up to MAX_LENGTH characters, MAX_STRINGS of them per run.
 *
 * Lists of strings or numbers that records repeat (a client's cipher suites, its TLS versions, the
 * protocols it requests, its channels) are kept once too, frozen (as the certificate cache's infos
 * are): 950 cipher-suite lists of ~42 numbers on the 1 GB corpus, 5 distinct. Bounded: lists of up
 * to MAX_LIST_LENGTH elements, MAX_LISTS of them per run.
 */
export class StringInterner {
  static readonly MAX_STRINGS = 8192;
  static readonly MAX_LENGTH = 256;
  static readonly MAX_LISTS = 1024;
  static readonly MAX_LIST_LENGTH = 256;
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, readonly (string | number)[]>();

  intern(s: string): string {
    if (s.length > StringInterner.MAX_LENGTH) return flatString(s);
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    if (this.strings.size < StringInterner.MAX_STRINGS) this.strings.set(flatString(s), s);
    return s;
  }

  /**
   * The shared frozen copy of a list with these elements, or the list at its length when it is not
   * kept (empty, too long, or the interner full).
   */
  internList<T extends string | number>(list: T[]): T[] {
    if (list.length === 0 || list.length > StringInterner.MAX_LIST_LENGTH) return exact(list);
    // JSON names each element and its type unambiguously (a channel name may hold any character).
    const key = JSON.stringify(list);
    const hit = this.lists.get(key);
    if (hit !== undefined) return hit as T[];
    if (this.lists.size >= StringInterner.MAX_LISTS) return list.slice();
    const copy = Object.freeze(list.slice());
    this.lists.set(key, copy);
    return copy as T[];
  }

  get size(): number {
    return this.strings.size;
  }

  get listCount(): number {
    return this.lists.size;
  }
}

function compactNegotiation(n: NegotiationInfo, strings: StringInterner | undefined): void {
  flatOrNull(n.cookie);
  flatOrNull(n.routingToken);
  flatOrNull(n.correlationId);
  n.requestedProtocolNames = strings !== undefined ? strings.internList(n.requestedProtocolNames) : exact(n.requestedProtocolNames);
}

function compactTls(t: TlsInfo, strings: StringInterner | undefined): void {
  if (strings !== undefined) {
    t.clientVersions = strings.internList(t.clientVersions);
    t.clientCipherSuites = strings.internList(t.clientCipherSuites);
  } else {
    t.clientVersions = exact(t.clientVersions);
    t.clientCipherSuites = exact(t.clientCipherSuites);
  }
  flatOrNull(t.sni);
  // The certificate infos are the certificate cache's frozen, shared objects: the list only.
  t.certificates = exact(t.certificates);
  t.alerts = exact(t.alerts);
}

function compactMcs(m: McsInfo, strings: StringInterner | undefined): void {
  const c = m.client;
  if (c !== null) {
    flatOrNull(c.clientName);
    flatOrNull(c.clientDigProductId);
    c.channels = strings !== undefined ? strings.internList(c.channels) : exact(c.channels);
  }
  const s = m.server;
  if (s !== null) {
    s.certificates = exact(s.certificates);
    s.channelIds = strings !== undefined ? strings.internList(s.channelIds) : exact(s.channelIds);
  }
  m.channelJoins = exact(m.channelJoins);
}

function compactTcp(t: TcpFacts): void {
  t.synFrames = exact(t.synFrames);
  t.synAckFrames = exact(t.synAckFrames);
  t.rtt = nullPair(t.rtt);
  t.retransmissions = zeroPair(t.retransmissions);
  const rf = t.retransmissionFrames;
  if (rf[0].length + rf[1].length > 0) t.retransmissionFrames = [exact(rf[0]), exact(rf[1])];
  t.dupAcks = zeroPair(t.dupAcks);
  t.zeroWindows = zeroPair(t.zeroWindows);
  t.keepAlives = zeroPair(t.keepAlives);
  t.outOfOrder = zeroPair(t.outOfOrder);
  t.fins = exact(t.fins);
  t.rsts = exact(t.rsts);
  t.ttl = nullPair(t.ttl);
  const ts = t.ttlsSeen;
  if (ts[0].length + ts[1].length > 0) t.ttlsSeen = [exact(ts[0]), exact(ts[1])];
  t.maxSegment = zeroPair(t.maxSegment);
  t.maxAckedSegment = zeroPair(t.maxAckedSegment);
  const lost = t.lostSegments;
  if (lost.length > 0) {
    t.lostSegments = lost.slice();
    for (const l of lost) l.retransmitFrames = exact(l.retransmitFrames);
  }
  t.mss = nullPair(t.mss);
  t.dataAcks = nullPair(t.dataAcks);
}

function compactFlow(f: FlowFacts, strings: StringInterner | undefined): void {
  // A server recurs across connections (retries, every client of one server); client addresses
  // are not interned: a flood of spoofed sources would fill the interner with them.
  flatString(f.client.ip);
  f.server.ip = strings !== undefined ? strings.intern(f.server.ip) : flatString(f.server.ip);
  f.packets = zeroPair(f.packets);
  f.payloadBytes = zeroPair(f.payloadBytes);
  if (f.icmp.length > 0) {
    f.icmp = f.icmp.slice();
    for (const i of f.icmp) flatString(i.from);
  }
  if (f.tcp !== null) compactTcp(f.tcp);
  if (f.udp !== null) f.udp.firstFrames = nullPair(f.udp.firstFrames);
  f.gapBytes = zeroPair(f.gapBytes);
  f.cutBytes = zeroPair(f.cutBytes);
  f.skippedPrefix = zeroPair(f.skippedPrefix);
}

/**
 * Compacts a finished record in place (same values, same key order, same JSON); with an interner,
 * timeline event names and details, warning messages, the server's address and the client's lists
 * (cipher suites, TLS versions, requested protocols, channels) are shared with earlier records.
 */
export function compactRecord(rec: ConnectionRecord, strings?: StringInterner): void {
  flatString(rec.client);
  rec.server = strings !== undefined ? strings.intern(rec.server) : flatString(rec.server);
  rec.phases = exact(rec.phases);
  if (rec.died !== null) flatString(rec.died.detail);
  if (rec.negotiation !== null) compactNegotiation(rec.negotiation, strings);
  if (rec.tls !== null) compactTls(rec.tls, strings);
  const cs = rec.credssp;
  if (cs !== null) {
    cs.tokens = exact(cs.tokens);
    cs.frames = exact(cs.frames);
  }
  if (rec.mcs !== null) compactMcs(rec.mcs, strings);
  rec.licensing = exact(rec.licensing);
  rec.errorInfo = exact(rec.errorInfo);
  const timeline = exact(rec.timeline);
  rec.timeline = timeline;
  const warnings = exact(rec.warnings);
  rec.warnings = warnings;
  compactFlow(rec.flow, strings);
  if (strings === undefined) {
    for (let i = 0; i < timeline.length; i++) {
      const e = timeline[i]!;
      flatString(e.event);
      if (e.detail !== undefined) flatString(e.detail);
    }
    for (let i = 0; i < warnings.length; i++) flatString(warnings[i]!.message);
    return;
  }
  for (let i = 0; i < timeline.length; i++) {
    const e = timeline[i]!;
    e.event = strings.intern(e.event);
    if (e.detail !== undefined) e.detail = strings.intern(e.detail);
  }
  for (let i = 0; i < warnings.length; i++) {
    const w = warnings[i]!;
    w.message = strings.intern(w.message);
  }
}
