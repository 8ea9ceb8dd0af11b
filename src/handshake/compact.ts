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

function compactFlow(f: FlowFacts, strings: StringInterner | undefined, tcpToo: boolean): void {
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
  if (f.tcp !== null && tcpToo) compactTcp(f.tcp);
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
  compactParts(rec, strings, true, true);
}

/** compactRecord, the timeline and the TCP facts only when asked (not when they are packed). */
function compactParts(rec: ConnectionRecord, strings: StringInterner | undefined, timelineToo: boolean, tcpToo: boolean): void {
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
  const timeline = timelineToo ? exact(rec.timeline) : [];
  if (timelineToo) rec.timeline = timeline;
  const warnings = exact(rec.warnings);
  rec.warnings = warnings;
  compactFlow(rec.flow, strings, tcpToo);
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

// ---------------------------------------------------------------------------------------------
// Packed fields (issue 16: peak RSS on attempt storms). What a kept record holds is mostly its
// timeline (~17 event objects, ~110 bytes each) and its flow's TCP facts (~25 small objects and
// arrays), which only some rules and the writers that print them read. RecordPacker writes such a
// value into a run-wide arena of varint words and doubles (an event: ~8 words in ~14 bytes, and a
// double) with one table of its strings and one of its objects' key lists, and the property becomes
// an accessor that decodes it when read: the same values, the same keys in the same order (so the
// same JSON). The last value decoded of each kind is kept (RecordPacker.decodeCached: the rules read
// one connection's several times in a row), so it is not to be changed in place; assigning the
// property makes it a plain data property again. Only plain data is packed (null, booleans,
// numbers, strings, arrays, plain objects that are not frozen, read by their own enumerable keys as
// JSON reads them); a value holding anything else stays as it is.

/** One word of the arena (a varint of 1-5 bytes): a tag in the low 3 bits, a payload in the 29 above. */
const TAG_CONST = 0; // payload: 0 null, 1 undefined, 2 false, 3 true
const TAG_UINT = 1; // payload: the number (an integer 0 .. 2^29-1, not -0)
const TAG_DOUBLE = 2; // the number is the next double of the number arena
const TAG_STRING = 3; // payload: index in the string table
const TAG_ARRAY = 4; // payload: length; the elements follow
const TAG_OBJECT = 5; // payload: shape (its keys in order); the values follow
const PAYLOAD_LIMIT = 1 << 29;

class NotPackable extends Error {}

/**
 * The function that builds an object of these keys, in this order, from the values `next` returns
 * one after the other: `{ "k1": next(), "k2": next(), ... }`, generated once per shape. An object
 * literal gets its hidden class from V8 at once (~0.1 us for a connection's TCP facts' largest
 * object); keys stored one by one into {} or a copy of a template took 0.5-1 us an object
 * (~5-9 us to decode a connection's TCP facts). The keys are the record types' own member names,
 * quoted by JSON.stringify (a key is never code); "__proto__" is refused before (shapeId).
 */
function objectBuilder(keys: readonly string[]): (next: () => unknown) => Record<string, unknown> {
  return new Function('next', `return {${keys.map((k) => `${JSON.stringify(k)}: next()`).join(', ')}};`) as (next: () => unknown) => Record<string, unknown>;
}

/** Where one packed value starts in its packer's arenas. */
class PackedValue {
  constructor(
    readonly packer: RecordPacker,
    /** Byte offset of its first word. */
    readonly word: number,
    readonly num: number,
  ) {}
}

export class RecordPacker {
  /** Strings up to this length are stored once (looked up); longer ones are appended as they come. */
  static readonly DEDUP_MAX_LENGTH = 256;
  static readonly DEDUP_MAX_STRINGS = 65_536;
  /** The words, each as a LEB128 varint (7 bits a byte: most are tags with small payloads, 1-2 bytes). */
  private bytes = new Uint8Array(1 << 14);
  private byteCount = 0;
  private nums = new Float64Array(1 << 9);
  private numCount = 0;
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly shapes: string[][] = [];
  /** Per shape, the function that builds its object from the values decoded in order (objectBuilder). */
  private readonly builders: ((next: () => unknown) => Record<string, unknown>)[] = [];
  /** get(), for the builders. */
  private readonly next = (): unknown => this.get();
  /** Shape ids by first key (each list compared key by key). */
  private readonly shapeBuckets = new Map<string, number[]>();
  /** decodeCached's last value per slot (0 timelines, 1 TCP facts) and where it was packed. */
  private readonly cachedAt: (PackedValue | null)[] = [null, null];
  private readonly cachedValue: unknown[] = [undefined, undefined];
  /** Decoding position (decode() is not re-entrant: it calls nothing outside this class). */
  private rw = 0;
  private rn = 0;

  /** Bytes of words and doubles written, strings and object shapes stored (for tests and figures). */
  get stats(): { bytes: number; nums: number; strings: number; shapes: number } {
    return { bytes: this.byteCount, nums: this.numCount, strings: this.strings.length, shapes: this.shapes.length };
  }

  /** Packs `value`, or returns null (nothing kept) when it holds something other than plain data. */
  pack(value: unknown): PackedValue | null {
    const w0 = this.byteCount;
    const n0 = this.numCount;
    try {
      this.put(value);
    } catch (e) {
      if (!(e instanceof NotPackable)) throw e;
      // What was written is dropped (strings and shapes stored meanwhile stay: they are shared).
      this.byteCount = w0;
      this.numCount = n0;
      return null;
    }
    return new PackedValue(this, w0, n0);
  }

  /**
   * The value packed at p, the same object as the last call for this slot returned when p is the
   * same: for values read several times in a row (the rules read one connection's TCP facts and
   * timeline several times each). Not to be changed by the caller (a record's facts are not).
   */
  decodeCached(p: PackedValue, slot: 0 | 1): unknown {
    if (this.cachedAt[slot] !== p) {
      this.cachedValue[slot] = this.decode(p);
      this.cachedAt[slot] = p;
    }
    return this.cachedValue[slot];
  }

  /** The value packed at p, built anew. */
  decode(p: PackedValue): unknown {
    this.rw = p.word;
    this.rn = p.num;
    return this.get();
  }

  /** Appends w (an integer 0 .. 2^32-1) as a varint. */
  private word(w: number): void {
    if (this.byteCount + 5 > this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    const b = this.bytes;
    let at = this.byteCount;
    while (w >= 0x80) {
      b[at++] = (w & 0x7f) | 0x80;
      w = w >>> 7;
    }
    b[at++] = w;
    this.byteCount = at;
  }

  /** The next varint at the decoding position. */
  private readWord(): number {
    const b = this.bytes;
    let at = this.rw;
    let x = b[at++]!;
    if (x >= 0x80) {
      x &= 0x7f;
      let scale = 0x80;
      for (;;) {
        const y = b[at++]!;
        x += (y & 0x7f) * scale;
        if (y < 0x80) break;
        scale *= 0x80;
      }
    }
    this.rw = at;
    return x;
  }

  private tagged(tag: number, payload: number): void {
    if (payload >= PAYLOAD_LIMIT) throw new NotPackable();
    this.word(payload * 8 + tag);
  }

  private stringId(s: string): number {
    if (s.length <= RecordPacker.DEDUP_MAX_LENGTH) {
      const hit = this.stringIds.get(s);
      if (hit !== undefined) return hit;
      const id = this.strings.length;
      this.strings.push(flatString(s));
      if (this.stringIds.size < RecordPacker.DEDUP_MAX_STRINGS) this.stringIds.set(s, id);
      return id;
    }
    this.strings.push(flatString(s));
    return this.strings.length - 1;
  }

  /** The shape of these keys in this order (looked up by first key, compared key by key: no key string built). */
  private shapeId(keys: string[]): number {
    const n = keys.length;
    // A literal's "__proto__" would set its prototype (objectBuilder): not packed (no record has one).
    for (let i = 0; i < n; i++) if (keys[i] === '__proto__') throw new NotPackable();
    const bucketKey = n === 0 ? '' : keys[0]!;
    let bucket = this.shapeBuckets.get(bucketKey);
    if (bucket === undefined) this.shapeBuckets.set(bucketKey, (bucket = []));
    for (let b = 0; b < bucket.length; b++) {
      const id = bucket[b]!;
      const known = this.shapes[id]!;
      if (known.length !== n) continue;
      let same = true;
      for (let i = 1; i < n; i++) {
        if (known[i] !== keys[i]) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
    const id = this.shapes.length;
    this.shapes.push(keys);
    this.builders.push(objectBuilder(keys));
    bucket.push(id);
    return id;
  }

  private put(v: unknown): void {
    switch (typeof v) {
      case 'number':
        if (Number.isInteger(v) && v >= 0 && v < PAYLOAD_LIMIT && !Object.is(v, -0)) this.tagged(TAG_UINT, v);
        else {
          this.tagged(TAG_DOUBLE, 0);
          if (this.numCount === this.nums.length) {
            const next = new Float64Array(this.nums.length * 2);
            next.set(this.nums);
            this.nums = next;
          }
          this.nums[this.numCount++] = v;
        }
        return;
      case 'string':
        this.tagged(TAG_STRING, this.stringId(v));
        return;
      case 'boolean':
        this.tagged(TAG_CONST, v ? 3 : 2);
        return;
      case 'undefined':
        this.tagged(TAG_CONST, 1);
        return;
      case 'object': {
        if (v === null) {
          this.tagged(TAG_CONST, 0);
          return;
        }
        // Frozen values are shared (interned lists, the certificate cache's infos): their identity is kept.
        if (Object.isFrozen(v)) throw new NotPackable();
        if (Array.isArray(v)) {
          if (Object.getPrototypeOf(v) !== Array.prototype) throw new NotPackable();
          this.tagged(TAG_ARRAY, v.length);
          for (let i = 0; i < v.length; i++) this.put(v[i]);
          return;
        }
        if (Object.getPrototypeOf(v) !== Object.prototype) throw new NotPackable();
        const keys = Object.keys(v);
        this.tagged(TAG_OBJECT, this.shapeId(keys));
        const o = v as Record<string, unknown>;
        for (let i = 0; i < keys.length; i++) this.put(o[keys[i]!]);
        return;
      }
      default:
        throw new NotPackable();
    }
  }

  private get(): unknown {
    const w = this.readWord();
    const tag = w & 7;
    const payload = w >>> 3;
    switch (tag) {
      case TAG_CONST:
        return payload === 0 ? null : payload === 1 ? undefined : payload === 3;
      case TAG_UINT:
        return payload;
      case TAG_DOUBLE:
        return this.nums[this.rn++]!;
      case TAG_STRING:
        return this.strings[payload]!;
      case TAG_ARRAY: {
        if (payload === 0) return [];
        const a: unknown[] = [];
        for (let i = 0; i < payload; i++) a.push(this.get());
        return a;
      }
      default:
        return this.builders[payload]!(this.next);
    }
  }
}

/**
 * The packed fields: a record's `timeline` (read by a few rules and the writers that print it) and
 * its flow facts' `tcp` (read by the diagnosis, which reads one connection's several times in a row:
 * the last one decoded is kept, see RecordPacker.decodeCached). The flow's other members (addresses,
 * frames, counters the cross-connection rules sort and group by) stay plain.
 */
export type PackedField = 'timeline' | 'tcp';

const PACKED_TIMELINE = Symbol('packed timeline');
const PACKED_TCP = Symbol('packed tcp');

function getTimeline(this: Record<symbol, PackedValue>): unknown {
  const p = this[PACKED_TIMELINE]!;
  return p.packer.decodeCached(p, 0);
}

function setTimeline(this: object, v: unknown): void {
  // A plain data property again, at the same place among the keys.
  Object.defineProperty(this, 'timeline', { value: v, writable: true, enumerable: true, configurable: true });
  (this as Record<symbol, unknown>)[PACKED_TIMELINE] = undefined;
}

function getTcp(this: Record<symbol, PackedValue>): unknown {
  const p = this[PACKED_TCP]!;
  return p.packer.decodeCached(p, 1);
}

function setTcp(this: object, v: unknown): void {
  Object.defineProperty(this, 'tcp', { value: v, writable: true, enumerable: true, configurable: true });
  (this as Record<symbol, unknown>)[PACKED_TCP] = undefined;
}

/**
 * Where a packed field's value is held: a symbol key that is not enumerable, so that a spread or
 * Object.assign of the record (a library user's copy, a test's) copies the decoded field, not the
 * arena reference, and two analyses of one capture give equal connections.
 */
function hidePacked(o: object, key: symbol, p: PackedValue): void {
  Object.defineProperty(o, key, { value: p, writable: true, enumerable: false, configurable: true });
}

const TIMELINE_ACCESSOR: PropertyDescriptor = { get: getTimeline, set: setTimeline, enumerable: true, configurable: true };
const TCP_ACCESSOR: PropertyDescriptor = { get: getTcp, set: setTcp, enumerable: true, configurable: true };

/** A record's keys in the order the machines write them (handshake/types.ts), `gateway` (optional) last. */
const RECORD_KEYS = ['id', 'transport', 'file', 'fileIndex', 'client', 'server', 'start', 'end', 'outcome', 'incompleteReason', 'reached', 'phases', 'died', 'security', 'negotiation', 'tls', 'credssp', 'mcs', 'licensing', 'errorInfo', 'sideChannels', 'timeline', 'flow', 'warnings'];
/** The flow facts' keys in the order the flow table writes them (flow/types.ts). */
const FLOW_KEYS = ['id', 'transport', 'fileIndex', 'ipVersion', 'client', 'server', 'clientBy', 'firstFrame', 'lastFrame', 'start', 'end', 'packets', 'payloadBytes', 'badChecksums', 'icmp', 'tcp', 'udp', 'gapBytes', 'cutBytes', 'skippedPrefix', 'captureDuplicates', 'captureDuplicateFrames'];

/** Whether o's own keys are `keys` in this order (and `optional` after them, when present). */
function keysAre(o: object, keys: readonly string[], optional: string | null): boolean {
  const own = Object.keys(o);
  const n = keys.length;
  if (own.length !== n && !(optional !== null && own.length === n + 1 && own[n] === optional)) return false;
  for (let i = 0; i < n; i++) if (own[i] !== keys[i]) return false;
  return true;
}

/**
 * Gives `target`, being built key by key, `from`'s packed timeline as its next key (an accessor, not
 * decoded). Returns false (nothing added) when `from`'s timeline is not packed. The caller adds the
 * keys after it by plain assignment: an object literal, then this, then assignments keeps the
 * object's fast properties and one hidden class for all of them (reconfiguring an existing data
 * property into an accessor would turn it into a dictionary: V8, several times the size).
 */
export function addPackedTimeline(target: object, from: object): boolean {
  const p = packedAt(from, PACKED_TIMELINE);
  if (p === null) return false;
  Object.defineProperty(target, 'timeline', TIMELINE_ACCESSOR);
  hidePacked(target, PACKED_TIMELINE, p);
  return true;
}

/** A record's keys before `timeline`, in the order the machines write them. */
export type RecordHead = Omit<ConnectionRecord, 'timeline' | 'flow' | 'warnings' | 'gateway'>;

/**
 * A new object of the record's keys before `timeline`, as a literal (fast properties, one hidden
 * class for all records: reconfiguring keys one by one would not give that); the caller adds
 * `timeline`, `flow`, `warnings` (and `gateway`) after it, in that order (the packed record copy
 * here, the report's connection in pipeline/merge.ts `reported()`).
 */
export function recordHead(c: RecordHead): RecordHead {
  return {
    id: c.id,
    transport: c.transport,
    file: c.file,
    fileIndex: c.fileIndex,
    client: c.client,
    server: c.server,
    start: c.start,
    end: c.end,
    outcome: c.outcome,
    incompleteReason: c.incompleteReason,
    reached: c.reached,
    phases: c.phases,
    died: c.died,
    security: c.security,
    negotiation: c.negotiation,
    tls: c.tls,
    credssp: c.credssp,
    mcs: c.mcs,
    licensing: c.licensing,
    errorInfo: c.errorInfo,
    sideChannels: c.sideChannels,
  };
}

/** The record with its timeline read through p and these flow facts: same keys, same order. */
function packedRecordCopy(c: ConnectionRecord, p: PackedValue, flow: FlowFacts): ConnectionRecord {
  if (!keysAre(c, RECORD_KEYS, 'gateway')) return copyWithPacked(c, 'timeline', p, { flow });
  const o = recordHead(c) as ConnectionRecord;
  Object.defineProperty(o, 'timeline', TIMELINE_ACCESSOR);
  o.flow = flow;
  o.warnings = c.warnings;
  if ('gateway' in c) o.gateway = c.gateway;
  hidePacked(o, PACKED_TIMELINE, p);
  return o;
}

/** The flow facts with `tcp` read through p: same keys, same order. */
function packedFlowCopy(f: FlowFacts, p: PackedValue, id: number): FlowFacts {
  if (!keysAre(f, FLOW_KEYS, null)) return copyWithPacked(f, 'tcp', p, { id });
  const o = {
    id,
    transport: f.transport,
    fileIndex: f.fileIndex,
    ipVersion: f.ipVersion,
    client: f.client,
    server: f.server,
    clientBy: f.clientBy,
    firstFrame: f.firstFrame,
    lastFrame: f.lastFrame,
    start: f.start,
    end: f.end,
    packets: f.packets,
    payloadBytes: f.payloadBytes,
    badChecksums: f.badChecksums,
    icmp: f.icmp,
  } as FlowFacts;
  Object.defineProperty(o, 'tcp', TCP_ACCESSOR);
  o.udp = f.udp;
  o.gapBytes = f.gapBytes;
  o.cutBytes = f.cutBytes;
  o.skippedPrefix = f.skippedPrefix;
  o.captureDuplicates = f.captureDuplicates;
  o.captureDuplicateFrames = f.captureDuplicateFrames;
  hidePacked(o, PACKED_TCP, p);
  return o;
}

/**
 * The general case of the copies above (keys in another order or other keys): a copy of `source`
 * (its own enumerable keys, in order) whose `key` is read through the packed value p; `override`'s
 * keys (already among the source's) take their values from it. Every key by defineProperty (more
 * than a dozen added by a computed-key store, out[k] = v, would make V8 turn the object into a
 * dictionary), ~15 us a copy.
 */
function copyWithPacked<T extends object>(source: T, key: 'timeline' | 'tcp', p: PackedValue, override?: Record<string, unknown>): T {
  const out: Record<string | symbol, unknown> = {};
  const src = source as Record<string, unknown>;
  const keys = Object.keys(source);
  const timeline = key === 'timeline';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === key) Object.defineProperty(out, k, timeline ? TIMELINE_ACCESSOR : TCP_ACCESSOR);
    else Object.defineProperty(out, k, { value: override !== undefined && k in override ? override[k] : src[k], writable: true, enumerable: true, configurable: true });
  }
  Object.defineProperty(out, timeline ? PACKED_TIMELINE : PACKED_TCP, { value: p, writable: true, enumerable: false, configurable: true });
  return out as T;
}

function packedAt(o: object, key: symbol): PackedValue | null {
  const p = (o as Record<symbol, unknown>)[key];
  return p instanceof PackedValue ? p : null;
}

/**
 * The flow facts with `tcp` packed into `packer` (a copy, same keys in the same order), or the facts
 * themselves (no TCP facts, or not plain data, or packed already).
 */
function packFlow(f: FlowFacts, packer: RecordPacker): FlowFacts {
  if (f.tcp === null || packedAt(f, PACKED_TCP) !== null) return f;
  const p = packer.pack(f.tcp);
  return p === null ? f : packedFlowCopy(f, p, f.id);
}

/**
 * The record with its timeline and its flow's TCP facts packed into `packer` (see RecordPacker): a
 * copy (same keys in the same order) whose `timeline` is decoded when it is read, with a copy of its
 * flow facts whose `tcp` is; the record itself when its timeline is not plain data (or packed
 * already). The other values are the record's, shared.
 */
export function packRecord(rec: ConnectionRecord, packer: RecordPacker): ConnectionRecord {
  if (packedAt(rec, PACKED_TIMELINE) !== null) return rec;
  const p = packer.pack(rec.timeline);
  if (p === null) return rec;
  return packedRecordCopy(rec, p, packFlow(rec.flow, packer));
}

/**
 * A finished record compacted (compactRecord) and packed (packRecord) at once: its timeline and TCP
 * facts are packed first (the packer's string table keeps one copy of their strings: they are not
 * interned nor their arrays copied first), the rest compacted in place, then the packed copy made.
 * The record itself, compacted, when its timeline is not plain data (or it is packed already).
 */
export function compactAndPack(rec: ConnectionRecord, strings: StringInterner, packer: RecordPacker): ConnectionRecord {
  if (packedAt(rec, PACKED_TIMELINE) !== null) return rec;
  const timeline = packer.pack(rec.timeline);
  const tcp = timeline !== null && rec.flow.tcp !== null && packedAt(rec.flow, PACKED_TCP) === null ? packer.pack(rec.flow.tcp) : null;
  compactParts(rec, strings, timeline === null, tcp === null);
  if (timeline === null) return rec;
  return packedRecordCopy(rec, timeline, tcp === null ? rec.flow : packedFlowCopy(rec.flow, tcp, rec.flow.id));
}

/** Whether a record's timeline (or a flow's TCP facts) is packed (read through an accessor). */
export function isPackedField(o: object, field: PackedField): boolean {
  return packedAt(o, field === 'timeline' ? PACKED_TIMELINE : PACKED_TCP) !== null;
}

/** A copy of the flow facts with this id, its TCP facts still packed when they are. */
export function flowWithId(f: FlowFacts, id: number): FlowFacts {
  const p = packedAt(f, PACKED_TCP);
  return p === null ? { ...f, id } : packedFlowCopy(f, p, id);
}
