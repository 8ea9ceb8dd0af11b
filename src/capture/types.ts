// Contracts of the capture stage: sources and formats hand out frame views.
// Nothing here imports from downstream stages.

/**
 * A view of one captured record. The reader owns ONE FrameView object and
 * mutates it for every record (no per-packet allocation): a sink must copy
 * whatever it wants to keep beyond the onFrame call (numbers are fine; bytes
 * must be copied with Buffer.from(buf.subarray(...)) only for packets that matter).
 */
export interface FrameView {
  /** The chunk holding the record's packet bytes. Valid only during onFrame. */
  buf: Buffer;
  /** Offset of the first packet byte (the link-layer header) in buf. */
  off: number;
  /** Bytes captured (may be less than origLen when cut by the snaplen). */
  capLen: number;
  /** Length of the packet on the wire. */
  origLen: number;
  /** Wireshark's frame number: 1-based within the file, every record counted. */
  frame: number;
  /** Index of the file in the run (0-based, order given on the command line). */
  fileIndex: number;
  /** pcapng interface id (0 for classic pcap). */
  ifIndex: number;
  /** Link type (LINKTYPE_* number) of the record's interface. */
  linkType: number;
  /** Timestamp: whole seconds since the epoch (UTC). */
  tsSec: number;
  /** Timestamp: nanoseconds within the second, 0..999_999_999. */
  tsNsec: number;
  /** Byte offset of the record (its header / block start) in the decompressed file. */
  fileOffset: number;
}

/** Float seconds since the epoch (microsecond precision is kept). */
export function frameTime(v: { tsSec: number; tsNsec: number }): number {
  return v.tsSec + v.tsNsec / 1e9;
}

/** What a reader found wrong. The reader stops at the damage; what was read before it stands. */
/**
 * The largest time (seconds from 1970, either way) a report can show: ECMAScript's time value range
 * (ECMA-262 21.4.1.1, +-8.64e15 ms, years -271821..275760). A pcapng timestamp with an extreme
 * if_tsoffset or if_tsresol (pcapng 4.2) can lie far beyond it; such times are out of range.
 */
export const MAX_TIME_SECONDS = 8.64e12;

/** True for a time (seconds from 1970) that can be shown as a date. */
export function timeInRange(t: number): boolean {
  return t <= MAX_TIME_SECONDS && t >= -MAX_TIME_SECONDS;
}

export interface CaptureDamage {
  file: string;
  /** Byte offset in the (decompressed) file where the bad record or block starts. */
  offset: number;
  /** The frame number the damaged record would have had (or the last frame + 1). */
  frame: number;
  message: string;
}

/** A non-fatal oddity (unknown block skipped, unknown link type, ...). */
export interface CaptureWarning {
  file: string;
  offset: number;
  frame: number;
  message: string;
}

export interface InterfaceInfo {
  fileIndex: number;
  ifIndex: number;
  linkType: number;
  snapLen: number;
  name: string | null;
  /** Timestamp units per second (1e6 for microseconds, 1e9 for nanoseconds, ...). */
  tsUnitsPerSec: number;
}

/** pcapng Name Resolution Block entry. */
export interface NameRecord {
  ip: string;
  names: string[];
}

/** pcapng Decryption Secrets Block. */
export interface SecretsBlock {
  /** Secrets type, e.g. 0x544c534b 'TLSK' for a TLS key log. */
  type: number;
  data: Buffer;
}

export interface CaptureFileInfo {
  file: string;
  fileIndex: number;
  format: 'pcap' | 'pcapng';
  gzip: boolean;
  /** Classic pcap: byte order of the file header. pcapng: of the first section. */
  littleEndian: boolean;
  /** Classic pcap: nanosecond magic. */
  nanosecond: boolean;
  interfaces: InterfaceInfo[];
  /** Number of records seen (Wireshark's frame count for this file). */
  frames: number;
  /** Bytes read from the (decompressed) file. */
  bytes: number;
  /** Gzipped input: compressed bytes read (for the inflation ratio), else undefined. */
  compressedBytes?: number;
  /** First / last record time, float seconds since the epoch, or null when no record. */
  start: number | null;
  end: number | null;
  names: NameRecord[];
  secrets: SecretsBlock[];
  damage: CaptureDamage | null;
  warnings: CaptureWarning[];
}

export interface CaptureSink {
  /** One record. `v` is reused for the next record: copy what you keep. */
  onFrame(v: FrameView): void;
  /** A Decryption Secrets Block (pcapng 4.7), when it is read: before the frames that follow it. */
  onSecrets?(s: SecretsBlock): void;
}

export type CaptureSource =
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  | { kind: 'buffer'; name: string; data: Buffer };

/** Input that cannot be read at all (missing file, not a capture): exit code 2. */
export class CaptureInputError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'CaptureInputError';
  }
}

/** Well-known LINKTYPE_* numbers (https://www.tcpdump.org/linktypes.html). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
