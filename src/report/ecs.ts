// A connection as one event for a SIEM: Elastic Common Schema field names where ECS has one
// (`@timestamp`, event.*, source.*, destination.*, network.*, tls.*, rule.*, error.*, observer.*)
// and an `rdp.*` group for the rest. One JSON object per line (NDJSON) from `live --sensor`.
// docs/siem/ holds the Elasticsearch index template whose mappings these events must fit (a test
// checks every event against it) and the field table (docs/sensor.md).
import type { ReportedConnection } from './types.js';
import { CATALOGUE } from '../diagnose/catalogue.js';
import type { GatewayNote } from '../diagnose/gateway.js';
import type { Finding } from '../diagnose/types.js';
import type { GatewaySighting } from '../handshake/gateway-watch.js';
import type { CertificateInfo } from '../handshake/types.js';
import { deathText, rdpeudpText } from './ladder.js';
import { LOGON_MODES } from '../rdp/codes.js';

/** The ECS version the field names follow. */
export const ECS_VERSION = '8.11.0';

/** Who wrote the events. */
export interface EcsObserver {
  hostname: string;
  version: string;
  /** The capture interface. */
  iface: string | null;
}

/** "ip:port" or "[v6]:port" -> [ip, port]. */
function endpoint(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  const ip = s.slice(0, i);
  return [ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip, Number(s.slice(i + 1))];
}

function iso(t: number): string {
  return new Date(Math.round(t * 1000)).toISOString();
}

/** "TLS1.2" -> "1.2" (ECS tls.version), "SSL3.0" -> "3.0". */
function tlsVersion(v: string): { version: string; protocol: string } {
  const m = /^(TLS|SSL)(\d\.\d)$/.exec(v);
  return m ? { version: m[2]!, protocol: m[1]!.toLowerCase() } : { version: v, protocol: 'tls' };
}

/** "CN=a, O=b" -> ["a"] (the common names of a distinguished name as we print it). */
function commonNames(dn: string): string[] {
  const out: string[] = [];
  for (const m of dn.matchAll(/(?:^|,\s*)CN=((?:[^,\\]|\\.)*)/g)) out.push(m[1]!.trim());
  return out;
}

/** The failure code a user would search for: negotiation failure, TLS alert, CredSSP errorCode, ERRINFO. */
function errorCodeOf(c: ReportedConnection): string | null {
  const n = c.negotiation;
  if (n?.failureCodeName) return n.failureCodeName;
  const alert = c.tls?.alerts.find((a) => !a.encrypted);
  if (alert) return `tls_alert_${alert.description}`;
  if (c.credssp?.errorName) return c.credssp.errorName;
  return c.errorInfo.at(-1)?.name ?? null;
}

/**
 * The event of one connection (ended or cut by the capture's end). Optional fields are left out,
 * never null, so that every field present has the template's type.
 */
