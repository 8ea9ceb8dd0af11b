// Facts the rules share: reading a ConnectionRecord the same way everywhere,
// and building findings, filters and sentences from it.
import type { CertificateInfo, ConnectionRecord, TimelineEvent, TlsAlertInfo } from '../handshake/types.js';
import { phaseIndex } from '../handshake/types.js';
import { endpointText } from '../flow/types.js';
import { timeInRange } from '../capture/types.js';
import { CATALOGUE, causeSteps, stepText, type StepId } from './catalogue.js';
import { ALERT, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX, type AlertName } from './codes.js';
import type { CauseId, DiagnosisInput, Finding } from './types.js';
import { completedTo, connectionsFromClient, connectionsToServer, firstAnsweredOtherThan, nearestByStart } from './lookup.js';

// ---------------------------------------------------------------- findings

export interface FindingParts {
  confidence: number;
  confidenceReason: string | null;
  frames: (number | null | undefined)[];
  explanation: string;
  filter: string;
  /** Short clause for headlines. */
  summary: string;
  /** Subset of the cause's steps that apply (default: all of them). */
  steps?: readonly StepId[];
  /** Extra sentence appended to the catalogue's confirm text. */
  confirmExtra?: string;
  /** The connection a capture-wide finding concerns (Finding.connection). */
  connection?: string;
}

export function makeFinding(cause: CauseId, p: FindingParts): Finding {
  const c = CATALOGUE[cause];
  const steps = p.steps ?? causeSteps(cause);
  const confidence = Math.round(Math.min(1, Math.max(0, p.confidence)) * 100) / 100;
  const f: Finding = {
    cause,
    confidence,
    confidenceReason: confidence >= 1 ? null : p.confidenceReason,
    frames: uniqueFrames(p.frames),
    explanation: p.explanation,
    remediation: steps.map(stepText),
    confirm: p.confirmExtra ? `${c.confirm} ${p.confirmExtra}` : c.confirm,
    filter: p.filter,
    errorCode: c.errorCode,
    summary: p.summary,
  };
  // Added last (the same key order as before), not spread from literals: a spread made V8 copy the properties per finding.
  if (c.severity === 'warning') f.severity = 'warning';
  if (p.connection !== undefined) f.connection = p.connection;
  return f;
}

export function uniqueFrames(frames: (number | null | undefined)[]): number[] {
  // Sorted by insertion, duplicates left out (a finding names a handful of frames: no Set, no sort's copy).
  const out: number[] = [];
  for (let k = 0; k < frames.length; k++) {
    const f = frames[k];
    if (typeof f !== 'number' || !Number.isInteger(f) || !(f > 0)) continue;
    let i = out.length;
    while (i > 0 && out[i - 1]! > f) i--;
    if (i > 0 && out[i - 1] === f) continue;
    out.push(f);
    for (let j = out.length - 1; j > i; j--) out[j] = out[j - 1]!;
    out[i] = f;
  }
  return out;
}

// ---------------------------------------------------------------- filters

/** The last convFilter() made, and what it was made from (the rules ask for it in turn, per connection). */
const lastFilter: { flow: ConnectionRecord['flow'] | null; clientIp: string; serverIp: string; clientPort: number; serverPort: number; v6: boolean; udp: boolean; text: string } = {
  flow: null,
  clientIp: '',
  serverIp: '',
  clientPort: 0,
  serverPort: 0,
  v6: false,
  udp: false,
  text: '',
};

/** Wireshark display filter for the connection's packets (and ICMP quoting them). */
export function convFilter(conn: ConnectionRecord): string {
  const f = conn.flow;
  const v6 = f.ipVersion === 6;
  const udp = f.transport === 'udp';
  const l = lastFilter;
  if (l.flow === f && l.clientIp === f.client.ip && l.serverIp === f.server.ip && l.clientPort === f.client.port && l.serverPort === f.server.port && l.v6 === v6 && l.udp === udp) return l.text;
  const ip = v6 ? 'ipv6.addr' : 'ip.addr';
  const port = udp ? 'udp.port' : 'tcp.port';
  const text = `${ip}==${f.client.ip} && ${ip}==${f.server.ip} && ${port}==${f.client.port} && ${port}==${f.server.port}`;
  l.flow = f;
  l.clientIp = f.client.ip;
  l.serverIp = f.server.ip;
  l.clientPort = f.client.port;
  l.serverPort = f.server.port;
  l.v6 = v6;
  l.udp = udp;
  l.text = text;
  return text;
}

