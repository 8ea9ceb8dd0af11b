// Indexes the rules share, so that a rule looking at "the other connections to this server" or "this
// client's lookups in the two minutes before" looks them up instead of scanning every connection and
// every DNS transaction (which made the diagnosis quadratic: 2,200 connections x 1,900 lookups on the
// 1 GB benchmark corpus). Built once per DiagnosisInput, on first use.
//
// Every list keeps the input's order, so a rule that filters an index list gets exactly the elements,
// in the same order, that filtering the whole input would give: the findings do not change.
//
// The indexes are cached per array (connections, dns), not per input object: the streaming path
// (src/pipeline.ts, one DiagnosisInput per finished connection over the flow table's growing DNS log)
// extends them with the entries appended since the last call. An array changed in any other way (the
// DNS log drops its oldest entry when full) is indexed anew.
import type { ConnectionRecord } from '../handshake/types.js';
import type { DnsTransaction } from '../flow/types.js';
import type { DiagnosisInput } from './types.js';

interface ArrayIndex<T> {
  /** Entries indexed: arr[0 .. n). */
  n: number;
  first: T | undefined;
  last: T | undefined;
}

/** Connections by server IP and by client IP, each list in input order. */
export interface ConnectionIndex extends ArrayIndex<ConnectionRecord> {
  byServerIp: Map<string, ConnectionRecord[]>;
  byClientIp: Map<string, ConnectionRecord[]>;
}

/** One client's lookups in input order; `sorted` when their times never decrease (then windows are found by bisection). */
export interface ClientLookups {
  list: DnsTransaction[];
  sorted: boolean;
}

/** DNS transactions by capture file and client IP (key: dnsKey): frame numbers are per file. */
export interface DnsIndex extends ArrayIndex<DnsTransaction> {
  byClient: Map<string, ClientLookups>;
}

/** The index key of a client's lookups in one capture file. */

