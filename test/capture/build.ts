// Hand-assembled pcap / pcapng bytes for the capture tests (independent from src/capture/writer.ts).
// Layouts: draft-ietf-opsawg-pcap 4-5, draft-ietf-opsawg-pcapng 3-4.

import { CaptureParser } from '../../src/capture/parser.js';
import type { CaptureFileInfo, FrameView } from '../../src/capture/types.js';

export type Order = 'le' | 'be';

function u16(v: number, o: Order): Buffer {
  const b = Buffer.alloc(2);
  if (o === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}
function u32(v: number, o: Order): Buffer {
  const b = Buffer.alloc(4);
  if (o === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}
function i64(v: bigint, o: Order): Buffer {
  const b = Buffer.alloc(8);
  if (o === 'le') b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}
function pad4(b: Buffer): Buffer {
  const p = (4 - (b.length % 4)) % 4;
  return p === 0 ? b : Buffer.concat([b, Buffer.alloc(p)]);
}

/** A recognisable packet: bytes seed, seed+1, ... */
export function pkt(len: number, seed = 0): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i) & 0xff;
  return b;
}

// ---- classic pcap ----

export interface PcapHeaderOpts {
  order?: Order;
  nano?: boolean;
  snapLen?: number;
  /** The whole 32-bit LinkType field (FCS bits included). */
  linkField?: number;
  major?: number;
  minor?: number;
}

export function pcapHeader(h: PcapHeaderOpts = {}): Buffer {
  const o = h.order ?? 'le';
  const magic = h.nano ? 0xa1b23c4d : 0xa1b2c3d4;
  return Buffer.concat([
    u32(magic, o),
    u16(h.major ?? 2, o),
    u16(h.minor ?? 4, o),
    u32(0, o),
    u32(0, o),
    u32(h.snapLen ?? 65535, o),
    u32(h.linkField ?? 1, o),
  ]);
}

export function pcapRecord(sec: number, frac: number, data: Buffer, origLen = data.length, o: Order = 'le', capLen = data.length): Buffer {
  return Buffer.concat([u32(sec, o), u32(frac, o), u32(capLen, o), u32(origLen, o), data]);
}

// ---- pcapng ----

export function block(type: number, body: Buffer, o: Order = 'le'): Buffer {
  const len = 12 + body.length;
  return Buffer.concat([u32(type, o), u32(len, o), body, u32(len, o)]);
}

export function opt(code: number, value: Buffer, o: Order = 'le'): Buffer {
  return Buffer.concat([u16(code, o), u16(value.length, o), pad4(value)]);
}

export function shb(o: Order = 'le', major = 1, minor = 0): Buffer {
  return block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, o), u16(major, o), u16(minor, o), i64(-1n, o)]), o);
}

export interface IdbOpts {
  snapLen?: number;
  name?: string;
  tsresol?: number;
  tsoffset?: bigint;
}

export function idb(linkType: number, o: Order = 'le', x: IdbOpts = {}): Buffer {
  const opts: Buffer[] = [];
  if (x.name !== undefined) opts.push(opt(2, Buffer.from(x.name, 'utf8'), o));
  if (x.tsresol !== undefined) opts.push(opt(9, Buffer.from([x.tsresol]), o));
  if (x.tsoffset !== undefined) opts.push(opt(14, i64(x.tsoffset, o), o));
  if (opts.length > 0) opts.push(u32(0, o));
  return block(1, Buffer.concat([u16(linkType, o), u16(0, o), u32(x.snapLen ?? 0, o), ...opts]), o);
}

/** EPB with a 64-bit timestamp in the interface's units. */
export function epb(ifId: number, ts: bigint, data: Buffer, o: Order = 'le', origLen = data.length): Buffer {
  const hi = Number(ts >> 32n);
  const lo = Number(ts & 0xffffffffn);
  return block(6, Buffer.concat([u32(ifId, o), u32(hi, o), u32(lo, o), u32(data.length, o), u32(origLen, o), pad4(data)]), o);
}

export function spb(data: Buffer, o: Order = 'le', origLen = data.length): Buffer {
  return block(3, Buffer.concat([u32(origLen, o), pad4(data)]), o);
}

/** Obsolete Packet Block (pcapng Appendix A). */
export function pb(ifId: number, ts: bigint, data: Buffer, o: Order = 'le'): Buffer {
  const hi = Number(ts >> 32n);
  const lo = Number(ts & 0xffffffffn);
  return block(
    2,
    Buffer.concat([u16(ifId, o), u16(0, o), u32(hi, o), u32(lo, o), u32(data.length, o), u32(data.length, o), pad4(data)]),
    o,
  );
}

export function nrb(records: { v4?: number[]; v6?: number[]; names: string[] }[], o: Order = 'le'): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const addr = Buffer.from(r.v4 ?? r.v6 ?? []);
    const val = Buffer.concat([addr, ...r.names.map((n) => Buffer.from(`${n}\0`))]);
    parts.push(u16(r.v4 ? 1 : 2, o), u16(val.length, o), pad4(val));
  }
  parts.push(u16(0, o), u16(0, o));
  return block(4, Buffer.concat(parts), o);
}

export function dsb(type: number, data: Buffer, o: Order = 'le'): Buffer {
  return block(0x0a, Buffer.concat([u32(type, o), u32(data.length, o), pad4(data)]), o);
}

export function isb(o: Order = 'le'): Buffer {
  return block(5, Buffer.concat([u32(0, o), u32(0, o), u32(0, o)]), o);
}

// ---- running the parser ----

export interface Got {
  frame: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  ifIndex: number;
  linkType: number;
  fileOffset: number;
  fileIndex: number;
  data: string;
}

export function copyView(v: FrameView): Got {
  return {
    frame: v.frame,
    tsSec: v.tsSec,
    tsNsec: v.tsNsec,
    capLen: v.capLen,
    origLen: v.origLen,
    ifIndex: v.ifIndex,
    linkType: v.linkType,
    fileOffset: v.fileOffset,
    fileIndex: v.fileIndex,
    data: v.buf.toString('hex', v.off, v.off + v.capLen),
  };
}

export interface Parsed {
  frames: Got[];
  info: CaptureFileInfo;
  parser: CaptureParser;
}

/** Pushes bytes in chunks of `chunk` (whole buffer when omitted) and finishes. */
export function parseBytes(bytes: Buffer, chunk?: number, name = 'test.pcap', fileIndex = 0): Parsed {
  const frames: Got[] = [];
  const parser = new CaptureParser(name, fileIndex, { onFrame: (v) => frames.push(copyView(v)) });
  const step = chunk ?? Math.max(1, bytes.length);
  for (let i = 0; i < bytes.length; i += step) parser.push(bytes.subarray(i, i + step));
  const info = parser.finish();
  return { frames, info, parser };
}

/** The frame's time as tshark prints frame.time_epoch (9 fraction digits). */
export function epoch(g: { tsSec: number; tsNsec: number }): string {
  return `${g.tsSec}.${String(g.tsNsec).padStart(9, '0')}`;
}
