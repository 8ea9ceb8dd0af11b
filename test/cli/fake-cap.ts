// A `cap` stand-in for tests of the live path without libpcap or root: it replays packets the way
// cap delivers them (one reused buffer, 'packet' events with the byte count, a batch per event-loop
// turn). Shared by the live source tests and the sensor tests.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { CapDevice, CapModule } from '../../src/capture/live.js';
import { readCapture } from '../../src/capture/index.js';
import type { FrameView } from '../../src/capture/types.js';

export const DEVICES: CapDevice[] = [
  { name: 'eth0', addresses: [{ addr: '192.0.2.2' }, { addr: 'fe80::1' }] },
  { name: 'lo', addresses: [{ addr: '127.0.0.1' }, { addr: '::1' }], flags: 'PCAP_IF_LOOPBACK' },
  { name: 'any', description: 'Pseudo-device that captures on all interfaces', addresses: [] },
];

export interface FakeLog {
  opened: { device: string; filter: string; bufSize: number }[];
  closed: number;
}

/**
 * A `cap` stand-in: open() returns `linkName` (or throws `openError`); after open, the packets are
 * copied one by one into the caller's buffer and emitted as cap does (binding.cc EmitPacket),
 * a batch per event-loop turn.
 */
export function fakeCap(packets: Buffer[], o: { linkName?: string; openError?: string; batch?: number } = {}): { cap: CapModule; log: FakeLog } {
  const log: FakeLog = { opened: [], closed: 0 };
  class Cap extends EventEmitter {
    static deviceList(): CapDevice[] {
      return DEVICES;
    }
    private open_ = false;
    open(device: string, filter: string, bufSize: number, buffer: Buffer): string {
      log.opened.push({ device, filter, bufSize });
      if (o.openError !== undefined) throw new Error(o.openError);
      this.open_ = true;
      let i = 0;
      const pump = (): void => {
        for (let n = 0; n < (o.batch ?? 3) && i < packets.length && this.open_; n++, i++) {
          const p = packets[i]!;
          const len = Math.min(p.length, buffer.length);
          p.copy(buffer, 0, 0, len);
          this.emit('packet', len, len < p.length);
        }
        if (i < packets.length && this.open_) setImmediate(pump);
      };
      setImmediate(pump);
      return o.linkName ?? 'ETHERNET';
    }
    close(): void {
      if (!this.open_) throw new Error('Not currently capturing/open');
      this.open_ = false;
      log.closed++;
    }
  }
  return { cap: { Cap } as unknown as CapModule, log };
}

/** The frames of a fixture capture, copied, with its link type. */
export async function framesOf(file: string): Promise<{ packets: Buffer[]; linkType: number }> {
  const packets: Buffer[] = [];
  let linkType = -1;
  await readCapture({ kind: 'file', path: file }, 0, {
    onFrame(v: FrameView): void {
      linkType = v.linkType;
      packets.push(Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)));
    },
  });
  return { packets, linkType };
}

export class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

