// One file's read (or a live capture's): frames in, a FilePart out (FileRun), with the options,
// progress counters and limits the whole analysis shares.
import { readFileSync, statSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import type { CaptureFileInfo, CaptureSource, FrameView, NameRecord, SecretsBlock } from '../capture/types.js';
import { KeyLog, SECRETS_TYPE_TLS_KEY_LOG } from '../rdp/keylog.js';
import { frameTime, timeInRange } from '../capture/types.js';
import { DecodedPacket, decodePacket, ipText, isKnownLinkType, linkTypeName } from '../net/index.js';
import { Narrowing, type NarrowSpec } from '../net/narrow.js';
import { FlowTable } from '../flow/table.js';
import type { HalfOpenSink } from '../flow/halfopen.js';
import type { OtherPortFailure } from '../flow/other-ports.js';
import { endpointText, type DnsTransaction, type FlowFacts, type KerberosErrorRef, type StreamConsumer } from '../flow/types.js';
import type { ConnectionRecord, Outcome, SideChannel } from '../handshake/types.js';
import { ConnectionMachine, DEFAULT_BYTE_BUDGET } from '../handshake/machine.js';
import { UdpMachine } from '../handshake/udp.js';
import { GATEWAY_TCP_PORT, GATEWAY_UDP_PORT, GatewayWatch, type GatewaySighting, type GatewayTunnelOptions } from '../handshake/gateway-watch.js';
import { LegacyTunnels } from '../handshake/gateway-legacy-tunnel.js';
import { PendingMachine, halfOpenOutcome, type OutcomeCounter, type PendingOptions } from '../handshake/pending.js';
import { PairIndex } from '../pairs.js';
import { RecordPacker, StringInterner, compactAndPack } from '../handshake/compact.js';
import type { DiagnosisInput, Finding } from '../diagnose/types.js';
import { diagnoseConnection } from '../diagnose/index.js';
import { SCAN_MIN_TARGETS, type CountedHalfOpen } from '../diagnose/probes.js';
import { serverOwnTtl } from '../diagnose/facts.js';
import { ClockCheck, type ClockOutlier } from '../capture/clock.js';
import { type CaptureFileSummary, type FileSetSummary, type ReportedConnection, type ServerSummary } from '../report/types.js';


/** package.json's version (the same relative path from src/pipeline/ and from dist/pipeline/). */
export const TOOL_VERSION: string = ((): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** Full connection records kept per run; beyond it connections are counted per server. */
export const MAX_RECORDS = 20_000;
/**
 * Of those, records of connections that never carried data (a SYN and at most its answer): a scan's
 * or a flood's attempts all look alike, so beyond these (~3 KB each) they are counted per server,
 * with their outcome, not recorded (issue 19: a 1M-flow flood's records were most of its memory).
 */
export const MAX_BARE_RECORDS = 5_000;
/** DNS transactions kept per run (the most recent; the flow table's own bound per file). */
export const MAX_DNS = 10_000;
/** Connections to an RD Gateway's ports kept per run (gateway-watch.ts); beyond them they are not reported. */
export const MAX_GATEWAY_SIGHTINGS = 1_000;
/** Streamed connections are judged with the connections that ended at most this long before them (AnalyzeOptions.streamContext). */
export const STREAM_CONTEXT_SECONDS = 600;

export interface AnalyzeOptions {
  /** Extra TCP/UDP ports to treat as RDP (3389 always is). */
  rdpPorts?: number[];
  /**
   * Called as soon as a connection ends (for `--format ndjson`), with the findings about it alone,
   * and (in the thread that read it) the run's recent DNS transactions (for evidence as it ends).
   */
  onConnection?: (c: ReportedConnection, dns?: readonly DnsTransaction[]) => void;
  /**
   * Called as soon as a connection to an RD Gateway's port ends (`live --sensor`), numbered g1, g2 ...
   * in the order they ended (the report numbers them by first frame).
   */
  onGatewaySighting?: (s: GatewaySighting) => void;
  /** Full records kept (default MAX_RECORDS). */
  maxRecords?: number;
  /** Bytes decoded per connection and direction (default DEFAULT_BYTE_BUDGET). */
  byteBudget?: number;
  /** TCP bytes reassembled per flow and direction (default the flow table's, 256 KiB); a decrypted session is read past it. */
  perFlowBytes?: number;
  /**
   * Files analysed at once (default defaultJobs()): the main thread reads one, worker threads the
   * others. 1, a single source, and stdin read in the main thread. A worker that cannot start (or dies)
   * is replaced by analysis in the main thread, so the report is the same either way.
   */
  jobs?: number;
  /** Called when a file has been read, with the thread that read it (worker_threads.threadId; 0 is the main thread). */
  onFile?: (f: { fileIndex: number; file: string; threadId: number }) => void;
  /**
   * With onConnection: the latest connections (at most this many, of the last STREAM_CONTEXT_SECONDS)
   * each streamed connection is judged with, so that the rules that compare attempts (retries, many
   * half-done handshakes to one server, the server's own TTL) see them. Default 0: judged alone.
   */
  streamContext?: number;
  /**
   * Read the pieces of a file set (ring buffer, split capture: src/capture/fileset.ts) as one
   * capture (default true). false: every file on its own.
   */
  fileSets?: boolean;
  /**
   * NSS key logs (`--keylog FILE`): their name and text. Each file's Decryption Secrets Blocks are
   * added to them for that file. TLS records of RDP connections are decrypted with them.
   */
  keyLogs?: { name: string; text: string }[];
  /**
   * Key log files that may grow while the analysis runs (`live` with a client writing
   * SSLKEYLOGFILE): when a session's secret is missing, what was appended to them since is read.
   * Their text so far is expected in keyLogs under the same name.
   */
  keyLogFollow?: string[];
  /** Kept up to date for a progress display that samples it (AnalyzeProgress). */
  progress?: AnalyzeProgress;
  /** Only the frames within this narrowing are analysed (src/net/narrow.ts); the report states it. */
  narrow?: NarrowSpec;
  /**
   * Called once every file is read and the probes are set apart, before the diagnosis and the report
   * are made (mergeParts). The command collects garbage there (src/cli/heap.ts): what the read left
   * (its chunks, the flow tables, the probes' records) goes before the heap grows again (issue 16).
   */
  beforeDiagnosis?: () => void;
}

/** What AnalyzeProgress.sample() returns: the run so far. */
export interface ProgressSample {
  /** Bytes of the input files read (compressed bytes of a gzipped file). */
  bytes: number;
  /** Frames read. */
  frames: number;
  /** Connections to RDP ports ended so far (recorded or counted). */
  connections: number;
  /** Files (or file sets) finished. */
  filesDone: number;
}

/**
 * What a run has read so far, for a progress display that samples it from a timer (the CLI's): no
 * work per packet is added for it; sample() adds up the counters the readers keep anyway (the
 * frame counts of each link-type run, the records, the read position updated once per read). A file
 * read by a worker thread counts when it is done (its counters live in the worker).
 */
export class AnalyzeProgress {
  private readonly active = new Set<FileRun>();
  private readonly done = new Set<number>();
  private bytes = 0;
  private frames = 0;
  private connections = 0;

  sample(): ProgressSample {
    let bytes = this.bytes;
    let frames = this.frames;
    let connections = this.connections;
    for (const r of this.active) {
      bytes += r.bytesRead;
      frames += r.framesRead;
      connections += r.connectionsEnded;
    }
    return { bytes, frames, connections, filesDone: this.done.size };
  }

  /** A run of this thread starts. */
  begin(run: FileRun): void {
    this.active.add(run);
  }

  /** A run of this thread ended (its files are done). */
  end(run: FileRun, part: FilePart): void {
    if (!this.active.delete(run)) return;
    this.bytes += run.bytesRead;
    this.connections += run.connectionsEnded;
    for (const f of part.files) {
      this.done.add(f.fileIndex);
      this.frames += f.summary.frames;
    }
  }

  /** A part is done (read in this thread or by a worker): a worker's part counts now, with its file's size. */
  partDone(part: FilePart, fileBytes: number): void {
    if (part.files.every((f) => this.done.has(f.fileIndex))) return;
    for (const f of part.files) {
      this.done.add(f.fileIndex);
      this.frames += f.summary.frames;
    }
    this.bytes += fileBytes;
    this.connections += part.records.length + part.overflowCount;
  }
}

/** Size of a file source (for the progress of a file read by a worker), 0 when unknown. */
export function sourceBytes(source: CaptureSource | undefined): number {
  if (source?.kind !== 'file') return 0;
  try {
    return statSync(source.path).size;
  } catch {
    return 0;
  }
}

/** Sources whose targets FileRun follows to find scanners among the half-open connections it counts. */
export const MAX_SCAN_SOURCES = 4096;

/** A dotted IPv4 address as an int32 (as HalfOpenView writes it), or null. */
export function ipv4Word(ip: string): number | null {
  const p = ip.split('.');
  if (p.length !== 4) return null;
  let w = 0;
  for (const x of p) {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0 || n > 255) return null;
    w = (w << 8) | n;
  }
  return w | 0;
}

/** Re-reads of followed key logs at most this often (a burst of sessions without keys costs one stat). */
export const KEYLOG_REFRESH_MS = 200;

/** KeyLog.refresh for files that grow: reads the whole lines appended since the last read. */
export function followKeyLogs(keys: KeyLog, paths: string[], known: { name: string; text: string }[]): () => boolean {
  const read = new Map<string, number>(paths.map((p) => [p, Buffer.byteLength(known.find((k) => k.name === p)?.text ?? '', 'latin1')]));
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < KEYLOG_REFRESH_MS) return false;
    last = now;
    let added = false;
    for (const [p, off] of read) {
      let b: Buffer;
      try {
        b = readFileSync(p);
      } catch {
        continue;
      }
      if (b.length <= off) continue;
      const nl = b.lastIndexOf(0x0a);
      if (nl < off) continue;
      const before = keys.size;
      const lines = keys.lines;
      keys.add(b.subarray(off, nl + 1), p);
      read.set(p, nl + 1);
      if (keys.size !== before || keys.lines !== lines) added = true;
    }
    return added;
  };
}

