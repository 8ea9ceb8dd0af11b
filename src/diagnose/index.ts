// The diagnosis stage: every rule over every connection that did not complete,
// then the stories told across connections (retries, servers, the headline).
import type { ConnectionRecord } from '../handshake/types.js';
import { endpointText } from '../flow/types.js';
import type { OtherPortFailureReport } from '../flow/other-ports.js';
import type { AttemptGroup, ServerSummary } from '../report/types.js';
import { causeRank, causeShort } from './catalogue.js';
import { PROTOCOL_RDP, protocolNames } from './codes.js';
import { RULES, WARNING_RULES } from './rules/index.js';
import { dnsCaptureFindings } from './capture.js';
import { gatewayConnectionFindings, gatewayFindings, gatewayNotes } from './gateway.js';
import { gatewayCertFindings } from './gateway-cert.js';
import { plural } from './facts.js';
import type { DiagnosisInput, Finding, ProbeGroup } from './types.js';
import { applyAttemptLinks, linkAttempts, runsOf, type AttemptLink } from './attempts.js';

export { CATALOGUE, CAUSES, STEPS } from './catalogue.js';
export { RULES } from './rules/index.js';
export { ATTEMPT_WINDOW_SECONDS, linkAttempts, type AttemptLink, type AttemptRole } from './attempts.js';

/** A connection the capture saw only in part gets findings no stronger than this. */
export const INCOMPLETE_MAX_CONFIDENCE = 0.3;
/** client_abort is dropped when another finding is at least this confident ("no better cause"). */
export const BETTER_CAUSE_CONFIDENCE = 0.6;

const INCOMPLETE_REASON: Record<string, string> = {
  started_late: 'The capture started after this connection began, so its start (and maybe the cause) is not in it.',
  ended_early: 'The capture ended before this connection finished, so its end (and maybe the cause) is not in it.',
};

/** Highest confidence first; equal confidences in catalogue order. */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => b.confidence - a.confidence || causeRank(a.cause) - causeRank(b.cause));
}

export function diagnoseConnection(conn: ConnectionRecord, input: DiagnosisInput): Finding[] {
  if (conn.outcome === 'completed') {
    // A connection that worked has no cause; it may have a weakness worth a warning.
    const warnings: Finding[] = [];
    for (const rule of WARNING_RULES) {
      const f = rule.check(conn, input);
      if (f) warnings.push(f);
    }
    return warnings;
  }
  // An RD Gateway refused the tunnelled connection before its channel opened (gateway-tunnel.ts): the
  // gateway's answer is the cause; the RDP rules have no RDP handshake to read.
  if (conn.gateway?.refusal != null && conn.died?.how === 'gateway_refusal') return sortFindings(gatewayConnectionFindings(conn));
  let findings: Finding[] = [];
  for (const rule of RULES) {
    const f = rule.check(conn, input);
    if (f) findings.push(f);
  }
  if (findings.some((f) => f.cause !== 'client_abort' && f.confidence >= BETTER_CAUSE_CONFIDENCE)) {
    findings = findings.filter((f) => f.cause !== 'client_abort');
  }
  // Through an RD Gateway the RDP port is the target's (CHANNEL_CREATE), not the gateway's 443.
  const port = conn.gateway !== undefined ? (conn.gateway.target?.port ?? 3389) : conn.flow.server.port;
  if (port !== 3389) findings = findings.map((f) => onPort(f, port));
  if (conn.outcome === 'incomplete_capture') {
    const why = INCOMPLETE_REASON[conn.incompleteReason ?? ''] ?? 'The capture does not hold the whole connection.';
    findings = findings.map((f) =>
      f.confidence <= INCOMPLETE_MAX_CONFIDENCE
        ? f
        : { ...f, confidence: INCOMPLETE_MAX_CONFIDENCE, confidenceReason: f.confidenceReason ? `${why} ${f.confidenceReason}` : why },
    );
  }
  return sortFindings(findings);
}

