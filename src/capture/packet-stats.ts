// libpcap's kernel drop counter: what pcap_stats() returns on Linux and tcpdump prints as "packets
// dropped by kernel". The `cap` module exposes neither pcap_stats() nor its socket, so our own addon
// (native/packet-stats, built at install when it can be) finds libpcap's AF_PACKET socket among
// this process's file descriptors and reads PACKET_STATISTICS on it (packet(7); libpcap's
// pcap-linux.c pcap_stats_linux), keeping running totals because the kernel resets the counters at
// each read. Loading it is lazy and guarded: absent (not built, not Linux), live capture reports
// the interface's counters only (src/capture/drops.ts) and says which counters it has.
import { createRequire } from 'node:module';

/** One AF_PACKET socket of this process, totals since the addon first read it. */
export interface PacketSocketStats {
  fd: number;
  /** The socket's inode (tells a reused fd number apart). */
  inode: number;
  /** sockaddr_ll.sll_ifindex of the socket's binding; 0: not bound ("any"). */
  ifindex: number;
  /** if_indextoname(ifindex), or null. */
  iface: string | null;
  /** Sum of tpacket_stats.tp_packets: packets that passed the filter, the dropped ones included (pcap_stat.ps_recv). */
  packets: number;
  /** Sum of tp_drops: packets the kernel dropped because the socket's buffer was full (pcap_stat.ps_drop). */
  drops: number;
  /** Sum of tpacket_stats_v3.tp_freeze_q_cnt (TPACKET_V3 sockets only), else null. */
  freezeQueue: number | null;
}

/** Reads every AF_PACKET socket of this process (throws when /proc/self/fd cannot be read). */
export type PacketStatsReader = () => PacketSocketStats[];

/** The addon, or why there is none (one clause for the user). */
export type PacketStats = { reader: PacketStatsReader; unavailable: null } | { reader: null; unavailable: string };

/** libpcap's counters of one capture. */
export interface KernelCounters {
  packets: number;
  drops: number;
  freezeQueue: number | null;
}

/** Where the addon is built (native/packet-stats/binding.gyp), from src/capture or dist/capture alike. */
export const PACKET_STATS_ADDON = '../../native/packet-stats/build/Release/packet_stats.node';

export const PACKET_STATS_NOT_BUILT = 'the packet-stats addon is not built: npm rebuild rdp-autopsy with a C compiler on Linux';

let cached: PacketStats | undefined;

/**
 * Loads the addon once per process (`specifier`: a seam for tests, not cached). Never throws:
 * `RDP_AUTOPSY_NO_PACKET_STATS=1`, another OS or a missing or broken build give { reader: null }.
 */
export function loadPacketStats(specifier?: string): PacketStats {
  if (specifier === undefined && cached !== undefined) return cached;
  let r: PacketStats;
  if (process.env.RDP_AUTOPSY_NO_PACKET_STATS === '1') r = { reader: null, unavailable: 'RDP_AUTOPSY_NO_PACKET_STATS=1' };
  else if (process.platform !== 'linux') r = { reader: null, unavailable: `libpcap's kernel counter is read on Linux only, not ${process.platform}` };
  else {
    try {
      const mod = createRequire(import.meta.url)(specifier ?? PACKET_STATS_ADDON) as { read?: unknown } | null;
      const read = mod?.read;
      r = typeof read === 'function' ? { reader: read as PacketStatsReader, unavailable: null } : { reader: null, unavailable: PACKET_STATS_NOT_BUILT };
    } catch {
      r = { reader: null, unavailable: PACKET_STATS_NOT_BUILT };
    }
  }
  if (specifier === undefined) cached = r;
  return r;
}

/** The inodes of the AF_PACKET sockets open now ([] when they cannot be read). */
export function packetSocketInodes(reader: PacketStatsReader): number[] {
  try {
    return reader().map((s) => s.inode);
  } catch {
    return [];
  }
}

/**
 * The counters of the sockets `inodes` (one capture's: libpcap opens one socket per handle), summed;
 * null when none of them is open any more or the reader fails.
 */
export function kernelCountersOf(reader: PacketStatsReader, inodes: readonly number[]): KernelCounters | null {
  let rows: PacketSocketStats[];
  try {
    rows = reader();
  } catch {
    return null;
  }
  let found = false;
  let packets = 0;
  let drops = 0;
  let freezeQueue: number | null = null;
  for (const s of rows) {
    if (!inodes.includes(s.inode)) continue;
    found = true;
    packets += s.packets;
    drops += s.drops;
    if (s.freezeQueue !== null) freezeQueue = (freezeQueue ?? 0) + s.freezeQueue;
  }
  return found ? { packets, drops, freezeQueue } : null;
}

/** "the kernel dropped 12 of 3400 packets (libpcap's counter)" and its variants, for stderr and reports. */
export function kernelCountersText(k: KernelCounters): string {
  const frozen = k.freezeQueue !== null && k.freezeQueue > 0 ? `, its ring frozen ${k.freezeQueue} times` : '';
  return `${k.drops} packet${k.drops === 1 ? '' : 's'} dropped by kernel, ${k.packets} received by filter (libpcap's counter${frozen})`;
}