/** What the report says about the key sources of a file (never a secret). */
export interface KeyLogSummary {
  sources: string[];
  sessions: number;
  problems: string[];
}

export interface OverflowCounts {
  completed: number;
  failed: number;
  incomplete: number;
  /** Of those, connections counted from the flow table's half-open slots (never completed the handshake). */
  halfOpenFailed: number;
  halfOpenIncomplete: number;
}

export type TableStats = FlowTable['stats'];

/**
 * One file's analysis, before the diagnosis: plain data (structured-clone safe), so a worker can
 * post it. Ids are local to the file (c1.., flow 1..) until mergeParts renumbers them.
 */
export interface FilePart {
  fileIndex: number;
  name: string;
  threadId: number;
  /** The first maxRecords finished connections, in the order they ended. */
  records: ConnectionRecord[];
  overflow: Map<string, OverflowCounts>;
  overflowCount: number;
  /**
   * Half-open connections counted (not recorded, in overflowCount but in no server's counts) from a
   * source whose recorded attempts without data already touched SCAN_MIN_TARGETS targets: a scanner's,
   * by its address (the scan's probe group takes them).
   */
  scanCounted: Map<string, CountedHalfOpen>;
  /** Connection ids handed out (one per flow, recorded or not). */
  idsUsed: number;
  /** The file, or a file set's pieces in reading order, each with its index as given. */
  files: { fileIndex: number; summary: CaptureFileSummary }[];
  /** A file set read as one capture: where each piece's frames start in the set's numbering. */
  set: FileSetSummary | null;
  names: NameRecord[];
  captureEnd: number;
  dns: DnsTransaction[];
  /** KRB-ERRORs from KDCs (port 88). */
  kerberos: KerberosErrorRef[];
  /** Connections to an RD Gateway's ports (gateway-watch.ts), the first MAX_GATEWAY_SIGHTINGS, without their ids. */
  gateways: Omit<GatewaySighting, 'id'>[];
  /** TCP attempts to other ports that were never answered with a SYN-ACK (flow/other-ports.ts). */
  otherPorts?: OtherPortFailure[];
  /** With a narrowing (AnalyzeOptions.narrow): the frames analysed. */
  framesKept?: number;
  stats: TableStats;
  unknownLinkFrames: number;
  keyLog: KeyLogSummary | null;
  /** Frames whose timestamp was far outside their neighbours' (capture/clock.ts): the first few, and how many. */
  clockOutliers: ClockOutlier[];
  clockOutlierCount: number;
  /**
   * Frames whose (plausible) time is earlier than the frame before them: a file not in time order
   * (captures merged end to end, several interfaces, a clock stepped back). 0 in a file in order.
   */
  timeBackSteps: number;
  /** The largest such step back: the frame and how many seconds before the frame before it. */
  largestBackStep: { frame: number; seconds: number } | null;
}

