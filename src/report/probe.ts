// What a probe learns about a server, step by step (issue 20). Plain data: the report carries it
// as `probe` (docs/report.schema.json), and the diagnosis (src/probe/judge.ts) reads only this.
import type { CertificateInfo } from '../handshake/types.js';

/** How a TCP connect ended (RFC 9293 3.5; ICMP unreachable RFC 792 / RFC 4443 as the socket reports it). */
export type ConnectOutcome = 'connected' | 'refused' | 'filtered' | 'unreachable' | 'error';

export interface ConnectResult {
  outcome: ConnectOutcome;
  /** Milliseconds from connect() to the answer (or to giving up). */
  ms: number;
  /** The socket error code (ECONNREFUSED, EHOSTUNREACH, ...), or null. */
  errno: string | null;
}

/** How the server answered one X.224 Connection Request (MS-RDPBCGR 2.2.1.1 / 2.2.1.2). */
export type X224Outcome =
  | 'selected' // RDP_NEG_RSP
  | 'failure' // RDP_NEG_FAILURE
  | 'confirm_without_negotiation' // a Confirm with no RDP_NEG_* (an old server: Standard RDP Security)
  | 'no_answer' // TCP up, no Confirm within the timeout
  | 'reset'
  | 'closed'
  | 'malformed'
  | 'not_connected';

export interface X224Step {
  /** The protocol set's name: "RDP", "SSL", "HYBRID", "HYBRID_EX", "RDSTLS", "none" (no RDP_NEG_REQ). */
  set: string;
  /** requestedProtocols sent, or null for "none". */
  requestedProtocols: number | null;
  outcome: X224Outcome;
  selectedProtocol: number | null;
  selectedProtocolName: string | null;
  failureCode: number | null;
  failureCodeName: string | null;
  ms: number;
  connectionId: string | null;
  detail: string;
}

export type TlsOutcome = 'handshake' | 'alert' | 'reset' | 'closed' | 'no_answer' | 'error' | 'not_tried';

export interface TlsStep {
  /** The version offered alone ("TLS1.0".."TLS1.3"), or "default" (TLS 1.0 to 1.3 offered at once). */
  offered: string;
  outcome: TlsOutcome;
  version: string | null;
  cipher: string | null;
  /** Alert description as OpenSSL reports it (e.g. "protocol_version"), or null. */
  alert: string | null;
  ms: number;
  connectionId: string | null;
  detail: string;
}

export interface CertJudgement {
  /** Leaf first, as the server sent the chain. */
  chain: CertificateInfo[];
  /** The name the certificate was compared with (the probed name or address). */
  name: string;
  nameMatches: boolean;
  /** Judged against the local clock at probe time. */
  validity: 'valid' | 'expired' | 'not_yet_valid';
  selfSigned: boolean;
  weakKey: boolean;
  sha1: boolean;
  /** Where the chain was read: the capture (TLS 1.2 and below) or only the socket (TLS 1.3 encrypts it). */
  seenIn: 'capture' | 'socket';
}

export interface CredsspStep {
  outcome: 'challenge' | 'error_code' | 'closed' | 'reset' | 'no_answer' | 'malformed' | 'not_tried';
  /** TSRequest version of the server's answer (MS-CSSP 2.2.1). */
  version: number | null;
  errorCode: number | null;
  errorName: string | null;
  nbComputer: string | null;
  nbDomain: string | null;
  dnsComputer: string | null;
  dnsDomain: string | null;
  /** "10.0.20348" from the CHALLENGE's VERSION (MS-NLMP 2.2.2.10). */
  osBuild: string | null;
  connectionId: string | null;
  detail: string;
}

/** An NLA logon test (MS-CSSP 3.1.5 step 3) with the user's credentials, when asked for. */
export interface LogonStep {
  /** "DOMAIN\\user" or "user". */
  user: string;
  outcome: 'accepted' | 'error_code' | 'closed' | 'reset' | 'no_answer' | 'malformed' | 'not_tried';
  errorCode: number | null;
  errorName: string | null;
  detail: string;
  connectionId: string | null;
}

export interface ProbeResult {
  /** As given: "host", "host:port", "[v6]:port". */
  target: string;
  host: string;
  port: number;
  /** The DNS answer for a name (null for an address literal); the first address is the one probed. */
  dns: { name: string; addresses: string[]; error: string | null; ms: number } | null;
  address: string | null;
  connect: ConnectResult | null;
  x224: X224Step[];
  tls: TlsStep[];
  certificate: CertJudgement | null;
  credssp: CredsspStep | null;
  logon: LogonStep | null;
  /** Local clock at the start of the probe, ISO-8601 UTC. */
  time: string;
  timeoutMs: number;
}

// ---------------------------------------------------------------- the matrix, for every format