/**
 * A finding whose steps and checks name the connection's own port: the catalogue's words are
 * for the default port 3389, and an admin who moved Remote Desktop to 3390 must test 3390.
 */
export function onPort(f: Finding, port: number): Finding {
  const sub = (s: string): string => s.replace(/(-Port |\bport |findstr :)3389\b/g, `$1${port}`);
  return { ...f, remediation: f.remediation.map(sub), confirm: sub(f.confirm) };
}

/**
 * Findings per connection id (completed connections: warnings only, usually none), told as user
 * attempts (attempts.ts): a pre-authentication connection has none, a client's automatic retry
 * carries its findings as consequences of the first failure.
 */
export function diagnose(input: DiagnosisInput): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  for (const conn of input.connections) out.set(conn.id, diagnoseConnection(conn, input));
  applyAttemptLinks(out, attemptLinks(input.connections), input.connections);
  return out;
}

const linkCache = new WeakMap<readonly ConnectionRecord[], { n: number; links: Map<string, AttemptLink> }>();

/** linkAttempts over the run's connections, computed once per list (diagnose, the stories and the pipeline ask in turn). */
export function attemptLinks(connections: readonly ConnectionRecord[]): Map<string, AttemptLink> {
  const hit = linkCache.get(connections);
  if (hit && hit.n === connections.length) return hit.links;
  const links = linkAttempts(connections);
  linkCache.set(connections, { n: connections.length, links });
  return links;
}

/** A failed connection that counts as a failure (not mstsc's pre-authentication of the connection after it). */
export function countsAsFailed(c: ConnectionRecord, links: Map<string, AttemptLink>): boolean {
  return c.outcome === 'failed' && links.get(c.id)?.role !== 'pre_authentication';
}

/**
 * Findings not tied to one connection (failed name lookups for a server the
 * client then never reached; a decrypted RD Gateway's refusals), top first. Call it once per run after
 * diagnose(), with the same input and diagnose()'s result, so that a lookup a
 * connection's own finding already cites is not told twice:
 *
 *   const findings = diagnose(input);
 *   const captureFindings = diagnoseCapture(input, findings);
 *   report.captureFindings = captureFindings;   // top-level `captureFindings: Finding[]`
 *   summary.headline = headline(conns, findings, { findings: captureFindings, frames: capture.frames });
 */
/** The gateway connections the report names an RD Gateway's (shown or likely): the only ones whose certificate is judged. */
function namedGateways(input: DiagnosisInput): Set<string> {
  if ((input.gateways ?? []).length === 0) return new Set();
  return new Set(gatewayNotes(input).filter((n) => n.evidence !== 'possible').flatMap((n) => n.connections));
}

export function diagnoseCapture(input: DiagnosisInput, perConnection: Map<string, Finding[]>): Finding[] {
  // A warning (the gateway's KDC proxy failing before a tunnel that opened) stays below every failure.
  const all = sortFindings([...dnsCaptureFindings(input, perConnection), ...gatewayFindings(input), ...gatewayCertFindings(input, namedGateways(input))]);
  return [...all.filter((f) => f.severity !== 'warning'), ...all.filter((f) => f.severity === 'warning')];
}

// ---------------------------------------------------------------- stories

function clientIp(conn: ConnectionRecord): string {
  return conn.flow.client.ip;
}

/** "ip:port" as the reports spell endpoints (flow/types.ts endpointText: IPv6 in brackets). */
function serverKey(conn: ConnectionRecord): string {
  const gw = conn.gateway;
  // A tunnelled connection: the target as named (connections[].server), where the report's servers list it.
  if (gw !== undefined && gw.target !== null) return conn.server;
  return endpointText(conn.flow.server);
}

/** The same for people (the same text). */
function serverLabel(conn: ConnectionRecord): string {
  // A tunnelled connection (ConnectionRecord.gateway): the target as the client named it, and the gateway.
  const gw = conn.gateway;
  if (gw !== undefined) return gw.target !== null ? `${JSON.stringify(gw.target.host)} port ${gw.target.port} through the RD Gateway ${gw.gateway}` : `the RD Gateway ${gw.gateway}`;
  return endpointText(conn.flow.server);
}

