// `rdp-autopsy live -i <iface>`: capture with libpcap (src/capture/live.ts), stop on --duration,
// --count or Ctrl-C, then the same analysis, report and exit code as `analyze`.
//
// The live source hands FrameViews to a sink, as a file reader does. Until the pipeline has an
// entry point that takes frames one by one, the sink writes them as a classic pcap (--write FILE,
// or a temporary file removed afterwards) and that file is analysed: frame numbers and byte
// offsets in the report are those of the saved capture.
import { createWriteStream, mkdtempSync, openSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureSink, FrameView } from '../capture/types.js';
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
import { UsageError } from './errors.js';
import { runAnalysis, checkOptions, type RunOptions } from './run.js';

export interface LiveOptions extends RunOptions {
  iface?: string;
  /** Seconds. */
  duration?: number;
  /** Packets. */
  count?: number;
  /** BPF filter replacing bpfFilter(ports). */
  filter?: string;
  /** Save the raw capture as classic pcap to this file (and analyse it from there). */
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

/** Captures until --duration, --count, SIGINT or SIGTERM, writing every frame to `path`. */
function captureUntilStopped(
  cap: CapModule,
  o: LiveOptions & { iface: string },
  filter: string,
  path: string,
  stderr: NodeJS.WritableStream,
): Promise<{ info: LiveCaptureInfo; sink: PcapFileSink }> {
  return new Promise((resolve, reject) => {
    let sink: PcapFileSink | null = null;
    let timer: NodeJS.Timeout | null = null;
    let finish: () => void = () => {};
    const count = o.count;
    // Created once; libpcap delivers nothing before this function returns to the event loop.
    const tee: CaptureSink = {
      onFrame(v: FrameView): void {
        sink!.onFrame(v);
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
    try {
      sink = new PcapFileSink(path, live.linkType, openForWriting(path));
    } catch (e) {
      live.stop();
      reject(e);
      return;
    }
    const onSignal = (): void => finish();
    finish = (): void => {
      if (live.stopped) return;
      const info = live.stop();
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve({ info, sink: sink! });
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
  let dir: string | null = null;
  let path: string;
  if (o.write !== undefined) {
    path = o.write;
  } else {
    dir = mkdtempSync(join(tmpdir(), 'rdp-autopsy-live-'));
    path = join(dir, `live-${iface.replace(/[^\w.-]/g, '_')}.pcap`);
  }
  const t0 = performance.now();
  try {
    const { info, sink } = await captureUntilStopped(cap, { ...o, iface }, filter, path, stderr);
    try {
      await sink.close();
    } catch (e) {
      throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const secs = ` in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    const cut = info.truncated > 0 ? `, ${info.truncated} cut to ${LIVE_SNAPLEN} bytes` : '';
    const saved = o.write !== undefined ? `, saved to ${o.write}` : '';
    stderr.write(`rdp-autopsy: captured ${info.frames} packets on ${iface}${secs}${cut}${saved}\n`);
    return await runAnalysis([{ kind: 'file', path }], o, stdout);
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}
