// One user attempt, several connections: the one place that decides which connections belong
// together (the attempt runs that groupAttempts tells as stories) and what a connection is within
// its user attempt:
// - mstsc's pre-authentication connection: with NLA, mstsc may run CredSSP (MS-CSSP 3.1.5) up to the
//   server's pubKeyAuth, close, and reconnect at once to the same server with the same certificate;
//   when that reconnect completes, the first connection was part of it, not a failure.
// - the client's own automatic retry: after a failure, mstsc tries again within a moment offering
//   other protocols (SSL only after CredSSP failed, PROTOCOL_RDP after TLS was refused); the first
//   failure carries the cause, a failed retry is its consequence, a completed one the fallback the
//   user got a session from.
import type { ConnectionRecord } from '../handshake/types.js';
import { endpointText } from '../flow/types.js';
import { PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX, protocolNames } from './codes.js';
import { clientStoppedBeforeCredentials, secondsText } from './facts.js';
import type { Finding } from './types.js';

/** Attempts from one client to one server at most this far apart are one story with its retries. */
export const ATTEMPT_WINDOW_SECONDS = 30;
/** mstsc reconnects after its pre-authentication within milliseconds to seconds. */
export const PRE_AUTH_RECONNECT_SECONDS = 10;
/** A client's automatic retry starts this soon after the connection it retries ended (a person takes longer). */
export const AUTO_RETRY_SECONDS = 5;

export type AttemptRole = 'pre_authentication' | 'retry';

/** What a connection is within a user attempt made of several connections (report: connections[].attempt). */
export interface AttemptLink {
  /**
   * 'pre_authentication': mstsc's CredSSP pre-authentication for the connection `of` that followed
   * and completed (not a failure, no cause). 'retry': the client's own retry after the failure of
   * `of` (the first failure of the attempt, which carries the cause).
   */
  role: AttemptRole;
  of: string;
  /** One sentence for people. */
  note: string;
}

function serverKey(conn: ConnectionRecord): string {
  return endpointText(conn.flow.server);
}

/**
 * The connections of one client IP to one server (ip:port) in one capture file, in time order,
 * cut where two are more than ATTEMPT_WINDOW_SECONDS apart: each run is one story.
 */
export function attemptRuns(connections: readonly ConnectionRecord[]): ConnectionRecord[][] {
  const byPair = new Map<string, ConnectionRecord[]>();
  for (const c of connections) {
    const k = `${c.fileIndex}|${c.flow.client.ip}|${serverKey(c)}`;
    const list = byPair.get(k);
    if (list) list.push(c);
    else byPair.set(k, [c]);
  }
  const runs: ConnectionRecord[][] = [];
  for (const list of byPair.values()) {
    list.sort((a, b) => a.start - b.start || a.flow.firstFrame - b.flow.firstFrame);
    let current: ConnectionRecord[] = [];
    let lastEnd = -Infinity;
    for (const c of list) {
      if (current.length && c.start - lastEnd > ATTEMPT_WINDOW_SECONDS) {
        runs.push(current);
        current = [];
        lastEnd = -Infinity;
      }
      current.push(c);
      lastEnd = Math.max(lastEnd === -Infinity ? c.end : lastEnd, c.end);
    }
    if (current.length) runs.push(current);
  }
  return runs.sort((a, b) => a[0]!.start - b[0]!.start);
}

const runsCache = new WeakMap<readonly ConnectionRecord[], { n: number; runs: ConnectionRecord[][] }>();

/**
 * attemptRuns over a run's connections, computed once per list (the links and the stories both
 * ask; as attemptLinks in index.ts, a list that changed length is split anew). The runs are shared:
 * read them, do not change them.
 */
export function runsOf(connections: readonly ConnectionRecord[]): readonly ConnectionRecord[][] {
  const hit = runsCache.get(connections);
  if (hit !== undefined && hit.n === connections.length) return hit.runs;
  const runs = attemptRuns(connections);
  runsCache.set(connections, { n: connections.length, runs });
  return runs;
}

