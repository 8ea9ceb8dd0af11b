// `--export-evidence DIR`: for each failed connection a small pcapng with just its frames
// (both directions of its flow, its RDPEUDP side channels) plus the ICMP errors and the DNS
// transactions tied to it, named "<connection id>.pcapng". A second pass over the input files
// selects the frames (pcapng: nanosecond timestamps so times are kept exactly, one interface per
// link type of the original). Each packet's comment (opt_comment) names its original frame
// number and file ("rdp-autopsy: frame 123 of sample.pcapng"), so `frame.comment contains
// "frame 123 of"` finds in Wireshark the frame the report cites. A connection whose TLS was decrypted
// gets a Decryption Secrets Block (pcapng 4.7) with the key log lines of its TLS session only, right
// after the Section Header Block, so that it opens decrypted in Wireshark. Stdin is not re-readable: spoolStdin() copies it to a temp file
// first. Memory stays bounded: selected frames are buffered up to FLUSH_BYTES, then appended.
import { closeSync, constants as fsc, createWriteStream, fstatSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { CaptureSource, FrameView } from '../capture/types.js';
import { readCapture, sourceName } from '../capture/index.js';
import { PcapngWriter } from '../capture/writer.js';
import { KeyLog, SECRETS_TYPE_TLS_KEY_LOG } from '../rdp/keylog.js';
import { DecodedPacket, IpProto, decodePacket, dstText, isKnownLinkType, srcText } from '../net/index.js';
import { safeFileName } from './escape.js';
import type { FileSetSummary, Report, ReportedConnection } from './types.js';

/** Evidence files written per run; beyond it a warning says how many were left out. */
export const MAX_EVIDENCE_FILES = 1000;
/** Frames written per evidence file; beyond it the file is cut and a warning says so. */
export const MAX_EVIDENCE_FRAMES = 100_000;
/** DNS transactions of the client this many seconds before a connection (to its end) are tied to it. */
export const DNS_WINDOW_SECONDS = 60;
const FLUSH_BYTES = 8 * 1024 * 1024;
const DNS_PORT = 53;

export interface EvidenceFile {
  connection: string;
  file: string;
  frames: number;
  linkType: number;
}

export interface EvidenceResult {
  files: EvidenceFile[];
  warnings: string[];
}

/** A flow of a connection: its endpoints and the frames in which it may appear. */
interface FlowKey {
  proto: number;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  first: number;
  last: number;
}

/** A frame chosen by number, checked against what it must be when read. */
interface Pinned {
  kind: 'icmp' | 'dns';
  /** For DNS: the two addresses of the transaction. */
  a: string;
  b: string;
}

class Target {
  readonly flows: FlowKey[] = [];
  readonly pinned = new Map<number, Pinned>();
  linkType = -1;
  frames = 0;
  cut = false;
  pending: Buffer[] = [];
  pendingBytes = 0;
  writer: PcapngWriter | null = null;
  /** pcapng interface id per link type. */
  readonly ifaces = new Map<number, number>();
  /** Bytes of the file's Section Header Block (a Decryption Secrets Block goes right after it). */
  shbBytes = 0;
  /** The evidence file, created exclusively when the first frame comes (createExclusive). */
  fd = -1;
  /** The name first asked for (file differs when that one was taken). */
  readonly requested: string;
  constructor(
    readonly conn: ReportedConnection,
    public file: string,
    /** The client random of the connection's decrypted TLS session (its keys go into a DSB), or null. */
    readonly clientRandom: string | null = null,
  ) {
    this.requested = file;
  }
}

/** Other names tried when an evidence file's name is taken ("c1-1.pcap", ...). */
export const MAX_NAME_TRIES = 100;

/**
 * Creates `file` exclusively (O_CREAT | O_EXCL | O_NOFOLLOW: an existing file, or a link planted in
 * its place, is never followed nor overwritten); when the name is taken, the next free one of
 * "<name>-1.pcap" .. "<name>-100.pcap". Returns the descriptor and the name used.
 */
export function createExclusive(file: string): { fd: number; file: string } {
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  // Read-write: a Decryption Secrets Block is put in after the packets are written (insertSecrets).
  const flags = fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0);
  for (let i = 0; i <= MAX_NAME_TRIES; i++) {
    const name = i === 0 ? file : `${stem}-${i}${ext}`;
    try {
      return { fd: openSync(name, flags, 0o644), file: name };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`evidence: ${file} and ${MAX_NAME_TRIES} other names for it already exist (not overwritten)`);
}

function writeAllFd(fd: number, b: Uint8Array): void {
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
}

/** "ip:port" or "[IPv6]:port" -> [ip, port]. */
export function splitEndpoint(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  const ip = s.startsWith('[') && s[i - 1] === ']' ? s.slice(1, i - 1) : s.slice(0, i);
  return [ip, Number(s.slice(i + 1))];
}

function flowOf(proto: number, client: string, server: string, first: number, last: number): FlowKey {
  const [clientIp, clientPort] = splitEndpoint(client);
  const [serverIp, serverPort] = splitEndpoint(server);
  return { proto, clientIp, clientPort, serverIp, serverPort, first, last };
}

/** The DNS transactions tied to a connection: its client's queries shortly before it, or cited by its findings. */
function tiedDns(report: Report, c: ReportedConnection): Report['dns'] {
  const [clientIp] = splitEndpoint(c.client);
  const cited = new Set<number>();
  for (const f of c.findings) for (const n of f.frames) cited.add(n);
  return report.dns.filter((d) => {
    // Frame numbers are per file: only this connection's file's lookups.
    if (d.client !== clientIp || d.fileIndex !== c.fileIndex) return false;
    const inWindow = d.time >= c.start - DNS_WINDOW_SECONDS && d.time <= c.end;
    return inWindow || cited.has(d.queryFrame) || (d.responseFrame !== null && cited.has(d.responseFrame));
  });
}

function targetsOf(report: Report, dir: string): { targets: Target[]; left: number } {
  const failed = report.connections.filter((c) => c.outcome === 'failed');
  const targets: Target[] = [];
  const used = new Set<string>();
  for (const c of failed.slice(0, MAX_EVIDENCE_FILES)) {
    let name = safeFileName(c.id);
    while (used.has(name)) name = `${name}_`;
    used.add(name);
    const d = c.tls?.decryption;
    const cr = d !== undefined && d.records.client + d.records.server > 0 ? d.clientRandom : (c.gateway?.clientRandom ?? null);
    const t = new Target(c, path.join(dir, `${name}.pcapng`), cr);
    const proto = c.transport === 'tcp' ? IpProto.TCP : IpProto.UDP;
    // A connection tunnelled through an RD Gateway: its frames are the outer TCP connection's (`server` names the target).
    const channels = c.gateway?.channels;
    if (channels !== undefined && channels.length > 0) {
      // The legacy HTTP transport (MS-TSGU 3.3.5.1): the tunnel is two outer connections, the IN and the OUT channel; both go in.
      for (const ch of channels) t.flows.push(flowOf(proto, ch.client, c.gateway!.gateway, ch.firstFrame, ch.lastFrame));
    } else t.flows.push(flowOf(proto, c.client, c.gateway !== undefined ? c.gateway.gateway : c.server, c.flow.firstFrame, c.flow.lastFrame));
    for (const s of c.sideChannels) {
      t.flows.push(flowOf(IpProto.UDP, s.client, s.server, s.synFrame ?? c.flow.firstFrame, Number.MAX_SAFE_INTEGER));
    }
    for (const i of c.flow.icmp) t.pinned.set(i.frame, { kind: 'icmp', a: '', b: '' });
    for (const d of tiedDns(report, c)) {
      t.pinned.set(d.queryFrame, { kind: 'dns', a: d.client, b: d.server });
      if (d.responseFrame !== null) t.pinned.set(d.responseFrame, { kind: 'dns', a: d.client, b: d.server });
    }
    targets.push(t);
  }
  return { targets, left: failed.length - targets.length };
}

function matchesFlow(p: DecodedPacket, f: FlowKey, frame: number): boolean {
  if (frame < f.first || frame > f.last || p.ipProto !== f.proto || (p.isFragment && p.fragOffset !== 0)) return false;
  if (p.srcPort === f.clientPort && p.dstPort === f.serverPort) return srcText(p) === f.clientIp && dstText(p) === f.serverIp;
  if (p.srcPort === f.serverPort && p.dstPort === f.clientPort) return srcText(p) === f.serverIp && dstText(p) === f.clientIp;
  return false;
}

function matchesPinned(p: DecodedPacket, pin: Pinned): boolean {
  if (pin.kind === 'icmp') return p.ipProto === IpProto.ICMP || p.ipProto === IpProto.ICMPV6;
  if (p.ipProto !== IpProto.UDP && p.ipProto !== IpProto.TCP) return false;
  if (p.srcPort !== DNS_PORT && p.dstPort !== DNS_PORT) return false;
  const s = srcText(p);
  const d = dstText(p);
  return (s === pin.a && d === pin.b) || (s === pin.b && d === pin.a);
}

function flush(t: Target): void {
  if (t.pendingBytes === 0 && t.writer === null) return;
  if (t.pending.length > 0) writeAllFd(t.fd, Buffer.concat(t.pending));
  t.pending = [];
  t.pendingBytes = 0;
}

/** The comment of an evidence packet: its frame number as the report gives it, and the file the report names for its connection. */
export function evidenceComment(frame: number, file: string): string {
  return `rdp-autopsy: frame ${frame} of ${file}`;
}

/** Adds frame `v` (numbered `frame` in the report) to the evidence file of `t`. */
function add(t: Target, v: FrameView, frame: number): number {
  if (t.frames >= MAX_EVIDENCE_FRAMES) {
    t.cut = true;
    return 0;
  }
  if (t.writer === null) {
    t.linkType = v.linkType;
    t.writer = new PcapngWriter({ application: 'rdp-autopsy' });
    const shb = t.writer.drain();
    t.shbBytes = shb.length;
    const created = createExclusive(t.file);
    t.fd = created.fd;
    t.file = created.file;
    writeAllFd(t.fd, shb);
  }
  let ifIndex = t.ifaces.get(v.linkType);
  if (ifIndex === undefined) {
    ifIndex = t.writer.addInterface({ linkType: v.linkType, snapLen: 262144, tsResolExp: 9 });
    t.ifaces.set(v.linkType, ifIndex);
  }
  t.writer.add({ tsSec: v.tsSec, tsNsec: v.tsNsec, data: v.buf.subarray(v.off, v.off + v.capLen), origLen: v.origLen, ifIndex }, evidenceComment(frame, t.conn.file));
  const rec = t.writer.drain();
  t.pending.push(rec);
  t.pendingBytes += rec.length;
  t.frames++;
  return rec.length;
}

/**
 * Writes the evidence pcaps into `dir` (created when missing) and sets `evidenceFile` on each
 * reported connection that got one. `sources` must be the same inputs, in the same order, that
 * produced `report` (stdin spooled: see spoolStdin). Throws an Error naming the path when the
 * directory or a file cannot be written.
 */
export async function exportEvidence(
  report: Report,
  sources: CaptureSource[],
  dir: string,
  opts: { keyLogs?: { name: string; text: string }[] } = {},
): Promise<EvidenceResult> {
  const warnings: string[] = [];
  // The secrets the analysis had: the key log files, and each file's Decryption Secrets Blocks (read again below).
  const keys = new KeyLog();
  for (const k of opts.keyLogs ?? []) keys.add(k.text, k.name);
  const { targets, left } = targetsOf(report, dir);
  if (left > 0) warnings.push(`evidence: ${left} failed connections beyond the first ${MAX_EVIDENCE_FILES} got no evidence file`);
  if (targets.length === 0) return { files: [], warnings };
  makeDir(dir);
  // A file set's connections carry the set's frame numbers (report.capture.fileSets): its pieces are
  // read in the set's order, each piece's frames numbered on from the one before.
  const setOf = new Map<number, FileSetSummary>();
  for (const s of report.capture.fileSets ?? []) setOf.set(s.files[0]!, s);
  for (let fi = 0; fi < sources.length; fi++) {
    const here = targets.filter((t) => t.conn.fileIndex === fi);
    if (here.length === 0) continue;
    const set = setOf.get(fi);
    const pieces = set ? set.files.map((i, k) => ({ index: i, base: set.firstFrames[k]! - 1 })) : [{ index: fi, base: 0 }];
    for (const p of pieces) if (sources[p.index]?.kind === 'stdin') throw new Error('stdin cannot be read twice: spool it first (spoolStdin)');
    const select = new FrameSelector(here);
    try {
      for (const piece of pieces) {
        const base = piece.base;
        await readCapture(sources[piece.index]!, piece.index, {
          onSecrets(sb): void {
            if (sb.type === SECRETS_TYPE_TLS_KEY_LOG) keys.add(sb.data, 'DSB');
          },
          onFrame: (v: FrameView) => select.onFrame(v, v.frame + base),
        });
      }
      select.flushAll();
    } catch (e) {
      closeAll(targets);
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`evidence: ${code !== undefined ? `cannot write in ${dir} (${code})` : (e as Error).message}`);
    }
  }
  insertSecrets(targets, keys);
  return written(targets, warnings);
}

