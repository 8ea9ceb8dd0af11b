// `live --write PATH --ring SIZE_MB:FILES`: the raw packets of the last hours kept as a ring of
// classic pcap files, named as dumpcap names its ring buffer (PATH's stem + _NNNNN_YYYYMMDDhhmmss +
// PATH's ending), so that `rdp-autopsy analyze DIR` (src/capture/fileset.ts) and Wireshark's File
// Set view read them as one capture. A file is closed when it reaches SIZE_MB; the oldest is removed
// when there are more than FILES.
import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PcapWriter } from './writer.js';
import type { FrameView } from './types.js';

export interface RingSpec {
  /** Bytes per file (at least one record is written to each file). */
  fileBytes: number;
  /** Files kept (the oldest removed beyond it). */
  files: number;
}

/** "SIZE_MB:FILES" (e.g. "100:20") -> RingSpec, or an Error naming what is wrong. */
export function parseRingSpec(s: string): RingSpec {
  const m = /^(\d+(?:\.\d+)?):(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`invalid --ring "${s}" (expected SIZE_MB:FILES, e.g. 100:20)`);
  const mb = Number(m[1]);
  const files = Number(m[2]);
  if (!(mb > 0 && mb <= 1_000_000)) throw new Error(`invalid --ring "${s}": the size must be more than 0 and at most 1000000 MB`);
  if (!(files >= 2 && files <= 100_000)) throw new Error(`invalid --ring "${s}": keep at least 2 files and at most 100000`);
  return { fileBytes: Math.max(1, Math.round(mb * 1_000_000)), files };
}

/** YYYYMMDDhhmmss (UTC) of a time in seconds, as dumpcap writes it in ring file names. */
export function stampOf(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** The name of ring file number `seq` (1-based) started at `sec`: PATH's stem _NNNNN_YYYYMMDDhhmmss PATH's ending. */
export function ringFileName(base: string, seq: number, sec: number): string {
  const ext = path.extname(base) || '.pcap';
  const stem = base.slice(0, base.length - path.extname(base).length);
  return `${stem}_${String(seq).padStart(5, '0')}_${stampOf(sec)}${ext}`;
}

/** A ring of pcap files written synchronously (a sensor's packets are few; a lost write is reported). */
export class RingPcapWriter {
  private fd = -1;
  private bytes = 0;
  private seq = 0;
  private readonly kept: string[] = [];
  /** Files written so far, oldest first, including removed ones' count. */
  removed = 0;
  private readonly enc: PcapWriter;

  constructor(
    private readonly base: string,
    private readonly spec: RingSpec,
    linkType: number,
    snapLen: number,
  ) {
    this.enc = new PcapWriter({ linkType, snapLen, littleEndian: true });
  }

  /** The files on disk now, oldest first. */
  get files(): readonly string[] {
    return this.kept;
  }

  /** Writes one frame, starting the next file when this one is full. Throws the write's error. */
  write(v: FrameView): void {
    if (this.fd < 0 || this.bytes >= this.spec.fileBytes) this.next(v.tsSec);
    const rec = this.enc.encode({ tsSec: v.tsSec, tsNsec: v.tsNsec, origLen: v.origLen, data: v.buf.subarray(v.off, v.off + v.capLen) });
    writeAll(this.fd, rec);
    this.bytes += rec.length;
  }

  private next(sec: number): void {
    this.close();
    this.seq++;
    const file = ringFileName(this.base, this.seq, sec);
    if (this.seq === 1) mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'wx');
    const h = this.enc.header();
    writeAll(this.fd, h);
    this.bytes = h.length;
    this.kept.push(file);
    while (this.kept.length > this.spec.files) {
      const old = this.kept.shift()!;
      try {
        unlinkSync(old);
      } catch {
        // Already gone (removed by hand): nothing to free.
      }
      this.removed++;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}
