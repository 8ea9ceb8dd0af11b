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
  type LiveCaptureInfo,
} from '../capture/live.js';
import { isKnownLinkType, linkTypeName } from '../net/index.js';
import { createAnalyzer, type Analyzer } from '../pipeline.js';
import { exportEvidence } from '../report/evidence.js';
import { UsageError } from './errors.js';
import { checkOptions, exitCodeOf, openOutput, type RunOptions } from './run.js';

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
}

/** Test seams: another cap module, or none; where the progress lines go. */
export interface LiveDeps {
  cap?: () => CapModule;
  stderr?: NodeJS.WritableStream;
}

/** RDP over TCP and UDP, ICMP errors (unreachable, fragmentation needed) and DNS (design.md "Data flow"). */
export function bpfFilter(extraPorts: number[]): string {
  const ports = [3389, ...extraPorts.filter((p, i) => p !== 3389 && extraPorts.indexOf(p) === i)];
  const rdp = ports.map((p) => `tcp port ${p} or udp port ${p}`).join(' or ');
  return `${rdp} or icmp or icmp6 or udp port 53`;
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
}

/** A sink writing classic pcap (the cap packet buffer is copied into each record). */
class PcapFileSink implements CaptureSink {
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
  sink: PcapFileSink | null;
}

/**
 * Captures until --duration, --count, SIGINT or SIGTERM, pushing every frame into `analyzer`
 * (and into a pcap at `path`, when given).
 */
function captureUntilStopped(
  cap: CapModule,
  o: LiveOptions & { iface: string },
  filter: string,
  path: string | null,
  analyzer: Analyzer,
  stderr: NodeJS.WritableStream,
): Promise<Captured> {
  return new Promise((resolve, reject) => {
    let sink: PcapFileSink | null = null;
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
      live = startLiveCapture(cap, { iface: o.iface, filter }, tee);
    } catch (e) {
      reject(e instanceof LiveCaptureError ? new UsageError(e.message) : e);
      return;
    }
    if (!isKnownLinkType(live.linkType)) {
      live.stop();
      reject(new UsageError(`cannot analyse ${o.iface}: link type ${linkTypeName(live.linkType)} is not supported`));
      return;
    }
    if (path !== null) {
      try {
        sink = new PcapFileSink(path, live.linkType, openForWriting(path));
      } catch (e) {
        live.stop();
        reject(e);
        return;
      }
    }
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
  const name = o.write ?? liveName(iface);
  // Evidence is cut from a pcap: without --write, a temporary one (removed afterwards).
  let dir: string | null = null;
  let path: string | null = o.write ?? null;
  if (path === null && o.exportEvidence !== undefined) {
    dir = mkdtempSync(join(tmpdir(), 'rdp-autopsy-live-'));
    path = join(dir, `live-${iface.replace(/[^\w.-]/g, '_')}.pcap`);
  }
  const out = openOutput(o, stdout);
  const analyzer = createAnalyzer({ name, rdpPorts: o.ports, onConnection: out.onConnection });
  const t0 = performance.now();
  try {
    const captured = await captureUntilStopped(cap, { ...o, iface }, filter, path, analyzer, stderr);
    if (captured.sink) {
      try {
        await captured.sink.close();
      } catch (e) {
        throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const { info } = captured;
    const secs = ` in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    const cut = info.truncated > 0 ? `, ${info.truncated} cut to ${LIVE_SNAPLEN} bytes` : '';
    const saved = o.write !== undefined ? `, saved to ${o.write}` : '';
    stderr.write(`rdp-autopsy: captured ${info.frames} packets on ${iface}${secs}${cut}${saved}\n`);
    const report = analyzer.finish(liveFileInfo(name, captured));
    if (o.exportEvidence !== undefined && path !== null) {
      const ev = await exportEvidence(report, [{ kind: 'file', path }], o.exportEvidence).catch((e: Error) => Promise.reject(new UsageError(e.message)));
      report.warnings.push(...ev.warnings);
    }
    out.emit(report);
    return exitCodeOf(report);
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}
