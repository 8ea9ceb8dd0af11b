// `rdp-autopsy live -i <iface>`: capture with libpcap (the optional `cap` module) into a
// temporary pcap, then the same analysis and report as for a file.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStreaming } from '../capture/writer.js';
import { LinkType } from '../capture/types.js';
import { UsageError } from './errors.js';
import { runAnalysis, checkOptions, type RunOptions } from './run.js';

export interface LiveOptions extends RunOptions {
  iface: string;
  duration?: number;
  count?: number;
}

/** RDP over TCP and UDP, ICMP errors (unreachable, fragmentation needed) and DNS (design.md "Data flow"). */
export function bpfFilter(extraPorts: number[]): string {
  const ports = [3389, ...extraPorts.filter((p) => p !== 3389)];
  const rdp = ports.map((p) => `tcp port ${p} or udp port ${p}`).join(' or ');
  return `${rdp} or icmp or icmp6 or udp port 53`;
}

/** cap's link type names (binding.cc) to LINKTYPE_* numbers. */
const CAP_LINK_TYPES: Record<string, number> = {
  NULL: LinkType.NULL,
  ETHERNET: LinkType.ETHERNET,
  RAW: LinkType.RAW,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
  IEEE802_11_RADIO: 127,
};

interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(ev: 'packet', cb: (nbytes: number, truncated: boolean) => void): void;
}

function loadCap(): { Cap: new () => CapHandle } {
  try {
    const require = createRequire(import.meta.url);
    return require('cap') as { Cap: new () => CapHandle };
  } catch {
    throw new UsageError(
      'live capture needs the optional "cap" module: install libpcap-dev (apt-get install libpcap-dev) and reinstall rdp-autopsy',
    );
  }
}

export async function runLive(o: LiveOptions, stdout: NodeJS.WritableStream): Promise<number> {
  checkOptions(o);
  const { Cap } = loadCap();
  const cap = new Cap();
  const packet = Buffer.alloc(65535);
  let linkName: string;
  try {
    linkName = cap.open(o.iface, bpfFilter(o.ports), 16 * 1024 * 1024, packet);
  } catch (e) {
    throw new UsageError(`cannot capture on ${o.iface}: ${(e as Error).message}`);
  }
  const linkType = CAP_LINK_TYPES[linkName];
  if (linkType === undefined) {
    cap.close();
    throw new UsageError(`cannot capture on ${o.iface}: ${linkName}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'rdp-autopsy-live-'));
  const file = join(dir, `live-${o.iface}.pcap`);
  const out = writeStreaming(file, { linkType, snapLen: packet.length });
  let count = 0;
  try {
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const stop = (): void => {
        if (timer) clearTimeout(timer);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      if (o.duration !== undefined) timer = setTimeout(stop, o.duration * 1000);
      cap.on('packet', (nbytes) => {
        const now = Date.now();
        out.add({
          tsSec: Math.floor(now / 1000),
          tsNsec: (now % 1000) * 1_000_000,
          data: Buffer.from(packet.subarray(0, nbytes)),
        });
        count++;
        if (o.count !== undefined && count >= o.count) stop();
      });
    });
  } finally {
    cap.close();
    await out.close();
  }
  try {
    return await runAnalysis([{ kind: 'file', path: file }], o, stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
