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
