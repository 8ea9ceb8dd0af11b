// Contract of the handshake stage: one ConnectionRecord per connection attempt.
// Its shape IS the `connections[]` entry of the JSON report (docs/report.schema.json):
// the report stage serialises it as is (plus findings from the diagnosis).
import type { LogonMode } from '../rdp/codes.js';
import type { ServerRedirection } from '../rdp/redirection.js';
import type { FlowFacts } from '../flow/types.js';

/**
 * Phases in the order a connection reaches them (../shared/design.md "Phases"). A connection
 * tunnelled through an RD Gateway (issue 14; ConnectionRecord.gateway) reaches the gateway phases
 * between the outer TCP handshake and the tunnelled RDP's X.224 exchange: `gateway_tls` (the
 * HTTPS handshake with the gateway), `gateway_auth` (the HTTP transport's requests and their
 * 401 / 101 / 200 answers, MS-TSGU 3.3.5.1), `gateway_tunnel` (HANDSHAKE, TUNNEL_CREATE and
 * TUNNEL_AUTH with their responses, MS-TSGU 2.2.10), `gateway_channel` (CHANNEL_CREATE and its
 * response). A direct connection never reaches them, so the order of the other phases, and every
 * comparison of them by phaseIndex, is as before.
 */
export const PHASES = [
  'none',
  'tcp',
  'gateway_tls',
  'gateway_auth',
  'gateway_tunnel',
  'gateway_channel',
  'x224',
  'tls',
  'credssp',
  'mcs',
  'licensing',
  'capabilities',
  'finalization',
  'active',
] as const;
export type Phase = (typeof PHASES)[number];

/** Where a handshake was when it died, in words (the phase ids of the JSON report, for people): "during the MCS connection setup". */
export const PHASE_WORDS: Record<Phase, string> = {
  none: 'before the TCP handshake',
  tcp: 'during the TCP handshake',
  gateway_tls: 'during the TLS handshake with the RD Gateway',
  gateway_auth: "during the RD Gateway's authentication of the user",
  gateway_tunnel: 'while the RD Gateway set up the tunnel',
  gateway_channel: 'while the RD Gateway opened the channel to the target',
  x224: 'during the RDP negotiation (X.224)',
  tls: 'during the TLS handshake',
  credssp: 'during NLA (CredSSP)',
  mcs: 'during the MCS connection setup',
  licensing: 'during licensing',
  capabilities: 'during the capability exchange',
  finalization: 'during connection finalization',
  active: 'in the running session',
};

export function phaseIndex(p: Phase): number {
  return PHASES.indexOf(p);
}

/** The phases of an RD Gateway's outer connection (ConnectionRecord.gateway), in order. */
export const GATEWAY_PHASES = ['gateway_tls', 'gateway_auth', 'gateway_tunnel', 'gateway_channel'] as const;
export type GatewayPhase = (typeof GATEWAY_PHASES)[number];

export function isGatewayPhase(p: Phase): p is GatewayPhase {
  return (GATEWAY_PHASES as readonly string[]).includes(p);
}

export type Outcome = 'completed' | 'failed' | 'incomplete_capture';
export type Party = 'client' | 'server' | 'network';

export type DeathHow =
  | 'no_answer' // SYN (or a request) never answered
  | 'rst'
  | 'fin'
  | 'icmp_unreachable'
  | 'negotiation_failure' // RDP_NEG_FAILURE
  | 'tls_alert'
  | 'encrypted_alert'
  | 'disconnect_ultimatum' // MCS Disconnect Provider Ultimatum
  | 'error_info' // Set Error Info PDU
  | 'licensing_error'
  | 'x224_disconnect'
  | 'timeout' // a side went silent and the capture ran on past a client's usual timeout
  | 'capture_ended'
  | 'gateway_refusal'; // an RD Gateway's HTTP 401 / 403 / 5xx or failed MS-TSGU result code (ConnectionRecord.gateway)