/**
 * Evidence of the failed connections of `report` from frames the caller hands over instead of a
 * second pass over files: a live sensor's recent frames (src/capture/frame-ring.ts), as each
 * failure ends. The same selection and files as exportEvidence; `visit` calls its argument for
 * each frame, oldest first.
 */
export function exportEvidenceFromFrames(
  report: Report,
  visit: (onFrame: (v: FrameView) => void) => void,
  dir: string,
  /** The analysis' TLS secrets: a decrypted connection's own go into its file's DSB, as exportEvidence does. */
  keys: KeyLog | null = null,
): EvidenceResult {
  const warnings: string[] = [];
  const { targets, left } = targetsOf(report, dir);
  if (left > 0) warnings.push(`evidence: ${left} failed connections beyond the first ${MAX_EVIDENCE_FILES} got no evidence file`);
  if (targets.length === 0) return { files: [], warnings };
  makeDir(dir);
  const select = new FrameSelector(targets);
  try {
    visit((v) => select.onFrame(v, v.frame));
    select.flushAll();
  } catch (e) {
    closeAll(targets);
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`evidence: ${code !== undefined ? `cannot write in ${dir} (${code})` : (e as Error).message}`);
  }
  if (keys !== null) insertSecrets(targets, keys);
  return written(targets, warnings);
}

