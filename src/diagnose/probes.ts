// Connections that are not RDP clients (issue 18): a load balancer's or a monitor's health check
// (the same source connecting to one server every few seconds and closing without a byte) and a
// scanner (one source touching many hosts or ports without a byte: SYN only, or connect and
// close). RDP clients always speak first: MS-RDPBCGR 1.3.1.1 starts every connection with the
// client's X.224 Connection Request right after the TCP handshake, so a connection in which the
// client sent nothing was not an RDP client's attempt. Such connections are grouped here, set apart
// from the attempts (no cause, no remediation, not counted as failed) and reported as probes.
// A SYN flood (issue 19: many sources, one server's port, a high rate, no byte) is one group too,
// with the attempts the run only counted (past the records kept) added to it; a capture that is
// nothing but probes fails when their TCP handshakes did (failedHandshakes).
import type { ConnectionRecord } from '../handshake/types.js';
import type { ProbeGroup } from './types.js';

/** Byteless connections from one source to at least this many targets (host:port) make a scan. */
export const SCAN_MIN_TARGETS = 5;
/** A scan's connections follow each other at most this far apart (seconds). */
export const SCAN_MAX_GAP_S = 60;
/** Health checks: at least this many byteless connect-and-close connections from one source to one server... */
export const HEALTH_CHECK_MIN = 3;
/** ...each at most this long after the previous one (seconds; probes run every few seconds to a minute). */
export const HEALTH_CHECK_MAX_GAP_S = 120;
/** A SYN flood: byteless connections to one server's port from at least this many sources... */
export const FLOOD_MIN_SOURCES = 100;
/** ...at least this many of them... */
export const FLOOD_MIN_CONNECTIONS = 1000;
/** ...at this rate or more (connections per second over the group's span): RDP clients of an outage retry far slower. */
export const FLOOD_MIN_RATE = 50;
/** Frames and targets named per probe group at most. */
const MAX_LISTED = 20;

/** The client sent nothing and the server nothing: no RDP client's attempt. */
function byteless(c: ConnectionRecord): boolean {
  return c.transport === 'tcp' && c.flow.transport === 'tcp' && c.flow.payloadBytes[0] === 0 && c.flow.payloadBytes[1] === 0;
}

/** The TCP handshake completed (a SYN/ACK came) and the client then closed (FIN or RST) without a byte. */
function connectAndClose(c: ConnectionRecord): boolean {
  const t = c.flow.tcp;
  if (t === null || t.synAckFrames.length === 0) return false;
  return t.fins.some((f) => f.dir === 0) || t.rsts.some((r) => r.dir === 0);
}