/** The protocol a connection ended up with, in the spec's words. */
export function protocolUsed(conn: ConnectionRecord): string {
  const neg = conn.negotiation;
  if (neg?.selectedProtocolName) return neg.selectedProtocolName;
  if (neg?.selectedProtocol != null) return protocolNames(neg.selectedProtocol).join(' | ');
  if (neg && neg.requestFrame !== null) return protocolNames(PROTOCOL_RDP)[0]!;
  return conn.security ?? 'an unknown protocol';
}

function times(n: number): string {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`;
}

function top(findings: Map<string, Finding[]>, id: string): Finding | null {
  return findings.get(id)?.[0] ?? null;
}

/** Findings below this are told as "possibly ...". */
export const LIKELY_CONFIDENCE = 0.5;

function causeClause(f: Finding | null): string {
  if (!f) return 'the capture does not show why';
  const s = f.summary ?? causeShort(f.cause);
  return f.confidence >= LIKELY_CONFIDENCE ? s : `possibly ${s}`;
}

/** Failed (or partly captured) attempts that share one top cause, told with one clause. */
interface CauseBucket {
  clause: string;
  ids: string[];
}

/**
 * The attempts' top causes, each with the attempts it is the top cause of (in order of first
 * appearance): every summary line is built from the attempts it counts, so one attempt's cause is
 * never given to another. A weak top finding ("possibly ...") and no finding are causes of their own.
 */
export function causeBuckets(conns: readonly ConnectionRecord[], findings: Map<string, Finding[]>): CauseBucket[] {
  const byKey = new Map<string, { findings: (Finding | null)[]; ids: string[] }>();
  for (const c of conns) {
    const f = top(findings, c.id);
    const key = f === null ? '' : f.confidence >= LIKELY_CONFIDENCE ? f.cause : `?${f.cause}`;
    let b = byKey.get(key);
    if (b === undefined) byKey.set(key, (b = { findings: [], ids: [] }));
    b.findings.push(f);
    b.ids.push(c.id);
  }
  const out: CauseBucket[] = [];
  for (const b of byKey.values()) {
    const first = b.findings[0] ?? null;
    // One clause for the bucket: the findings' own words when they all say the same, else the cause's short phrase.
    const same = b.findings.every((f) => (f?.summary ?? null) === (first?.summary ?? null));
    const clause = first === null || same ? causeClause(first) : causeClause({ ...first, summary: causeShort(first.cause).replace(/^refused: /, '') });
    out.push({ clause, ids: b.ids });
  }
  return out;
}

/** "nothing listens ..." for one cause; "in 1, nothing listens ...; in 1, the capture does not show why" for several. */
function countedClauses(buckets: readonly CauseBucket[]): string {
  if (buckets.length === 1) return buckets[0]!.clause;
  return buckets.map((b) => `in ${b.ids.length}, ${b.clause}`).join('; ');
}

/**
 * Attempts from one client IP to one server (ip:port) no more than
 * ATTEMPT_WINDOW_SECONDS apart form one story. Clients retry on their own,
 * often with fewer protocols after a negotiation failure, so the first failure
 * (not the last fallback) carries the root cause.
 */
export function groupAttempts(connections: ConnectionRecord[], findings: Map<string, Finding[]>): AttemptGroup[] {
  const links = attemptLinks(connections);
  return runsOf(connections).map((run) => makeGroup(run, findings, links));
}

function makeGroup(conns: ConnectionRecord[], findings: Map<string, Finding[]>, links: Map<string, AttemptLink>): AttemptGroup {
  const first = conns[0]!;
  const failed = conns.filter((c) => countsAsFailed(c, links));
  const preAuth = conns.filter((c) => links.get(c.id)?.role === 'pre_authentication');
  const retries = conns.filter((c) => c.outcome === 'failed' && links.get(c.id)?.role === 'retry');
  const weak = conns.find((c) => c.outcome === 'completed' && (findings.get(c.id) ?? []).some((f) => f.cause === 'standard_rdp_security'));
  const incomplete = conns.filter((c) => c.outcome === 'incomplete_capture');
  const root = failed[0] ?? incomplete.find((c) => (findings.get(c.id)?.length ?? 0) > 0) ?? null;
  const last = conns[conns.length - 1]!;
  const rootClause = root ? `${causeClause(top(findings, root.id))} (${root.id})` : '';
  // Each cause with the attempts it is the top cause of, so that a retry story never lends one
  // attempt's cause to the others.
  const told = (list: ConnectionRecord[]): string => {
    if (list.length === 1) return rootClause; // one attempt: one bucket
    const buckets = causeBuckets(list, findings);
    return buckets.length === 1 ? rootClause : buckets.map((b) => `${b.clause} (${b.ids.join(', ')})`).join('; ');
  };
  let summary: string;
  const completedCount = conns.filter((c) => c.outcome === 'completed').length;
  if (failed.length === 0 && incomplete.length === 0) {
    const attempts = conns.length - preAuth.length;
    summary = attempts === 1 ? `Completed with ${protocolUsed(last)}.` : `All ${attempts} attempts completed (${protocolUsed(last)}).`;
  } else if (last.outcome === 'completed') {
    const notOk = conns.length - completedCount - preAuth.length;
    const many = failed.length > 1 ? causeBuckets(failed, findings).length > 1 : false;
    summary = `Failed ${times(notOk)}, then completed with ${protocolUsed(last)}${root ? (many ? `; the failures: ${told(failed)}` : `; the first failure: ${rootClause}`) : ''}.`;
  } else if (failed.length === 0) {
    summary = `${conns.length === 1 ? 'The attempt was' : `All ${conns.length} attempts were`} only partly captured${root ? `; maybe ${rootClause}` : ''}.`;
  } else {
    summary = `${conns.length === 1 ? 'Failed' : `Failed ${times(failed.length)}${failed.length < conns.length ? ` of ${conns.length} attempts` : ''}`}: ${told(failed)}.`;
  }
  if (retries.length > 0 && root) {
    summary += ` ${retries.map((c) => c.id).join(', ')} ${retries.length === 1 ? 'was the client\'s own retry' : 'were the client\'s own retries'} with other protocols, a consequence of ${root.id}, not a separate problem.`;
  }
  if (preAuth.length > 0) {
    summary += ` ${preAuth.map((c) => `${c.id} was mstsc's NLA pre-authentication for ${links.get(c.id)!.of}`).join('; ')}, not a failure.`;
  }
  if (weak) {
    summary += ` The session (${weak.id}) ran over Standard RDP Security: RC4, the server not authenticated.`;
  }
  return {
    client: clientIp(first),
    server: serverKey(first),
    connectionIds: conns.map((c) => c.id),
    rootCauseConnectionId: root?.id ?? null,
    summary,
  };
}

/**
 * a.localeCompare(b) for server keys ("ip:port", "[IPv6]:port" in RFC 5952's lowercase text): keys made of
 * ':', '.', '[', ']', digits and a-f are compared here in the order of Unicode's root collation (':' < '.' <
 * '[' < ']' < '0' .. '9' < 'a' .. 'f', a prefix first), which is what localeCompare gives for them (without a
 * locale that tailors these letters, so the order no longer depends on the process's locale); any
 * other character goes to localeCompare. The first localeCompare of a process builds ICU's
 * collator: ~17 ms, a sixth of a small capture's whole run.
 */
export function compareServerKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const rx = keyRank(x);
    const ry = keyRank(y);
    if (rx < 0 || ry < 0) return a.localeCompare(b);
    return rx - ry;
  }
  if (a.length === b.length) return 0;
  // A prefix sorts first when the rest of the longer key is made of the characters ranked here.
  const rest = a.length > b.length ? a : b;
  for (let i = n; i < rest.length; i++) if (keyRank(rest.charCodeAt(i)) < 0) return a.localeCompare(b);
  return a.length - b.length;
}

/** Root-collation rank of ':', '.', '[', ']' (IPv6 keys), the digits and a-f; -1 for any other character. */
function keyRank(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 4;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 14;
  if (c === 0x3a) return 0;
  if (c === 0x2e) return 1;
  if (c === 0x5b) return 2;
  if (c === 0x5d) return 3;
  return -1;
}

/** Per server: attempts, outcomes, and failures counted by their top cause. */
export function summarizeServers(connections: ConnectionRecord[], findings: Map<string, Finding[]>): ServerSummary[] {
  // One pass over the connections, counting per server (no list per server, no filter per outcome).
  const byServer = new Map<string, ServerCounts>();
  const links = attemptLinks(connections);
  for (const c of connections) {
    const k = serverKey(c);
    let a = byServer.get(k);
    if (a === undefined) byServer.set(k, (a = { attempts: 0, completed: 0, failed: 0, incomplete: 0, causes: null, preAuth: 0, weak: 0 }));
    const link = links.get(c.id);
    if (link?.role === 'pre_authentication') {
      a.preAuth++;
      continue;
    }
    a.attempts++;
    if (c.outcome === 'completed') {
      a.completed++;
      if (findings.get(c.id)?.some((f) => f.cause === 'standard_rdp_security')) a.weak++;
    } else if (c.outcome === 'failed') {
      a.failed++;
      const f = top(findings, c.id);
      const cause =
        link?.role === 'retry'
          ? "the client's own retry after a failure"
          : f && f.confidence >= LIKELY_CONFIDENCE
            ? causeShort(f.cause)
            : 'failed with no clear cause';
      const causes = (a.causes ??= new Map());
      causes.set(cause, (causes.get(cause) ?? 0) + 1);
    } else if (c.outcome === 'incomplete_capture') a.incomplete++;
  }
  const out: ServerSummary[] = [];
  for (const [server, a] of byServer) {
    const lines = a.causes === null ? [] : [...a.causes.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${n} ${k}`);
    if (a.completed) lines.push(`${a.completed} completed${a.weak ? ` (${a.weak === a.completed ? '' : `${a.weak} `}over weak Standard RDP Security)` : ''}`);
    if (a.incomplete) lines.push(`${a.incomplete} only partly captured`);
    if (a.preAuth) lines.push(`${a.preAuth} NLA pre-authentication connection${a.preAuth === 1 ? '' : 's'} (not counted as attempts)`);
    out.push({ server, attempts: a.attempts, completed: a.completed, failed: a.failed, incomplete: a.incomplete, lines });
  }
  return out.sort((a, b) => b.attempts - a.attempts || compareServerKeys(a.server, b.server));
}