/** Picks each frame into the evidence files it belongs to (flows by port, pinned frames by number). */
class FrameSelector {
  private readonly pkt = new DecodedPacket();
  /** Client port -> the flows using it; frame -> the pinned frames. */
  private readonly byPort = new Map<number, { t: Target; f: FlowKey }[]>();
  private readonly byFrame = new Map<number, { t: Target; pin: Pinned }[]>();
  private readonly chosen = new Set<Target>();
  private buffered = 0;

  constructor(private readonly targets: Target[]) {
    for (const t of targets) {
      for (const f of t.flows) {
        const list = this.byPort.get(f.clientPort);
        if (list) list.push({ t, f });
        else this.byPort.set(f.clientPort, [{ t, f }]);
      }
      for (const [frame, pin] of t.pinned) {
        const list = this.byFrame.get(frame);
        if (list) list.push({ t, pin });
        else this.byFrame.set(frame, [{ t, pin }]);
      }
    }
  }

  onFrame(v: FrameView, frame: number): void {
    if (!isKnownLinkType(v.linkType)) return;
    const pkt = this.pkt;
    const chosen = this.chosen;
    const pins = this.byFrame.get(frame);
    decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
    if (pkt.ipVersion === 0) return;
    chosen.clear();
    if (pins) for (const x of pins) if (matchesPinned(pkt, x.pin)) chosen.add(x.t);
    if (pkt.ipProto === IpProto.TCP || pkt.ipProto === IpProto.UDP) {
      const s = this.byPort.get(pkt.srcPort);
      if (s) for (const x of s) if (matchesFlow(pkt, x.f, frame)) chosen.add(x.t);
      const d = pkt.dstPort !== pkt.srcPort ? this.byPort.get(pkt.dstPort) : undefined;
      if (d) for (const x of d) if (matchesFlow(pkt, x.f, frame)) chosen.add(x.t);
    }
    for (const t of chosen) this.buffered += add(t, v, frame);
    if (this.buffered >= FLUSH_BYTES) this.flushAll();
  }