export interface ProbeTable {
  title: string;
  head: string[];
  rows: string[][];
}

function endpointOf(p: ProbeResult): string {
  const a = p.address ?? p.host;
  return a.includes(':') ? `[${a}]:${p.port}` : `${a}:${p.port}`;
}

/** One-line facts above the tables: target, DNS answer, TCP connect, certificate, CredSSP. */
export function probeFacts(p: ProbeResult): string[] {
  const out: string[] = [`Target: ${p.target} -> ${endpointOf(p)}, probed ${p.time}, ${p.timeoutMs} ms per step`];
  if (p.dns) out.push(p.dns.error ? `DNS: ${p.dns.name} did not resolve (${p.dns.error}, ${p.dns.ms} ms)` : `DNS: ${p.dns.name} -> ${p.dns.addresses.join(', ')} (${p.dns.ms} ms; the first address was probed)`);
  if (p.connect) out.push(`TCP connect: ${p.connect.outcome}${p.connect.errno ? ` (${p.connect.errno})` : ''} in ${p.connect.ms.toFixed(1)} ms`);
  const c = p.certificate;
  const leaf = c?.chain[0];
  if (c && leaf) {
    const notes = [
      c.validity === 'valid' ? 'valid now' : c.validity === 'expired' ? 'EXPIRED' : 'NOT YET VALID',
      c.nameMatches ? `carries the name "${c.name}"` : `does NOT carry the name "${c.name}"`,
      c.selfSigned ? 'self-signed' : `issued by ${leaf.issuer}`,
      `${leaf.keyType ?? '?'} ${leaf.keyBits ?? '?'} bits${c.weakKey ? ' (weak)' : ''}`,
      `${leaf.signatureAlgorithm ?? '?'}${c.sha1 ? ' (SHA-1)' : ''}`,
    ];
    out.push(`Certificate: ${leaf.subject || '(no subject)'}, ${leaf.notBefore} .. ${leaf.notAfter}: ${notes.join(', ')}; chain of ${c.chain.length}${c.seenIn === 'socket' ? ' (read from the socket: TLS 1.3 encrypts it in the capture)' : ''}`);
  }
  const cs = p.credssp;
  if (cs && cs.outcome !== 'not_tried') {
    if (cs.outcome === 'challenge' && (cs.nbComputer || cs.dnsComputer || cs.osBuild)) {
      const who = cs.nbDomain && cs.nbComputer ? `${cs.nbDomain}\\${cs.nbComputer}` : (cs.nbComputer ?? '?');
      const extra = [cs.dnsComputer ? `DNS name ${cs.dnsComputer}` : null, cs.dnsDomain ? `domain ${cs.dnsDomain}` : null, cs.osBuild ? `Windows ${cs.osBuild}` : null].filter((x) => x);
      out.push(`CredSSP: version ${cs.version ?? '?'}; the NTLM CHALLENGE names ${who}${extra.length ? ` (${extra.join(', ')})` : ''}`);
    } else {
      out.push(`CredSSP: ${cs.version !== null ? `version ${cs.version}; ` : ''}${cs.detail}`);
    }
  }
  if (p.logon) out.push(`NLA logon as ${p.logon.user}: ${p.logon.detail}`);
  return out;
}

/** The protocol matrix (one X.224 request per protocol set) and the TLS matrix (one handshake per version). */
export function probeTables(p: ProbeResult): ProbeTable[] {
  const tables: ProbeTable[] = [];
  if (p.x224.length > 0) {
    tables.push({
      title: 'Security protocols (one X.224 Connection Request each)',
      head: ['requested', 'answer', 'ms', 'connection'],
      rows: p.x224.map((s) => [
        s.requestedProtocols === null ? 'none (no RDP_NEG_REQ)' : `${s.set} (0x${s.requestedProtocols.toString(16).padStart(8, '0')})`,
        s.outcome === 'selected' ? `selected ${s.selectedProtocolName}` : s.outcome === 'failure' ? `RDP_NEG_FAILURE ${s.failureCodeName}` : s.detail,
        String(s.ms),
        s.connectionId ?? '-',
      ]),
    });
  }
  if (p.tls.length > 0) {
    tables.push({
      title: 'TLS (one handshake per version offered)',
      head: ['offered', 'answer', 'ms', 'connection'],
      rows: p.tls.map((t) => [t.offered === 'default' ? 'TLS1.0-TLS1.2 (as mstsc)' : t.offered, t.outcome === 'handshake' ? `${t.version} ${t.cipher ?? ''}`.trim() : t.detail, String(t.ms), t.connectionId ?? '-']),
    });
  }
  return tables;
}

/** A plain-text table (columns padded), each line indented. */
export function textTable(t: ProbeTable, indent = '  '): string[] {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => indent + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [`${t.title}:`, line(t.head), ...t.rows.map(line)];
}
