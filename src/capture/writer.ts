// Capture writers: classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
// draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng). Used by the fixture
// builder and by evidence export. Writers buffer whole blocks; callers own file I/O
// (see writeStreaming for an incremental variant).
import { createWriteStream, type WriteStream } from 'node:fs';
import { isIP } from 'node:net';

export interface WriterRecord {
  tsSec: number;
  /** Nanoseconds within the second, 0..999_999_999. */
  tsNsec: number;
  data: Uint8Array;
  /** Length on the wire; defaults to data.length. */
  origLen?: number;
  /** pcapng interface id (ignored by PcapWriter). */
  ifIndex?: number;
}

const PCAP_MAGIC_USEC = 0xa1b2c3d4;
const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const DEFAULT_SNAPLEN = 262144;

function checkTs(rec: WriterRecord): void {
  if (!Number.isInteger(rec.tsSec) || rec.tsSec < 0 || rec.tsSec > 0xffffffff) {
    throw new RangeError(`tsSec out of range: ${rec.tsSec}`);
  }
  if (!Number.isInteger(rec.tsNsec) || rec.tsNsec < 0 || rec.tsNsec > 999_999_999) {
    throw new RangeError(`tsNsec out of range: ${rec.tsNsec}`);
  }
}

/** Classic pcap: 24-byte file header then 16-byte record headers. */
export class PcapWriter {
  readonly linkType: number;
  readonly snapLen: number;
  readonly nanosecond: boolean;
  readonly littleEndian: boolean;
  private readonly parts: Buffer[] = [];
  private count = 0;

  constructor(opts: { linkType: number; snapLen?: number; nanosecond?: boolean; littleEndian?: boolean }) {
    this.linkType = opts.linkType;
    this.snapLen = opts.snapLen ?? DEFAULT_SNAPLEN;
    this.nanosecond = opts.nanosecond ?? false;
    this.littleEndian = opts.littleEndian ?? true;
    this.parts.push(this.header());
  }

  /** The 24-byte file header. */
  header(): Buffer {
    const h = Buffer.alloc(24);
    const le = this.littleEndian;
    w32(h, 0, this.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, le);
    w16(h, 4, 2, le);
    w16(h, 6, 4, le);
    // thiszone, sigfigs: 0
    w32(h, 16, this.snapLen, le);
    w32(h, 20, this.linkType, le);
    return h;
  }

  /** One record (header + captured bytes, cut to snapLen). */
  encode(rec: WriterRecord): Buffer {
    checkTs(rec);
    const capLen = Math.min(rec.data.length, this.snapLen);
    const origLen = rec.origLen ?? rec.data.length;
    const b = Buffer.alloc(16 + capLen);
    const le = this.littleEndian;
    w32(b, 0, rec.tsSec, le);
    w32(b, 4, this.nanosecond ? rec.tsNsec : Math.floor(rec.tsNsec / 1000), le);
    w32(b, 8, capLen, le);
    w32(b, 12, origLen, le);
    b.set(rec.data.subarray(0, capLen), 16);
    return b;
  }

  add(rec: WriterRecord): void {
    this.parts.push(this.encode(rec));
    this.count++;
  }