  flushAll(): void {
    for (const t of this.targets) flush(t);
    this.buffered = 0;
  }
}

/** The files written, set on their connections (evidenceFile), with the warnings of each. */
function written(targets: Target[], warnings: string[]): EvidenceResult {
  closeAll(targets);
  const files: EvidenceFile[] = [];
  for (const t of targets) {
    if (t.writer === null) continue;
    t.conn.evidenceFile = t.file;
    files.push({ connection: t.conn.id, file: t.file, frames: t.frames, linkType: t.linkType });
    if (t.file !== t.requested) warnings.push(`evidence ${t.requested} already exists (not overwritten): written as ${t.file}`);
    if (t.cut) warnings.push(`evidence ${t.file}: cut at ${MAX_EVIDENCE_FRAMES} frames`);
  }
  return { files, warnings };
}

function closeAll(targets: Target[]): void {
  for (const t of targets) {
    if (t.fd < 0) continue;
    closeSync(t.fd);
    t.fd = -1;
  }
}

/**
 * mkdir -p, one level at a time: Node 20's mkdirSync({ recursive: true }) never returns for some
 * paths under /proc, so the recursion is ours. Throws one line naming the path.
 */
export function makeDir(dir: string): void {
  const abs = path.resolve(dir);
  const levels: string[] = [];
  for (let d = abs; ; d = path.dirname(d)) {
    levels.unshift(d);
    if (path.dirname(d) === d) break;
  }
  const fail = (e: unknown): Error => new Error(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  for (const d of levels) {
    let st: Stats | null = null;
    try {
      st = statSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(e);
    }
    if (st !== null) {
      if (!st.isDirectory()) throw new Error(`cannot create ${dir}: ${d} is not a directory`);
      continue;
    }
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(e);
    }
  }
}