export function ecsEvent(c: ReportedConnection, o: EcsObserver): Record<string, unknown> {
  const [sip, sport] = endpoint(c.client);
  const [dip, dport] = endpoint(c.server);
  const top = c.findings[0];
  const outcome = c.outcome === 'completed' ? 'success' : c.outcome === 'failed' ? 'failure' : 'unknown';
  const ev: Record<string, unknown> = {
    '@timestamp': iso(c.end),
    ecs: { version: ECS_VERSION },
    message: eventLine(c),
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'end'],
      action: 'rdp-connection-attempt',
      dataset: 'rdp_autopsy.connection',
      module: 'rdp_autopsy',
      outcome,
      start: iso(c.start),
      end: iso(c.end),
      duration: Math.max(0, Math.round((c.end - c.start) * 1e9)),
      ...(c.died ? { reason: deathText(c) } : {}),
    },
    source: { ip: sip, port: sport },
    destination: { ip: dip, port: dport },
    network: { transport: c.transport, protocol: 'rdp', type: sip.includes(':') ? 'ipv6' : 'ipv4' },
    observer: { type: 'sensor', product: 'rdp-autopsy', version: o.version, hostname: o.hostname, ...(o.iface ? { ingress: { interface: { name: o.iface } } } : {}) },
  };
  const tls = c.tls;
  if (tls && (tls.version !== null || tls.sni !== null || tls.certificates.length > 0)) {
    const t: Record<string, unknown> = { established: tls.establishedFrame !== null };
    if (tls.version) Object.assign(t, { version: tlsVersion(tls.version).version, version_protocol: tlsVersion(tls.version).protocol });
    if (tls.cipherSuiteName) t.cipher = tls.cipherSuiteName;
    if (tls.sni) t.client = { server_name: tls.sni };
    const cert = tls.certificates[0];
    if (cert) t.server = x509Of(cert);
    ev.tls = t;
  }
  if (top) {
    ev.rule = { id: top.cause, name: CATALOGUE[top.cause].title, category: 'rdp-connection-failure', ruleset: 'rdp-autopsy' };
  }
  const code = errorCodeOf(c);
  if (code !== null || c.died) {
    ev.error = { ...(code !== null ? { code } : {}), ...(c.died ? { message: c.died.detail || deathText(c) } : {}) };
  }
  const rdp: Record<string, unknown> = {
    connection_id: c.id,
    outcome: c.outcome,
    reached: c.reached,
    capture: { file: c.file },
  };
  if (c.incompleteReason) rdp.incomplete_reason = c.incompleteReason;
  if (c.security) rdp.security = c.security;
  if (c.died) {
    rdp.died = { phase: c.died.phase, how: c.died.how, by: c.died.by, ...(c.died.frame !== null ? { frame: c.died.frame } : {}), ...(c.died.detail ? { detail: c.died.detail } : {}) };
  }
  const n = c.negotiation;
  if (n) {
    if (n.cookie !== null) rdp.cookie = n.cookie;
    if (n.requestedProtocolNames.length > 0) rdp.requested_protocols = n.requestedProtocolNames;
    if (n.selectedProtocolName) rdp.selected_protocol = n.selectedProtocolName;
    if (n.failureCodeName) rdp.failure_code = n.failureCodeName;
    // MS-RDPBCGR 2.2.1.1.1: the logon mode asked for, by its flag names (src/rdp/codes.ts).
    if (n.logonMode) rdp.logon_mode = LOGON_MODES.filter((x) => n.logonMode![x.key]).map((x) => x.name);
  }
  if (top) {
    rdp.cause = top.cause;
    rdp.confidence = Math.round(top.confidence * 100) / 100;
    rdp.explanation = top.explanation;
    rdp.remediation = top.remediation;
    rdp.frames = top.frames;
    rdp.wireshark_filter = top.filter;
    if (c.findings.length > 1) rdp.other_causes = c.findings.slice(1).map((f) => f.cause);
  }
  if (c.evidenceFile) rdp.evidence_file = c.evidenceFile;
  ev.rdp = rdp;
  return ev;
}

/** ECS tls.server.x509.* and tls.server.hash of a certificate. */
function x509Of(cert: CertificateInfo): Record<string, unknown> {
  const x509: Record<string, unknown> = {
    subject: { distinguished_name: cert.subject, common_name: commonNames(cert.subject) },
    issuer: { distinguished_name: cert.issuer, common_name: commonNames(cert.issuer) },
    not_before: cert.notBefore,
    not_after: cert.notAfter,
  };
  if (cert.san.length > 0) x509.alternative_names = cert.san;
  if (cert.serialNumber) x509.serial_number = cert.serialNumber;
  if (cert.keyType) x509.public_key_algorithm = cert.keyType;
  if (cert.keyBits !== null) x509.public_key_size = cert.keyBits;
  if (cert.signatureAlgorithm) x509.signature_algorithm = cert.signatureAlgorithm;
  return { x509, hash: { sha256: cert.sha256 } };
}

/**
 * The event of one connection to an RD Gateway (issue 14: gateway-watch.ts), with the note the
 * report gives its client and gateway (gateway.ts GatewayNote) and the capture findings about this
 * connection (gateway_* causes): ECS names where ECS has them (source, destination, tls.*,
 * rule.*, error.message), `rdp.gateway.*` for the rest. The findings' `rdp.cause` ... fields are
 * those of a connection event.
 */