/** The first index of the sorted `a` whose value is >= x (a.length when none): a bisection. */
function firstAtLeast(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
export function dnsKey(fileIndex: number, client: string): string {
  return `${fileIndex} ${client}`;
}

const connCache = new WeakMap<ConnectionRecord[], ConnectionIndex>();
const dnsCache = new WeakMap<DnsTransaction[], DnsIndex>();

function fresh<T>(arr: T[], idx: ArrayIndex<T> | undefined): 'same' | 'grown' | 'stale' {
  if (!idx) return 'stale';
  if (arr.length < idx.n || arr[0] !== idx.first || (idx.n > 0 && arr[idx.n - 1] !== idx.last)) return 'stale';
  return arr.length === idx.n ? 'same' : 'grown';
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function connectionIndex(conns: ConnectionRecord[]): ConnectionIndex {
  let idx = connCache.get(conns);
  const state = fresh(conns, idx);
  if (state === 'same') return idx!;
  if (state === 'stale' || !idx) {
    idx = { n: 0, first: conns[0], last: undefined, byServerIp: new Map(), byClientIp: new Map() };
    connCache.set(conns, idx);
  }
  for (let i = idx.n; i < conns.length; i++) {
    const c = conns[i]!;
    push(idx.byServerIp, c.flow.server.ip, c);
    push(idx.byClientIp, c.flow.client.ip, c);
  }
  idx.n = conns.length;
  idx.last = conns[conns.length - 1];
  return idx;
}

export function dnsIndex(dns: DnsTransaction[]): DnsIndex {
  let idx = dnsCache.get(dns);
  const state = fresh(dns, idx);
  if (state === 'same') return idx!;
  if (state === 'stale' || !idx) {
    idx = { n: 0, first: dns[0], last: undefined, byClient: new Map() };
    dnsCache.set(dns, idx);
  }
  for (let i = idx.n; i < dns.length; i++) {
    const q = dns[i]!;
    const key = dnsKey(q.fileIndex, q.client);
    let e = idx.byClient.get(key);
    if (!e) idx.byClient.set(key, (e = { list: [], sorted: true }));
    const prev = e.list[e.list.length - 1];
    // NaN fails both comparisons: a list holding one is never called sorted.
    if (prev ? !(q.time >= prev.time) : !(q.time === q.time)) e.sorted = false;
    e.list.push(q);
  }
  idx.n = dns.length;
  idx.last = dns[dns.length - 1];
  return idx;
}

const NONE: readonly never[] = [];

/** Connections to this server IP, in input order. */
export function connectionsToServer(input: DiagnosisInput, ip: string): readonly ConnectionRecord[] {
  return connectionIndex(input.connections).byServerIp.get(ip) ?? NONE;
}

/** Connections from this client IP, in input order. */
export function connectionsFromClient(input: DiagnosisInput, ip: string): readonly ConnectionRecord[] {
  return connectionIndex(input.connections).byClientIp.get(ip) ?? NONE;
}

/** All of this client's lookups in one capture file, in input order. */
export function lookupsOf(input: DiagnosisInput, fileIndex: number, client: string): readonly DnsTransaction[] {
  return dnsIndex(input.dns).byClient.get(dnsKey(fileIndex, client))?.list ?? NONE;
}

/**
 * This client's lookups in one capture file with from <= time <= to, in input order: what
 * `input.dns.filter((q) => q.fileIndex === fileIndex && q.client === client && q.time >= from && q.time <= to)` gives.
 * (A finding cites frame numbers of its connection's file, so it only uses lookups of that file.)
 * With `notOutside`, what `!(q.time < from || q.time > to)` keeps instead (the same but for NaN).
 */
export function lookupsBetween(input: DiagnosisInput, fileIndex: number, client: string, from: number, to: number, notOutside = false): DnsTransaction[] {
  const e = dnsIndex(input.dns).byClient.get(dnsKey(fileIndex, client));
  if (!e) return [];
  const list = e.list;
  const out: DnsTransaction[] = [];
  if (!e.sorted || !(from <= to)) {
    if (notOutside) {
      for (const q of list) if (!(q.time < from || q.time > to)) out.push(q);
    } else {
      for (const q of list) if (q.time >= from && q.time <= to) out.push(q);
    }
    return out;
  }
  // Sorted (so no NaN time) and from <= to: both tests agree; bisect to the first time >= from.
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.time < from) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < list.length; i++) {
    const q = list[i]!;
    if (q.time > to) break;
    out.push(q);
  }
  return out;
}

// ---------------------------------------------------------------- derived from one index list
//
// The helpers below answer per connection what a scan of its server's (or client's) list answered:
// with 20,000 attempts to one server (the record bound), a scan per connection made the diagnosis
// quadratic (port_blocked 3.5 s, nla_failed 5.9 s, server_unresponsive 11.8 s). Each is cached per
// list and extended when the list grows (connectionIndex pushes onto its lists), and gives the same
// answer, in the same order, as the scan (test/diagnose/lookup.test.ts compares them).

interface FirstAnswered {
  n: number;
  /** The first two connections of the list, in order, that got a SYN-ACK. */
  first: ConnectionRecord | null;
  second: ConnectionRecord | null;
}
const answeredCache = new WeakMap<readonly ConnectionRecord[], FirstAnswered>();

/** The first connection of `list` other than `conn` that got a SYN-ACK, or null. */
export function firstAnsweredOtherThan(list: readonly ConnectionRecord[], conn: ConnectionRecord): ConnectionRecord | null {
  let e = answeredCache.get(list);
  if (e === undefined) answeredCache.set(list, (e = { n: 0, first: null, second: null }));
  if (e.second === null) {
    for (let i = e.n; i < list.length; i++) {
      const o = list[i]!;
      if (o.flow.tcp === null || o.flow.tcp.synAckFrames.length === 0) continue;
      if (e.first === null) e.first = o;
      else {
        e.second = o;
        break;
      }
    }
    e.n = list.length;
  }
  return e.first !== conn ? e.first : e.second;
}

interface CompletedByServer {
  n: number;
  /** The list's completed connections by their `server` ("ip:port"), each in list order. */
  byServer: Map<string, ConnectionRecord[]>;
}
const completedCache = new WeakMap<readonly ConnectionRecord[], CompletedByServer>();