export interface Died {
  phase: Phase;
  how: DeathHow;
  by: Party;
  /** The frame that shows it (the RST, the alert, the last unanswered SYN ...). */
  frame: number | null;
  /** One line, e.g. "server RST right after the ClientHello". */
  detail: string;
}

export interface PhaseReached {
  phase: Phase;
  /** The frame that proves the phase was reached. */
  frame: number;
  time: number;
  /** True when inferred from encrypted record sizes rather than decoded. */
  inferred: boolean;
  /** 0..1: 1 for decoded, lower for inferred. */
  confidence: number;
}

export interface TimelineEvent {
  frame: number;
  time: number;
  /** 'c2s' client -> server, 's2c' server -> client, 'net' neither (ICMP from a router, capture end). */
  direction: 'c2s' | 's2c' | 'net';
  /** Short event name, e.g. "SYN", "X.224 Connection Request", "TLS ClientHello", "TLS Alert fatal certificate_expired". */
  event: string;
  /** Optional details (the values a user would cross-check in Wireshark). */
  detail?: string;
  phase: Phase;
  inferred?: boolean;
  /** Read from TLS records decrypted with the given secrets (key log / Decryption Secrets Block). */
  decrypted?: true;
}

export interface NegotiationInfo {
  /** The user hint without the "Cookie: mstshash=" prefix, or null. */
  cookie: string | null;
  /** A routing token (e.g. "Cookie: msts=..." load-balancer token) as text, or null. */
  routingToken: string | null;
  requestFlags: number | null;
  requestedProtocols: number | null;
  /** e.g. ["SSL", "HYBRID"]. Empty when absent. */
  requestedProtocolNames: string[];
  correlationId: string | null;
  responseFlags: number | null;
  selectedProtocol: number | null;
  selectedProtocolName: string | null;
  failureCode: number | null;
  failureCodeName: string | null;
  requestFrame: number | null;
  confirmFrame: number | null;
  /** The logon mode the client asked for (Restricted Admin, Remote Credential Guard): present only when it asked for one. */
  logonMode?: LogonMode;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  san: string[];
  /** ISO-8601 UTC. */
  notBefore: string;
  notAfter: string;
  selfSigned: boolean;
  keyType: string | null;
  keyBits: number | null;
  signatureAlgorithm: string | null;
  serialNumber: string | null;
  sha256: string;
}

export interface TlsAlertInfo {
  frame: number;
  by: 'client' | 'server';
  /** 'warning' | 'fatal' | null when encrypted. */
  level: string | null;
  /** RFC 8446 name (e.g. "certificate_expired"), or "encrypted". */
  description: string;
  code: number | null;
  encrypted: boolean;
}

export interface TlsInfo {
  /** "TLS1.0".."TLS1.3", "SSL3.0", or null when no ServerHello was seen. */
  version: string | null;
  clientVersions: string[];
  cipherSuite: number | null;
  cipherSuiteName: string | null;
  /** Number of cipher suites the client offered. */
  clientCipherSuites: number[];
  sni: string | null;
  clientHelloFrame: number | null;
  serverHelloFrame: number | null;
  certificateFrame: number | null;
  /** TLS 1.3: the certificate is encrypted, so certificates[] is empty for that reason. */
  certificateEncrypted: boolean;
  certificates: CertificateInfo[];
  serverHelloDoneFrame: number | null;
  clientFinishedFrame: number | null;
  serverFinishedFrame: number | null;
  /** Frame at which both sides finished the handshake, or null. */
  establishedFrame: number | null;
  alerts: TlsAlertInfo[];
  /** Encrypted application-data records after the handshake: counts and sizes per direction (bounded list). */
  appRecords: { client: number; server: number };
  /** Present when TLS secrets were given (a key log, or Decryption Secrets Blocks read before this connection's ServerHello). */
  decryption?: TlsDecryption;
}