export function ecsGatewayEvent(s: GatewaySighting, note: GatewayNote, findings: readonly Finding[], o: EcsObserver): Record<string, unknown> {
  const failures = findings.filter((f) => CATALOGUE[f.cause].severity !== 'warning');
  const top = failures[0] ?? findings[0];
  const t = s.tls;
  const opened = note.tunnel?.opened === true;
  const outcome = failures.length > 0 || note.refusal !== null ? 'failure' : opened ? 'success' : 'unknown';
  const v6 = s.client.ip.includes(':');
  const ev: Record<string, unknown> = {
    '@timestamp': iso(s.end),
    ecs: { version: ECS_VERSION },
    message: gatewayEventLine(s, note, top ?? null),
    event: {
      kind: 'event',
      category: ['network'],
      type: ['connection', 'end'],
      action: 'rdp-gateway-connection',
      dataset: 'rdp_autopsy.gateway',
      module: 'rdp_autopsy',
      outcome,
      start: iso(s.start),
      end: iso(s.end),
      duration: Math.max(0, Math.round((s.end - s.start) * 1e9)),
    },
    source: { ip: s.client.ip, port: s.client.port },
    destination: { ip: s.server.ip, port: s.server.port },
    // MS-TSGU 2.1: the HTTP transport over HTTPS (TCP), the UDP transport over DTLS.
    network: { transport: s.transport, protocol: s.transport === 'tcp' ? 'https' : 'dtls', type: v6 ? 'ipv6' : 'ipv4' },
    observer: { type: 'sensor', product: 'rdp-autopsy', version: o.version, hostname: o.hostname, ...(o.iface ? { ingress: { interface: { name: o.iface } } } : {}) },
  };
  if (t !== null) {
    const tls: Record<string, unknown> = { established: t.firstAppData.client !== null && t.firstAppData.server !== null };
    if (t.version) Object.assign(tls, { version: tlsVersion(t.version).version, version_protocol: tlsVersion(t.version).protocol });
    if (t.sni) tls.client = { server_name: t.sni };
    if (t.certificate) tls.server = x509Of(t.certificate);
    ev.tls = tls;
  }
  if (top) ev.rule = { id: top.cause, name: CATALOGUE[top.cause].title, category: 'rdp-gateway-failure', ruleset: 'rdp-autopsy' };
  const refusal = note.refusal ?? (failures[0]?.summary ?? null);
  if (refusal !== null) ev.error = { message: oneLine(refusal) };
  const gateway: Record<string, unknown> = {
    connection_id: s.id,
    evidence: note.evidence,
    decrypted: note.decrypted,
    text: note.text,
  };
  if (note.names.length > 0) gateway.names = note.names;
  if (note.refusal !== null) gateway.refusal = note.refusal;
  if (note.transport !== undefined) gateway.transport = note.transport;
  if (note.tunnel !== null) gateway.tunnel = { host: note.tunnel.host, port: note.tunnel.port, opened: note.tunnel.opened };
  if (t?.decryption) gateway.decryption = t.decryption;
  const rdp: Record<string, unknown> = { capture: { file: s.file }, gateway };
  if (top) {
    rdp.cause = top.cause;
    rdp.confidence = Math.round(top.confidence * 100) / 100;
    rdp.explanation = top.explanation;
    rdp.remediation = top.remediation;
    rdp.frames = top.frames;
    rdp.wireshark_filter = top.filter;
    const others = findings.filter((f) => f !== top).map((f) => f.cause);
    if (others.length > 0) rdp.other_causes = others;
  }
  ev.rdp = rdp;
  return ev;
}

/** One line for a gateway connection: "2026-03-10T09:00:00.117Z GATEWAY g1 192.168.10.25:51370 -> 10.20.0.42:443 (\"rdg.corp.example\"): gateway_rap_refused 95%: ..." */
export function gatewayEventLine(s: GatewaySighting, note: GatewayNote, top: Finding | null): string {
  const name = note.names[0] !== undefined ? ` (${JSON.stringify(note.names[0])})` : '';
  const what = top ? `${top.cause} ${Math.round(top.confidence * 100)}%: ${top.summary ?? CATALOGUE[top.cause].title}` : note.tunnel !== null ? `tunnel to ${JSON.stringify(note.tunnel.host)} port ${note.tunnel.port}${note.tunnel.opened ? ' opened' : ' asked for'}` : `an RD Gateway connection (${note.evidence})`;
  const ep = (e: { ip: string; port: number }): string => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
  return oneLine(`${iso(s.end)} GATEWAY ${s.id} ${ep(s.client)} -> ${ep(s.server)}${name}: ${what}`);
}

/**
 * One line per attempt for a terminal or a log: time, outcome, client -> server, the phase it
 * reached or died in, the cause with its confidence and the short reason.
 * "2026-03-10T09:00:05.017Z FAILED c2 192.168.10.25:51020 -> 10.20.0.15:3389 in tls (encrypted alert by client, frame 123): cert_expired 88%: the server's certificate expired on 2025-03-01"
 */
export function eventLine(c: ReportedConnection): string {
  const top = c.findings[0];
  const state = c.outcome === 'completed' ? 'COMPLETED' : c.outcome === 'failed' ? 'FAILED' : 'INCOMPLETE';
  const where =
    c.outcome === 'failed' && c.died
      ? `in ${c.died.phase} (${c.died.how.replace(/_/g, ' ')} by ${c.died.by}${c.died.frame !== null ? `, frame ${c.died.frame}` : ''})`
      : c.transport === 'udp'
        ? rdpeudpText(c)
        : `reached ${c.reached}`;
  const cause = top ? `: ${top.cause} ${Math.round(top.confidence * 100)}%: ${oneLine(top.summary ?? CATALOGUE[top.cause].title)}` : '';
  return `${iso(c.end)} ${state} ${c.id} ${c.client} -> ${c.server} ${where}${cause}`;
}

/** Control characters (from cookies, certificate names) never break the line. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