interface ServerCounts {
  attempts: number;
  completed: number;
  failed: number;
  incomplete: number;
  /** Failed connections per top cause, in order of first appearance. */
  causes: Map<string, number> | null;
  /** mstsc's pre-authentication connections (not attempts of their own). */
  preAuth: number;
  /** Completed connections over Standard RDP Security. */
  weak: number;
}

/** "14 attempts to 10.2.0.5:3389: 12 blocked by a firewall (no SYN-ACK), 2 completed" */
export function serverSentence(s: ServerSummary): string {
  return `${s.attempts} attempt${s.attempts === 1 ? '' : 's'} to ${s.server}: ${s.lines.join(', ')}`;
}

/** What the headline may add about the capture as a whole. */
export interface CaptureContext {
  /** diagnoseCapture()'s findings. */
  findings?: Finding[];
  /** Frames in the capture (all files). */
  frames?: number;
  /** Probes set apart from the connections (probes.ts): named only when no RDP client's attempt is left. */
  probes?: ProbeGroup[];
  /** gateway.ts gatewayClause(): RD Gateway connections seen (or HTTPS that could be one), or null. */
  gateways?: string | null;
  /** No RDP attempt: TCP attempts to other ports never answered with a SYN-ACK (flow/other-ports.ts), most SYNs first. */
  otherPortFailures?: readonly OtherPortFailureReport[];
  /** The ports treated as RDP (3389 and `--port`). */
  rdpPorts?: readonly number[];
}