/** `frame.number in {a, b}` (Wireshark 4 set syntax). */
export function framesFilter(frames: (number | null | undefined)[]): string {
  const list = uniqueFrames(frames);
  if (list.length === 1) return `frame.number == ${list[0]}`;
  return `frame.number in {${list.join(', ')}}`;
}

/** Conversation AND (a field expression OR the evidence frames). */
export function evidenceFilter(conn: ConnectionRecord, field: string | null, frames: (number | null | undefined)[]): string {
  const parts: string[] = [];
  if (field) parts.push(field);
  if (uniqueFrames(frames).length > 0) parts.push(framesFilter(frames));
  if (parts.length === 0) return convFilter(conn);
  return `${convFilter(conn)} && (${parts.join(' || ')})`;
}

/** Wireshark display-filter string literal (backslash escapes; the name comes from the capture). */
export function filterString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f || c > 0x7e) out += [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    else out += ch;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------- text

export function isoDate(seconds: number): string {
  return timeInRange(seconds) ? new Date(seconds * 1000).toISOString().slice(0, 10) : 'an out-of-range date';
}

export function isoDateTime(seconds: number): string {
  return timeInRange(seconds) ? new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'an out-of-range time';
}

/** A duration for people: "250 ms", "2.5 s", "42 s", "3 min 5 s", "11 h 16 min", "470 d 3 h". */
export function secondsText(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 10) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole} s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string): string => (small > 0 ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`);
  if (whole < 3600) return two(Math.floor(whole / 60), 'min', whole % 60, 's');
  const minutes = Math.round(whole / 60);
  if (minutes < 24 * 60) return two(Math.floor(minutes / 60), 'h', minutes % 60, 'min');
  const hours = Math.round(whole / 3600);
  return two(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

/** "frame 18" or "frames 18, 19, 20". */
export function framesText(frames: readonly number[]): string {
  return frames.length === 1 ? `frame ${frames[0]}` : `frames ${frames.join(', ')}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/**
 * The X.224 Connection Confirm came only after the client had closed (its first FIN or RST): a
 * late answer to a client that had given up, not the negotiation's outcome (its contents are not
 * the cause). Its frame and the client's close, or null.
 */
export function lateConfirm(conn: ConnectionRecord): { confirmFrame: number; closeFrame: number } | null {
  const neg = conn.negotiation;
  const tcp = conn.flow.tcp;
  if (!neg || neg.confirmFrame === null || !tcp) return null;
  let close = Infinity;
  for (const f of tcp.fins) if (f.dir === 0 && f.frame < close) close = f.frame;
  for (const r of tcp.rsts) if (r.dir === 0 && r.frame < close) close = r.frame;
  return close < neg.confirmFrame ? { confirmFrame: neg.confirmFrame, closeFrame: close } : null;
}

/**
 * The client's ClientHello was retransmitted and never acknowledged, and no ServerHello came: the
 * server's TCP never took it in, so the server never read it (whatever it did next is not an
 * answer to it). The first transmission's frame and the retransmissions', or null.
 */
export function clientHelloUnread(conn: ConnectionRecord): { frame: number; retransmitFrames: number[] } | null {
  const tls = conn.tls;
  const tcp = conn.flow.tcp;
  if (!tls || tls.clientHelloFrame === null || tls.serverHelloFrame !== null || !tcp) return null;
  const hello = tls.clientHelloFrame;
  const l = tcp.lostSegments.find((x) => x.dir === 0 && !x.acked && x.frame <= hello);
  return l ? { frame: l.frame, retransmitFrames: l.retransmitFrames } : null;
}

export function serverText(conn: ConnectionRecord): string {
  return endpointText(conn.flow.server);
}

// ---------------------------------------------------------------- timeline

/** Time of a frame from the timeline, or null. */
export function frameTime(conn: ConnectionRecord, frame: number | null | undefined): number | null {
  if (frame == null) return null;
  for (const e of conn.timeline) if (e.frame === frame) return e.time;
  return null;
}

/** The last timeline event strictly before `frame` (or the last of all when frame is null). */
export function lastEventBefore(conn: ConnectionRecord, frame: number | null) {
  let last: ConnectionRecord['timeline'][number] | null = null;
  for (const e of conn.timeline) {
    if (frame !== null && e.frame >= frame) continue;
    if (!last || e.frame >= last.frame) last = e;
  }
  return last;
}

export function captureEndOf(conn: ConnectionRecord, input: DiagnosisInput): number {
  const end = input.captureEnd[conn.fileIndex];
  return typeof end === 'number' && Number.isFinite(end) ? Math.max(end, conn.end) : conn.end;
}

export function reachedAtLeast(conn: ConnectionRecord, phase: Parameters<typeof phaseIndex>[0]): boolean {
  return phaseIndex(conn.reached) >= phaseIndex(phase);
}

// ---------------------------------------------------------------- TLS

export function findAlert(conn: ConnectionRecord, names: AlertName[], by?: 'client' | 'server'): TlsAlertInfo | null {
  const alerts = conn.tls?.alerts ?? [];
  for (const a of alerts) {
    if (a.encrypted) continue;
    if (by && a.by !== by) continue;
    for (const n of names) if (a.description === n || a.code === ALERT[n]) return a;
  }
  return null;
}

export function plaintextAlerts(conn: ConnectionRecord, by: 'client' | 'server'): TlsAlertInfo[] {
  return (conn.tls?.alerts ?? []).filter((a) => a.by === by && !a.encrypted);
}

export interface EarlyClose {
  /** Frame of the FIN / RST / alert that ended it. */
  frame: number | null;
  how: string;
  /** An encrypted alert the client sent, if any. */
  encryptedAlert: TlsAlertInfo | null;
  /** Last frame of the server's handshake flight we know of. */
  serverFlightFrame: number | null;
}

/**
 * The client ended the connection right after the server's TLS handshake
 * flight, before (or instead of) sending any application data: what real
 * clients do when they refuse the certificate.
 */
export function earlyClientClose(conn: ConnectionRecord): EarlyClose | null {
  const t = conn.tls;
  const d = conn.died;
  if (!t || !d || conn.outcome === 'completed') return null;
  if (d.by !== 'client') return null;
  if (d.how !== 'fin' && d.how !== 'rst' && d.how !== 'encrypted_alert' && d.how !== 'tls_alert') return null;
  if (d.phase !== 'tls' && d.phase !== 'credssp') return null;
  if (t.serverHelloFrame === null) return null;
  // TLS 1.3: the client's Finished (and an alert) travel as application-data records.
  const allowance = t.version === 'TLS1.3' ? 2 : 1;
  if (t.appRecords.client > allowance) return null;
  const encryptedAlert = t.alerts.find((a) => a.by === 'client' && a.encrypted) ?? null;
  const serverFlightFrame = t.serverFinishedFrame ?? t.serverHelloDoneFrame ?? t.certificateFrame ?? t.serverHelloFrame;
  return { frame: d.frame ?? encryptedAlert?.frame ?? null, how: d.how, encryptedAlert, serverFlightFrame };
}

export function closeWords(how: string): string {
  switch (how) {
    case 'fin':
      return 'closed the connection (FIN)';
    case 'rst':
      return 'reset the connection (RST)';
    case 'encrypted_alert':
      return 'sent an encrypted alert';
    case 'tls_alert':
      return 'sent an alert';
    default:
      return `ended the connection (${how})`;
  }
}

export function leafCertificate(conn: ConnectionRecord): CertificateInfo | null {
  return conn.tls?.certificates[0] ?? null;
}

export type DateProblem = { kind: 'expired' | 'not_yet_valid'; date: number };

const DATES = new Map<string, number>();

/** Date.parse, remembered: several rules ask it of the same certificate dates for every connection. */
function parsedDate(text: string): number {
  let t = DATES.get(text);
  if (t === undefined) {
    if (DATES.size >= 4096) DATES.clear();
    t = Date.parse(text);
    DATES.set(text, t);
  }
  return t;
}

/** 1999-01-01 (RFC 2246, TLS 1.0): a capture time before it is a clock that was never set. */
export const EARLIEST_CAPTURE_TIME = 915148800;

/** notAfter before the connection time, or notBefore after it. */
export function certDateProblem(cert: CertificateInfo, at: number): DateProblem | null {
  // A capture time out of range, or before any RDP certificate could exist (a sensor whose clock
  // was never set writes 1970), says nothing about the certificate's dates.
  if (!timeInRange(at) || at < EARLIEST_CAPTURE_TIME) return null;
  const notAfter = parsedDate(cert.notAfter) / 1000;
  const notBefore = parsedDate(cert.notBefore) / 1000;
  if (Number.isFinite(notAfter) && notAfter < at) return { kind: 'expired', date: notAfter };
  if (Number.isFinite(notBefore) && notBefore > at) return { kind: 'not_yet_valid', date: notBefore };
  return null;
}

/** Self-signed, or issued by a name that is not the subject of any certificate of the chain sent. */
export function certTrustProblem(conn: ConnectionRecord): 'self_signed' | 'unknown_issuer' | null {
  return chainTrustProblem(conn.tls?.certificates ?? []);
}

/** The same for a chain as the server sent it, leaf first (an RD Gateway's, gateway-cert.ts). */
export function chainTrustProblem(chain: readonly CertificateInfo[]): 'self_signed' | 'unknown_issuer' | null {
  const leaf = chain[0];
  if (!leaf) return null;
  if (leaf.selfSigned || normDn(leaf.issuer) === normDn(leaf.subject)) return 'self_signed';
  const issuer = normDn(leaf.issuer);
  if (chain.slice(1).some((c) => normDn(c.subject) === issuer)) return null;
  return 'unknown_issuer';
}

function normDn(dn: string): string {
  return dn.replace(/\s*([,=/])\s*/g, '$1').trim().toLowerCase();
}

/** Common name from a subject text ("CN=host, O=..." or "/CN=host/O=..."). */
export function commonName(dn: string): string | null {
  const m = /(?:^|[,/+]\s*)CN\s*=\s*([^,/+]+)/i.exec(dn);
  return m && m[1] ? m[1].trim() : null;
}

/** Host names the certificate carries: SAN DNS names, else the CN (RFC 6125 6.4.4). */
export function certNames(cert: CertificateInfo): string[] {
  const names: string[] = [];
  for (const s of cert.san) {
    const v = s.replace(/^(DNS|IP Address|IP)\s*:\s*/i, '').trim();
    if (v) names.push(v.toLowerCase());
  }
  const cn = commonName(cert.subject);
  if (cn) names.push(cn.toLowerCase());
  return [...new Set(names)];
}

export function isIpLiteral(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-f:.]+$/i.test(s));
}