/** Whether this connection's TLS records could be decrypted, and why not. Never holds a secret. */
export interface TlsDecryption {
  /**
   * decrypted: every protected record read authenticated; partial: some did, then one did not;
   * failed: the first protected record did not authenticate (the secrets are not this session's);
   * no_key: no secret for this session's client random; unsupported: a version or cipher suite we
   * do not decrypt.
   */
  status: 'decrypted' | 'partial' | 'failed' | 'no_key' | 'unsupported';
  /** One line for the report. */
  reason: string;
  /** The session's client random (public: it is in the ClientHello), to find its key log line. */
  clientRandom: string | null;
  /** Protected records decrypted per side. */
  records: { client: number; server: number };
  /** The first record that did not authenticate, or null. */
  failure: { frame: number; by: 'client' | 'server'; reason: string } | null;
  /**
   * Per side, where reading its data stopped before the connection's end (a byte budget, the
   * reassembly limit, or bytes no decoder frames): what came after is not known, so the absence of
   * a fact (a Save Session Info, a Set Error Info) says nothing past it. Present only then.
   */
  decodeStopped?: DecodeStop[];
  /**
   * RSA key exchange decrypted with an NSS `RSA` line: the first 8 bytes (hex) of the ClientKeyExchange's
   * encrypted pre-master (public: they are in the capture), the line's key. Present only then.
   */
  rsaKey?: string;
}

/** Where and why reading one side's data stopped (TlsDecryption.decodeStopped). */
export interface DecodeStop {
  by: 'client' | 'server';
  /** The frame where it stopped, or null (the reassembly limit: no frame). */
  frame: number | null;
  reason: string;
}

export interface CredsspInfo {
  /** Whether the TSRequest messages were readable (plaintext / decrypted) or only their shape is known. */
  visible: boolean;
  version: number | null;
  /** NTLM message types seen (1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE) or "kerberos"/"spnego". */
  tokens: string[];
  /** NTSTATUS errorCode of a TSRequest (MS-CSSP 2.2.1), or null. */
  errorCode: number | null;
  errorName: string | null;
  /** Early User Authorization Result (HYBRID_EX), when seen or inferred from a 4-byte record. */
  earlyUserAuthResult: number | null;
  /** The client's TSRequest version (MS-CSSP 2.2.1), when read from decrypted TSRequests (`version` is then the server's). */
  clientVersion?: number;
  /** A Kerberos KRB-ERROR in a decrypted negoToken (RFC 4120 5.9.1): present only once seen. */
  kerberosError?: { frame: number; code: number; name: string };
  frames: number[];
}

export interface McsInfo {
  connectInitialFrame: number | null;
  connectResponseFrame: number | null;
  /** T.125 Connect-Response result (0 rt-successful ...). */
  result: number | null;
  client: {
    versionMajor: number | null;
    versionMinor: number | null;
    desktopWidth: number | null;
    desktopHeight: number | null;
    colorDepth: number | null;
    keyboardLayout: number | null;
    clientBuild: number | null;
    clientName: string | null;
    clientDigProductId: string | null;
    requestedProtocols: number | null;
    encryptionMethods: number | null;
    channels: string[];
    cluster: { flags: number; redirectedSessionId: number } | null;
  } | null;
  server: {
    versionMajor: number | null;
    versionMinor: number | null;
    clientRequestedProtocols: number | null;
    encryptionMethod: number | null;
    encryptionLevel: number | null;
    serverRandomLen: number | null;
    serverCertLen: number | null;
    /** 'proprietary' | 'x509' | null */
    serverCertType: string | null;
    certificates: CertificateInfo[];
    channelIds: number[];
  } | null;
  erectDomainFrame: number | null;
  attachUserRequestFrame: number | null;
  attachUserConfirmFrame: number | null;
  attachUserResult: number | null;
  channelJoins: { channelId: number; requestFrame: number | null; confirmFrame: number | null; result: number | null }[];
  securityExchangeFrame: number | null;
  clientInfoFrame: number | null;
  disconnectUltimatum: { frame: number; by: 'client' | 'server'; reason: number; reasonName: string } | null;
  /** The first Save Session Info PDU with infoType 0-2 (MS-RDPBCGR 2.2.10.1.1): a user logged on. Present only once seen. */
  logon?: { frame: number; infoType: number; infoTypeName: string };
  /**
   * The server's first Server Redirection PDU (MS-RDPBCGR 2.2.13.1), decoded (Standard RDP Security,
   * or decrypted TLS): where it sends the client. Its strings are the server's (untrusted). Present
   * only once seen.
   */
  redirection?: RedirectionInfo;
}