/** Reads one file (or one live capture): frames in, a FilePart out. */
export class FileRun {
  private readonly table: FlowTable;
  private readonly pkt = new DecodedPacket();
  private readonly records: ConnectionRecord[] = [];
  private readonly overflow = new Map<string, OverflowCounts>();
  private overflowCount = 0;
  /**
   * client -> server address pair -> the side-channel list of the latest TCP connection between them
   * (for RDPEUDP side channels that come later). The list, not the machine: a finished machine (its
   * trackers, stream buffers, TLS defragmenter) must not stay alive for the rest of the capture.
   */
  private readonly pairs = new PairIndex();
  private readonly linkCounts = new Map<number, number>();
  /** The link type of the frames since the last change (-1 before the first frame), their count, and whether it is decoded. */
  private runLinkType = -1;
  private runFrames = 0;
  private runKnown = false;
  /** Strings repeated by this run's records, kept once (bounded). */
  private readonly strings = new StringInterner();
  /** The kept records' timelines, packed (handshake/compact.ts RecordPacker). */
  private readonly packer = new RecordPacker();
  private unknownLinkFrames = 0;
  /** Records with no captured byte (capLen 0): a decompression bomb is made of them. */
  private emptyFrames = 0;
  private lastTime = 0;
  /** Time order (timeBackSteps in FilePart): the time of the frame before, the steps back, the largest. */
  private prevTime = Number.NaN;
  private backSteps = 0;
  private largestBack: { frame: number; seconds: number } | null = null;
  /** The earliest and latest time of the piece being read, and whether it went back in time (its span is then min..max). */
  private pieceMin = Infinity;
  private pieceMax = -Infinity;
  private pieceBack = false;
  /**
   * A file set's frames are numbered across its pieces (as `mergecap -a` of them in reading order
   * numbers them): the number of frames of the pieces before the one being read.
   */
  private frameBase = 0;
  /** The pieces read so far (a single file: one), with the merged number of their first frame. */
  private readonly pieces: { fileIndex: number; name: string; firstFrame: number; summary: CaptureFileSummary | null }[] = [];
  /** Name Resolution Block entries of the pieces before the one being read. */
  private names: NameRecord[] = [];
  /** Plausible times of this file's frames, and the outliers among them (capture/clock.ts). */
  private readonly clock = new ClockCheck();
  /** A frame whose time jumped, copied until the next frame tells whether it is an outlier. */
  private deferred: { buf: Buffer; linkType: number; frame: number; time: number; known: boolean } | null = null;
  private readonly maxRecords: number;
  private readonly byteBudget: number;
  /** The connections streamed connections are judged with (AnalyzeOptions.streamContext), or null. */
  private readonly recent: ConnectionRecord[] | null;
  private readonly streamContext: number;
  /** The CaptureSink of this file (one function for the whole file, no closure per packet). */
  readonly onFrame: (v: FrameView) => void;
  /** What every TCP connection's machine is made with, but its id and side-channel list (one object per run). */
  private readonly machineOptions: PendingOptions;
  /** The key log files and this file's Decryption Secrets Blocks (empty: nothing is decrypted). */
  private readonly keys = new KeyLog();
  /** The read position in the piece being read (ReadOptions.position), and the bytes of the pieces before it. */
  readonly position = { bytes: 0 };
  private positionBase = 0;
  /** The narrowing (null: every frame is analysed), the first frame's time (its relative times' origin), the frames kept. */
  private readonly narrow: Narrowing | null;
  private firstTime = NaN;
  private kept = 0;

  /** Bytes of the input read so far (AnalyzeProgress). */
  get bytesRead(): number {
    return this.positionBase + this.position.bytes;
  }