/** The completed connections of `list` to `server` ("ip:port"), in list order. */
export function completedTo(list: readonly ConnectionRecord[], server: string): readonly ConnectionRecord[] {
  let e = completedCache.get(list);
  if (e === undefined) completedCache.set(list, (e = { n: 0, byServer: new Map() }));
  for (let i = e.n; i < list.length; i++) {
    const o = list[i]!;
    if (o.outcome === 'completed') push(e.byServer, o.server, o);
  }
  e.n = list.length;
  return e.byServer.get(server) ?? NONE;
}

interface TimeWindows {
  n: number;
  /** The members of the list, in list order (their index is their order). */
  members: ConnectionRecord[];
  /** Indexes into members sorted by start (members whose start or end is NaN left out: they overlap nothing). */
  byStart: number[];
  starts: number[];
  /** The longest end - start (>= 0), Infinity when one is not finite (then windows are not used). */
  maxDuration: number;
}
const windowCache = new WeakMap<readonly ConnectionRecord[], WeakMap<(c: ConnectionRecord) => boolean, TimeWindows>>();

/** The time index of the members of `list` that `member` accepts (built once, extended as the list grows). */
function timeWindows(list: readonly ConnectionRecord[], member: (c: ConnectionRecord) => boolean): TimeWindows {
  let perMember = windowCache.get(list);
  if (perMember === undefined) windowCache.set(list, (perMember = new WeakMap()));
  let w = perMember.get(member);
  if (w === undefined) perMember.set(member, (w = { n: 0, members: [], byStart: [], starts: [], maxDuration: 0 }));
  if (w.n !== list.length) {
    // The list only grows (the pipeline appends connections as they end): the new members are put in
    // place, after every member starting no later (so equal starts stay in list order). Connections
    // mostly end in start order, so that is usually the end; a sort of the whole index on every new
    // connection cost an attempt storm ~10 KB per connection (issue 16).
    const { members, byStart, starts } = w;
    for (let i = w.n; i < list.length; i++) {
      const o = list[i]!;
      if (!member(o)) continue;
      const at = members.length;
      members.push(o);
      if (Number.isNaN(o.start) || Number.isNaN(o.end)) continue;
      const d = o.end - o.start;
      if (!Number.isFinite(d)) w.maxDuration = Infinity;
      else if (d > w.maxDuration) w.maxDuration = d;
      const k = insertSorted(starts, o.start);
      if (k === byStart.length) byStart.push(at);
      else byStart.splice(k, 0, at);
    }
    w.n = list.length;
  }
  return w;
}

/**
 * The members of `list` (those `member` accepts) that `keep` accepts and whose lifetime overlaps
 * [from, to] (o.start <= to && o.end >= from), in list order: what
 * `list.filter((o) => member(o) && keep(o) && o.start <= to && o.end >= from)` gives. Candidates
 * are found by bisection on their starts, in [from - longest lifetime, to].
 */
export function overlapping(
  list: readonly ConnectionRecord[],
  member: (c: ConnectionRecord) => boolean,
  from: number,
  to: number,
  keep: (c: ConnectionRecord) => boolean,
): ConnectionRecord[] {
  const w = timeWindows(list, member);
  const out: ConnectionRecord[] = [];
  const members = w.members;
  if (Number.isNaN(from) || Number.isNaN(to)) return out; // o.start <= NaN, o.end >= NaN: never
  if (w.maxDuration === Infinity) {
    for (const o of members) if (keep(o) && o.start <= to && o.end >= from) out.push(o);
    return out;
  }
  // o.end >= from and o.end <= o.start + maxDuration give o.start >= from - maxDuration (less one
  // second, so that rounding in end - start cannot leave a candidate out).
  const lower = from - w.maxDuration - 1;
  const starts = w.starts;
  const lo = firstAtLeast(starts, lower);
  const hits: number[] = [];
  for (let k = lo; k < starts.length && starts[k]! <= to; k++) {
    const i = w.byStart[k]!;
    const o = members[i]!;
    if (keep(o) && o.start <= to && o.end >= from) hits.push(i);
  }
  hits.sort((a, b) => a - b);
  for (const i of hits) out.push(members[i]!);
  return out;
}

