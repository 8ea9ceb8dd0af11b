// Contract between the pipeline and the report writers: the whole analysis of a run.
// `--format json` prints a Report as is (docs/report.schema.json documents it).
import type { ConnectionRecord } from '../handshake/types.js';
import type { Finding, ProbeGroup } from '../diagnose/types.js';
import type { GatewayNote } from '../diagnose/gateway.js';
import type { AttemptLink } from '../diagnose/attempts.js';
import type { DnsTransaction } from '../flow/types.js';
import type { OtherPortFailureReport } from '../flow/other-ports.js';
import type { NarrowingSummary } from '../net/narrow.js';
import type { ProbeResult } from './probe.js';

/**
 * 1.1: `captureFindings` added (findings not tied to one connection).
 * 1.2: `dns[].fileIndex` added (which capture file a lookup's frames are in).
 * 1.3: `capture.fileSets` added (the pieces of a ring buffer or split capture read as one capture).
 * 1.4: `probe` added (the answers of `rdp-autopsy probe`, and of `analyze` of a probe's capture).
 * 2.0: an IPv6 endpoint is written in brackets (`[fd00::15]:3389`); 1.x wrote `fd00::15:3389`.
 * 2.1: the cause `cert_not_yet_valid` added (a certificate whose notBefore is after the connection).
 * 2.2: `connections[].attempt` (pre-authentication / retry links), `summary.preAuthentication`, the
 *      warning cause `standard_rdp_security` with `findings[].severity`, `findings[].consequenceOf`,
 *      and the TCP facts `missingRanges` / `unansweredKeepAlives`.
 *      Also `probes` added (health checks and scans set apart from the connections), `flow.captureDuplicates`,
 *      `flow.captureDuplicateFrames` and `capture.stats.captureDuplicates` (frames a capture wrote twice),
 *      `flow.tcp.dataAcks` (the last segment from each side that acknowledged data of the other).
 * 2.3: the probe kind `syn_flood` (many sources, one server's port, no byte), and the required
 *      `probes[].failedHandshakes` and `probes[].sources`.
 *      2.3 also: `capture.stats.checksumsNotVerified` (packets of connections past their handshake, whose
 *      checksums the count-only path does not verify).
 *      2.3 also: the warning cause `no_user_logon` (a completed, decrypted session with no Save Session Info
 *      logon notification) and `tls.decryption.decodeStopped` (where reading a decrypted side stopped).
 *      2.3 also: `mcs.redirection` (a decoded Server Redirection PDU: the connection is completed, the client sent on).
 *      2.3 also: `gateways` (HTTPS connections to an RD Gateway, or that could be one: issue 14).
 *      2.3 also: `capture.otherPortFailures` (no RDP attempt: failed TCP attempts to other ports).
 *      2.3 also: `capture.narrowing` (the frames analysed: --host, --server, --from, --to, --filter).
 */
export const REPORT_SCHEMA_VERSION = '2.4';

export interface CaptureFileSummary {
  file: string;
  format: 'pcap' | 'pcapng';
  gzip: boolean;
  frames: number;
  bytes: number;
  start: number | null;
  end: number | null;
  linkTypes: { linkType: number; name: string; frames: number }[];
  damage: { offset: number; frame: number; message: string } | null;
  warnings: { offset: number; frame: number; message: string }[];
}

/**
 * Files read as one capture: the consecutive pieces of a ring buffer or a split capture (dumpcap -b,
 * tcpdump -C / -W / -G, editcap -c / -i). Connections continue across the pieces, and every frame
 * number of the set's connections is the set's own: the pieces' frames numbered on from one piece to
 * the next in reading order, as `mergecap -a` of the pieces in that order numbers them. Since 1.3.
 */
export interface FileSetSummary {
  /** Index (in capture.files) of each piece, in reading order: the order of their first timestamps. */
  files: number[];
  /** The set's frame number of each piece's first frame (same order): piece k's frame n is frame firstFrames[k] + n - 1. */
  firstFrames: number[];
  /** True when the reading order differs from the order the files were given in. */
  reordered: boolean;
  /** Between consecutive pieces: seconds from the last record of one to the first of the next, and the pieces missing there by their numbers in the set's names. */
  gaps: { after: number; before: number; seconds: number; missing: number[] }[];
}