  /** Frames read so far (AnalyzeProgress): the pieces before this one, the link-type runs counted, the current run. */
  get framesRead(): number {
    let n = this.frameBase + this.runFrames;
    for (const c of this.linkCounts.values()) n += c;
    return n;
  }

  /** Connections ended so far, recorded or counted (AnalyzeProgress). */
  get connectionsEnded(): number {
    return this.records.length + this.overflowCount;
  }

  constructor(
    opts: AnalyzeOptions,
    private readonly name: string,
    private readonly fileIndex: number,
    private readonly onConnection: ((c: ReportedConnection, dns?: readonly DnsTransaction[]) => void) | null,
  ) {
    this.gatewayListener = opts.onGatewaySighting ?? null;
    const narrow = opts.narrow !== undefined ? new Narrowing(opts.narrow) : null;
    this.narrow = narrow !== null && narrow.active ? narrow : null;
    this.maxRecords = opts.maxRecords ?? MAX_RECORDS;
    this.byteBudget = opts.byteBudget ?? DEFAULT_BYTE_BUDGET;
    this.streamContext = Math.max(0, Math.floor(opts.streamContext ?? 0));
    this.recent = this.streamContext > 0 && onConnection !== null ? [] : null;
    for (const k of opts.keyLogs ?? []) this.keys.add(k.text, k.name);
    if (opts.keyLogFollow !== undefined && opts.keyLogFollow.length > 0) this.keys.refresh = followKeyLogs(this.keys, opts.keyLogFollow, opts.keyLogs ?? []);
    this.machineOptions = {
      file: name,
      fileIndex,
      byteBudget: this.byteBudget,
      onRecord: this.onTcpRecord,
      keys: this.keys,
      // Streamed connections (onConnection) need their records; otherwise those beyond maxRecords are counted only.
      counter: onConnection === null ? this.counter : undefined,
      // With --port 443: HTTPS (an RD Gateway's, or any) is not taken for a failed RDP attempt.
      gateway: (facts) => new GatewayWatch(facts, this.name, this.onGatewaySighting, this.keys, this.tunnelOptions),
    };
    const ports = [3389, ...(opts.rdpPorts ?? []).filter((p) => p !== 3389)];
    for (const p of ports) if (Number.isInteger(p) && p >= 0 && p < 65536) this.userPorts.add(p);
    this.table = new FlowTable(
      // Half-open connections only counted are counted from the table's slots (no record is built).
      {
        rdpPorts: ports,
        maxDns: MAX_DNS,
        halfOpenSink: onConnection === null ? this.halfOpenSink : undefined,
        ...(opts.perFlowBytes !== undefined ? { perFlowBytes: opts.perFlowBytes } : {}),
        gatewayPorts: { tcp: [GATEWAY_TCP_PORT], udp: [GATEWAY_UDP_PORT] },
      },
      (facts) => this.newFlow(facts),
    );
    const pkt = this.pkt;
    const table = this.table;
    this.onFrame = (v: FrameView): void => {
      const lt = v.linkType;
      // Frames are counted per run of one link type (a file has one, or a few interfaces): no Map
      // update per frame; countLinkRun() adds the run to linkCounts when the link type changes.
      if (lt !== this.runLinkType) this.countLinkRun(lt);
      this.runFrames++;
      if (v.capLen === 0) this.emptyFrames++;
      if (!this.runKnown) this.unknownLinkFrames++;
      const time = frameTime(v);
      const clock = this.clock;
      // A frame far from the last plausible time waits for the next one to tell an outlier from a jump (capture/clock.ts).
      const d = this.deferred;
      if (d !== null) {
        this.deferred = null;
        const t = clock.resolve(d.frame, d.time, time);
        if (t > this.lastTime) this.lastTime = t;
        this.order(t, d.frame);
        if (d.known) {
          decodePacket(d.buf, 0, d.buf.length, d.linkType, pkt);
          if (this.keep(pkt, t)) table.handle(pkt, d.frame, t, fileIndex);
        }
      }
      if (Number.isNaN(clock.last)) clock.accept(time);
      else if (clock.suspect(time)) {
        this.deferred = { buf: Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)), linkType: lt, frame: v.frame + this.frameBase, time, known: this.runKnown };
        return;
      } else clock.accept(time);
      if (time > this.lastTime) this.lastTime = time;
      if (time < this.prevTime) this.stepBack(time, v.frame + this.frameBase);
      this.prevTime = time;
      if (time < this.pieceMin) this.pieceMin = time;
      if (time > this.pieceMax) this.pieceMax = time;
      if (!this.runKnown) return;
      decodePacket(v.buf, v.off, v.capLen, lt, pkt);
      if (this.narrow !== null && !this.keep(pkt, time)) return;
      table.handle(pkt, v.frame + this.frameBase, time, fileIndex);
    };
    this.pieces.push({ fileIndex, name, firstFrame: 1, summary: null });
  }

  /** Time order of a frame that waited for the next one (the hot path does the same inline). */
  private order(time: number, frame: number): void {
    if (time < this.prevTime) this.stepBack(time, frame);
    this.prevTime = time;
    if (time < this.pieceMin) this.pieceMin = time;
    if (time > this.pieceMax) this.pieceMax = time;
  }

  /** A frame earlier than the frame before it. */
  private stepBack(time: number, frame: number): void {
    this.backSteps++;
    this.pieceBack = true;
    const seconds = this.prevTime - time;
    if (this.largestBack === null || seconds > this.largestBack.seconds) this.largestBack = { frame, seconds };
  }

  /** Whether a decoded frame is within the narrowing (counted when it is); true without one. */
  private keep(pkt: DecodedPacket, time: number): boolean {
    const n = this.narrow;
    if (n === null) return true;
    if (Number.isNaN(this.firstTime)) this.firstTime = time;
    if (!n.matches(pkt, time, this.firstTime)) return false;
    this.kept++;
    return true;
  }

  /** The latest record time seen (float seconds), 0 before the first record. */
  get lastRecordTime(): number {
    return this.lastTime;
  }

  /**
   * Ends the piece being read (its summary, its frames counted into the set's numbering) and, with
   * `next`, goes on with the next piece of a file set: its flows continue in the same table.
   */
  endPiece(info: CaptureFileInfo, next: { fileIndex: number; name: string } | null): void {
    const piece = this.pieces[this.pieces.length - 1]!;
    const counts = this.countLinkRun(-1);
    for (const message of inflationWarnings(info, this.emptyFrames)) info.warnings.push({ file: info.file, offset: info.bytes, frame: info.frames, message });
    this.emptyFrames = 0;
    piece.summary = fileSummary(info, piece.name, counts);
    if (this.pieceBack && Number.isFinite(this.pieceMin)) {
      // Not in time order: the span runs from the earliest frame to the latest, not first to last.
      piece.summary.start = this.pieceMin;
      piece.summary.end = this.pieceMax;
    }
    this.pieceMin = Infinity;
    this.pieceMax = -Infinity;
    this.pieceBack = false;
    counts.clear();
    if (next === null) return;
    this.names = this.names.concat(info.names);
    this.frameBase += info.frames;
    this.positionBase += this.position.bytes;
    this.position.bytes = 0;
    this.pieces.push({ fileIndex: next.fileIndex, name: next.name, firstFrame: this.frameBase + 1, summary: null });
  }

  /** The piece (its name) that holds a frame of the set's numbering. */
  private pieceName(frame: number): string {
    const p = this.pieces;
    for (let i = p.length - 1; i > 0; i--) if (frame >= p[i]!.firstFrame) return p[i]!.name;
    return p[0]!.name;
  }

  /** A Decryption Secrets Block (pcapng 4.7): a TLS key log is added to the keys of the connections that follow. */
  readonly onSecrets = (s: SecretsBlock): void => {
    if (s.type !== SECRETS_TYPE_TLS_KEY_LOG) return;
    const name = `Decryption Secrets Block in ${this.pieces[this.pieces.length - 1]!.name}`;
    this.keys.add(s.data, name);
    if (this.runFrames > 0 || this.linkCounts.size > 0) this.dsbAfterPackets = true;
    // Kept for a second pass when the block came after the packets of sessions it holds keys for.
    this.dsbTexts.push({ name, text: Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength).toString('latin1') });
  };
  /** The Decryption Secrets Blocks' key logs, as read (a DSB is a few hundred bytes per session). */
  readonly dsbTexts: { name: string; text: string }[] = [];
  private dsbAfterPackets = false;

  /** The run's key store (never reported: secrets stay in memory). */
  get keyStore(): KeyLog {
    return this.keys;
  }

  /**
   * TLS connections of this run that were not decrypted (no secret at their ServerHello) in a file
   * where a Decryption Secrets Block came after packets (as Wireshark writes one where the keys
   * became known, or a tool that appends it): their keys may be in it. 0 when no DSB came late.
   */
  keyedTooLate(part: FilePart): number {
    if (!this.dsbAfterPackets) return 0;
    let n = 0;
    for (const r of part.records) {
      const t = r.tls;
      if (t === null || t.serverHelloFrame === null || t.version === null) continue;
      if (t.decryption === undefined || (t.decryption.status === 'no_key' && t.decryption.clientRandom !== null && (this.keys.master.has(t.decryption.clientRandom) || this.keys.tls13.has(t.decryption.clientRandom)))) n++;
    }
    return n;
  }

  /** Adds the frames of the run that ends to linkCounts and starts a run of link type lt; returns linkCounts. */
  private countLinkRun(lt: number): Map<number, number> {
    const prev = this.runLinkType;
    if (this.runFrames > 0) this.linkCounts.set(prev, (this.linkCounts.get(prev) ?? 0) + this.runFrames);
    this.runFrames = 0;
    this.runLinkType = lt;
    this.runKnown = lt >= 0 && isKnownLinkType(lt);
    return this.linkCounts;
  }

  /** The ports analysed as RDP (3389 and --port). */
  private readonly userPorts = new Set<number>();
  /** Connections to a gateway port (kept up to MAX_GATEWAY_SIGHTINGS). */
  private readonly gateways: Omit<GatewaySighting, 'id'>[] = [];
  private gatewaysEnded = 0;
  private readonly gatewayListener: ((s: GatewaySighting) => void) | null;
  private readonly onGatewaySighting = (s: Omit<GatewaySighting, 'id'>): void => {
    if (this.gateways.length < MAX_GATEWAY_SIGHTINGS) this.gateways.push(s);
    this.gatewaysEnded++;
    this.gatewayListener?.({ id: `g${this.gatewaysEnded}`, ...s });
  };
  /** A connection tunnelled through an RD Gateway (decrypted with the key log) is recorded as any other (gateway-tunnel.ts). */
  private get tunnelOptions(): GatewayTunnelOptions {
    return (this.tunnelOpts ??= { byteBudget: this.byteBudget, onRecord: (rec) => this.finished(rec), legacy: new LegacyTunnels() });
  }
  private tunnelOpts: GatewayTunnelOptions | null = null;

  private newFlow(facts: FlowFacts): StreamConsumer | null {
    // A flow on an RD Gateway's port (neither end an RDP port): what its cleartext shows (gateway-watch.ts).
    if (facts.clientBy !== 'x224' && !this.userPorts.has(facts.server.port) && !this.userPorts.has(facts.client.port)) {
      const gw = facts.transport === 'tcp' ? GATEWAY_TCP_PORT : GATEWAY_UDP_PORT;
      return facts.server.port === gw ? new GatewayWatch(facts, this.name, this.onGatewaySighting, this.keys, this.tunnelOptions) : null;
    }
    // The flow's id (a half-open connection's is given with its SYN, before the flow is built).
    const id = `c${facts.id}`;
    if (facts.transport === 'tcp') {
      // The ConnectionMachine comes with the flow's first stream byte, or at its end (pending.ts):
      // a half-open flow (a SYN flood's) holds its TCP events only while it is tracked.
      const sideChannels: SideChannel[] = [];
      this.pairs.set(facts.client.ip, facts.server.ip, sideChannels);
      return new PendingMachine(facts, id, sideChannels, this.machineOptions);
    }
    const tcp = this.pairs.get(facts.client.ip, facts.server.ip);
    const u = new UdpMachine(facts, {
      id,
      file: this.name,
      fileIndex: this.fileIndex,
      // Attached to the TCP connection of the same client -> server pair, or a connection of its own.
      onRecord: tcp === null ? (rec) => this.finished(rec) : null,
    });
    if (tcp !== null) tcp.push(u.sideChannel);
    return u;
  }

  /** A TCP connection ended (one function for every machine: no closure per flow). */
  private readonly onTcpRecord = (rec: ConnectionRecord, machine: ConnectionMachine): void => {
    // A connection that carried no payload (a SYN flood's half-open attempt) has no RDPEUDP
    // side channel to come: forget it, so a million spoofed sources do not keep a million entries.
    if (machine.facts.payloadBytes[0] + machine.facts.payloadBytes[1] === 0) {
      this.pairs.forget(rec.flow.client.ip, rec.flow.server.ip, machine.sideChannels);
    }
    this.finished(rec);
  };

  /**
   * TCP connections that end once the records are full: counted per server, as finished() counts a
   * record it does not keep, without the record (PendingMachine, ConnectionMachine.outcomeAtEnd).
   */
  private readonly counter: OutcomeCounter = {
    countsOnly: () => this.records.length >= this.maxRecords,
    bareCountsOnly: () => this.bareRecords >= MAX_BARE_RECORDS,
    count: (conn, outcome) => {
      const facts = conn.facts;
      if (facts.payloadBytes[0] + facts.payloadBytes[1] === 0) this.pairs.forget(facts.client.ip, facts.server.ip, conn.sideChannels);
      this.countFor(facts.server.ip, facts.server.port, outcome, false);
    },
  };

  /** A connection counted per server (not recorded) with its outcome. */
  private countFor(ip: string, port: number, outcome: Outcome, halfOpen: boolean): void {
    this.overflowCount++;
    // A flood's counted connections go to one server: its counts are found again without a key.
    let c = this.lastCounts;
    if (c === null || port !== this.lastServerPort || ip !== this.lastServerIp) {
      const key = endpointText({ ip, port });
      c = this.overflow.get(key) ?? null;
      if (c === null) this.overflow.set(key, (c = { completed: 0, failed: 0, incomplete: 0, halfOpenFailed: 0, halfOpenIncomplete: 0 }));
      this.lastCounts = c;
      this.lastServerIp = ip;
      this.lastServerPort = port;
    }
    if (outcome === 'completed') c.completed++;
    else if (outcome === 'failed') c.failed++;
    else c.incomplete++;
    if (halfOpen) {
      if (outcome === 'failed') c.halfOpenFailed++;
      else c.halfOpenIncomplete++;
    }
  }

  /**
   * Half-open connections (a SYN, maybe its SYN/ACK or a reset) that end in the flow table's slots
   * once records of such attempts are full: counted from the slot, with no flow, facts or machine
   * built (issue 19: a million-SYN flood in a bounded memory).
   */
  private readonly halfOpenSink: HalfOpenSink = {
    countsOnly: () => this.records.length >= this.maxRecords || this.bareRecords >= MAX_BARE_RECORDS,
    count: (v, s, _reason, captureEnd) => {
      // A scanner's (its recorded attempts without data touched many targets): counted for its scan.
      if (this.scanners > 0 && v.ipVersion(s) === 4) {
        const b = this.slotAddr;
        v.clientAddress(s, b, 0);
        const t = this.bareTargets.get(b.readInt32BE(0));
        if (t !== undefined && t.scanner !== null) {
          this.overflowCount++;
          if (halfOpenOutcome(v, s, captureEnd) === 'failed') t.scanner.failed++;
          else t.scanner.incomplete++;
          return;
        }
      }
      const key = this.slotServer;
      if (this.slotServerIp === '' || !v.sameServer(s, key)) {
        v.serverKey(s, key);
        const b = this.slotAddr;
        v.serverAddress(s, b, 0);
        this.slotServerIp = ipText(b, 0, v.ipVersion(s));
      }
      this.countFor(this.slotServerIp, v.serverPort(s), halfOpenOutcome(v, s, captureEnd), true);
    },
  };
  /**
   * Per IPv4 source (as an int32), the targets of its recorded attempts without data, until they
   * make it a scanner (SCAN_MIN_TARGETS; then its counted half-open connections, also in
   * scanCounted). At most MAX_SCAN_SOURCES sources (a flood's million sources stop there).
   */
  private readonly bareTargets = new Map<number, { targets: Set<string>; scanner: CountedHalfOpen | null }>();
  private readonly scanCounted = new Map<string, CountedHalfOpen>();
  private scanners = 0;

  private noteBareTarget(rec: ConnectionRecord): void {
    const ip = rec.flow.client.ip;
    if (rec.flow.ipVersion !== 4 || rec.transport !== 'tcp') return;
    const key = ipv4Word(ip);
    if (key === null) return;
    let t = this.bareTargets.get(key);
    if (t === undefined) {
      if (this.bareTargets.size >= MAX_SCAN_SOURCES) return;
      this.bareTargets.set(key, (t = { targets: new Set(), scanner: null }));
    }
    if (t.scanner !== null) return;
    t.targets.add(rec.server);
    if (t.targets.size >= SCAN_MIN_TARGETS) {
      t.scanner = { failed: 0, incomplete: 0 };
      t.targets.clear();
      this.scanCounted.set(ip, t.scanner);
      this.scanners++;
    }
  }

  /** The server of the last slot counted: its key (HalfOpenView.serverKey) and address text. */
  private readonly slotServer = new Int32Array(6);
  private readonly slotAddr = Buffer.alloc(16);
  private slotServerIp = '';
  /** The server whose counts the counter last updated, and its counts. */
  private lastCounts: OverflowCounts | null = null;
  private lastServerIp = '';
  private lastServerPort = -1;

  /** Records kept of connections that never carried data (see MAX_BARE_RECORDS). */
  private bareRecords = 0;

  private finished(rec: ConnectionRecord): void {
    // In a file set, a connection is reported in the piece that holds its first frame.
    if (this.pieces.length > 1) rec.file = this.pieceName(rec.flow.firstFrame);
    if (this.records.length < this.maxRecords) {
      if (rec.flow.payloadBytes[0] + rec.flow.payloadBytes[1] === 0) {
        this.bareRecords++;
        this.noteBareTarget(rec);
      }
      // Only a record that is kept is worth compacting (a SYN flood's overflow is counted and dropped).
      // The kept record is a copy whose timeline and TCP facts are packed (nothing holds the record after this).
      rec = compactAndPack(rec, this.strings, this.packer);
      this.records.push(rec);
    } else {
      this.overflowCount++;
      countOverflow(this.overflow, rec);
    }
    const cb = this.onConnection;
    if (cb) {
      // Judged with the recent connections before it (streamContext; none by default): the stream
      // cannot wait for later ones. The same post-diagnosis step as the report.
      const recent = this.recent;
      if (recent !== null) while (recent.length > 0 && (recent.length >= this.streamContext || recent[0]!.end < rec.end - STREAM_CONTEXT_SECONDS)) recent.shift();
      const input: DiagnosisInput = { connections: recent !== null ? [...recent, rec] : [rec], dns: this.table.dns, captureEnd: [], names: new Map() };
      const mine = diagnoseConnection(rec, input);
      const own = { ...rec };
      attributeMiddleboxResets([own], new Map([[rec.id, mine]]), input);
      recent?.push(rec);
      cb({ ...own, findings: mine }, this.table.dns);
    }
  }

  /** Ends the file (or the file set, after its last piece's info): open flows end at the capture's end. */
  finish(info: CaptureFileInfo, set: Omit<FileSetSummary, 'files' | 'firstFrames'> | null = null): FilePart {
    // A frame still waiting for a next one keeps its own time (nothing after it says otherwise).
    const d = this.deferred;
    if (d !== null) {
      this.deferred = null;
      this.clock.accept(d.time);
      if (d.time > this.lastTime) this.lastTime = d.time;
      this.order(d.time, d.frame);
      if (d.known) {
        decodePacket(d.buf, 0, d.buf.length, d.linkType, this.pkt);
        if (this.keep(this.pkt, d.time)) this.table.handle(this.pkt, d.frame, d.time, this.fileIndex);
      }
    }
    this.endPiece(info, null);
    const clock = this.clock;
    // Timestamps may go backwards in a capture: the end is the latest one seen (outliers aside).
    const end = clock.outlierCount > 0 ? clock.max : Math.max(info.end ?? 0, this.lastTime);
    this.table.finish(end, this.fileIndex);
    if (clock.outlierCount > 0) {
      // The span of each piece leaves the outliers out (capture/clock.ts).
      for (const p of this.pieces) {
        const sm = p.summary!;
        if (sm.start !== null) sm.start = Math.min(Math.max(sm.start, clock.min), clock.max);
        if (sm.end !== null) sm.end = Math.max(Math.min(sm.end, clock.max), clock.min);
      }
    }
    const files = this.pieces.map((p) => ({ fileIndex: p.fileIndex, summary: p.summary! }));
    return {
      fileIndex: this.fileIndex,
      name: this.name,
      threadId,
      records: this.records,
      overflow: this.overflow,
      overflowCount: this.overflowCount,
      scanCounted: this.scanCounted,
      idsUsed: this.table.flowIds,
      files,
      set:
        this.pieces.length > 1 && set !== null
          ? { ...set, files: this.pieces.map((p) => p.fileIndex), firstFrames: this.pieces.map((p) => p.firstFrame) }
          : null,
      clockOutliers: clock.outliers,
      clockOutlierCount: clock.outlierCount,
      timeBackSteps: this.backSteps,
      largestBackStep: this.largestBack,
      names: this.names.concat(info.names),
      captureEnd: end,
      dns: this.table.dns.slice(),
      kerberos: this.table.kerberosErrors.slice(),
      gateways: this.gateways,
      otherPorts: this.table.otherPorts.failures(),
      framesKept: this.kept,
      stats: { ...this.table.stats },
      unknownLinkFrames: this.unknownLinkFrames,
      keyLog: this.keys.sources.length === 0 ? null : keyLogSummary(this.keys),
    };
  }
}