/** Ports named in the headline at most (the report's capture.otherPortFailures lists more). */
const OTHER_PORTS_NAMED = 3;

/**
 * "; but 5 TCP connection attempts to other ports failed: 10.0.0.5:3390 (3 SYNs, no answer),
 * 10.0.0.5:3391 (2 SYNs, each refused by a reset); if RDP listens on one of them, analyse again with
 * --port 3390": a failed attempt to a port we were not told about may be RDP there (issue 17).
 */
function otherPortsClause(other: readonly OtherPortFailureReport[]): string {
  if (other.length === 0) return '';
  const syns = other.reduce((a, f) => a + f.syns, 0);
  const named = other.slice(0, OTHER_PORTS_NAMED).map((f) => {
    const how = f.resets === 0 ? 'no answer' : f.resets >= f.syns ? (f.syns === 1 ? 'refused by a reset' : 'each refused by a reset') : `${plural(f.resets, 'reset')}, no SYN-ACK`;
    return `${f.server} (${plural(f.syns, 'SYN')}, ${how}; first frame ${f.firstFrame}${f.file !== undefined ? ` of ${f.file}` : ''})`;
  });
  const more = other.length > OTHER_PORTS_NAMED ? `, and ${plural(other.length - OTHER_PORTS_NAMED, 'more port')}` : '';
  return `; but TCP connection attempts to ${other.length === 1 ? 'another port' : 'other ports'} failed (${plural(syns, 'SYN')} never answered with a SYN-ACK): ${named.join(', ')}${more}. If RDP listens on ${other.length === 1 ? 'that port' : 'one of them'}, analyse again with --port ${other[0]!.port}`;
}

