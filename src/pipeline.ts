// The whole analysis, one pass per file (design.md "Data flow"): capture reader -> packet decoders
// (one reusable DecodedPacket) -> flow table -> one handshake state machine per connection ->
// connection records -> diagnosis -> Report. Memory stays flat: a finished connection keeps only
// its record, and past MAX_RECORDS connections are counted per server instead of recorded.
//
// Each file is read by its own FileRun (its own flow table) into a FilePart: the records, the file's
// facts and its DNS log. Parts are merged in file order (connection and flow ids renumbered as one
// run would have numbered them) and the diagnosis runs once on the merged records, since the
// cross-connection rules need all of them. Several files run in worker threads, one per file, at
// most `jobs` at once; the same FileRun runs in a worker, in the main thread, or behind
// createAnalyzer() for frames pushed one by one (live capture).
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import { workerEntry } from './worker-entry.js';
import type { CaptureFileInfo, CaptureSource, FrameView, NameRecord, SecretsBlock } from './capture/types.js';
import { KeyLog, SECRETS_TYPE_TLS_KEY_LOG } from './rdp/keylog.js';
import { CaptureInputError, frameTime, timeInRange } from './capture/types.js';
import { readCapture, sourceName } from './capture/index.js';
import { planFileSets, type PlannedSet } from './capture/fileset.js';
import { DecodedPacket, decodePacket, ipText, isKnownLinkType, linkTypeName } from './net/index.js';
import { Narrowing, type NarrowSpec } from './net/narrow.js';
import { FlowTable } from './flow/table.js';
import type { HalfOpenSink } from './flow/halfopen.js';
import type { OtherPortFailure, OtherPortFailureReport } from './flow/other-ports.js';
import { endpointText, type DnsTransaction, type FlowFacts, type KerberosErrorRef, type StreamConsumer } from './flow/types.js';
import type { ConnectionRecord, Outcome, SideChannel } from './handshake/types.js';
import { ConnectionMachine, DEFAULT_BYTE_BUDGET } from './handshake/machine.js';
import { UdpMachine } from './handshake/udp.js';
import { GATEWAY_TCP_PORT, GATEWAY_UDP_PORT, GatewayWatch, type GatewaySighting } from './handshake/gateway-watch.js';
import { PendingMachine, halfOpenOutcome, type OutcomeCounter, type PendingOptions } from './handshake/pending.js';
import { PairIndex } from './pairs.js';
import { StringInterner, compactRecord, flatString, flattenStrings } from './handshake/compact.js';
import type { DiagnosisInput, Finding } from './diagnose/types.js';
import { attemptLinks, diagnose, diagnoseCapture, diagnoseConnection, groupAttempts, headline, summarizeServers, type AttemptLink } from './diagnose/index.js';
import { SCAN_MIN_TARGETS, findProbes, type CountedHalfOpen } from './diagnose/probes.js';
import { gatewayClause, gatewayNotes } from './diagnose/gateway.js';
import { plural, serverOwnTtl } from './diagnose/facts.js';
import { ClockCheck, type ClockOutlier } from './capture/clock.js';
import {
  REPORT_SCHEMA_VERSION,
  type CaptureFileSummary,
  type CaptureSummary,
  type FileSetSummary,
  type Report,
  type ReportedConnection,
  type ServerSummary,
} from './report/types.js';