/**
 * Whether `name` matches a certificate name: exact, a left-most wildcard label
 * (RFC 6125 6.4.3), or a single-label name equal to the first label of an FQDN
 * (what users type for a host on their own domain).
 */
export function nameMatches(name: string, certName: string): boolean {
  const n = normName(name);
  const c = normName(certName);
  if (n === c) return true;
  const nDot = n.indexOf('.');
  const cDot = c.indexOf('.');
  if (c.startsWith('*.') && nDot > 0 && n.slice(nDot + 1) === c.slice(2)) return true;
  if (nDot < 0 && (cDot < 0 ? c : c.slice(0, cDot)) === n) return true;
  if (cDot < 0 && (nDot < 0 ? n : n.slice(0, nDot)) === c) return true;
  return false;
}

/** Lower case, one trailing dot removed. */
function normName(s: string): string {
  const l = s.toLowerCase();
  return l.endsWith('.') ? l.slice(0, -1) : l;
}

// ---------------------------------------------------------------- TCP / TTL

/** The usual initial TTLs (64 Linux/macOS, 128 Windows, 255 network gear). */
export function initialTtl(ttl: number): number {
  for (const t of [32, 64, 128, 255]) if (ttl <= t) return t;
  return 255;
}

export interface ServerTtl {
  ttl: number;
  /** The connection whose SYN/ACK gave it. */
  connectionId: string;
  frame: number | null;
}

