// `rdp-autopsy live -i <iface>`: capture with libpcap (src/capture/live.ts), stop on --duration,
// --count or Ctrl-C, then the same report and exit code as `analyze`.
//
// Frames go from the live source straight into the pipeline's push-based analyzer
// (createAnalyzer), so `--format ndjson` writes each connection as it ends, during the capture.
// `--write FILE` also saves them as a classic pcap and the report names that file (its frame
// numbers are the file's); without it the report names the interface ("live:eth0"). Timestamps
// are cut to the saved file's microseconds, so the report equals `analyze` over the saved file.
// Only `--export-evidence` without `--write` keeps a temporary pcap (evidence is cut from it).
import { createWriteStream, mkdtempSync, openSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureFileInfo, CaptureSink, FrameView } from '../capture/types.js';
import { frameTime } from '../capture/types.js';
import { PcapWriter } from '../capture/writer.js';
import {
  CAP_UNAVAILABLE,
  LIVE_SNAPLEN,
  LiveCaptureError,
  listDevices,
  loadCap,
  startLiveCapture,
  type CapModule,
  type LiveCapture,
  type LiveCaptureInfo,
} from '../capture/live.js';
import { kernelCountersText, type PacketStats } from '../capture/packet-stats.js';
import { isKnownLinkType, linkTypeName } from '../net/index.js';
import { TOOL_VERSION, createAnalyzer, type Analyzer } from '../pipeline.js';
import { RingPcapWriter, parseRingSpec } from '../capture/rotate.js';
import { DROP_POLL_SECONDS, Sensor } from './sensor.js';
import { GATEWAY_TCP_PORT, GATEWAY_UDP_PORT } from '../handshake/gateway-watch.js';
import { exportEvidence } from '../report/evidence.js';
import { UsageError } from './errors.js';
import { noteReportExitCode } from './terminal.js';
import { checkOptions, exitCodeOf, openOutput, type RunOptions } from './run.js';
import { fileSink, refuseOutputOntoInput, streamSink } from './output.js';

export interface LiveOptions extends RunOptions {
  iface?: string;
  /** Seconds. */
  duration?: number;
  /** Packets. */
  count?: number;
  /** BPF filter replacing bpfFilter(ports). */
  filter?: string;
  /** Save the raw capture as classic pcap to this file (the report then names it). */
  write?: string;
  /** List the interfaces and exit. */
  list?: boolean;
  /** Run as a sensor (src/cli/sensor.ts): each attempt reported as it ends, summaries from counters. */
  sensor?: boolean;
  /** Sensor: ECS events (NDJSON) appended to this file, or "-" for stdout. */
  ndjson?: string;
  /** With --write: a ring of files "SIZE_MB:FILES" (src/capture/rotate.ts). */
  ring?: string;
  /** Sensor: megabytes of recent frames kept in memory for evidence (default 64). */
  ringMemory?: number;
}

/** Test seams: another cap module, or none; where the progress lines go; libpcap's kernel counter. */
export interface LiveDeps {
  cap?: () => CapModule;
  stderr?: NodeJS.WritableStream;
  packetStats?: PacketStats;
}

/**
 * RDP over TCP and UDP, ICMP errors (unreachable, fragmentation needed) and DNS (design.md "Data
 * flow"), and an RD Gateway's ports: HTTPS on TCP 443 and its UDP transport on 3391 (MS-TSGU 2.1),
 * so that RDP through a gateway is seen live (gateway-watch.ts).
 */
export function bpfFilter(extraPorts: number[]): string {
  const ports = [3389, ...extraPorts.filter((p, i) => p !== 3389 && extraPorts.indexOf(p) === i)];
  const rdp = ports.map((p) => `tcp port ${p} or udp port ${p}`).join(' or ');
  const gateway = [`tcp port ${GATEWAY_TCP_PORT}`, `udp port ${GATEWAY_UDP_PORT}`].filter((g) => !ports.some((p) => g.endsWith(` ${p}`)));
  return `${rdp} or ${gateway.length > 0 ? `${gateway.join(' or ')} or ` : ''}icmp or icmp6 or udp port 53`;
}

/** `RDP_AUTOPSY_NO_CAP=1` behaves as if cap could not be loaded (to test that path end to end). */
function defaultCap(): CapModule {
  if (process.env.RDP_AUTOPSY_NO_CAP === '1') throw new LiveCaptureError('unavailable', CAP_UNAVAILABLE);
  return loadCap();
}