/** Consecutive runs (by start time) whose gaps are at most maxGap. */
function clusters(list: ConnectionRecord[], maxGap: number): ConnectionRecord[][] {
  const sorted = [...list].sort((a, b) => a.start - b.start || a.flow.firstFrame - b.flow.firstFrame);
  const out: ConnectionRecord[][] = [];
  let cur: ConnectionRecord[] = [];
  for (const c of sorted) {
    if (cur.length > 0 && c.start - cur[cur.length - 1]!.start > maxGap) {
      out.push(cur);
      cur = [];
    }
    cur.push(c);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function seconds(x: number): string {
  return x >= 10 ? `${Math.round(x)}` : `${Math.round(x * 10) / 10}`;
}

function label(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The TCP three-way handshake completed (RFC 9293 3.5: the client's ACK of the SYN/ACK). */
function handshakeDone(c: ConnectionRecord): boolean {
  return c.flow.tcp !== null && c.flow.tcp.ackFrame !== null;
}

/** Half-open connections the run only counted (not recorded) for a server: their outcomes. */
export interface CountedHalfOpen {
  failed: number;
  incomplete: number;
}

function group(kind: ProbeGroup['kind'], conns: ConnectionRecord[], counted: CountedHalfOpen | null = null): ProbeGroup {
  const first = conns[0]!;
  const last = conns[conns.length - 1]!;
  const targets = [...new Set(conns.map((c) => label(c.flow.server.ip, c.flow.server.port)))];
  const hosts = new Set(conns.map((c) => c.flow.server.ip)).size;
  const ports = [...new Set(conns.map((c) => c.flow.server.port))].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < conns.length; i++) gaps.push(conns[i]!.start - conns[i - 1]!.start);
  const interval = gaps.length > 0 ? median(gaps) : null;
  const span = last.end - first.start;
  const client = first.flow.client.ip;
  const sources = new Set(conns.map((c) => c.flow.client.ip)).size;
  const extra = counted === null ? 0 : counted.failed + counted.incomplete;
  const total = conns.length + extra;
  // A counted half-open connection never completed its handshake (it would have left the slots).
  const failedHandshakes = conns.filter((c) => !handshakeDone(c)).length + extra;
  let summary: string;
  if (kind === 'syn_flood') {
    const answered = conns.filter((c) => (c.flow.tcp?.synAckFrames.length ?? 0) > 0).length;
    const refused = conns.filter((c) => (c.flow.tcp?.rsts.some((r) => r.dir === 1) ?? false)).length;
    const spanRecorded = last.start - first.start;
    const rate = spanRecorded > 0 ? Math.round(conns.length / spanRecorded) : conns.length;
    const answers = `${answered} of the ${conns.length} recorded answered by SYN/ACK${refused > 0 ? `, ${refused} refused by a reset` : ''}, about ${rate} a second`;
    summary = `${total} connections to ${targets[0]} from ${sources}${extra > 0 ? ' or more' : ''} sources, ${failedHandshakes === total ? 'none' : `${total - failedHandshakes}`} completing the TCP handshake and none sending a byte (${answers}): a SYN flood or a scan spread over many addresses, not RDP clients.`;
  } else if (kind === 'health_check') {
    summary = `${conns.length} connections from ${client} to ${targets[0]} about every ${seconds(interval ?? 0)} s, each opened and closed by ${client} without sending a byte: a load balancer's or monitor's health check, not an RDP client.`;
  } else {
    const answered = conns.filter((c) => (c.flow.tcp?.synAckFrames.length ?? 0) > 0).length;
    const where = hosts > 1 ? `${hosts} hosts` : `${ports.length} ports of ${first.flow.server.ip}`;
    const on = hosts > 1 ? ` on port${ports.length === 1 ? '' : 's'} ${ports.join(', ')}` : '';
    const more = extra > 0 ? `, and ${extra} more half-open connections counted, not recorded` : '';
    summary = `${client} touched ${where}${on} in ${seconds(span)} s (${conns.length} connections, ${answered} accepted${more}) without sending a byte: a port scan, not an RDP client.`;
  }
  return {
    kind,
    client,
    targets: targets.slice(0, MAX_LISTED),
    targetCount: targets.length,
    connections: total,
    fileIndex: first.fileIndex,
    start: first.start,
    end: latestEnd(conns),
    intervalSeconds: kind === 'health_check' ? interval : null,
    frames: conns.slice(0, MAX_LISTED).map((c) => c.flow.firstFrame),
    failedHandshakes,
    sources,
    summary,
  };
}

/** The latest end of the connections (a loop: a spread of a large group into Math.max overflows the stack). */
function latestEnd(conns: readonly { end: number }[]): number {
  let end = -Infinity;
  for (const c of conns) if (c.end > end) end = c.end;
  return end;
}

/**
 * The probes among the connections: groups (in order of their start) and the ids of the
 * connections in them. Connections with any payload are never probes.
 */
export function findProbes(
  connections: ConnectionRecord[],
  counted: ReadonlyMap<string, CountedHalfOpen> = new Map(),
  countedBySource: ReadonlyMap<string, CountedHalfOpen> = new Map(),
): { probes: ProbeGroup[]; ids: Set<string>; countedServers: Set<string>; countedSources: Set<string> } {
  const ids = new Set<string>();
  const probes: ProbeGroup[] = [];
  /** Servers ("ip:port") whose counted half-open connections went into a flood group. */
  const countedServers = new Set<string>();
  /** Sources ("fileIndex|ip") whose counted half-open connections went into a scan group. */
  const countedSources = new Set<string>();
  const bySource = new Map<string, ConnectionRecord[]>();
  for (const c of connections) {
    if (!byteless(c)) continue;
    const k = `${c.fileIndex}|${c.flow.client.ip}`;
    const list = bySource.get(k);
    if (list) list.push(c);
    else bySource.set(k, [c]);
  }
  for (const [source, list] of bySource) {
    // A source with fewer connections than a health check needs is neither (an attempt storm's
    // thousands of sources with one or two each: no clusters built for them).
    if (list.length < HEALTH_CHECK_MIN && list.length < SCAN_MIN_TARGETS) continue;
    // Scans: many targets from one source (with its attempts past the records kept, counted).
    for (const run of list.length < SCAN_MIN_TARGETS ? [] : clusters(list, SCAN_MAX_GAP_S)) {
      const targets = new Set(run.map((c) => `${c.flow.server.ip}|${c.flow.server.port}`));
      if (targets.size < SCAN_MIN_TARGETS) continue;
      for (const c of run) ids.add(c.id);
      const extra = countedSources.has(source) ? null : (countedBySource.get(source) ?? null);
      if (extra !== null) countedSources.add(source);
      probes.push(group('scanner', run, extra));
    }
    // Health checks: one source to one server, connect and close, again and again.
    const byServer = new Map<string, ConnectionRecord[]>();
    for (const c of list) {
      if (ids.has(c.id) || !connectAndClose(c)) continue;
      const k = `${c.flow.server.ip}|${c.flow.server.port}`;
      const l = byServer.get(k);
      if (l) l.push(c);
      else byServer.set(k, [c]);
    }
    for (const l of byServer.values()) {
      for (const run of clusters(l, HEALTH_CHECK_MAX_GAP_S)) {
        if (run.length < HEALTH_CHECK_MIN) continue;
        for (const c of run) ids.add(c.id);
        probes.push(group('health_check', run));
      }
    }
  }
  // SYN floods: many sources to one server's port, fast, no byte (what the scans above did not take).
  const byTarget = new Map<string, ConnectionRecord[]>();
  for (const c of connections) {
    if (!byteless(c) || ids.has(c.id)) continue;
    const k = `${c.fileIndex}|${label(c.flow.server.ip, c.flow.server.port)}`;
    const l = byTarget.get(k);
    if (l) l.push(c);
    else byTarget.set(k, [c]);
  }
  for (const list of byTarget.values()) {
    const target = label(list[0]!.flow.server.ip, list[0]!.flow.server.port);
    for (const run of clusters(list, SCAN_MAX_GAP_S)) {
      const extra = countedServers.has(target) ? null : (counted.get(target) ?? null);
      const n = run.length + (extra === null ? 0 : extra.failed + extra.incomplete);
      const span = run[run.length - 1]!.start - run[0]!.start;
      if (n < FLOOD_MIN_CONNECTIONS || n < FLOOD_MIN_RATE * span) continue;
      if (new Set(run.map((c) => c.flow.client.ip)).size < FLOOD_MIN_SOURCES) continue;
      for (const c of run) ids.add(c.id);
      if (extra !== null) countedServers.add(target);
      probes.push(group('syn_flood', run, extra));
    }
  }
  probes.sort((a, b) => a.fileIndex - b.fileIndex || a.start - b.start);
  return { probes, ids, countedServers, countedSources };
}