/**
 * The server's own TTL: from this connection's SYN/ACK, else from another
 * connection to the same host that got one (the nearest in time).
 */
export function serverOwnTtl(conn: ConnectionRecord, input: DiagnosisInput): ServerTtl | null {
  const own = conn.flow.tcp;
  if (own && own.synAckFrames.length > 0 && own.ttl[1] !== null) {
    return { ttl: own.ttl[1], connectionId: conn.id, frame: own.synAckFrames[0] ?? null };
  }
  // The answered connection of the same file whose start is nearest (by bisection, lookup.ts).
  const o = nearestByStart(connectionsToServer(input, conn.flow.server.ip), answeredWithTtl, conn.fileIndex, conn.start, conn);
  if (o === null) return null;
  const t = o.flow.tcp!;
  return { ttl: t.ttl[1]!, connectionId: o.id, frame: t.synAckFrames[0] ?? null };
}

/**
 * The cause's steps for the server stack the capture shows: a host whose SYN/ACK left with the
 * initial TTL 128 is Windows, so the xrdp.ini step does not apply to it. A host starting at 64
 * (Linux, where xrdp runs) keeps the catalogue's order: the xrdp step's words ("the same choice")
 * follow the Windows policy's, and a Linux proxy or load balancer may front a Windows host.
 */