  get frames(): number {
    return this.count;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// pcapng block types (draft-ietf-opsawg-pcapng 4.x)
const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_NRB = 0x00000004;
const BT_EPB = 0x00000006;
const BT_DSB = 0x0000000a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

interface Opt {
  code: number;
  value: Uint8Array;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function optsLen(opts: Opt[]): number {
  if (opts.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of opts) n += 4 + pad4(o.value.length);
  return n;
}

function writeOpts(b: Buffer, off: number, opts: Opt[], le: boolean): number {
  if (opts.length === 0) return off;
  for (const o of opts) {
    w16(b, off, o.code, le);
    w16(b, off + 2, o.value.length, le);
    b.set(o.value, off + 4);
    off += 4 + pad4(o.value.length);
  }
  return off + 4; // opt_endofopt: code 0, length 0
}

/** Builds a block: type, total length, body, options, total length (draft-ietf-opsawg-pcapng 3.1). */
function block(type: number, body: Buffer, opts: Opt[], le: boolean): Buffer {
  const bodyLen = pad4(body.length);
  const total = 12 + bodyLen + optsLen(opts);
  const b = Buffer.alloc(total);
  w32(b, 0, type, le);
  w32(b, 4, total, le);
  body.copy(b, 8);
  writeOpts(b, 8 + bodyLen, opts, le);
  w32(b, total - 4, total, le);
  return b;
}

function textOpt(code: number, s: string): Opt {
  return { code, value: Buffer.from(s, 'utf8') };
}

interface IfState {
  tsResolExp: number;
  snapLen: number;
}

/** pcapng: one Section Header Block, Interface Description Blocks, Enhanced Packet Blocks, NRB, DSB. */
export class PcapngWriter {
  readonly littleEndian: boolean;
  private readonly parts: Buffer[] = [];
  private readonly ifaces: IfState[] = [];
  private count = 0;

  constructor(opts?: { littleEndian?: boolean; application?: string }) {
    this.littleEndian = opts?.littleEndian ?? true;
    const le = this.littleEndian;
    // SHB body: byte-order magic, version 1.0, section length -1 (unknown) (4.1)
    const body = Buffer.alloc(16);
    w32(body, 0, BYTE_ORDER_MAGIC, le);
    w16(body, 4, 1, le);
    w16(body, 6, 0, le);
    w32(body, 8, 0xffffffff, le);
    w32(body, 12, 0xffffffff, le);
    const o: Opt[] = [];
    if (opts?.application) o.push(textOpt(4, opts.application)); // shb_userappl
    this.parts.push(block(BT_SHB, body, o, le));
  }

  /** Adds an Interface Description Block (4.2); returns its interface id. */
  addInterface(i: { linkType: number; snapLen?: number; name?: string; tsResolExp?: number }): number {
    const le = this.littleEndian;
    const tsResolExp = i.tsResolExp ?? 6;
    if (tsResolExp !== 6 && tsResolExp !== 9) throw new RangeError(`tsResolExp must be 6 or 9, got ${tsResolExp}`);
    const snapLen = i.snapLen ?? DEFAULT_SNAPLEN;
    const body = Buffer.alloc(8);
    w16(body, 0, i.linkType, le);
    w32(body, 4, snapLen, le);
    const o: Opt[] = [];
    if (i.name) o.push(textOpt(2, i.name)); // if_name
    if (tsResolExp !== 6) o.push({ code: 9, value: Uint8Array.of(tsResolExp) }); // if_tsresol
    this.parts.push(block(BT_IDB, body, o, le));
    this.ifaces.push({ tsResolExp, snapLen });
    return this.ifaces.length - 1;
  }

  /** Adds an Enhanced Packet Block (4.3), with an opt_comment (4.3, code 1) when `comment` is given. */
  add(rec: WriterRecord, comment?: string): void {
    checkTs(rec);
    const ifIndex = rec.ifIndex ?? 0;
    const iface = this.ifaces[ifIndex];
    if (!iface) throw new RangeError(`no interface ${ifIndex}: call addInterface first`);
    const le = this.littleEndian;
    const capLen = Math.min(rec.data.length, iface.snapLen);
    const origLen = rec.origLen ?? rec.data.length;
    const units =
      iface.tsResolExp === 9
        ? BigInt(rec.tsSec) * 1_000_000_000n + BigInt(rec.tsNsec)
        : BigInt(rec.tsSec) * 1_000_000n + BigInt(Math.floor(rec.tsNsec / 1000));
    const body = Buffer.alloc(20 + pad4(capLen));
    w32(body, 0, ifIndex, le);
    w32(body, 4, Number(units >> 32n), le);
    w32(body, 8, Number(units & 0xffffffffn), le);
    w32(body, 12, capLen, le);
    w32(body, 16, origLen, le);
    body.set(rec.data.subarray(0, capLen), 20);
    this.parts.push(block(BT_EPB, body, comment === undefined ? [] : [textOpt(1, comment)], le));
    this.count++;
  }

  /** The blocks added since the last call (for a writer that appends to a file as it goes). */
  drain(): Buffer {
    const b = Buffer.concat(this.parts);
    this.parts.length = 0;
    return b;
  }

  /** Adds a Name Resolution Block (4.5) with IPv4 / IPv6 records. */
  addNameResolution(entries: { ip: string; names: string[] }[]): void {
    const le = this.littleEndian;
    const recs: Buffer[] = [];
    for (const e of entries) {
      const v = isIP(e.ip);
      if (v === 0) throw new RangeError(`not an IP address: ${e.ip}`);
      const addr = v === 4 ? ipv4Bytes(e.ip) : ipv6Bytes(e.ip);
      const names = e.names.map((n) => Buffer.concat([Buffer.from(n, 'utf8'), Buffer.of(0)]));
      const valLen = addr.length + names.reduce((a, n) => a + n.length, 0);
      const r = Buffer.alloc(4 + pad4(valLen));
      w16(r, 0, v === 4 ? 1 : 2, le); // nrb_record_ipv4 / nrb_record_ipv6
      w16(r, 2, valLen, le);
      addr.copy(r, 4);
      let off = 4 + addr.length;
      for (const n of names) {
        n.copy(r, off);
        off += n.length;
      }
      recs.push(r);
    }
    recs.push(Buffer.alloc(4)); // nrb_record_end
    this.parts.push(block(BT_NRB, Buffer.concat(recs), [], le));
  }

  /** Adds a Decryption Secrets Block (4.7), e.g. type 0x544c534b (TLSK) with an NSS key log. */
  addSecrets(type: number, data: Uint8Array): void {
    const le = this.littleEndian;
    const body = Buffer.alloc(8 + pad4(data.length));
    w32(body, 0, type, le);
    w32(body, 4, data.length, le);
    body.set(data, 8);
    this.parts.push(block(BT_DSB, body, [], le));
  }

  get frames(): number {
    return this.count;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }

}

/**
 * Incremental classic-pcap file writer (for evidence export): the header is written at once,
 * each record as it comes. `close()` resolves when the file is flushed.
 */
export function writeStreaming(
  path: string,
  opts: { linkType: number; snapLen?: number; nanosecond?: boolean },
): { add(rec: WriterRecord): void; close(): Promise<void>; stream: WriteStream } {
  const enc = new PcapWriter({ ...opts, littleEndian: true });
  const stream = createWriteStream(path);
  stream.write(enc.header());
  return {
    stream,
    add(rec: WriterRecord): void {
      stream.write(enc.encode(rec));
    },
    close(): Promise<void> {
      return new Promise((resolve, reject) => {
        stream.once('error', reject);
        stream.end(() => resolve());
      });
    },
  };
}

function w16(b: Buffer, off: number, v: number, le: boolean): void {
  if (le) b.writeUInt16LE(v & 0xffff, off);
  else b.writeUInt16BE(v & 0xffff, off);
}

function w32(b: Buffer, off: number, v: number, le: boolean): void {
  if (le) b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((x) => Number(x)));
}

/** RFC 4291 2.2 text to 16 bytes (accepts "::" and a trailing dotted IPv4). */
function ipv6Bytes(ip: string): Buffer {
  let s = ip;
  let tail: number[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = ipv4Bytes(m[2]!);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    s = m[1]!;
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const parse = (p: string): number[] => (p === '' ? [] : p.split(':').map((x) => parseInt(x, 16)));
  const dbl = s.indexOf('::');
  let groups: number[];
  if (dbl >= 0) {
    const h = parse(s.slice(0, dbl));
    const r = parse(s.slice(dbl + 2));
    const fill = Math.max(0, 8 - h.length - r.length - tail.length);
    groups = [...h, ...new Array<number>(fill).fill(0), ...r, ...tail];
  } else {
    groups = [...parse(s), ...tail];
  }
  const b = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) b.writeUInt16BE((groups[i] ?? 0) & 0xffff, i * 2);
  return b;
}