export function keyLogSummary(k: KeyLog): KeyLogSummary {
  const problems = k.problems.map((p) => `${p.source} line ${p.line}: ${p.reason}`);
  if (k.droppedProblems > 0) problems.push(`${k.droppedProblems} more key log lines could not be used`);
  return { sources: k.sources, sessions: k.size, problems };
}

/** A gzip that inflates this many times its size or more (and to BOMB_MIN_BYTES at least) is named. */
export const BOMB_RATIO = 100;
export const BOMB_MIN_BYTES = 16 * 1024 * 1024;
/** A capture of at least BOMB_MIN_FRAMES records of which this share is empty is named. */
export const EMPTY_SHARE = 0.9;
export const BOMB_MIN_FRAMES = 100_000;

/**
 * Issue 19: a small gzip that inflates to gigabytes of empty records is analysed to the end (that
 * is right), and the report says so: an extreme inflation ratio, an extreme share of empty records.
 */
export function inflationWarnings(info: CaptureFileInfo, emptyFrames: number): string[] {
  const out: string[] = [];
  const z = info.compressedBytes;
  if (info.gzip && z !== undefined && z > 0 && info.bytes >= BOMB_MIN_BYTES && info.bytes / z >= BOMB_RATIO) {
    out.push(
      `the gzip data inflated ${Math.round(info.bytes / z)} times (${mb(info.bytes)} from ${mb(z)}), an extreme ratio (a decompression bomb?): all of it was analysed`,
    );
  }
  if (info.frames >= BOMB_MIN_FRAMES && emptyFrames / info.frames >= EMPTY_SHARE) {
    out.push(`${emptyFrames} of ${info.frames} records (${Math.round((100 * emptyFrames) / info.frames)} %) carry no captured byte: the capture is mostly empty records`);
  }
  return out;
}