/**
 * How many members overlapping() would give, and its first `firstN` (pushed onto `first`, in list
 * order), without building the whole list or sorting it (a rule that needs the number and a few
 * frames: server_unresponsive's concurrent half-done handshakes, hundreds per connection in an attempt
 * storm).
 */
export function countOverlapping(
  list: readonly ConnectionRecord[],
  member: (c: ConnectionRecord) => boolean,
  from: number,
  to: number,
  keep: (c: ConnectionRecord) => boolean,
  first: ConnectionRecord[] | null = null,
  firstN = 0,
): number {
  const w = timeWindows(list, member);
  const members = w.members;
  if (Number.isNaN(from) || Number.isNaN(to)) return 0;
  let n = 0;
  if (w.maxDuration === Infinity) {
    for (const o of members) {
      if (!(keep(o) && o.start <= to && o.end >= from)) continue;
      if (first !== null && n < firstN) first.push(o);
      n++;
    }
    return n;
  }
  const lower = from - w.maxDuration - 1;
  const starts = w.starts;
  const lo = firstAtLeast(starts, lower);
  // The firstN smallest member indexes of the hits, kept sorted (insertion into at most firstN).
  const low: number[] = [];
  for (let k = lo; k < starts.length && starts[k]! <= to; k++) {
    const i = w.byStart[k]!;
    const o = members[i]!;
    if (!(keep(o) && o.start <= to && o.end >= from)) continue;
    n++;
    if (firstN <= 0 || first === null) continue;
    if (low.length === firstN && i > low[firstN - 1]!) continue;
    let p = low.length;
    while (p > 0 && low[p - 1]! > i) p--;
    low.splice(p, 0, i);
    if (low.length > firstN) low.pop();
  }
  if (first !== null) for (const i of low) first.push(members[i]!);
  return n;
}

interface NearestIndex {
  n: number;
  /** Per capture file: the members with a finite start, sorted by start then list order. */
  byFile: Map<number, { starts: number[]; order: number[]; members: ConnectionRecord[] }>;
  /** Members in list order (their index is their order). */
  members: ConnectionRecord[];
}
const nearestCache = new WeakMap<readonly ConnectionRecord[], WeakMap<(c: ConnectionRecord) => boolean, NearestIndex>>();

/**
 * The member of `list` (one `member` accepts) of capture file `fileIndex`, other than `exclude`,
 * whose start is nearest to `start` (the first in list order among equally near ones), or null:
 * what a scan keeping the first `o` with `Math.abs(o.start - start) < best` gives (a start that is
 * not finite is never nearer than Infinity).
 */