export function stepsForServer(cause: CauseId, conn: ConnectionRecord, input: DiagnosisInput): readonly StepId[] {
  const steps = causeSteps(cause);
  if (!steps.includes('xrdpSecurityLayer')) return steps;
  const t = serverOwnTtl(conn, input);
  return t !== null && initialTtl(t.ttl) === 128 ? steps.filter((s) => s !== 'xrdpSecurityLayer') : steps;
}

/** A connection whose SYN-ACK was seen, with the server's TTL. */
function answeredWithTtl(o: ConnectionRecord): boolean {
  const t = o.flow.tcp;
  return !!t && t.synAckFrames.length > 0 && t.ttl[1] !== null;
}

/** Whether another connection to the same host got any answer (the host is up). */
export function hostAnsweredElsewhere(conn: ConnectionRecord, input: DiagnosisInput): ConnectionRecord | null {
  return firstAnsweredOtherThan(connectionsToServer(input, conn.flow.server.ip), conn);
}

// ---------------------------------------------------------------- CredSSP shape

export interface AppRecord {
  frame: number;
  dir: 'c2s' | 's2c';
  /** TLSCiphertext length (RFC 5246 6.2.3), as the timeline's "Application Data" event gives it. */
  length: number;
}

const BYTES = ' bytes';