export interface Spool {
  /** The sources to analyse (stdin replaced by its spooled copy). */
  sources: CaptureSource[];
  /** Puts "-" back where the spooled file's name appears in the report. */
  restore(report: Report): void;
  /** Removes the temp file. */
  cleanup(): void;
}

/**
 * Copies stdin (or `input`) to a temp file when `sources` reads it, so that the evidence pass
 * can read it again. Without a stdin source, returns the sources as they are.
 */
export async function spoolStdin(sources: CaptureSource[], input: Readable = process.stdin): Promise<Spool> {
  const i = sources.findIndex((s) => s.kind === 'stdin');
  if (i < 0) return { sources, restore: () => undefined, cleanup: () => undefined };
  const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-'));
  const file = path.join(dir, 'stdin.capture');
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await pipeline(input, createWriteStream(file));
  } catch (e) {
    cleanup();
    throw new Error(`cannot spool stdin to ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out = sources.slice();
  out[i] = { kind: 'file', path: file };
  const name = sourceName(sources[i]!);
  return {
    sources: out,
    cleanup,
    restore(report: Report): void {
      const f = report.capture.files[i];
      if (f && f.file === file) f.file = name;
      for (const c of report.connections) if (c.fileIndex === i) c.file = name;
      report.capture.damage = report.capture.damage.map((d) => (d.startsWith(`${file}: `) ? `${name}: ${d.slice(file.length + 2)}` : d));
      report.warnings = report.warnings.map((w) => w.split(file).join(name));
    },
  };
}

/**
 * pcapng 4.7: each decrypted connection's evidence gets a Decryption Secrets Block with its own key
 * log lines, before the packets it decrypts (right after the Section Header Block).
 */
function insertSecrets(targets: Target[], keys: KeyLog): void {
  for (const t of targets) {
    if (t.writer === null || t.clientRandom === null) continue;
    const inner = keys.linesFor(t.clientRandom, t.conn.tls?.decryption?.rsaKey);
    // Through an RD Gateway: the outer TLS session's lines too, so Wireshark reads the tunnel as well.
    // The legacy HTTP transport's two channels are two outer TLS sessions: the lines of each.
    const gcrs = [...new Set([t.conn.gateway?.clientRandom ?? null, ...(t.conn.gateway?.channels ?? []).map((ch) => ch.clientRandom)])].filter((x): x is string => x !== null && x !== t.clientRandom);
    const outers = gcrs.map((x) => keys.linesFor(x)).filter((x): x is string => x !== null);
    const outer = outers.length === 0 ? null : outers.map((x) => (x.endsWith('\n') ? x : `${x}\n`)).join('');
    const lines = inner === null ? outer : outer === null ? inner : `${outer}${outer.endsWith('\n') ? '' : '\n'}${inner}`;
    if (lines === null) continue;
    t.writer.addSecrets(SECRETS_TYPE_TLS_KEY_LOG, Buffer.from(lines, 'latin1'));
    const dsb = t.writer.drain();
    // Through the descriptor the file was created with (exclusively): read, then written again whole
    // from the start with the DSB after the SHB (it only grows, so nothing is left over).
    if (t.fd < 0) continue;
    const size = fstatSync(t.fd).size;
    const whole = Buffer.alloc(size);
    for (let off = 0; off < size; ) {
      const n = readSync(t.fd, whole, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    const out = Buffer.concat([whole.subarray(0, t.shbBytes), dsb, whole.subarray(t.shbBytes)]);
    for (let off = 0; off < out.length; ) off += writeSync(t.fd, out, off, out.length - off, off);
  }
}