export function nearestByStart(
  list: readonly ConnectionRecord[],
  member: (c: ConnectionRecord) => boolean,
  fileIndex: number,
  start: number,
  exclude: ConnectionRecord,
): ConnectionRecord | null {
  let perMember = nearestCache.get(list);
  if (perMember === undefined) nearestCache.set(list, (perMember = new WeakMap()));
  let x = perMember.get(member);
  if (x === undefined || x.n !== list.length) {
    const members = x?.members ?? [];
    for (let i = x?.n ?? 0; i < list.length; i++) if (member(list[i]!)) members.push(list[i]!);
    const byFile = new Map<number, { starts: number[]; order: number[]; members: ConnectionRecord[] }>();
    for (let i = 0; i < members.length; i++) {
      const o = members[i]!;
      if (!Number.isFinite(o.start)) continue;
      let f = byFile.get(o.fileIndex);
      if (f === undefined) byFile.set(o.fileIndex, (f = { starts: [], order: [], members }));
      f.order.push(i);
    }
    for (const f of byFile.values()) {
      f.order.sort((a, b) => members[a]!.start - members[b]!.start || a - b);
      f.starts = f.order.map((i) => members[i]!.start);
    }
    x = { n: list.length, byFile, members };
    perMember.set(member, x);
  }
  const f = x.byFile.get(fileIndex);
  if (f === undefined || !Number.isFinite(start)) return null;
  const { starts, order, members } = f;
  // The first index whose start is >= start; candidates on the left go down from it - 1.
  const lo = firstAtLeast(starts, start);
  let left = lo - 1;
  let right = lo;
  while (left >= 0 && members[order[left]!] === exclude) left--;
  while (right < starts.length && members[order[right]!] === exclude) right++;
  const dl = left >= 0 ? Math.abs(starts[left]! - start) : Infinity;
  const dr = right < starts.length ? Math.abs(starts[right]! - start) : Infinity;
  const d = dl < dr ? dl : dr;
  if (!(d < Infinity)) return null;
  // Every member at that distance (either side; subtraction is monotonic, so they are contiguous): the first in list order.
  let best = -1;
  for (let k = left; k >= 0 && Math.abs(starts[k]! - start) === d; k--) {
    const i = order[k]!;
    if (members[i] !== exclude && (best < 0 || i < best)) best = i;
  }
  for (let k = right; k < starts.length && Math.abs(starts[k]! - start) === d; k++) {
    const i = order[k]!;
    if (members[i] !== exclude && (best < 0 || i < best)) best = i;
  }
  return best < 0 ? null : members[best]!;
}

interface StartsByServer {
  n: number;
  /** The list's connections' finite starts per server IP, sorted. */
  byServer: Map<string, number[]>;
}
const startsCache = new WeakMap<readonly ConnectionRecord[], StartsByServer>();

/**
 * Whether a connection of `list` to one of `ips` started within `seconds` of `time`: what
 * `list.some((o) => ips.includes(o.flow.server.ip) && Math.abs(o.start - time) <= seconds)` gives,
 * by bisection on the starts of the list's connections to each address.
 */
export function startedNear(list: readonly ConnectionRecord[], ips: readonly string[], time: number, seconds: number): boolean {
  let e = startsCache.get(list);
  if (e === undefined || e.n !== list.length) {
    const byServer = new Map<string, number[]>();
    for (const o of list) if (Number.isFinite(o.start)) push(byServer, o.flow.server.ip, o.start);
    for (const s of byServer.values()) s.sort((a, b) => a - b);
    e = { n: list.length, byServer };
    startsCache.set(list, e);
  }
  // A start or a time that is not finite is never within `seconds` (the difference is NaN or infinite).
  if (!Number.isFinite(time)) return false;
  for (const ip of ips) {
    const starts = e.byServer.get(ip);
    if (starts === undefined) continue;
    // The first start not below the window (less a second, for rounding), then the exact test.
    const from = time - seconds - 1;
    const lo = firstAtLeast(starts, from);
    for (let k = lo; k < starts.length && starts[k]! <= time + seconds + 1; k++) if (Math.abs(starts[k]! - time) <= seconds) return true;
  }
  return false;
}

interface SameServerPart {
  /** The partition's members (one capture file, one server port), in list order. */
  members: ConnectionRecord[];
  /** Indexes into members sorted by start, and their starts (members whose start or end is NaN left out: they overlap nothing). */
  byStart: number[];
  starts: number[];
  /** The same members' ends, sorted. */
  ends: number[];
  /** The longest end - start (>= 0), Infinity when one is not finite. */
  maxDuration: number;
  /** byStart is in list order (every member so far started no earlier than the ones before it). */
  inOrder: boolean;
  /** A member ends before it starts (then counting by starts and ends does not hold). */
  reversed: boolean;
}
interface SameServerWindows {
  n: number;
  /** By fileIndex * 65536 + server port. */
  parts: Map<number, SameServerPart>;
}
const sameServerCache = new WeakMap<readonly ConnectionRecord[], WeakMap<(c: ConnectionRecord) => boolean, SameServerWindows>>();