/** A Server Redirection PDU's fields (MS-RDPBCGR 2.2.13.1; never the password / logon cookie, user or domain) and its frame. */
export type RedirectionInfo = Omit<ServerRedirection, 'length'> & { frame: number };

/** Where a Server Redirection sends the client, in words: the FQDN, else the address, else the NetBIOS name, else the load-balance info. */
export function redirectionTarget(r: RedirectionInfo): string {
  return r.targetFqdn ?? r.targetNetAddress ?? r.targetNetAddresses[0] ?? r.targetNetBiosName ?? (r.loadBalanceInfo !== null ? `load-balance info "${r.loadBalanceInfo}"` : 'the same server (no target given)');
}

export interface LicensingEvent {
  frame: number;
  by: 'client' | 'server';
  msgType: number;
  msgName: string;
  errorCode: number | null;
  errorName: string | null;
  stateTransition: number | null;
}

export interface ErrorInfoEvent {
  frame: number;
  code: number;
  name: string;
  /** Plain sentence from MS-RDPBCGR 2.2.5.1.1. */
  description: string;
}

export interface SideChannel {
  transport: 'udp';
  client: string;
  server: string;
  synFrame: number | null;
  synAckFrame: number | null;
  synexVersion: number | null;
  answered: boolean;
  datagrams: { client: number; server: number };
}

export interface Warning {
  /** The frame carrying the byte at `offset` (the first byte of the damage), or null when none applies. */
  frame: number | null;
  /**
   * Byte offset in that direction's TCP stream (0 = the first byte after the SYN, gaps and bytes
   * skipped before the first reassembled one included) where the damage starts, or null when the
   * warning is about no byte in particular.
   */
  offset: number | null;
  message: string;
}

/** Not yet defined here: the diagnosis stage's finding (src/diagnose/types.ts) is attached by the pipeline. */
export interface ConnectionRecord {
  /** Stable id within the report, e.g. "c1". */
  id: string;
  transport: 'tcp' | 'udp';
  /** File name of the capture (when several files are analysed, evidence names the file). */
  file: string;
  fileIndex: number;
  client: string;
  server: string;
  start: number;
  end: number;
  outcome: Outcome;
  /** For incomplete_capture: 'started_late' (no SYN / no X.224 request seen) or 'ended_early'. */
  incompleteReason: 'started_late' | 'ended_early' | null;
  reached: Phase;
  phases: PhaseReached[];
  died: Died | null;
  /** Selected security: 'rdp' (Standard RDP Security), 'tls', 'credssp' (HYBRID/HYBRID_EX), 'rdstls', 'aad', or null. */
  security: string | null;
  negotiation: NegotiationInfo | null;
  tls: TlsInfo | null;
  credssp: CredsspInfo | null;
  mcs: McsInfo | null;
  licensing: LicensingEvent[];
  errorInfo: ErrorInfoEvent[];
  sideChannels: SideChannel[];
  timeline: TimelineEvent[];
  /** TCP-level facts from the flow table (kept for the diagnosis and the report). */
  flow: FlowFacts;
  warnings: Warning[];
  /**
   * A connection tunnelled through an RD Gateway (MS-TSGU HTTP transport, read with the key log):
   * `client` is the outer TCP connection's client, `server` the target as CHANNEL_CREATE names it
   * ("host:port", untrusted text: no address of the target is on the wire), or the gateway's
   * ip:port when the attempt died before CHANNEL_CREATE; `flow` is the outer TCP connection's.
   * Absent for a direct connection.
   */
  gateway?: GatewayTunnel;
}