export function mb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

export function countOverflow(overflow: Map<string, OverflowCounts>, rec: ConnectionRecord): void {
  let c = overflow.get(rec.server);
  if (!c) overflow.set(rec.server, (c = { completed: 0, failed: 0, incomplete: 0, halfOpenFailed: 0, halfOpenIncomplete: 0 }));
  if (rec.outcome === 'completed') c.completed++;
  else if (rec.outcome === 'failed') c.failed++;
  else c.incomplete++;
}

/** Connection "cN" of a part whose run started after `offset` ids. */
export function shiftId(id: string, offset: number): string {
  return offset === 0 ? id : `c${Number(id.slice(1)) + offset}`;
}

/**
 * The state machine attributes a reset answering the SYN to the server (it carries the server's
 * address). When the diagnosis's top finding is port_blocked because that reset's TTL differs from
 * the server's own packets (design.md, port_blocked: "RST from a hop whose TTL differs from the
 * server's"), a device in between sent it: died.by becomes 'network' and the detail names both TTLs.
 * Replaces `died` (never mutates a shared object) on the records given.
 */
export function attributeMiddleboxResets(conns: ConnectionRecord[], findings: Map<string, Finding[]>, input: DiagnosisInput): void {
  for (const c of conns) {
    const d = c.died;
    if (!d || d.phase !== 'tcp' || d.how !== 'rst' || d.by !== 'server') continue;
    if (findings.get(c.id)?.[0]?.cause !== 'port_blocked') continue;
    const rst = c.flow.tcp?.rsts.find((r) => r.dir === 1 && r.answersSyn && r.frame === d.frame);
    const own = rst ? serverOwnTtl(c, input) : null;
    if (!rst || !own || own.ttl === rst.ttl) continue;
    c.died = {
      ...d,
      by: 'network',
      detail: `a device in between answered the SYN with a reset: its TTL is ${rst.ttl}, the server's own packets arrive with TTL ${own.ttl}${own.frame !== null ? ` (frame ${own.frame})` : ''}`,
    };
  }
}

