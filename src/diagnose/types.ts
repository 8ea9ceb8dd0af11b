// Contract of the diagnosis stage: the cause catalogue and findings.
import type { ConnectionRecord } from '../handshake/types.js';
import type { DnsTransaction, KerberosErrorRef } from '../flow/types.js';
import type { GatewaySighting } from '../handshake/gateway-watch.js';

export const CAUSE_IDS = [
  'cert_expired',
  'cert_not_yet_valid',
  'cert_untrusted',
  'cert_rejected',
  'cert_unavailable',
  'cert_name_mismatch',
  'port_blocked',
  'port_not_listening',
  'server_unresponsive',
  'security_layer_mismatch',
  'nla_mismatch',
  'nla_failed',
  'tls_mismatch',
  'network_unstable',
  'mtu_blackhole',
  'dns_failure',
  'server_denied',
  'client_abort',
  'standard_rdp_security',
  'no_user_logon',
  'gateway_auth_refused',
  'gateway_kdc_proxy_unavailable',
  'gateway_rap_refused',
  'gateway_target_unreachable',
  'gateway_refused',
  'gateway_cert_expired',
  'gateway_cert_not_yet_valid',
  'gateway_cert_name_mismatch',
  'gateway_cert_untrusted',
] as const;
export type CauseId = (typeof CAUSE_IDS)[number];

/**
 * The RD Gateway's causes: no per-connection rule (a gateway connection is no ConnectionRecord);
 * src/diagnose/gateway.ts gatewayFindings gives them as capture-wide findings.
 */
export const GATEWAY_CAUSE_IDS: readonly CauseId[] = CAUSE_IDS.filter((id) => id.startsWith('gateway_'));

export interface Cause {
  id: CauseId;
  title: string;
  /** Plain explanation of the cause, for people. */
  explanation: string;
  /** Remediation steps (from Microsoft's documentation and field experience). */
  remediation: string[];
  /** How to confirm it on the machines. */
  confirm: string;
  /** What else to capture or check when the capture cannot decide. */
  ifUnsure: string;
  /** What a capture shows of it. */
  evidence: string;
  /** Whether mstsc reports this kind of failure as 0x904 / extended 0x7, and why. */
  errorCode: string;
  /** Which signals of the capture the rule uses, and what lowers its confidence (docs/causes.md). */
  signals?: string;
  /**
   * 'failure': why an attempt failed. 'warning': a weakness of a connection that worked (the session
   * ran, but not as it should); below any failure, never an attempt's cause.
   */
  severity: 'failure' | 'warning';
}

export interface Finding {
  cause: CauseId;
  /** 0..1 */
  confidence: number;
  /** Why the confidence is not 1 (null when it is). */
  confidenceReason: string | null;
  frames: number[];
  /** One sentence naming the concrete values seen. */
  explanation: string;
  remediation: string[];
  confirm: string;
  /** Wireshark display filter that shows the evidence. */
  filter: string;
  /** Whether and why this is the kind of failure mstsc shows as 0x904 / extended 0x7. */
  errorCode: string;
  /** Optional short clause naming the values, for headlines (e.g. "the server's certificate expired on 2025-01-01"). */
  summary?: string;
  /** Set (to 'warning') when the finding is a weakness of a connection that worked, not why it failed. */
  severity?: 'warning';
  /**
   * Set when this connection was the client's own automatic retry after the failure of an earlier
   * connection (its id): the finding is a consequence of that failure, which carries the cause and
   * the remediation (this finding's remediation is empty).
   */
  consequenceOf?: string;
  /**
   * The connection a capture-wide finding concerns (an RD Gateway connection "gN"), when it concerns
   * one: consumers (the sensor) attribute it by this id, not by the wording of the explanation.
   */
  connection?: string;
}

/** What the rules read: every connection of the run, plus capture-wide facts. */
export interface DiagnosisInput {
  connections: ConnectionRecord[];
  dns: DnsTransaction[];
  /** Capture end time (float seconds since the epoch), per file index. */
  captureEnd: number[];
  /** Hostnames known from pcapng NRB blocks: ip -> names. */
  names: Map<string, string[]>;
  /** The capture files' names by file index (to say which file a capture-wide finding's frames are in). */
  files?: string[];
  /** KRB-ERRORs KDCs sent on port 88 (clear text around the encrypted CredSSP). */
  kerberos?: KerberosErrorRef[];
  /** Connections to an RD Gateway's ports (TCP 443 whose client spoke TLS, UDP 3391), with what their cleartext shows. */
  gateways?: GatewaySighting[];
}

/** One rule module per cause: src/diagnose/rules/<cause id>.ts exporting a Rule. */
export interface Rule {
  cause: CauseId;
  /** Findings for one connection (may look at the others through `input`). */
  check(conn: ConnectionRecord, input: DiagnosisInput): Finding | null;
}

/**
 * Connections that were not RDP clients' attempts (src/diagnose/probes.ts): set apart from the
 * connections, with no cause and no remediation, and not counted as attempts. Since schema 2.2.
 */
export interface ProbeGroup {
  /**
   * health_check: one source to one server, connect and close, every few seconds; scanner: one
   * source to many hosts or ports; syn_flood: many sources to one server's port at a high rate,
   * none of them sending a byte (a SYN flood, or a scan spread over many addresses).
   */
  kind: 'health_check' | 'scanner' | 'syn_flood';
  /** The probing source's address. */
  client: string;
  /** Servers touched ("ip:port", IPv6 in brackets), the first 20. */
  targets: string[];
  targetCount: number;
  connections: number;
  fileIndex: number;
  start: number;
  end: number;
  /** Health checks: median seconds between two (null for scans). */
  intervalSeconds: number | null;
  /** First frame of each connection (the first 20). */
  frames: number[];
  /**
   * Connections of the group whose TCP handshake never completed (the SYN unanswered or refused,
   * or the SYN/ACK never acknowledged). A capture that is nothing but probes fails (exit 1) when
   * some did (issue 19). Since 2.3.
   */
  failedHandshakes: number;
  /** Distinct sources among the connections recorded (a flood's counted ones are not told apart). Since 2.3. */
  sources: number;
  /** One sentence for people. */
  summary: string;
}