function nlaSelected(c: ConnectionRecord): boolean {
  const sel = c.negotiation?.selectedProtocol;
  return c.security === 'credssp' || (sel != null && (sel & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0);
}

function leafSha256(c: ConnectionRecord): string | null {
  return c.tls?.certificates[0]?.sha256 ?? null;
}

/**
 * Whether `c` is mstsc's pre-authentication for `next`: NLA selected, the client closed after the
 * server's pubKeyAuth answer (proof-sized, not an errorCode-sized TSRequest, MS-CSSP 2.2.1) and before
 * sending its credentials, then `next` to the same server came within PRE_AUTH_RECONNECT_SECONDS with
 * the same certificate (or the same SNI when a certificate is hidden, TLS 1.3) and completed.
 */
function preAuthenticationFor(c: ConnectionRecord, next: ConnectionRecord): string | null {
  if (c.outcome !== 'failed' || next.outcome !== 'completed') return null;
  if (!nlaSelected(c) || c.credssp?.errorCode) return null;
  const pause = clientStoppedBeforeCredentials(c);
  if (!pause || !pause.proofSized || pause.answer === null) return null;
  const gap = next.start - c.end;
  if (gap < -0.001 || gap > PRE_AUTH_RECONNECT_SECONDS) return null;
  const a = leafSha256(c);
  const b = leafSha256(next);
  let same: string;
  if (a !== null && b !== null) {
    if (a !== b) return null;
    same = 'the same certificate';
  } else {
    if ((c.tls?.sni ?? null) !== (next.tls?.sni ?? null)) return null;
    same = c.tls?.sni ? `the same SNI "${c.tls.sni}" (the certificate is encrypted)` : 'the same server (the certificate is not visible)';
  }
  return `mstsc's Network Level Authentication pre-check for ${next.id}: CredSSP ran up to the server's public-key proof (frame ${pause.answer.frame}), the client closed in frame ${c.died?.frame ?? '?'} and reconnected ${secondsText(Math.max(0, gap))} later with ${same}; ${next.id} completed. Not a failure.`;
}

/** A retry by the client itself: soon after `prev` ended, offering other protocols than `prev` did. */
function isAutomaticRetry(prev: ConnectionRecord, next: ConnectionRecord): boolean {
  const a = prev.negotiation;
  const b = next.negotiation;
  if (!a || !b || a.requestFrame === null || b.requestFrame === null) return false;
  const gap = next.start - prev.end;
  if (gap < -0.001 || gap > AUTO_RETRY_SECONDS) return false;
  return (a.requestedProtocols ?? 0) !== (b.requestedProtocols ?? 0);
}

function offered(c: ConnectionRecord): string {
  const p = c.negotiation?.requestedProtocols;
  return p == null ? 'no RDP_NEG_REQ (Standard RDP Security)' : protocolNames(p).join(' | ');
}

/** Connection id -> what it is within its user attempt (connections that are attempts of their own are not in the map). */
export function linkAttempts(connections: readonly ConnectionRecord[]): Map<string, AttemptLink> {
  const links = new Map<string, AttemptLink>();
  for (const run of runsOf(connections)) {
    for (let i = 0; i + 1 < run.length; i++) {
      const note = preAuthenticationFor(run[i]!, run[i + 1]!);
      if (note) links.set(run[i]!.id, { role: 'pre_authentication', of: run[i + 1]!.id, note });
    }
    let root: ConnectionRecord | null = null;
    let prev: ConnectionRecord | null = null;
    for (const c of run) {
      if (links.has(c.id)) continue; // a pre-authentication belongs to the connection after it
      if (prev !== null && root !== null && isAutomaticRetry(prev, c)) {
        const gap = secondsText(Math.max(0, c.start - prev.end));
        const note =
          c.outcome === 'completed'
            ? `The client's own fallback ${gap} after ${prev.id}, offering ${offered(c)}: it completed, so the user got a session, with ${c.negotiation?.selectedProtocolName ?? offered(c)}.`
            : `The client's own retry ${gap} after ${prev.id}, offering ${offered(c)}: a consequence of the failure of ${root.id}, which carries the cause.`;
        links.set(c.id, { role: 'retry', of: root.id, note });
      } else {
        root = c.outcome === 'failed' ? c : null;
      }
      if (c.outcome === 'completed') root = null;
      prev = c;
    }
  }
  return links;
}

/**
 * The findings as the user attempt tells them: a pre-authentication connection has none; a failed
 * retry's findings are consequences of its root failure (flagged, without remediation: the root's
 * finding carries it). Other connections keep theirs.
 */
export function applyAttemptLinks(findings: Map<string, Finding[]>, links: Map<string, AttemptLink>, connections: readonly ConnectionRecord[]): void {
  for (const c of connections) {
    const link = links.get(c.id);
    if (!link) continue;
    if (link.role === 'pre_authentication') {
      findings.set(c.id, []);
      continue;
    }
    if (c.outcome === 'completed') continue; // the fallback keeps its own (warning) findings
    const list = findings.get(c.id) ?? [];
    findings.set(
      c.id,
      list.map((f) => ({ ...f, consequenceOf: link.of, remediation: [] })),
    );
  }
}