export function fileSummary(info: CaptureFileInfo, name: string, counts: Map<number, number>): CaptureFileSummary {
  return {
    file: name,
    format: info.format,
    gzip: info.gzip,
    frames: info.frames,
    bytes: info.bytes,
    start: info.start,
    end: info.end,
    linkTypes: [...counts].map(([linkType, frames]) => ({ linkType, name: linkTypeName(linkType), frames })),
    damage: info.damage ? { offset: info.damage.offset, frame: info.damage.frame, message: info.damage.message } : null,
    warnings: info.warnings.map((w) => ({ offset: w.offset, frame: w.frame, message: w.message })),
  };
}

export function mergeOverflow(servers: ServerSummary[], overflow: Map<string, OverflowCounts>): ServerSummary[] {
  const out = servers.map((s) => ({ ...s, lines: s.lines.slice() }));
  for (const [server, c] of overflow) {
    let s = out.find((x) => x.server === server);
    if (!s) {
      s = { server, attempts: 0, completed: 0, failed: 0, incomplete: 0, lines: [] };
      out.push(s);
    }
    const n = c.completed + c.failed + c.incomplete;
    s.attempts += n;
    s.completed += c.completed;
    s.failed += c.failed;
    s.incomplete += c.incomplete;
    s.lines.push(`${n} more connections counted, not recorded (${c.completed} completed, ${c.failed} failed, ${c.incomplete} incomplete)`);
  }
  return out;
}

/** null for a time that is no date (out of range: the file's warnings say so). */
export function iso(t: number): string | null {
  return timeInRange(t) ? new Date(Math.round(t * 1000)).toISOString() : null;
}