export interface CaptureSummary {
  files: CaptureFileSummary[];
  /** File sets read as one capture (absent when there is none). Since 1.3. */
  fileSets?: FileSetSummary[];
  /** "pcap", "pcapng", or "mixed". */
  format: string;
  linkTypes: { linkType: number; name: string; frames: number }[];
  /** Wireshark's frame count, all files together. */
  frames: number;
  bytes: number;
  /** ISO-8601 UTC, or null. */
  start: string | null;
  end: string | null;
  /**
   * No RDP connection attempt found: the TCP attempts to other ports that were never answered with
   * a SYN-ACK (no answer, or RST), the most SYNs first (at most 20). Absent otherwise. Since 2.3.
   */
  otherPortFailures?: OtherPortFailureReport[];
  /**
   * `--host`, `--server`, `--from`, `--to`, `--filter`: only the frames within them were analysed
   * (frame numbers stay the capture's). Absent without narrowing. Since 2.3.
   */
  narrowing?: NarrowingSummary;
  /** One line per damaged file: "<file>: <message> at byte offset N (frame M)". */
  damage: string[];
  stats: {
    tcpPackets: number;
    udpPackets: number;
    nonIp: number;
    ipFragments: number;
    badChecksums: number;
    flowsEvicted: number;
    halfOpenEvicted: number;
    cutBytes: number;
    unknownLinkTypeFrames: number;
    /** Frames of RDP flows that were exact copies of earlier ones (a mirror port, several interfaces), counted once. Since schema 2.2. */
    captureDuplicates: number;
    /**
     * Packets of RDP flows whose IP and TCP checksums were not verified: those after the flow's
     * handshake was decided (the count-only path; a bad checksum there changes no verdict). Checksums
     * are verified on every packet before that, `badChecksums` counts those. Since schema 2.3.
     */
    checksumsNotVerified?: number;
  };
}

/**
 * A connection as reported: the record plus its findings (sorted, top first), and the path of its
 * evidence pcap when `--export-evidence` wrote one (src/report/evidence.ts).
 */
export type ReportedConnection = ConnectionRecord & {
  findings: Finding[];
  evidenceFile?: string;
  /**
   * What the connection is within a user attempt of several connections (mstsc's NLA
   * pre-authentication for the connection after it, or the client's own retry after a failure), or
   * null. Since schema 1.3; absent on the NDJSON lines streamed as connections end (judged alone).
   */
  attempt?: AttemptLink | null;
};

/** Attempts from one client to one server within seconds, shown as one story with its retries. */
export interface AttemptGroup {
  client: string;
  server: string;
  connectionIds: string[];
  /** The connection whose finding carries the root cause (the first failure, not the last fallback). */
  rootCauseConnectionId: string | null;
  summary: string;
}

export interface ServerSummary {
  server: string;
  attempts: number;
  completed: number;
  failed: number;
  incomplete: number;
  /** e.g. "12 blocked by a firewall (no SYN-ACK)". */
  lines: string[];
}

export interface Report {
  schemaVersion: string;
  tool: { name: string; version: string };
  capture: CaptureSummary;
  connections: ReportedConnection[];
  /**
   * Findings not tied to one connection (diagnoseCapture: e.g. failed name lookups for a server the
   * client then never reached), top first. Since schema 1.1.
   */
  captureFindings: Finding[];
  /**
   * Connections that were not RDP clients' attempts (load-balancer health checks, scans), grouped; they
   * are not in `connections` and not counted in `summary`. Since schema 2.2.
   */
  probes: ProbeGroup[];
  /**
   * RD Gateway connections (TCP 443, UDP 3391: MS-TSGU) as far as their cleartext shows them, and
   * HTTPS that could be a gateway's: not connection attempts, not counted in `summary`. Since schema 2.3.
   */
  gateways: GatewayNote[];
  groups: AttemptGroup[];
  servers: ServerSummary[];
  dns: DnsTransaction[];
  summary: {
    connections: number;
    completed: number;
    failed: number;
    incompleteCapture: number;
    /** mstsc's NLA pre-authentication connections (part of the attempt after them; not failed, not in the other counts). Since schema 1.3. */
    preAuthentication: number;
    /** One plain sentence for the whole capture. */
    headline: string;
  };
  warnings: string[];
  /** The probe's answers step by step (src/report/probe.ts), when the report is a probe's. Since schema 1.4. */
  probe?: ProbeResult;
}