/** The index of the first element of the sorted `a` above x (a.length when none). */
function firstAbove(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts x into the sorted `a` after the elements equal to it; returns where. */
function insertSorted(a: number[], x: number): number {
  let at = a.length;
  if (at > 0 && !(a[at - 1]! <= x)) at = firstAbove(a, x);
  if (at === a.length) a.push(x);
  else a.splice(at, 0, x);
  return at;
}

function sameServerWindows(list: readonly ConnectionRecord[], member: (c: ConnectionRecord) => boolean): SameServerWindows {
  let perMember = sameServerCache.get(list);
  if (perMember === undefined) sameServerCache.set(list, (perMember = new WeakMap()));
  let w = perMember.get(member);
  if (w === undefined) perMember.set(member, (w = { n: 0, parts: new Map() }));
  // The list only grows (as for timeWindows): new members are put in place.
  for (let i = w.n; i < list.length; i++) {
    const o = list[i]!;
    if (!member(o)) continue;
    const key = o.fileIndex * 65536 + o.flow.server.port;
    let p = w.parts.get(key);
    if (p === undefined) w.parts.set(key, (p = { members: [], byStart: [], starts: [], ends: [], maxDuration: 0, inOrder: true, reversed: false }));
    const at = p.members.length;
    p.members.push(o);
    if (Number.isNaN(o.start) || Number.isNaN(o.end)) continue;
    if (o.end < o.start) p.reversed = true;
    const d = o.end - o.start;
    if (!Number.isFinite(d)) p.maxDuration = Infinity;
    else if (d > p.maxDuration) p.maxDuration = d;
    const k = insertSorted(p.starts, o.start);
    if (k === p.byStart.length) p.byStart.push(at);
    else {
      p.byStart.splice(k, 0, at);
      p.inOrder = false;
    }
    insertSorted(p.ends, o.end);
  }
  w.n = list.length;
  return w;
}

/**
 * What countOverlapping(list, member, conn.start, conn.end, (o) => o !== conn && o.fileIndex ===
 * conn.fileIndex && o.flow.server.port === conn.flow.server.port, first, firstN) gives: the other
 * members of `list` of the same capture file and server port whose lifetime overlaps conn's, counted
 * and their first `firstN` (in list order) pushed onto `first`. The members are partitioned by file
 * and port, and counted by bisection: those starting no later than conn's end, less those ending
 * before its start (when every member ends no earlier than it starts, each of the latter is one of
 * the former). An attempt storm's pending handshakes to one server all overlap each other: the scan
 * of countOverlapping made that quadratic.
 */
export function countOverlappingSameServer(
  list: readonly ConnectionRecord[],
  member: (c: ConnectionRecord) => boolean,
  conn: ConnectionRecord,
  first: ConnectionRecord[],
  firstN: number,
): number {
  const from = conn.start;
  const to = conn.end;
  const p = sameServerWindows(list, member).parts.get(conn.fileIndex * 65536 + conn.flow.server.port);
  if (p === undefined || Number.isNaN(from) || Number.isNaN(to)) return 0;
  if (p.reversed || !p.inOrder || !(from <= to)) {
    const file = conn.fileIndex;
    const port = conn.flow.server.port;
    return countOverlapping(list, member, from, to, (o) => o !== conn && o.fileIndex === file && o.flow.server.port === port, first, firstN);
  }
  const { starts, ends, byStart, members } = p;
  let n = firstAbove(starts, to) - firstAtLeast(ends, from);
  // conn itself, when it is a member: it overlaps its own lifetime (from <= to).
  for (let k = firstAtLeast(starts, from); k < starts.length && starts[k] === from; k++) {
    if (members[byStart[k]!] === conn) {
      n--;
      break;
    }
  }
  if (firstN > 0 && n > 0) {
    // byStart is in list order: the first hits from the lowest possible start are the first in list order.
    const lo = p.maxDuration === Infinity ? 0 : firstAtLeast(starts, from - p.maxDuration - 1);
    let got = 0;
    for (let k = lo; k < starts.length && starts[k]! <= to && got < firstN; k++) {
      const o = members[byStart[k]!]!;
      if (o !== conn && o.end >= from) {
        first.push(o);
        got++;
      }
    }
  }
  return n;
}