/** package.json's version (the same relative path from src/ and from dist/). */
export const TOOL_VERSION: string = ((): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
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
function sourceBytes(source: CaptureSource | undefined): number {
  if (source?.kind !== 'file') return 0;
  try {
    return statSync(source.path).size;
  } catch {
    return 0;
  }
}

/** Sources whose targets FileRun follows to find scanners among the half-open connections it counts. */
const MAX_SCAN_SOURCES = 4096;

/** A dotted IPv4 address as an int32 (as HalfOpenView writes it), or null. */
function ipv4Word(ip: string): number | null {
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
const KEYLOG_REFRESH_MS = 200;

/** KeyLog.refresh for files that grow: reads the whole lines appended since the last read. */
function followKeyLogs(keys: KeyLog, paths: string[], known: { name: string; text: string }[]): () => boolean {
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
interface KeyLogSummary {
  sources: string[];
  sessions: number;
  problems: string[];
}

interface OverflowCounts {
  completed: number;
  failed: number;
  incomplete: number;
  /** Of those, connections counted from the flow table's half-open slots (never completed the handshake). */
  halfOpenFailed: number;
  halfOpenIncomplete: number;
}

type TableStats = FlowTable['stats'];

/**
 * One file's analysis, before the diagnosis: plain data (structured-clone safe), so a worker can
 * post it. Ids are local to the file (c1.., flow 1..) until mergeParts renumbers them.
 */
interface FilePart {
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
}

/** Reads one file (or one live capture): frames in, a FilePart out. */
class FileRun {
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
  private unknownLinkFrames = 0;
  /** Records with no captured byte (capLen 0): a decompression bomb is made of them. */
  private emptyFrames = 0;
  private lastTime = 0;
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
      gateway: (facts) => new GatewayWatch(facts, this.name, this.onGatewaySighting, this.keys),
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
      if (!this.runKnown) return;
      decodePacket(v.buf, v.off, v.capLen, lt, pkt);
      if (this.narrow !== null && !this.keep(pkt, time)) return;
      table.handle(pkt, v.frame + this.frameBase, time, fileIndex);
    };
    this.pieces.push({ fileIndex, name, firstFrame: 1, summary: null });
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
  private readonly onGatewaySighting = (s: Omit<GatewaySighting, 'id'>): void => {
    if (this.gateways.length < MAX_GATEWAY_SIGHTINGS) this.gateways.push(s);
  };

  private newFlow(facts: FlowFacts): StreamConsumer | null {
    // A flow on an RD Gateway's port (neither end an RDP port): what its cleartext shows (gateway-watch.ts).
    if (facts.clientBy !== 'x224' && !this.userPorts.has(facts.server.port) && !this.userPorts.has(facts.client.port)) {
      const gw = facts.transport === 'tcp' ? GATEWAY_TCP_PORT : GATEWAY_UDP_PORT;
      return facts.server.port === gw ? new GatewayWatch(facts, this.name, this.onGatewaySighting, this.keys) : null;
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
      compactRecord(rec, this.strings);
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

function keyLogSummary(k: KeyLog): KeyLogSummary {
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

function mb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

function countOverflow(overflow: Map<string, OverflowCounts>, rec: ConnectionRecord): void {
  let c = overflow.get(rec.server);
  if (!c) overflow.set(rec.server, (c = { completed: 0, failed: 0, incomplete: 0, halfOpenFailed: 0, halfOpenIncomplete: 0 }));
  if (rec.outcome === 'completed') c.completed++;
  else if (rec.outcome === 'failed') c.failed++;
  else c.incomplete++;
}

/** Connection "cN" of a part whose run started after `offset` ids. */
function shiftId(id: string, offset: number): string {
  return offset === 0 ? id : `c${Number(id.slice(1)) + offset}`;
}

/**
 * The parts of a run (in file order) -> the Report: ids renumbered as one run over the files in
 * order numbers them, the record cap applied over all files, the diagnosis run once over everything.
 */
function mergeParts(parts: FilePart[], opts: AnalyzeOptions): Report {
  const maxRecords = opts.maxRecords ?? MAX_RECORDS;
  const kept: ConnectionRecord[] = [];
  const overflow = new Map<string, OverflowCounts>();
  let overflowCount = 0;
  /** Half-open connections counted for a scanner ("fileIndex|client"): FilePart.scanCounted. */
  const scanCounted = new Map<string, CountedHalfOpen>();
  let idOffset = 0;
  let flowOffset = 0;
  let dns: DnsTransaction[] = [];
  let kerberos: KerberosErrorRef[] = [];
  let gateways: Omit<GatewaySighting, 'id'>[] = [];
  const otherPorts = new Map<number, OtherPortFailure>();
  let framesKept = 0;
  const captureEnds: number[] = [];
  const fileNames: string[] = [];
  /** Each file's summary at its index as given (a file set's pieces are read in another order). */
  const summaries: CaptureFileSummary[] = [];
  const fileSets: FileSetSummary[] = [];
  const names = new Map<string, string[]>();
  let unknownLinkFrames = 0;
  const stats: TableStats = { ...(parts[0]?.stats ?? new FlowTable({ rdpPorts: [] }, () => null).stats) };
  for (const k of Object.keys(stats) as (keyof TableStats)[]) stats[k] = 0;
  // Records posted by a worker arrive as structured-clone copies: their interned strings and shared
  // lists are copies again, compacted here once more (~2 us per record) into one interner for them all.
  let cloned: StringInterner | null = null;
  for (const p of parts) {
    const fromWorker = p.threadId !== threadId;
    if (fromWorker) cloned ??= new StringInterner();
    for (const rec of p.records) {
      if (fromWorker) compactRecord(rec, cloned!);
      rec.id = shiftId(rec.id, idOffset);
      if (flowOffset !== 0) rec.flow = { ...rec.flow, id: rec.flow.id + flowOffset };
      if (kept.length < maxRecords) kept.push(rec);
      else {
        overflowCount++;
        countOverflow(overflow, rec);
      }
    }
    for (const [server, c] of p.overflow) {
      const o = overflow.get(server);
      if (o) {
        o.completed += c.completed;
        o.failed += c.failed;
        o.incomplete += c.incomplete;
        o.halfOpenFailed += c.halfOpenFailed;
        o.halfOpenIncomplete += c.halfOpenIncomplete;
      } else overflow.set(server, { ...c });
    }
    overflowCount += p.overflowCount;
    for (const [client, c] of p.scanCounted ?? []) {
      const k = `${p.fileIndex}|${client}`;
      const o = scanCounted.get(k);
      if (o) {
        o.failed += c.failed;
        o.incomplete += c.incomplete;
      } else scanCounted.set(k, { ...c });
    }
    idOffset += p.idsUsed;
    flowOffset += p.stats.flowsTracked;
    for (const d of p.dns) d.fileIndex = p.fileIndex;
    dns = dns.concat(p.dns);
    for (const k of p.kerberos ?? []) k.fileIndex = p.fileIndex;
    kerberos = kerberos.concat(p.kerberos ?? []);
    gateways = gateways.concat(p.gateways ?? []);
    framesKept += p.framesKept ?? 0;
    for (const f of p.otherPorts ?? []) {
      const o = otherPorts.get(f.port);
      if (o) {
        o.syns += f.syns;
        o.resets += f.resets;
      } else otherPorts.set(f.port, { ...f, fileIndex: p.fileIndex });
    }
    // A file set's pieces share one numbering: every piece's index leads to the set's end and name.
    for (const f of p.files) {
      captureEnds[f.fileIndex] = p.captureEnd;
      fileNames[f.fileIndex] = f.summary.file;
      summaries[f.fileIndex] = f.summary;
    }
    if (p.set !== null) fileSets.push(p.set);
    for (const n of p.names) names.set(n.ip, [...(names.get(n.ip) ?? []), ...n.names]);
    unknownLinkFrames += p.unknownLinkFrames;
    for (const k of Object.keys(stats) as (keyof TableStats)[]) stats[k] += p.stats[k];
  }
  if (dns.length > MAX_DNS) dns = dns.slice(dns.length - MAX_DNS);

  const sorted = kept.sort((a, b) => a.fileIndex - b.fileIndex || a.flow.firstFrame - b.flow.firstFrame);
  // Health checks and scans are not RDP clients' attempts: set apart before the diagnosis (issue 18).
  // A SYN flood's attempts past the records kept were counted from the half-open slots: its group takes them.
  const countedHalfOpen = new Map<string, CountedHalfOpen>();
  for (const [server, c] of overflow) if (c.halfOpenFailed + c.halfOpenIncomplete > 0) countedHalfOpen.set(server, { failed: c.halfOpenFailed, incomplete: c.halfOpenIncomplete });
  const { probes, ids: probeIds, countedServers, countedSources } = findProbes(sorted, countedHalfOpen, scanCounted);
  // Counted half-open attempts a flood or scan group took are probes, not attempts (as its recorded ones).
  let probeCounted = 0;
  for (const server of countedServers) probeCounted += countedHalfOpen.get(server)!.failed + countedHalfOpen.get(server)!.incomplete;
  for (const [k, c] of scanCounted) if (countedSources.has(k)) probeCounted += c.failed + c.incomplete;
  const conns = probeIds.size > 0 ? sorted.filter((c) => !probeIds.has(c.id)) : sorted;
  const gatewaySightings: GatewaySighting[] = gateways
    .slice(0, MAX_GATEWAY_SIGHTINGS)
    .sort((a, b) => a.fileIndex - b.fileIndex || a.firstFrame - b.firstFrame)
    .map((g, i) => ({ id: `g${i + 1}`, ...g }));
  const input: DiagnosisInput = { connections: conns, dns, captureEnd: captureEnds, names, files: fileNames, kerberos, gateways: gatewaySightings };
  const findings = diagnose(input);
  const captureFindings = diagnoseCapture(input, findings);
  const gatewaysSeen = gatewayNotes(input);
  attributeMiddleboxResets(conns, findings, input);
  const strings = new StringInterner();
  const links = attemptLinks(conns);
  const connections: ReportedConnection[] = conns.map((c) => {
    const f = findings.get(c.id) ?? [];
    // Findings about retried or similar connections repeat their sentences: one copy each (flat).
    // The other strings are the catalogue's, but for `confirm` with a rule's extra sentence.
    for (const x of f) {
      if (Object.isFrozen(x)) {
        flattenStrings(x);
        continue;
      }
      x.explanation = strings.intern(x.explanation);
      x.filter = strings.intern(x.filter);
      if (x.confidenceReason !== null) x.confidenceReason = strings.intern(x.confidenceReason);
      if (x.summary !== undefined) x.summary = strings.intern(x.summary);
      flatString(x.confirm);
      for (let i = 0; i < x.remediation.length; i++) flatString(x.remediation[i]!);
      flatString(x.errorCode);
    }
    return reported(c, f, links.get(c.id) ?? null);
  });
  const warnings: string[] = [];
  if (overflowCount > 0) {
    // Records stop at maxRecords, and those of attempts that never carried data at MAX_BARE_RECORDS.
    const why = kept.length < maxRecords ? ` (attempts that carried no data beyond the first ${MAX_BARE_RECORDS})` : '';
    const where = probeCounted === 0 ? 'see servers' : probeCounted === overflowCount ? 'all of them in the SYN flood under probes' : `${probeCounted} of them in the SYN flood under probes, the others under servers`;
    warnings.push(`${overflowCount} connections beyond the first ${Math.min(maxRecords, kept.length)} were counted per server, not recorded${why} (${where})`);
  }
  if (unknownLinkFrames > 0) warnings.push(`${unknownLinkFrames} frames of an unsupported link type were skipped`);
  warnings.push(...keyLogWarnings(parts, conns, gatewaySightings));
  for (const p of parts) {
    if (p.clockOutlierCount === 0) continue;
    const o = p.clockOutliers;
    const named = o.map((x) => `frame ${x.frame} (${iso(x.time)}, ${span(x.time - x.plausible)} ${x.time > x.plausible ? 'after' : 'before'} the frame before it)`).join(', ');
    const more = p.clockOutlierCount > o.length ? `, and ${p.clockOutlierCount - o.length} more` : '';
    warnings.push(
      `${parts.length > 1 ? `${p.name}: ` : ''}${p.clockOutlierCount === 1 ? 'a frame has a timestamp' : `${p.clockOutlierCount} frames have timestamps`} far outside the frames around ${p.clockOutlierCount === 1 ? 'it' : 'them'} (a bogus clock or a corrupted record): ${named}${more}; durations and the capture's span use the time of the frame before each instead`,
    );
  }
  const dup = duplicatesWarning(conns, stats.captureDuplicates);
  if (dup !== null) warnings.push(dup);
  const completed = connections.filter((c) => c.outcome === 'completed').length;
  // mstsc's pre-authentication connections are part of the attempt after them: not failures.
  const preAuthentication = connections.filter((c) => c.attempt?.role === 'pre_authentication').length;
  const failed = connections.filter((c) => c.outcome === 'failed').length - preAuthentication;
  const incomplete = connections.length - completed - failed - preAuthentication;
  let servers: ServerSummary[] = summarizeServers(conns, findings);
  // The counted attempts a flood group took are not the server's attempts (as its recorded ones are not).
  for (const server of countedServers) {
    const c = overflow.get(server)!;
    const left = { ...c, failed: c.failed - c.halfOpenFailed, incomplete: c.incomplete - c.halfOpenIncomplete, halfOpenFailed: 0, halfOpenIncomplete: 0 };
    if (left.completed + left.failed + left.incomplete === 0) overflow.delete(server);
    else overflow.set(server, left);
  }
  if (overflow.size > 0) servers = mergeOverflow(servers, overflow);
  const o = [...overflow.values()].reduce(
    (a, c) => ({ completed: a.completed + c.completed, failed: a.failed + c.failed, incomplete: a.incomplete + c.incomplete }),
    { completed: 0, failed: 0, incomplete: 0 },
  );
  // A scanner's counted connections no scan group took stay attempts (counted, in no server's line).
  for (const [k, c] of scanCounted) {
    if (countedSources.has(k)) continue;
    o.failed += c.failed;
    o.incomplete += c.incomplete;
  }
  const capture = captureSummary(
    summaries.filter((x) => x !== undefined),
    stats,
    unknownLinkFrames,
  );
  if (fileSets.length > 0) {
    capture.fileSets = fileSets;
    warnings.push(...fileSets.flatMap((s) => fileSetWarnings(s, fileNames)));
  }
  // No RDP attempt: the failed TCP attempts to other ports are named (RDP on a port we were not told about).
  const otherFailures = connections.length + overflowCount - probeCounted === 0 ? otherPortFailures(otherPorts, fileNames) : [];
  if (otherFailures.length > 0) capture.otherPortFailures = otherFailures;
  const narrowing = opts.narrow !== undefined ? new Narrowing(opts.narrow) : null;
  if (narrowing !== null && narrowing.active) capture.narrowing = narrowing.summary(framesKept);
  const summary = {
    connections: connections.length + overflowCount - probeCounted,
    completed: completed + o.completed,
    failed: failed + o.failed,
    incompleteCapture: incomplete + o.incomplete,
    preAuthentication,
    headline: headline(conns, findings, {
      findings: captureFindings,
      frames: capture.frames,
      probes,
      gateways: gatewayClause(gatewaysSeen, conns.length === 0),
      otherPortFailures: otherFailures,
      rdpPorts: [3389, ...(opts.rdpPorts ?? []).filter((p) => p !== 3389)],
    }),
  };
  if (overflowCount - probeCounted > 0) summary.headline += ` (${overflowCount - probeCounted} more connections counted per server, not recorded.)`;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'rdp-autopsy', version: TOOL_VERSION },
    capture,
    connections,
    captureFindings,
    probes,
    gateways: gatewaysSeen,
    groups: groupAttempts(conns, findings),
    servers,
    dns,
    summary,
    warnings,
  };
}

/** Ports the report names at most (the most SYNs first; a port scan touches thousands). */
export const MAX_OTHER_PORTS_REPORTED = 20;

/** The merged failed attempts to other ports, as the report names them (with the file of their first SYN when there are several files). */
function otherPortFailures(ports: Map<number, OtherPortFailure>, files: string[]): OtherPortFailureReport[] {
  const several = files.filter((f) => f !== undefined).length > 1;
  return [...ports.values()]
    .sort((a, b) => b.syns - a.syns || a.port - b.port)
    .slice(0, MAX_OTHER_PORTS_REPORTED)
    .map((f) => ({ port: f.port, server: f.server, syns: f.syns, resets: f.resets, firstFrame: f.firstFrame, ...(several ? { file: files[f.fileIndex] ?? '' } : {}) }));
}

/** "3 years", "5 days", "2 hours": the size of a clock jump, for people. */
function span(seconds: number): string {
  const s = Math.abs(seconds);
  const units: [number, string][] = [[365.25 * 86400, 'year'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [u, name] of units) if (s >= u) return plural(Math.round(s / u), name);
  return plural(Math.round(s), 'second');
}

/**
 * Said once per report: frames of RDP flows that were exact copies of earlier ones (src/flow/duplicates.ts),
 * with the first copy and its original, or null when there were none.
 */
function duplicatesWarning(conns: ConnectionRecord[], count: number): string | null {
  if (count === 0) return null;
  let first: ConnectionRecord | null = null;
  for (const c of conns) {
    const d = c.flow.captureDuplicateFrames[0];
    if (d !== undefined && (first === null || d[0] < first.flow.captureDuplicateFrames[0]![0])) first = c;
  }
  const example = first !== null ? `; the first, frame ${first.flow.captureDuplicateFrames[0]![0]}${conns.some((c) => c.fileIndex !== 0) ? ` of ${first.file}` : ''}, repeats frame ${first.flow.captureDuplicateFrames[0]![1]}` : '';
  return `${count} frame${count === 1 ? ' is an exact copy' : 's are exact copies'} of an earlier frame (same IP identification, sequence numbers and payload: a capture on a mirror port or on several interfaces at once); each was counted once, as editcap -d would, and left out of the retransmission figures${example}`;
}

/**
 * The record plus its findings, as one object literal: `{ ...c, findings }` gave every connection
 * of the report a hidden class of its own (about 2 KB of heap each, measured on the 1 GB corpus).
 * Same keys in the same order as the record (the JSON report is byte-identical).
 */
export function reported(c: ConnectionRecord, findings: Finding[], attempt: AttemptLink | null = null): ReportedConnection {
  return {
    id: c.id,
    transport: c.transport,
    file: c.file,
    fileIndex: c.fileIndex,
    client: c.client,
    server: c.server,
    start: c.start,
    end: c.end,
    outcome: c.outcome,
    incompleteReason: c.incompleteReason,
    reached: c.reached,
    phases: c.phases,
    died: c.died,
    security: c.security,
    negotiation: c.negotiation,
    tls: c.tls,
    credssp: c.credssp,
    mcs: c.mcs,
    licensing: c.licensing,
    errorInfo: c.errorInfo,
    sideChannels: c.sideChannels,
    timeline: c.timeline,
    flow: c.flow,
    warnings: c.warnings,
    attempt,
    findings,
  };
}

/**
 * The key sources in one line per file, the lines that could not be used, and which TLS
 * connections were not decrypted and why (design.md: the report says what was decoded and what inferred).
 */
function keyLogWarnings(parts: FilePart[], conns: ConnectionRecord[], gateways: readonly GatewaySighting[] = []): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of parts) {
    const k = p.keyLog;
    if (k === null) continue;
    const line = `TLS secrets for ${k.sessions} session${k.sessions === 1 ? '' : 's'} from ${k.sources.join(', ')}`;
    if (!seen.has(line)) out.push(line);
    seen.add(line);
    for (const pr of k.problems) {
      if (!seen.has(pr)) out.push(`key log: ${pr}`);
      seen.add(pr);
    }
  }
  if (out.length === 0) return out;
  const by = { decrypted: 0, partial: 0, failed: 0, no_key: 0, unsupported: 0 };
  for (const c of conns) {
    const d = c.tls?.decryption;
    if (d !== undefined) by[d.status]++;
  }
  out.push(`TLS decryption: ${by.decrypted} connection${by.decrypted === 1 ? '' : 's'} decrypted, ${by.partial} partly, ${by.failed} whose records did not authenticate with the given secrets (a key log of other sessions), ${by.no_key} without a secret, ${by.unsupported} with a version or cipher suite not decrypted`);
  // HTTPS to an RD Gateway's port (gateway-watch.ts) is decrypted apart from the RDP connections.
  const gw = { decrypted: 0, failed: 0, no_key: 0, unsupported: 0 };
  for (const g of gateways) {
    const d = g.tls?.decryption ?? null;
    if (d !== null) gw[d]++;
  }
  if (gw.decrypted + gw.failed + gw.no_key + gw.unsupported > 0) {
    out.push(`TLS decryption of HTTPS to port 443 (RD Gateway): ${gw.decrypted} connection${gw.decrypted === 1 ? '' : 's'} decrypted, ${gw.failed} whose records did not authenticate, ${gw.no_key} without a secret, ${gw.unsupported} with a version or cipher suite not decrypted (TLS 1.2 is)`);
  }
  return out;
}

function captureSummary(files: CaptureFileSummary[], s: TableStats, unknownLinkFrames: number): CaptureSummary {
  const formats = new Set(files.map((f) => f.format));
  const lt = new Map<number, number>();
  for (const f of files) for (const l of f.linkTypes) lt.set(l.linkType, (lt.get(l.linkType) ?? 0) + l.frames);
  const starts = files.map((f) => f.start).filter((x): x is number => x !== null);
  const ends = files.map((f) => f.end).filter((x): x is number => x !== null);
  return {
    files,
    format: formats.size === 1 ? [...formats][0]! : formats.size === 0 ? 'none' : 'mixed',
    linkTypes: [...lt].map(([linkType, frames]) => ({ linkType, name: linkTypeName(linkType), frames })),
    frames: files.reduce((a, f) => a + f.frames, 0),
    bytes: files.reduce((a, f) => a + f.bytes, 0),
    start: starts.length > 0 ? iso(Math.min(...starts)) : null,
    end: ends.length > 0 ? iso(Math.max(...ends)) : null,
    damage: files.filter((f) => f.damage !== null).map((f) => `${f.file}: ${f.damage!.message} at byte offset ${f.damage!.offset} (frame ${f.damage!.frame})`),
    stats: {
      tcpPackets: s.tcpPackets,
      udpPackets: s.udpPackets,
      nonIp: s.nonIp,
      ipFragments: s.ipFragments,
      badChecksums: s.badChecksums,
      flowsEvicted: s.flowsEvicted,
      halfOpenEvicted: s.halfOpenEvicted,
      cutBytes: s.cutBytes,
      unknownLinkTypeFrames: unknownLinkFrames,
      captureDuplicates: s.captureDuplicates,
      checksumsNotVerified: s.checksumsNotVerified,
    },
  };
}


/** The push-based analyzer of one source (a live capture): frames one by one, then the report. */
export interface Analyzer {
  /** One frame (the view is reused by the caller; nothing of it is kept). */
  push(v: FrameView): void;
  /** Ends the source (open connections end at its last frame) and returns the report. */
  finish(info: CaptureFileInfo): Report;
  /** The TLS secrets the analysis decrypts with (key logs, followed as they grow): for a live sensor's evidence DSBs. */
  readonly keys: KeyLog;
}

/**
 * The per-file body of analyze(), fed frame by frame: what analyze() does for one file, for a
 * source that is not a file (libpcap). `name` is what the report calls the source (the file a live
 * capture is saved to, or e.g. "live:lo"). `onConnection` streams connections as they end.
 */
export function createAnalyzer(opts: AnalyzeOptions & { name: string }): Analyzer {
  const run = new FileRun(opts, opts.name, 0, opts.onConnection ?? null);
  let done = false;
  return {
    push: run.onFrame,
    keys: run.keyStore,
    finish(info: CaptureFileInfo): Report {
      if (done) throw new Error('createAnalyzer: finish() was already called');
      done = true;
      const part = run.finish(info);
      opts.onFile?.({ fileIndex: 0, file: opts.name, threadId });
      return mergeParts([part], opts);
    },
  };
}

/** Reads one source in this thread. */
async function filePart(
  source: CaptureSource,
  fileIndex: number,
  opts: AnalyzeOptions,
  onConnection: ((c: ReportedConnection) => void) | null,
): Promise<FilePart> {
  const run = new FileRun(opts, sourceName(source), fileIndex, onConnection);
  opts.progress?.begin(run);
  const info = await readCapture(source, fileIndex, run, { position: run.position });
  const part = run.finish(info);
  opts.progress?.end(run, part);
  // A Decryption Secrets Block after the packets of the sessions it holds keys for (pcapng 4.7 asks
  // writers to put it before them; not every tool does): a second pass over the file with every
  // DSB's keys known from the start. Memory stays bounded (the file is streamed again, only the DSBs'
  // text is held); the cost is paid only by such files. A stream (stdin) or streamed output cannot be
  // read twice: the report then says which sessions went undecrypted and why.
  const late = run.keyedTooLate(part);
  if (late === 0) return part;
  const what = `a Decryption Secrets Block came after the packets of ${late} TLS session${late === 1 ? '' : 's'} not decrypted`;
  if (source.kind === 'stdin' || onConnection !== null) {
    part.keyLog?.problems.push(`${what}; ${source.kind === 'stdin' ? 'standard input' : 'streamed output'} is read once, so ${late === 1 ? 'it stays' : 'they stay'} undecrypted (give the file, or the keys with --keylog)`);
    return part;
  }
  const again = new FileRun({ ...opts, keyLogs: [...(opts.keyLogs ?? []), ...run.dsbTexts] }, sourceName(source), fileIndex, null);
  const second = again.finish(await readCapture(source, fileIndex, again));
  second.keyLog?.problems.push(`${what}: the file was read a second time with its keys`);
  return second;
}

// ---------------------------------------------------------------- workers

/** workerData of our worker threads (the marker keeps other workers' data apart). */
interface WorkerMarker {
  rdpAutopsyPart: 1;
}

/** One file for a worker to read. */
interface PartJob {
  source: CaptureSource;
  fileIndex: number;
  opts: { rdpPorts?: number[]; maxRecords?: number; byteBudget?: number; keyLogs?: { name: string; text: string }[]; narrow?: NarrowSpec };
  stream: boolean;
}

type WorkerMessage =
  | { type: 'connection'; c: ReportedConnection }
  | { type: 'part'; part: FilePart }
  | { type: 'error'; input: boolean; message: string; file: string };

/** A worker that could not load or died: the file is read again in this thread. */
class WorkerUnavailable extends Error {
  constructor(
    message: string,
    /** Connections the worker streamed before it failed (not sent twice). */
    readonly streamed: number,
  ) {
    super(message);
  }
}

/**
 * One worker thread reading files one after the other (a thread per file at a time, without paying
 * the thread's start-up for every small file). Jobs are posted as messages; the worker answers with
 * streamed connections, then the part (or an error).
 */
class WorkerLane {
  private worker: Worker | null = null;
  /** Set when the worker failed: later files of this lane are read in the main thread. */
  broken = false;
  private current: {
    resolve: (p: FilePart) => void;
    reject: (e: Error) => void;
    onConnection: ((c: ReportedConnection) => void) | null;
    streamed: number;
  } | null = null;

  run(job: PartJob, onConnection: ((c: ReportedConnection) => void) | null): Promise<FilePart> {
    if (this.broken) return Promise.reject(new WorkerUnavailable('worker unavailable', 0));
    if (this.worker === null) {
      const how = workerEntry(import.meta.url);
      if (how === null) {
        this.broken = true;
        return Promise.reject(new WorkerUnavailable('no worker entry', 0));
      }
      const w = new Worker(how.entry, { eval: how.eval, workerData: { rdpAutopsyPart: 1 } satisfies WorkerMarker, stdout: false, stderr: false });
      w.on('message', (m: WorkerMessage) => {
        const cur = this.current;
        if (!cur) return;
        if (m.type === 'connection') {
          cur.streamed++;
          cur.onConnection?.(m.c);
          return;
        }
        this.current = null;
        if (m.type === 'part') cur.resolve(m.part);
        else cur.reject(m.input ? new CaptureInputError(m.message, m.file) : new Error(m.message));
      });
      const fail = (why: string): void => {
        this.broken = true;
        this.worker = null;
        const cur = this.current;
        this.current = null;
        cur?.reject(new WorkerUnavailable(why, cur.streamed));
      };
      w.on('error', (e) => fail(e.message));
      w.on('exit', (code) => fail(`worker exited with code ${code}`));
      this.worker = w;
    }
    const w = this.worker;
    return new Promise((resolve, reject) => {
      this.current = { resolve, reject, onConnection, streamed: 0 };
      w.postMessage(job);
    });
  }

  /** Ends the thread (its exit is no failure any more). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.broken = true;
    if (w) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      await w.terminate();
    }
  }
}

/** The worker's side: read each file posted, post streamed connections and the part. */
async function runPartJob(job: PartJob): Promise<void> {
  const port = parentPort!;
  let source = job.source;
  // A Buffer arrives as a Uint8Array (structured clone).
  if (source.kind === 'buffer') source = { ...source, data: Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength) };
  try {
    const part = await filePart(source, job.fileIndex, job.opts, job.stream ? (c) => port.postMessage({ type: 'connection', c } satisfies WorkerMessage) : null);
    port.postMessage({ type: 'part', part } satisfies WorkerMessage);
  } catch (e) {
    const input = e instanceof CaptureInputError;
    port.postMessage({
      type: 'error',
      input,
      message: e instanceof Error ? e.message : String(e),
      file: input ? e.file : sourceName(source),
    } satisfies WorkerMessage);
  }
}

if (!isMainThread && (workerData as Partial<WorkerMarker> | null)?.rdpAutopsyPart === 1) {
  // Jobs one at a time (the main thread posts the next one after the answer).
  parentPort!.on('message', (job: PartJob) => void runPartJob(job));
}

/**
 * Streamed connections of several files in order of their ids: a file's connections are renumbered
 * (and passed on) once every earlier file has ended, so ids match the final report's.
 */
class StreamOrder {
  /** Per file: [connection id offset, flow id offset], null until every earlier file has ended. */
  private readonly offsets: ([number, number] | null)[];
  private readonly held: ReportedConnection[][];
  private readonly parts: (FilePart | null)[];

  constructor(
    n: number,
    private readonly out: (c: ReportedConnection) => void,
  ) {
    this.offsets = new Array<[number, number] | null>(n).fill(null);
    this.offsets[0] = [0, 0];
    this.held = Array.from({ length: n }, () => []);
    this.parts = new Array<FilePart | null>(n).fill(null);
  }

  sink(fileIndex: number): (c: ReportedConnection) => void {
    return (c) => {
      const off = this.offsets[fileIndex];
      if (off) this.emit(c, off);
      else this.held[fileIndex]!.push(c);
    };
  }

  private emit(c: ReportedConnection, [ids, flows]: [number, number]): void {
    this.out(ids === 0 && flows === 0 ? c : { ...c, id: shiftId(c.id, ids), flow: { ...c.flow, id: c.flow.id + flows } });
  }

  /** A file ended: the next files whose predecessors have all ended pass on what they held. */
  done(part: FilePart): void {
    this.parts[part.fileIndex] = part;
    for (let i = 0; i + 1 < this.offsets.length; i++) {
      const p = this.parts[i];
      const off = this.offsets[i];
      if (!p || !off || this.offsets[i + 1] !== null) continue;
      const next: [number, number] = [off[0] + p.idsUsed, off[1] + p.stats.flowsTracked];
      this.offsets[i + 1] = next;
      for (const c of this.held[i + 1]!) this.emit(c, next);
      this.held[i + 1] = [];
    }
  }
}

/**
 * Files analysed at once by default: one per two cores (at least one). One file keeps ~1.4 cores busy
 * (its thread, plus V8's optimising compiler and concurrent marking on another core), and every thread
 * pays its own JIT warm-up, so on 2 cores two files in two threads took longer than one thread reading
 * both (1 GB pcap + 1 GB pcapng: 2.8 s against 2.5 s; docs/architecture.md, "Several files").
 */
export function defaultJobs(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

/**
 * Analyses capture files, one pass each, and returns the report. Throws CaptureInputError when
 * a source is not a capture at all; damage inside a capture is reported (capture.damage), not thrown.
 * Several files are read in worker threads (AnalyzeOptions.jobs); the report is the same as one
 * thread's.
 */
export async function analyze(sources: CaptureSource[], opts: AnalyzeOptions = {}): Promise<Report> {
  const sets = opts.fileSets === false || sources.length < 2 ? [] : planFileSets(sources);
  if (sets.length > 0) return analyzeWithSets(sources, sets, opts);
  const n = sources.length;
  const jobs = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const order = opts.onConnection ? new StreamOrder(n, opts.onConnection) : null;
  const parts: FilePart[] = new Array<FilePart>(n);
  const ended = (part: FilePart): void => {
    parts[part.fileIndex] = part;
    opts.progress?.partDone(part, sourceBytes(sources[part.fileIndex]));
    order?.done(part);
    opts.onFile?.({ fileIndex: part.fileIndex, file: part.name, threadId: part.threadId });
  };
  if (n <= 1 || jobs === 1) {
    for (let i = 0; i < n; i++) ended(await filePart(sources[i]!, i, opts, order?.sink(i) ?? null));
    return mergeParts(parts, opts);
  }
  const workerOpts = { rdpPorts: opts.rdpPorts, maxRecords: opts.maxRecords, byteBudget: opts.byteBudget, keyLogs: opts.keyLogs, narrow: opts.narrow };
  const one = async (i: number, lane: WorkerLane | null): Promise<void> => {
    const source = sources[i]!;
    let sink = order?.sink(i) ?? null;
    if (lane !== null && source.kind !== 'stdin') {
      try {
        ended(await lane.run({ source, fileIndex: i, opts: workerOpts, stream: sink !== null }, sink));
        return;
      } catch (e) {
        if (!(e instanceof WorkerUnavailable)) throw e;
        // Read again here; what the worker already streamed (the same connections, in the same order) is not sent twice.
        let skip = e.streamed;
        const pass = sink;
        if (pass && skip > 0) sink = (c) => (skip > 0 ? void skip-- : pass(c));
      }
    }
    ended(await filePart(source, i, opts, sink));
  };
  // `jobs` threads at most, the main thread one of them: it reads stdin (if given) and then takes files
  // from the same queue as the workers, in file order. A main thread that only waited for the workers
  // would leave a core's worth of thread idle while one more worker paid its own start-up and warm-up.
  const threads = Math.min(jobs, n);
  const lanes: (WorkerLane | null)[] = [null, ...Array.from({ length: threads - 1 }, () => new WorkerLane())];
  let next = 0;
  const drive = async (lane: WorkerLane | null): Promise<void> => {
    try {
      if (lane === null) for (let i = 0; i < n; i++) if (sources[i]!.kind === 'stdin') await one(i, null);
      while (next < n) {
        const i = next++;
        if (sources[i]!.kind !== 'stdin') await one(i, lane);
      }
    } finally {
      await lane?.close();
    }
  };
  await Promise.all(lanes.map(drive));
  return mergeParts(parts, opts);
}

/**
 * Pieces of a set that overlap by more than this (seconds) are not consecutive: separate captures
 * (one capture process writes its pieces one after the other; a few ms covers the timestamps of
 * several interfaces merged slightly out of order).
 */
const SET_OVERLAP_TOLERANCE = 0.05;
/** Pieces further apart than this (seconds) are read as separate captures (another day, another run). */
export const SET_MAX_GAP = 3600;
/** A gap between pieces at least this long (seconds) is stated in the report's warnings. */
const SET_GAP_NOTE = 60;

/**
 * analyze() with file sets: every input in the order given, a set read where its first piece was
 * given, its pieces in time order through one FileRun. In this thread, one unit after the other (a
 * set's pieces cannot be read apart; the default on 2 cores is one thread anyway).
 */
async function analyzeWithSets(sources: CaptureSource[], sets: PlannedSet[], opts: AnalyzeOptions): Promise<Report> {
  const setOf = new Map<number, PlannedSet>();
  for (const s of sets) for (const m of s.members) setOf.set(m.index, s);
  const parts: FilePart[] = [];
  const notes: string[] = [];
  let idOffset = 0;
  let flowOffset = 0;
  /** Streamed connections get the ids the final report gives them (the parts before are done). */
  const sink = (): ((c: ReportedConnection) => void) | null => {
    const out = opts.onConnection;
    if (!out) return null;
    const [ids, flows] = [idOffset, flowOffset];
    return ids === 0 && flows === 0 ? out : (c) => out({ ...c, id: shiftId(c.id, ids), flow: { ...c.flow, id: c.flow.id + flows } });
  };
  const done = (part: FilePart): void => {
    parts.push(part);
    idOffset += part.idsUsed;
    flowOffset += part.stats.flowsTracked;
    for (const f of part.files) opts.onFile?.({ fileIndex: f.fileIndex, file: f.summary.file, threadId: part.threadId });
  };
  for (let i = 0; i < sources.length; i++) {
    const set = setOf.get(i);
    if (set === undefined) {
      done(await filePart(sources[i]!, i, opts, sink()));
      continue;
    }
    if (Math.min(...set.members.map((m) => m.index)) !== i) continue;
    await readSet(set, sources, opts, sink, done, notes);
  }
  const report = mergeParts(parts, opts);
  report.warnings.push(...notes);
  return report;
}

/** A planned set's pieces in time order; a piece that overlaps the one before or comes too long after it starts a new capture. */
async function readSet(
  set: PlannedSet,
  sources: CaptureSource[],
  opts: AnalyzeOptions,
  sink: () => ((c: ReportedConnection) => void) | null,
  done: (part: FilePart) => void,
  notes: string[],
): Promise<void> {
  const name = (k: number): string => set.members[k]!.path;
  let run: FileRun | null = null;
  let prev: CaptureFileInfo | null = null;
  let gaps: FileSetSummary['gaps'] = [];
  const meta = (): Omit<FileSetSummary, 'files' | 'firstFrames'> => ({ reordered: set.reordered, gaps });
  const end = (r: FileRun, info: CaptureFileInfo): void => {
    const part = r.finish(info, meta());
    opts.progress?.end(r, part);
    done(part);
  };
  for (let k = 0; k < set.members.length; k++) {
    const m = set.members[k]!;
    const missing = set.missing.find((x) => x.after === k - 1);
    if (run !== null && prev !== null) {
      const prevEnd = Math.max(prev.end ?? -Infinity, run.lastRecordTime);
      // An empty piece (no record) has the next piece's time: it neither overlaps nor starts late.
      const seconds = m.empty ? 0 : m.firstTime - prevEnd;
      if (seconds < -SET_OVERLAP_TOLERANCE || seconds > SET_MAX_GAP) {
        notes.push(
          seconds < 0
            ? `${m.path} overlaps ${name(k - 1)} in time (it starts ${durationText(-seconds)} before the other ends): read as a separate capture, not as the next piece of a file set`
            : `${m.path} starts ${durationText(seconds)} after ${name(k - 1)} ends: read as a separate capture, not as the next piece of a file set`,
        );
        end(run, prev);
        run = null;
        gaps = [];
      } else {
        run.endPiece(prev, { fileIndex: m.index, name: m.path });
        gaps.push({ after: set.members[k - 1]!.index, before: m.index, seconds: Math.max(0, round3(seconds)), missing: missing?.seqs ?? [] });
      }
    }
    if (missing) {
      const which = missing.count === 1 ? `piece ${missing.seqs[0]} is` : `${missing.count} pieces (${missing.seqs.join(', ')}${missing.count > missing.seqs.length ? ', ...' : ''}) are`;
      notes.push(`file set: ${which} missing between ${name(k - 1)} and ${m.path} (by the numbers in their names): connections across that gap lack their packets`);
    }
    run ??= new FileRun(opts, m.path, m.index, sink());
    opts.progress?.begin(run);
    prev = await readCapture(sources[m.index]!, m.index, run, { position: run.position });
  }
  if (run !== null && prev !== null) end(run, prev);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The report's warnings about a set read as one capture: long gaps between its pieces (missing pieces are stated while reading). */
function fileSetWarnings(set: FileSetSummary, fileNames: string[]): string[] {
  const out: string[] = [];
  for (const g of set.gaps) {
    if (g.seconds >= SET_GAP_NOTE && g.missing.length === 0) {
      out.push(`file set: no packets for ${durationText(g.seconds)} between ${fileNames[g.after]} and ${fileNames[g.before]} (a quiet link, or packets not captured there)`);
    }
  }
  return out;
}

/** "42 s", "3 min 5 s", "2 h 4 min". */
function durationText(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${seconds < 10 ? round3(seconds) : s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(h / 24)} days`;
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

function fileSummary(info: CaptureFileInfo, name: string, counts: Map<number, number>): CaptureFileSummary {
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

function mergeOverflow(servers: ServerSummary[], overflow: Map<string, OverflowCounts>): ServerSummary[] {
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
function iso(t: number): string | null {
  return timeInRange(t) ? new Date(Math.round(t * 1000)).toISOString() : null;
}