/** Whether s is /^(\d+) bytes$/ (the timeline's "Application Data" detail). */
function isByteCount(s: string): boolean {
  const n = s.length - BYTES.length;
  if (n < 1 || !s.endsWith(BYTES)) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Encrypted records after the TLS handshake, in order, with their lengths (bounded by the timeline). */
export function appDataRecords(conn: ConnectionRecord): AppRecord[] {
  const out: AppRecord[] = [];
  for (const e of conn.timeline) {
    if (e.event !== 'Application Data' || e.direction === 'net' || !e.detail) continue;
    const m = /^(\d+) bytes$/.exec(e.detail);
    if (m) out.push({ frame: e.frame, dir: e.direction, length: Number(m[1]) });
  }
  return out;
}

export interface CredentialsPause {
  /** Frame of the client's FIN / RST / alert. */
  frame: number | null;
  how: string;
  /** The server's last record before the client left, and its first one (the NTLM CHALLENGE or Kerberos answer). */
  answer: AppRecord | null;
  challenge: AppRecord | null;
  /** The server's answer is about as large as its CHALLENGE: a public-key proof (MS-CSSP 3.1.5 step 3), not an error TSRequest. */
  proofSized: boolean;
  /** The server's answer is far smaller than its CHALLENGE: the size of a TSRequest carrying only version and errorCode (MS-CSSP 2.2.1). */
  errorSized: boolean;
}

/**
 * NLA selected, and the client left after exactly two CredSSP records of its
 * own (NEGOTIATE, AUTHENTICATE + pubKeyAuth) and the server's answers: the
 * point of MS-CSSP 3.1.5 where the client has verified the server's public key
 * and would send its credentials (TSCredentials). A client checks the server's
 * identity there, so a certificate it does not trust stops it at this point too.
 */
export function clientStoppedBeforeCredentials(conn: ConnectionRecord): CredentialsPause | null {
  const d = conn.died;
  const tls = conn.tls;
  if (!d || !tls || conn.outcome === 'completed' || tls.establishedFrame === null) return null;
  if (d.by !== 'client' || (d.how !== 'fin' && d.how !== 'rst' && d.how !== 'encrypted_alert')) return null;
  if (d.phase !== 'credssp' && d.phase !== 'tls') return null;
  if (conn.security !== 'credssp' && !(conn.negotiation?.selectedProtocol != null && (conn.negotiation.selectedProtocol & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0)) return null;
  if (tls.appRecords.client !== 2 || tls.appRecords.server < 2 || tls.appRecords.server > 3) return null;
  const last = lastEventBefore(conn, d.frame);
  if (!last || last.direction !== 's2c') return null;
  // The server's first and last encrypted records before the client left (what appDataRecords gives, filtered).
  let challenge: AppRecord | null = null;
  let answer: AppRecord | null = null;
  let count = 0;
  let lastRec: TimelineEvent | null = null;
  const timeline = conn.timeline;
  for (let i = 0; i < timeline.length; i++) {
    const e = timeline[i]!;
    if (e.event !== 'Application Data' || e.direction !== 's2c' || !e.detail || (d.frame !== null && !(e.frame < d.frame)) || !isByteCount(e.detail)) continue;
    if (count === 0) challenge = { frame: e.frame, dir: 's2c', length: Number(e.detail.slice(0, -BYTES.length)) };
    count++;
    lastRec = e;
  }
  if (count > 1) answer = { frame: lastRec!.frame, dir: 's2c', length: Number(lastRec!.detail!.slice(0, -BYTES.length)) };
  const proofSized = challenge !== null && answer !== null && answer.length * 2 >= challenge.length;
  const errorSized = challenge !== null && answer !== null && answer.length * 3 <= challenge.length;
  return { frame: d.frame, how: d.how, answer, challenge, proofSized, errorSized };
}

/** A later attempt from the same client to the same server that completed, within `seconds` of this one's end. */
export function laterCompletedAttempt(conn: ConnectionRecord, input: DiagnosisInput, seconds: number): ConnectionRecord | null {
  // The client's completed connections to the same server, in input order.
  for (const o of completedTo(connectionsFromClient(input, conn.flow.client.ip), conn.server)) {
    if (o === conn || o.fileIndex !== conn.fileIndex) continue;
    if (o.start >= conn.start && o.start - conn.end <= seconds) return o;
  }
  return null;
}

/**
 * Whether the certificate fails the checks a client makes: self-signed or an
 * unknown issuer, or it does not carry the address the client connected to by
 * (an IP literal in the SNI that is not among its names).
 */
export function certDoubt(conn: ConnectionRecord): string | null {
  const cert = leafCertificate(conn);
  if (!cert) return null;
  const trust = certTrustProblem(conn);
  if (trust === 'self_signed') return `the certificate "${cert.subject}" is self-signed`;
  if (trust === 'unknown_issuer') return `the certificate "${cert.subject}" comes from an issuer not in the chain the server sent`;
  const sni = conn.tls?.sni;
  if (sni && isIpLiteral(sni) && !certNames(cert).includes(sni.toLowerCase())) return `the certificate names ${certNames(cert).join(', ')}, not the address ${sni} the client used`;
  return null;
}
