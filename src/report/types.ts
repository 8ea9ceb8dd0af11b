// Contract between the pipeline and the report writers: the whole analysis of a run.
// `--format json` prints a Report as is (docs/report.schema.json documents it).
import type { ConnectionRecord } from '../handshake/types.js';
import type { Finding } from '../diagnose/types.js';
import type { DnsTransaction } from '../flow/types.js';

/**
 * 1.1: `captureFindings` added (findings not tied to one connection).
 * 1.2: `dns[].fileIndex` added (which capture file a lookup's frames are in).
 */
export const REPORT_SCHEMA_VERSION = '1.2';

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

export interface CaptureSummary {
  files: CaptureFileSummary[];
  /** "pcap", "pcapng", or "mixed". */
  format: string;
  linkTypes: { linkType: number; name: string; frames: number }[];
  /** Wireshark's frame count, all files together. */
  frames: number;
  bytes: number;
  /** ISO-8601 UTC, or null. */
  start: string | null;
  end: string | null;
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
  };
}

/**
 * A connection as reported: the record plus its findings (sorted, top first), and the path of its
 * evidence pcap when `--export-evidence` wrote one (src/report/evidence.ts).
 */
export type ReportedConnection = ConnectionRecord & { findings: Finding[]; evidenceFile?: string };

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
  groups: AttemptGroup[];
  servers: ServerSummary[];
  dns: DnsTransaction[];
  summary: {
    connections: number;
    completed: number;
    failed: number;
    incompleteCapture: number;
    /** One plain sentence for the whole capture. */
    headline: string;
  };
  warnings: string[];
}
