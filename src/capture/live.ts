// Live source: libpcap through the optional `cap` module -> the same FrameView a file reader hands
// out (design.md "Data flow": source -> framing). One FrameView and one packet buffer are reused
// for every packet; the sink copies what it keeps, as with files.
//
// What cap gives per packet is only (nbytes, truncated): no libpcap timestamp and no wire length
// (binding.cc EmitPacket). So the time is read from the clock when the packet is dispatched
// (immediate mode, sub-millisecond on Linux), and origLen is the captured length.
import { createRequire } from 'node:module';
import { LinkType, type CaptureSink, type FrameView } from './types.js';
import { kernelCountersOf, loadPacketStats, packetSocketInodes, type KernelCounters, type PacketStats } from './packet-stats.js';

/** cap's device list entry (binding.cc deviceList). */
export interface CapDevice {
  name: string;
  description?: string;
  addresses?: { addr?: string }[];
  flags?: string;
}

export interface CapInstance {
  /** Returns the link type name (see CAP_LINK_TYPES); throws libpcap's error text. */
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/** The part of the `cap` module we use. */
export interface CapModule {
  Cap: { new (): CapInstance; deviceList(): CapDevice[] };
}

export type LiveErrorKind = 'unavailable' | 'no_such_interface' | 'permission' | 'filter' | 'link_type' | 'failed';

/** Why a live capture cannot start; `message` is one line for the user. */
export class LiveCaptureError extends Error {
  constructor(
    readonly kind: LiveErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'LiveCaptureError';
  }
}

export const CAP_UNAVAILABLE = 'live capture needs libpcap: apt-get install libpcap-dev, then npm rebuild cap';

/**
 * Loads `cap` (or `specifier`, a seam for tests). Any failure (not installed, not built, built for
 * another Node ABI, libpcap.so missing) is LiveCaptureError 'unavailable'.
 */
export function loadCap(specifier = 'cap'): CapModule {
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(specifier);
  } catch (e) {
    throw new LiveCaptureError('unavailable', `${CAP_UNAVAILABLE} (${firstLine(e)})`);
  }
  const cap = (mod as { Cap?: unknown } | null)?.Cap as CapModule['Cap'] | undefined;
  if (typeof cap !== 'function' || typeof cap.deviceList !== 'function') {
    throw new LiveCaptureError('unavailable', `${CAP_UNAVAILABLE} (${specifier} has no Cap class)`);
  }
  return { Cap: cap };
}

/**
 * cap's link type names (binding.cc: NULL, ETHERNET, IEEE802_11_RADIO, LINKTYPE_LINUX_SLL, RAW, or
 * "Unknown linktype N" with libpcap's DLT_ number) -> LINKTYPE_* number, or null.
 */
export function capLinkType(name: string): number | null {
  switch (name) {
    case 'NULL':
      return LinkType.NULL;
    case 'ETHERNET':
      return LinkType.ETHERNET;
    case 'RAW':
      return LinkType.RAW; // DLT_RAW (12 or 14 depending on the OS) is LINKTYPE_RAW 101 in files
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    case 'IEEE802_11_RADIO':
      return 127;
  }
  // https://www.tcpdump.org/linktypes.html: DLT_ and LINKTYPE_ values agree for 0..10, 50, 51 and
  // from 104 up; DLT_RAW is 12 or 14 depending on the OS, LINKTYPE_RAW (101) in files.
  const m = /^Unknown linktype (\d+)$/.exec(name);
  if (m) {
    const dlt = Number(m[1]);
    if (dlt === 12 || dlt === 14) return LinkType.RAW;
    if (dlt <= 10 || dlt === 50 || dlt === 51 || (dlt >= 104 && dlt <= 0xffff)) return dlt;
  }
  return null;
}

export interface LiveDevice {
  name: string;
  description: string | null;
  addresses: string[];
  loopback: boolean;
}

