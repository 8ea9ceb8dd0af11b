// The whole analysis, one pass per file (design.md "Data flow"): capture reader -> packet decoders
// (one reusable DecodedPacket) -> flow table -> one handshake state machine per connection ->
// connection records -> diagnosis -> Report. Memory stays flat: a finished connection keeps only
// its record, and past MAX_RECORDS connections are counted per server instead of recorded.
import { readFileSync } from 'node:fs';
import type { CaptureFileInfo, CaptureSource, FrameView } from './capture/types.js';
import { frameTime } from './capture/types.js';
import { readCapture, sourceName } from './capture/index.js';
import { DecodedPacket, decodePacket, isKnownLinkType, linkTypeName } from './net/index.js';
import { FlowTable } from './flow/table.js';
import type { FlowFacts, StreamConsumer } from './flow/types.js';
import type { ConnectionRecord } from './handshake/types.js';
import { ConnectionMachine, DEFAULT_BYTE_BUDGET } from './handshake/machine.js';
import { UdpMachine } from './handshake/udp.js';
import type { DiagnosisInput, Finding } from './diagnose/types.js';
import { diagnose, groupAttempts, headline, summarizeServers } from './diagnose/index.js';
import { serverOwnTtl } from './diagnose/facts.js';
import {
  REPORT_SCHEMA_VERSION,
  type CaptureFileSummary,
  type CaptureSummary,
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

export interface AnalyzeOptions {
  /** Extra TCP/UDP ports to treat as RDP (3389 always is). */
  rdpPorts?: number[];
  /** Called as soon as a connection ends (for `--format ndjson`), with the findings about it alone. */
  onConnection?: (c: ReportedConnection) => void;
  /** Full records kept (default MAX_RECORDS). */
  maxRecords?: number;
  /** Bytes decoded per connection and direction (default DEFAULT_BYTE_BUDGET). */
  byteBudget?: number;
}

interface OverflowCounts {
  completed: number;
  failed: number;
  incomplete: number;
}

class Run {
  readonly table: FlowTable;
  private readonly pkt = new DecodedPacket();
  private readonly records: ConnectionRecord[] = [];
  private readonly overflow = new Map<string, OverflowCounts>();
  private overflowCount = 0;
  private nextId = 1;
  private fileIndex = 0;
  private fileName = '';
  /** Per file: "clientIp serverIp" -> the latest TCP connection between them (for RDPEUDP side channels). */
  private pairs = new Map<string, ConnectionMachine>();
  private readonly files: CaptureFileSummary[] = [];
  private readonly infos: CaptureFileInfo[] = [];
  private readonly captureEnds: number[] = [];
  private linkCounts = new Map<number, number>();
  private unknownLinkFrames = 0;
  private lastTime = 0;
  private readonly warnings: string[] = [];
  private readonly maxRecords: number;
  private readonly byteBudget: number;

  constructor(private readonly opts: AnalyzeOptions) {
    this.maxRecords = opts.maxRecords ?? MAX_RECORDS;
    this.byteBudget = opts.byteBudget ?? DEFAULT_BYTE_BUDGET;
    const ports = [3389, ...(opts.rdpPorts ?? []).filter((p) => p !== 3389)];
    this.table = new FlowTable({ rdpPorts: ports }, (facts) => this.newFlow(facts));
  }

  private newFlow(facts: FlowFacts): StreamConsumer | null {
    const id = `c${this.nextId++}`;
    if (facts.transport === 'tcp') {
      const m = new ConnectionMachine(facts, {
        id,
        file: this.fileName,
        fileIndex: this.fileIndex,
        byteBudget: this.byteBudget,
        onRecord: (rec) => this.finished(rec),
      });
      this.pairs.set(`${facts.client.ip} ${facts.server.ip}`, m);
      return m;
    }
    const tcp = this.pairs.get(`${facts.client.ip} ${facts.server.ip}`) ?? null;
    const u = new UdpMachine(facts, {
      id,
      file: this.fileName,
      fileIndex: this.fileIndex,
      // Attached to the TCP connection of the same client -> server pair, or a connection of its own.
      onRecord: tcp === null ? (rec) => this.finished(rec) : null,
    });
    if (tcp !== null) tcp.sideChannels.push(u.sideChannel);
    return u;
  }

  private finished(rec: ConnectionRecord): void {
    if (this.records.length < this.maxRecords) {
      this.records.push(rec);
    } else {
      this.overflowCount++;
      let c = this.overflow.get(rec.server);
      if (!c) this.overflow.set(rec.server, (c = { completed: 0, failed: 0, incomplete: 0 }));
      if (rec.outcome === 'completed') c.completed++;
      else if (rec.outcome === 'failed') c.failed++;
      else c.incomplete++;
    }
    const cb = this.opts.onConnection;
    if (cb) {
      // Judged alone (the stream cannot wait for later connections), with the same post-diagnosis step as the report.
      const input = this.diagnosisInput([rec]);
      const findings = diagnose(input);
      const own = { ...rec };
      attributeMiddleboxResets([own], findings, input);
      cb({ ...own, findings: findings.get(rec.id) ?? [] });
    }
  }

  private diagnosisInput(conns: ConnectionRecord[]): DiagnosisInput {
    return { connections: conns, dns: this.table.dns, captureEnd: this.captureEnds, names: this.names() };
  }

  private names(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const info of this.infos) for (const n of info.names) m.set(n.ip, [...(m.get(n.ip) ?? []), ...n.names]);
    return m;
  }

  async file(source: CaptureSource, fileIndex: number): Promise<void> {
    this.fileIndex = fileIndex;
    this.fileName = sourceName(source);
    this.pairs = new Map();
    this.linkCounts = new Map();
    this.lastTime = 0;
    const pkt = this.pkt;
    const table = this.table;
    const counts = this.linkCounts;
    const run = this;
    const info = await readCapture(source, fileIndex, {
      onFrame(v: FrameView): void {
        const lt = v.linkType;
        counts.set(lt, (counts.get(lt) ?? 0) + 1);
        const time = frameTime(v);
        if (time > run.lastTime) run.lastTime = time;
        if (!isKnownLinkType(lt)) {
          run.unknownLinkFrames++;
          return;
        }
        decodePacket(v.buf, v.off, v.capLen, lt, pkt);
        table.handle(pkt, v.frame, time, v.fileIndex);
      },
    });
    // Timestamps may go backwards in a capture: the end is the latest one seen.
    const end = Math.max(info.end ?? 0, this.lastTime);
    this.captureEnds[fileIndex] = end;
    table.finish(end, fileIndex);
    this.infos.push(info);
    this.files.push(fileSummary(info, this.fileName, counts));
  }

  report(): Report {
    const conns = this.records.slice().sort((a, b) => a.fileIndex - b.fileIndex || a.flow.firstFrame - b.flow.firstFrame);
    const input = this.diagnosisInput(conns);
    const findings = diagnose(input);
    attributeMiddleboxResets(conns, findings, input);
    const connections: ReportedConnection[] = conns.map((c) => ({ ...c, findings: findings.get(c.id) ?? [] }));
    const warnings = this.warnings.slice();
    if (this.overflowCount > 0) {
      warnings.push(
        `${this.overflowCount} connections beyond the first ${this.maxRecords} were counted per server, not recorded (see servers)`,
      );
    }
    if (this.unknownLinkFrames > 0) warnings.push(`${this.unknownLinkFrames} frames of an unsupported link type were skipped`);
    const completed = connections.filter((c) => c.outcome === 'completed').length;
    const failed = connections.filter((c) => c.outcome === 'failed').length;
    const incomplete = connections.length - completed - failed;
    let servers: ServerSummary[] = summarizeServers(conns, findings);
    if (this.overflow.size > 0) servers = mergeOverflow(servers, this.overflow);
    const o = [...this.overflow.values()].reduce(
      (a, c) => ({ completed: a.completed + c.completed, failed: a.failed + c.failed, incomplete: a.incomplete + c.incomplete }),
      { completed: 0, failed: 0, incomplete: 0 },
    );
    const summary = {
      connections: connections.length + this.overflowCount,
      completed: completed + o.completed,
      failed: failed + o.failed,
      incompleteCapture: incomplete + o.incomplete,
      headline: '',
    };
    summary.headline = headline(conns, findings);
    if (this.overflowCount > 0) summary.headline += ` (${this.overflowCount} more connections counted per server, not recorded.)`;
    return {
      schemaVersion: REPORT_SCHEMA_VERSION,
      tool: { name: 'rdp-autopsy', version: TOOL_VERSION },
      capture: this.captureSummary(),
      connections,
      groups: groupAttempts(conns, findings),
      servers,
      dns: this.table.dns.slice(),
      summary,
      warnings,
    };
  }

  private captureSummary(): CaptureSummary {
    const files = this.files;
    const formats = new Set(files.map((f) => f.format));
    const lt = new Map<number, number>();
    for (const f of files) for (const l of f.linkTypes) lt.set(l.linkType, (lt.get(l.linkType) ?? 0) + l.frames);
    const starts = files.map((f) => f.start).filter((x): x is number => x !== null);
    const ends = files.map((f) => f.end).filter((x): x is number => x !== null);
    const s = this.table.stats;
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
        unknownLinkTypeFrames: this.unknownLinkFrames,
      },
    };
  }
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

function iso(t: number): string {
  return new Date(Math.round(t * 1000)).toISOString();
}

/**
 * Analyses capture files, one pass each, and returns the report. Throws CaptureInputError when
 * a source is not a capture at all; damage inside a capture is reported (capture.damage), not thrown.
 */
export async function analyze(sources: CaptureSource[], opts: AnalyzeOptions = {}): Promise<Report> {
  const run = new Run(opts);
  for (let i = 0; i < sources.length; i++) await run.file(sources[i]!, i);
  return run.report();
}