/**
 * One plain sentence for the whole capture. A capture-wide finding is told
 * when no connection failed (with failures, their causes lead).
 */
export function headline(allConnections: ConnectionRecord[], findings: Map<string, Finding[]>, capture: CaptureContext = {}): string {
  // mstsc's pre-authentication connections are part of the attempt after them, not attempts of their own.
  const links = attemptLinks(allConnections);
  const connections = links.size === 0 ? allConnections : allConnections.filter((c) => links.get(c.id)?.role !== 'pre_authentication');
  const n = connections.length;
  const weakOf = (c: ConnectionRecord): boolean => c.outcome === 'completed' && (findings.get(c.id)?.some((f) => f.cause === 'standard_rdp_security') ?? false);
  const weakClause = (conns: ConnectionRecord[]): string => {
    const w = conns.filter(weakOf).length;
    return w === 0 ? '' : ` ${w === 1 && conns.filter((c) => c.outcome === 'completed').length === 1 ? 'It runs' : `${w} ${w === 1 ? 'runs' : 'run'}`} over weak Standard RDP Security (RC4, the server not authenticated).`;
  };
  // A completed session in which no user logged on (decrypted, read whole): the user got no desktop.
  const noLogonClause = (conns: ConnectionRecord[]): string => {
    const w = conns.filter((c) => c.outcome === 'completed' && (findings.get(c.id)?.some((f) => f.cause === 'no_user_logon') ?? false)).length;
    if (w === 0) return '';
    return w === 1 && conns.filter((c) => c.outcome === 'completed').length === 1
      ? ' No user logged on in it (the server sent no Save Session Info).'
      : ` In ${w} of them no user logged on (no Save Session Info).`;
  };
  // A gateway's findings are told by the gateway clause (gatewayClause), in the same words: not twice.
  const wide = capture.findings?.find((f) => !f.cause.startsWith('gateway_')) ?? null;
  if (n === 0) {
    const frames = capture.frames !== undefined ? ` (${plural(capture.frames, 'frame')})` : '';
    const gw = capture.gateways ?? null;
    const other = capture.otherPortFailures ?? [];
    const ports = capture.rdpPorts ?? [3389];
    const onPorts = other.length > 0 ? ` on ${ports.length === 1 ? 'port' : 'ports'} ${ports.join(', ')}` : '';
    const base = `No ${gw !== null ? 'direct ' : ''}RDP connection attempt${onPorts} in this capture${frames}${gw !== null ? `; ${gw}` : ''}${otherPortsClause(other)}`;
    const probes = capture.probes ?? [];
    const set = probes.length === 0 ? '' : `; the ${plural(probes.reduce((a, p) => a + p.connections, 0), 'connection')} to RDP ports ${probes.length === 1 && probes[0]!.connections === 1 ? 'was a probe' : 'were probes'} (${[...new Set(probes.map((p) => (p.kind === 'scanner' ? 'a port scan' : p.kind === 'syn_flood' ? 'a SYN flood' : 'health checks')))].join(' and ')}), not RDP clients`;
    return wide ? `${base}${set}; ${causeClause(wide)}.` : `${base}${set}.`;
  }
  const gwClause = capture.gateways ?? null;
  const also = `${wide ? ` Also, ${causeClause(wide)}.` : ''}${gwClause !== null ? ` Also, ${gwClause}.` : ''}`;
  const failed = connections.filter((c) => countsAsFailed(c, links));
  const incomplete = connections.filter((c) => c.outcome === 'incomplete_capture').length;
  const partly = incomplete ? ` ${incomplete === 1 ? '1 attempt was' : `${incomplete} attempts were`} only partly captured.` : '';
  if (failed.length === 0) {
    if (incomplete === n) return `${n === 1 ? 'The only connection attempt was' : `All ${n} connection attempts were`} only partly captured; the capture cannot tell how ${n === 1 ? 'it' : 'they'} ended.${also}`;
    const done = n - incomplete;
    const base = done === 1 && n === 1 ? 'The connection attempt completed.' : incomplete ? `${done} of ${n} connection attempts completed.` : `All ${n} connection attempts completed.`;
    return `${base}${weakClause(connections)}${noLogonClause(connections)}${partly}${also}`;
  }
  // Failures per server, each with the cause of its first failure (the root of its retries).
  const servers = new Map<string, ConnectionRecord[]>();
  for (const c of failed) {
    const k = serverKey(c);
    const list = servers.get(k);
    if (list) list.push(c);
    else servers.set(k, [c]);
  }
  const ranked = [...servers.entries()].sort((a, b) => b[1].length - a[1].length || compareServerKeys(a[0], b[0]));
  // Each cause with its own count: one server's attempts may have failed for different reasons.
  const clauseFor = (conns: ConnectionRecord[]): string => countedClauses(causeBuckets(conns, findings));
  if (ranked.length === 1) {
    const [key, conns] = ranked[0]!;
    const server = serverLabel(conns[0]!);
    const total = connections.filter((c) => serverKey(c) === key).length;
    const others = n - total;
    const head =
      total === 1 && conns.length === 1 ? `The connection attempt to ${server} failed` : `${conns.length} of ${total} attempts to ${server} failed`;
    // The client's own fallback after a failure completed: the user got a session in the end.
    const later = connections.filter((c) => serverKey(c) === key && c.outcome === 'completed' && links.get(c.id)?.role === 'retry');
    const then = later.length > 0 ? ` Then ${later[0]!.id} completed with ${protocolUsed(later[0]!)}: the user got a session.${weakClause(later)}${noLogonClause(later)}` : '';
    return `${head}: ${clauseFor(conns)}.${then}${others ? ` ${others} attempt${others === 1 ? '' : 's'} to other servers did not fail.` : ''}${partly}`;
  }
  // One clause per server after a colon (a cause's own words may hold parentheses: never nested ones).
  const parts = ranked.slice(0, 3).map(([, conns]) => `${conns.length} to ${serverLabel(conns[0]!)}: ${clauseFor(conns)}`);
  const more = ranked.length > 3 ? `; and failures to ${ranked.length - 3} more servers` : '';
  return `${failed.length} of ${n} connection attempts failed. ${parts.join('; ')}${more}.${partly}`;
}