/** LiveCaptureError -> UsageError (one line, exit 2). */
function usage(e: unknown): never {
  if (e instanceof LiveCaptureError) throw new UsageError(e.message);
  throw e;
}

/** One line per interface: name, addresses, description. */
export function formatDeviceList(cap: CapModule): string {
  const lines = listDevices(cap).map((d) => {
    const parts = [d.name];
    if (d.addresses.length > 0) parts.push(d.addresses.join(', '));
    const notes = [d.loopback ? 'loopback' : null, d.description].filter((x): x is string => !!x);
    if (notes.length > 0) parts.push(`(${notes.join('; ')})`);
    return parts.join('  ');
  });
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** Checks what does not need libpcap: exactly one of --list / -i, --count a whole number. */
export function checkLiveOptions(o: LiveOptions): void {
  checkOptions(o);
  if (o.list) return;
  if (o.iface === undefined || o.iface === '') {
    throw new UsageError('live needs an interface: -i <iface> (rdp-autopsy live --list shows them)');
  }
  if (o.count !== undefined && (!Number.isInteger(o.count) || o.count < 1)) {
    throw new UsageError(`invalid count "${o.count}" (expected a whole number of packets)`);
  }
  if (o.duration !== undefined && !(o.duration > 0 && o.duration <= 2_147_483)) {
    throw new UsageError(`invalid duration "${o.duration}" (expected 0 < seconds <= 2147483)`);
  }
  if (o.filter !== undefined && o.filter.trim() === '') throw new UsageError('--filter is empty');
  if (o.ring !== undefined) {
    if (o.write === undefined) throw new UsageError('--ring needs --write PATH (the ring files are named after it)');
    try {
      parseRingSpec(o.ring);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (!o.sensor && (o.ndjson !== undefined || o.ringMemory !== undefined)) {
    throw new UsageError(`${o.ndjson !== undefined ? '--ndjson' : '--ring-memory'} goes with --sensor`);
  }
  if (o.ringMemory !== undefined && !(o.ringMemory >= 1 && o.ringMemory <= 65536)) {
    throw new UsageError(`invalid --ring-memory "${o.ringMemory}" (expected 1 to 65536 MB)`);
  }
}

/** Where captured frames are saved: one pcap, or a ring of them. */
interface FrameFile {
  onFrame(v: FrameView): void;
  close(): Promise<void>;
}

/** `--write PATH --ring SIZE_MB:FILES`: the ring of pcap files (a write error stops the capture like a full disk would). */
class RingFileSink implements FrameFile {
  private readonly w: RingPcapWriter;
  error: Error | null = null;
  constructor(base: string, ring: string, linkType: number) {
    this.w = new RingPcapWriter(base, parseRingSpec(ring), linkType, LIVE_SNAPLEN);
  }
  onFrame(v: FrameView): void {
    if (this.error !== null) return;
    try {
      this.w.write(v);
    } catch (e) {
      this.error = e as Error;
    }
  }
  get files(): readonly string[] {
    return this.w.files;
  }
  close(): Promise<void> {
    this.w.close();
    return this.error ? Promise.reject(this.error) : Promise.resolve();
  }
}

/** A sink writing classic pcap (the cap packet buffer is copied into each record). */
class PcapFileSink implements CaptureSink, FrameFile {
  private readonly enc: PcapWriter;
  private readonly stream: WriteStream;
  private error: Error | null = null;

  constructor(
    readonly path: string,
    linkType: number,
    fd: number,
  ) {
    this.enc = new PcapWriter({ linkType, snapLen: LIVE_SNAPLEN, littleEndian: true });
    this.stream = createWriteStream(path, { fd });
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
    this.stream.write(this.enc.header());
  }

  onFrame(v: FrameView): void {
    this.stream.write(this.enc.encode({ tsSec: v.tsSec, tsNsec: v.tsNsec, origLen: v.origLen, data: v.buf.subarray(v.off, v.off + v.capLen) }));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.end(() => (this.error ? reject(this.error) : resolve()));
    });
  }
}

function openForWriting(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** What a capture hands on: its end, and the frames' first / last time as the analyzer saw them. */
interface Captured {
  info: LiveCaptureInfo;
  start: number | null;
  end: number | null;
  /** The pcap written (--write, or the temporary file for --export-evidence), or null. */
  sink: FrameFile | null;
}

/** What a capture does besides analysing: save frames (made once the link type is known), see each frame first. */
interface CaptureHooks {
  file: ((linkType: number) => FrameFile) | null;
  onFrame: ((v: FrameView) => void) | null;
  /** The capture is open (its kernel counters can be read from now on). */
  onStart?: (live: LiveCapture) => void;
  packetStats?: PacketStats;
}

/**
 * Captures until --duration, --count, SIGINT or SIGTERM, pushing every frame into `analyzer`
 * (and into a pcap at `path`, when given).
 */
function captureUntilStopped(
  cap: CapModule,
  o: LiveOptions & { iface: string },
  filter: string,
  hooks: CaptureHooks,
  analyzer: Analyzer,
  stderr: NodeJS.WritableStream,
): Promise<Captured> {
  const extra = hooks.onFrame;
  return new Promise((resolve, reject) => {
    let sink: FrameFile | null = null;
    let timer: NodeJS.Timeout | null = null;
    let finish: (error?: unknown) => void = () => {};
    const count = o.count;
    let start: number | null = null;
    let end: number | null = null;
    // Created once; libpcap delivers nothing before this function returns to the event loop.
    const tee: CaptureSink = {
      onFrame(v: FrameView): void {
        // The saved pcap keeps microseconds: the analysis sees what a reader of that file sees.
        v.tsNsec -= v.tsNsec % 1000;
        const t = frameTime(v);
        if (start === null) start = t;
        end = t;
        sink?.onFrame(v);
        extra?.(v);
        try {
          analyzer.push(v);
        } catch (e) {
          finish(e);
          return;
        }
        if (count !== undefined && v.frame >= count) finish();
      },
    };
    let live;
    try {
      live = startLiveCapture(cap, { iface: o.iface, filter, packetStats: hooks.packetStats }, tee);
    } catch (e) {
      reject(e instanceof LiveCaptureError ? new UsageError(e.message) : e);
      return;
    }
    if (!isKnownLinkType(live.linkType)) {
      live.stop();
      reject(new UsageError(`cannot analyse ${o.iface}: link type ${linkTypeName(live.linkType)} is not supported`));
      return;
    }
    if (hooks.file !== null) {
      try {
        sink = hooks.file(live.linkType);
      } catch (e) {
        live.stop();
        reject(e);
        return;
      }
    }
    hooks.onStart?.(live);
    const onSignal = (): void => finish();
    finish = (error?: unknown): void => {
      if (live.stopped) return;
      const info = live.stop();
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (error !== undefined) {
        void sink?.close().catch(() => undefined);
        reject(error);
      } else resolve({ info, start, end, sink });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (o.duration !== undefined) timer = setTimeout(finish, o.duration * 1000);
    const until = [o.duration !== undefined ? `${o.duration} s` : null, count !== undefined ? `${count} packets` : null]
      .filter((x) => x !== null)
      .join(' or ');
    stderr.write(
      `rdp-autopsy: capturing on ${o.iface} (${linkTypeName(live.linkType)}, filter: ${filter}); ` +
        `stops after ${until === '' ? 'Ctrl-C' : `${until} or Ctrl-C`}\n`,
    );
  });
}

/** What the report says of a live capture: a classic pcap as `--write` saves it. */
export function liveFileInfo(name: string, c: { info: LiveCaptureInfo; start: number | null; end: number | null }): CaptureFileInfo {
  const { info } = c;
  return {
    file: name,
    fileIndex: 0,
    format: 'pcap',
    gzip: false,
    littleEndian: true,
    nanosecond: false,
    interfaces: [{ fileIndex: 0, ifIndex: 0, linkType: info.linkType, snapLen: LIVE_SNAPLEN, name: info.iface, tsUnitsPerSec: 1e6 }],
    frames: info.frames,
    bytes: info.bytes,
    start: c.start,
    end: c.end,
    names: [],
    secrets: [],
    damage: null,
    warnings: [],
  };
}

/** The report's name of a capture not saved to a file. */
export function liveName(iface: string): string {
  return `live:${iface}`;
}

export async function runLive(o: LiveOptions, stdout: NodeJS.WritableStream, deps: LiveDeps = {}): Promise<number> {
  checkLiveOptions(o);
  const stderr = deps.stderr ?? process.stderr;
  let cap: CapModule;
  try {
    cap = (deps.cap ?? defaultCap)();
  } catch (e) {
    usage(e);
  }
  if (o.list) {
    try {
      stdout.write(formatDeviceList(cap));
    } catch (e) {
      usage(e);
    }
    return 0;
  }
  const iface = o.iface!;
  const filter = o.filter ?? bpfFilter(o.ports);
  if (o.sensor) return runSensor(cap, { ...o, iface }, filter, stdout, stderr, deps.packetStats);
  const name = o.write !== undefined && o.ring === undefined ? o.write : liveName(iface);
  // Evidence is cut from a pcap: without --write, a temporary one (removed afterwards).
  let dir: string | null = null;
  let path: string | null = o.ring === undefined ? (o.write ?? null) : null;
  if (path === null && o.exportEvidence !== undefined) {
    dir = mkdtempSync(join(tmpdir(), 'rdp-autopsy-live-'));
    path = join(dir, `live-${iface.replace(/[^\w.-]/g, '_')}.pcap`);
  }
  refuseOutputOntoInput(o.output, o.write !== undefined ? [o.write] : []);
  const out = openOutput(o, stdout);
  const analyzer = createAnalyzer({ name, rdpPorts: o.ports, onConnection: out.onConnection, keyLogs: o.keyLogs, keyLogFollow: o.keyLogs?.map((k) => k.name), narrow: o.narrow });
  const t0 = performance.now();
  const file = path;
  let ring: RingFileSink | null = null;
  const hooks: CaptureHooks = {
    file: (linkType) => {
      if (o.ring !== undefined && o.write !== undefined) {
        ring = new RingFileSink(o.write, o.ring, linkType);
        if (file === null) return ring;
        // --export-evidence with --ring: evidence comes from the temporary whole pcap.
        const whole = new PcapFileSink(file, linkType, openForWriting(file));
        const r = ring;
        return { onFrame: (v) => (r.onFrame(v), whole.onFrame(v)), close: () => Promise.all([r.close(), whole.close()]).then(() => undefined) };
      }
      return new PcapFileSink(file!, linkType, openForWriting(file!));
    },
    onFrame: null,
    packetStats: deps.packetStats,
  };
  if (file === null && o.ring === undefined) hooks.file = null;
  try {
    const captured = await captureUntilStopped(cap, { ...o, iface }, filter, hooks, analyzer, stderr);
    if (captured.sink) {
      try {
        await captured.sink.close();
      } catch (e) {
        throw new UsageError(`cannot write ${o.write ?? path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const { info } = captured;
    const secs = ` in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    const cut = info.truncated > 0 ? `, ${info.truncated} cut to ${LIVE_SNAPLEN} bytes` : '';
    const saved = o.write !== undefined ? `, saved to ${ring !== null ? ringText(ring) : o.write}` : '';
    stderr.write(`rdp-autopsy: captured ${info.frames} packets on ${iface}${secs}${cut}${saved}\n`);
    // As tcpdump does at the end: libpcap's kernel counter (src/capture/packet-stats.ts).
    stderr.write(`rdp-autopsy: ${info.kernel !== null ? kernelCountersText(info.kernel) : `kernel drops not counted (${info.kernelUnavailable ?? 'no packet socket of this capture was found'})`}\n`);
    const report = analyzer.finish(liveFileInfo(name, captured));
    if (info.kernel !== null && info.kernel.drops > 0) {
      report.warnings.push(
        `the kernel dropped ${info.kernel.drops} of the ${info.kernel.packets} packets the capture filter passed (libpcap's counter: the capture's buffer was full): frames may be missing, so an attempt may look cut short or a step unanswered when it was not`,
      );
    }
    if (ring !== null) report.warnings.push(`the raw capture is the ring ${ringText(ring)}: frame numbers count from the start of the capture, as \`rdp-autopsy analyze\` or \`mergecap -a\` of every file written would number them`);
    if (o.exportEvidence !== undefined && path !== null) {
      const ev = await exportEvidence(report, [{ kind: 'file', path }], o.exportEvidence, { keyLogs: o.keyLogs }).catch((e: Error) => Promise.reject(new UsageError(e.message)));
      report.warnings.push(...ev.warnings);
    }
    noteReportExitCode(exitCodeOf(report));
    await out.emit(report);
    return exitCodeOf(report);
  } catch (e) {
    out.abort();
    throw e;
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

/** "rdp_00001_...pcap .. rdp_00007_...pcap (7 files, 2 older removed)". */
function ringText(r: RingFileSink): string {
  const f = r.files;
  if (f.length === 0) return 'no file';
  return `${f[0]}${f.length > 1 ? ` .. ${f[f.length - 1]}` : ''} (${f.length} file${f.length === 1 ? '' : 's'})`;
}

/**
 * `live --sensor`: the capture reports each attempt as it ends (src/cli/sensor.ts) and runs until
 * SIGINT / SIGTERM / --duration / --count; SIGUSR1 prints the running summary on stderr; the final
 * summary goes to stdout (or -o FILE). Exit code: 1 when an attempt failed, else 0.
 */
async function runSensor(
  cap: CapModule,
  o: LiveOptions & { iface: string },
  filter: string,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  packetStats: PacketStats | undefined,
): Promise<number> {
  // The report is never written over the raw capture or the NDJSON log.
  refuseOutputOntoInput(o.output, [o.write, o.ndjson].filter((p): p is string => p !== undefined && p !== '-'));
  let sensor: Sensor;
  try {
    sensor = new Sensor(
      { iface: o.iface, ndjson: o.ndjson ?? (o.format === 'ndjson' ? '-' : undefined), evidenceDir: o.exportEvidence, ringMemory: (o.ringMemory ?? 64) * 1024 * 1024, version: TOOL_VERSION },
      stdout,
      stderr,
    );
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const name = o.write !== undefined && o.ring === undefined ? o.write : liveName(o.iface);
  // Connections are reported and dropped as they end: the analyzer keeps no record (maxRecords 0)
  // and judges each with the recent ones (streamContext).
  const analyzer = createAnalyzer({
    name,
    rdpPorts: o.ports,
    onConnection: (c, dns) => sensor.onConnection(c, dns),
    onGatewaySighting: (g) => sensor.onGatewaySighting(g),
    maxRecords: 0,
    streamContext: 64,
    keyLogs: o.keyLogs,
    keyLogFollow: o.keyLogs?.map((k) => k.name),
    narrow: o.narrow,
  });
  sensor.keys = analyzer.keys;
  let ring: RingFileSink | null = null;
  const hooks: CaptureHooks = {
    file:
      o.write === undefined
        ? null
        : (linkType) => (o.ring !== undefined ? (ring = new RingFileSink(o.write!, o.ring, linkType)) : new PcapFileSink(o.write!, linkType, openForWriting(o.write!))),
    onFrame: sensor.ring !== null ? (v) => sensor.onFrame(v) : null,
    onStart: (live) => sensor.attachKernelCounters(() => live.kernel(), live.kernelUnavailable),
    packetStats,
  };
  const onUsr1 = (): void => {
    stderr.write(sensor.summaryNow().map((l) => `rdp-autopsy: ${l}\n`).join(''));
  };
  process.on('SIGUSR1', onUsr1);
  const poll = setInterval(() => sensor.pollDrops(), DROP_POLL_SECONDS * 1000);
  poll.unref();
  try {
    const captured = await captureUntilStopped(cap, o, filter, hooks, analyzer, stderr);
    if (captured.sink) {
      try {
        await captured.sink.close();
      } catch (e) {
        throw new UsageError(`cannot write ${o.write}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const report = analyzer.finish(liveFileInfo(name, captured));
    if (ring !== null) report.warnings.push(`the raw capture is the ring ${ringText(ring)}`);
    stderr.write(`rdp-autopsy: captured ${captured.info.frames} packets on ${o.iface}\n`);
    const text = sensor.final(report, o.format);
    // Through a temporary file renamed into place (or stdout with its write errors caught): src/cli/output.ts.
    const sink = o.output !== undefined ? fileSink(o.output) : streamSink(stdout);
    sink.write(text);
    await sink.close();
    // A gateway's refusal fails the run as a failed attempt does (as `analyze` exits 1 for it).
    return sensor.summary.failed > 0 || sensor.gatewayRefusals > 0 ? 1 : 0;
  } finally {
    clearInterval(poll);
    process.off('SIGUSR1', onUsr1);
  }
}