/** What a tunnelled connection went through (ConnectionRecord.gateway). */
export interface GatewayTunnel {
  /** The gateway's ip:port (the outer TCP connection's server). */
  gateway: string;
  /** The outer TLS ClientHello's server_name (untrusted text), or null. */
  sni: string | null;
  /** The outer TLS session's client random (hex, as key logs name a session; not a secret): its keys go into evidence files. */
  clientRandom: string | null;
  /** CHANNEL_CREATE's first resource and port (MS-TSGU 2.2.10.2, untrusted text), or null before it. */
  target: { host: string; port: number; frame: number } | null;
  /** The id of the report.gateways sighting of the outer connection ("g1"), set when the report is merged. */
  sighting: string | null;
  /**
   * The legacy HTTP transport (MS-TSGU 2.2.3, 3.3.5.1): the two outer TCP connections that carried
   * the tunnel together, the OUT channel (the gateway's packets) and the IN channel (the client's),
   * in capture order; absent for a tunnel in one connection (WebSocket). `sighting` is the IN channel's.
   */
  channels?: LegacyChannel[];
  /** The gateway phase the outer connection reached last (the ladder's outer part is `phases`' gateway_* entries). */
  reached: GatewayPhase | 'none';
  /** The outer connection's refusal (the gateway's answer that ended the attempt before the channel opened), or null. */
  refusal: { phase: GatewayPhase; frame: number | null; what: string } | null;
  /**
   * The decrypted HTTP transport (src/handshake/gateway-plain.ts GatewayPlain): HTTP heads,
   * MS-TSGU packets but DATA, the target; the gateway causes read it.
   */
  exchange: GatewayExchange;
}

/** One of the legacy HTTP transport's two channels of a tunnel (GatewayTunnel.channels). */
export interface LegacyChannel {
  channel: 'in' | 'out';
  /** The client's ip:port of this channel's TCP connection (the gateway's is GatewayTunnel.gateway). */
  client: string;
  firstFrame: number;
  lastFrame: number;
  /** Its outer TLS session's client random (hex, as key logs name a session): an evidence file carries its key log lines too. */
  clientRandom: string | null;
  /** The id of its report.gateways sighting, set when the report is merged. */
  sighting: string | null;
}

/** One HTTP request / response of a gateway connection (gateway-plain.ts, gateway-h2.ts). */
export interface GatewayHttpExchange {
  /** The request's method and target ("RDG_OUT_DATA /remoteDesktopGateway/"), null when only the answer was seen. */
  method: string | null;
  target: string | null;
  requestFrame: number | null;
  status: number | null;
  reason: string | null;
  responseFrame: number | null;
  /** WWW-Authenticate schemes of a 401 ("Negotiate", "NTLM"). */
  challenges: string[];
  /** The request carried an Authorization header (its scheme). */
  authorization: string | null;
  webSocket: boolean;
  /** 'HTTP/2' when the exchange was a stream of an h2 connection (gateway-h2.ts); absent for HTTP/1.1. */
  version?: 'HTTP/2';
}

/** One MS-TSGU packet of a gateway connection, but DATA and KEEPALIVE (gateway-plain.ts). */
export interface GatewayTsguPacket {
  frame: number;
  by: 'client' | 'server';
  /** "handshake_response", "channel_create" ... (tsgu.ts TsguPacket type). */
  type: string;
  /** The result code of a response or close, and its name. */
  code: number | null;
  codeName: string | null;
  failed: boolean;
}

/** The decrypted HTTP transport of a gateway connection (the same shape as gateway-plain.ts GatewayPlain). */
export interface GatewayExchange {
  http: GatewayHttpExchange[];
  packets: GatewayTsguPacket[];
  target: { host: string; port: number; frame: number } | null;
  clientName: string | null;
  data: { client: number; server: number; firstFrame: number | null };
  problem: string | null;
}