/** The interfaces libpcap can open (pcap_findalldevs). */
export function listDevices(cap: CapModule): LiveDevice[] {
  let list: CapDevice[];
  try {
    list = cap.Cap.deviceList();
  } catch (e) {
    throw new LiveCaptureError('failed', `cannot list interfaces: ${firstLine(e)}`);
  }
  return list.map((d) => ({
    name: d.name,
    description: d.description ?? null,
    addresses: (d.addresses ?? []).map((a) => a.addr).filter((a): a is string => typeof a === 'string'),
    loopback: (d.flags ?? '').includes('PCAP_IF_LOOPBACK'),
  }));
}

export interface LiveCaptureOptions {
  iface: string;
  /** BPF filter (pcap-filter(7)). */
  filter: string;
  /** libpcap's kernel buffer in bytes (default 16 MiB). */
  bufferSize?: number;
  /** Index of this source in the run (FrameView.fileIndex), default 0. */
  fileIndex?: number;
  /** libpcap's kernel counter (src/capture/packet-stats.ts); default: the addon, loaded on first use. */
  packetStats?: PacketStats;
}

export interface LiveCaptureInfo {
  iface: string;
  linkType: number;
  frames: number;
  /** Bytes a classic pcap of the frames takes (24-byte header + 16 per record + captured bytes). */
  bytes: number;
  /** Packets longer than the packet buffer (cut; their origLen is unknown). */
  truncated: number;
  /** First / last packet time, float seconds since the epoch, or null. */
  start: number | null;
  end: number | null;
  /** libpcap's kernel counters of the capture, read as it stopped, or null (then `kernelUnavailable` says why). */
  kernel: KernelCounters | null;
  kernelUnavailable: string | null;
}

export interface LiveCapture {
  readonly iface: string;
  readonly linkType: number;
  /** Frames handed to the sink so far. */
  readonly frames: number;
  /** Stops capturing (idempotent); packets libpcap already dispatched after it are not handed out. */
  stop(): LiveCaptureInfo;
  readonly stopped: boolean;
  /** libpcap's kernel counters so far (after stop: as they were when it stopped), or null. */
  kernel(): KernelCounters | null;
  /** Why there are no kernel counters (one clause), or null when there are. */
  readonly kernelUnavailable: string | null;
}

/** libpcap's snaplen in cap (binding.cc pcap_set_snaplen 65535): one buffer holds any packet. */
export const LIVE_SNAPLEN = 65535;
const PCAP_FILE_HEADER = 24;
const PCAP_RECORD_HEADER = 16;

function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return (s.split(/\r?\n/).find((l) => l.trim() !== '') ?? s).trim();
}

/** libpcap's error text -> the user's one line (pcap_activate / pcap_compile messages on Linux). */
export function classifyOpenError(iface: string, filter: string, message: string): LiveCaptureError {
  const m = message.trim();
  if (/permission|not permitted|EPERM|EACCES/i.test(m)) {
    return new LiveCaptureError(
      'permission',
      `cannot capture on ${iface}: permission denied (${m}); run as root or give CAP_NET_RAW ` +
        '(setcap cap_net_raw,cap_net_admin=eip "$(readlink -f "$(command -v node)")")',
    );
  }
  if (/no such device|doesn't exist|does not exist/i.test(m)) {
    return new LiveCaptureError('no_such_interface', `no such interface "${iface}" (rdp-autopsy live --list shows them)`);
  }
  if (/filter|syntax error|parse/i.test(m)) {
    return new LiveCaptureError('filter', `invalid capture filter "${filter}": ${m}`);
  }
  return new LiveCaptureError('failed', `cannot capture on ${iface}: ${m}`);
}

/**
 * Opens `iface` and hands every packet to `sink.onFrame` as a FrameView (frame numbers from 1, as
 * in the pcap a writer of the same frames would produce; fileOffset is the record's offset in it).
 * Throws LiveCaptureError when the interface is unknown, permission is denied, the filter does not
 * compile or the link type is not one cap names.
 */
export function startLiveCapture(cap: CapModule, o: LiveCaptureOptions, sink: CaptureSink): LiveCapture {
  const devices = listDevices(cap);
  if (!devices.some((d) => d.name === o.iface)) {
    throw new LiveCaptureError('no_such_interface', `no such interface "${o.iface}" (rdp-autopsy live --list shows them)`);
  }
  const handle = new cap.Cap();
  const packet = Buffer.alloc(LIVE_SNAPLEN);
  // libpcap's socket is the AF_PACKET socket that open() adds to this process.
  const stats = o.packetStats ?? loadPacketStats();
  const before = stats.reader !== null ? packetSocketInodes(stats.reader) : [];
  let linkName: string;
  try {
    linkName = handle.open(o.iface, o.filter, o.bufferSize ?? 16 * 1024 * 1024, packet);
  } catch (e) {
    // cap 0.2.1 leaves a half-open pcap handle behind a failed open() and aborts the process
    // (uv_poll_stop on a poll handle it never started) when close() runs, by us or by its
    // destructor: keep the object referenced and never close it.
    abandoned.push(handle);
    throw classifyOpenError(o.iface, o.filter, firstLine(e));
  }
  const mine = stats.reader !== null ? packetSocketInodes(stats.reader).filter((i) => !before.includes(i)) : [];
  const kernelUnavailable = stats.unavailable ?? (mine.length === 0 ? `no packet socket of this capture was found (libpcap on Linux opens one)` : null);
  const linkType = capLinkType(linkName);
  if (linkType === null) {
    safeClose(handle);
    throw new LiveCaptureError('link_type', `cannot capture on ${o.iface}: link type not supported (${linkName})`);
  }

  const view: FrameView = {
    buf: packet,
    off: 0,
    capLen: 0,
    origLen: 0,
    frame: 0,
    fileIndex: o.fileIndex ?? 0,
    ifIndex: 0,
    linkType,
    tsSec: 0,
    tsNsec: 0,
    fileOffset: PCAP_FILE_HEADER,
  };
  const origin = performance.timeOrigin;
  let frames = 0;
  let offset = PCAP_FILE_HEADER;
  let truncated = 0;
  let start: number | null = null;
  let end: number | null = null;
  let stopped = false;

  // One listener for the whole capture (no closure per packet).
  const onPacket = (nbytes: number, cut: boolean): void => {
    if (stopped) return;
    const ms = origin + performance.now();
    const sec = Math.floor(ms / 1000);
    let nsec = Math.round((ms - sec * 1000) * 1e6);
    if (nsec > 999_999_999) nsec = 999_999_999;
    frames++;
    if (cut) truncated++;
    view.capLen = nbytes;
    view.origLen = nbytes;
    view.frame = frames;
    view.tsSec = sec;
    view.tsNsec = nsec;
    view.fileOffset = offset;
    offset += PCAP_RECORD_HEADER + nbytes;
    const t = ms / 1000;
    if (start === null) start = t;
    end = t;
    sink.onFrame(view);
  };
  handle.on('packet', onPacket);

  let lastKernel: KernelCounters | null = null;
  const kernel = (): KernelCounters | null => {
    if (stopped || stats.reader === null || mine.length === 0) return lastKernel;
    lastKernel = kernelCountersOf(stats.reader, mine) ?? lastKernel;
    return lastKernel;
  };
  const info = (): LiveCaptureInfo => ({ iface: o.iface, linkType, frames, bytes: offset, truncated, start, end, kernel: lastKernel, kernelUnavailable });
  return {
    iface: o.iface,
    linkType,
    get frames() {
      return frames;
    },
    get stopped() {
      return stopped;
    },
    kernel,
    kernelUnavailable,
    stop(): LiveCaptureInfo {
      if (!stopped) {
        // The counters go with the socket: read them before closing it.
        kernel();
        stopped = true;
        safeClose(handle);
        handle.removeAllListeners('packet');
      }
      return info();
    },
  };
}

/** Handles whose open() failed (see startLiveCapture). */
const abandoned: CapInstance[] = [];

function safeClose(h: CapInstance): void {
  try {
    h.close();
  } catch {
    // already closed
  }
}
