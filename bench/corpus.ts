// The benchmark corpus: a seeded, deterministic capture of a busy link, written in one streaming pass
// as classic pcap and pcapng (and gzipped pcapng after it), never held in memory.
//
// Mix: mostly bulk TLS over TCP 443 (handshake records, then 16 KiB application-data records in
// full-size segments, ACKed every second segment, FIN at the end), DNS queries and answers, ICMP
// echoes, and RDP attempts of every cause of design.md's table: the fixture captures replayed
// re-addressed and re-timed (bench/templates.ts). A SYN-flood corpus (one SYN and its SYN/ACK per
// half-open flow) exercises the flow table's bound.
//
// Same seed, same options, same fixture captures -> byte-identical files.
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { fold, loadTemplates, readdress, sum16, type Template } from './templates.js';

/** Bumped whenever the generator's output changes (cached corpora with another version are rebuilt). */
export const GENERATOR_VERSION = 2;

export type CorpusFormat = 'pcap' | 'pcapng' | 'pcapng.gz';

export interface CorpusOptions {
  seed: number;
  /** Target size of the classic pcap file, bytes (the pcapng one is a little larger). */
  bytes: number;
  /** Output path without extension: <base>.pcap, <base>.pcapng, <base>.pcapng.gz, <base>.json. */
  base: string;
  formats: CorpusFormat[];
  /** Simulated link rate of the bulk traffic, bytes of capture per second (default 5 MB/s). */
  linkRate?: number;
  /** Bulk TLS flows at once (default 32). */
  concurrency?: number;
  /** One round of every RDP template per this many bytes (default 20 MB; at least one round). */
  rdpEvery?: number;
  /** Templates (default: loadTemplates()). */
  templates?: Template[];
}

export interface CorpusFile {
  format: CorpusFormat;
  path: string;
  /** Size on disk. */
  bytes: number;
  /** Size of the capture inside (differs from bytes for gzip). */
  captureBytes: number;
}

export interface CorpusInfo {
  generatorVersion: number;
  seed: number;
  bytesTarget: number;
  linkRate: number;
  concurrency: number;
  rdpEvery: number;
  files: CorpusFile[];
  frames: number;
  /** Frames to or from TCP port 3389 (what `tcpdump 'tcp port 3389'` keeps). */
  rdpPortFrames: number;
  rdpAttempts: number;
  rdpRounds: number;
  templates: string[];
  bulkFlows: number;
  bulkBytes: number;
  dnsQueries: number;
  icmpEchoes: number;
  /** First and last frame time, seconds since the epoch. */
  start: number;
  end: number;
}

// ---------------------------------------------------------------- seeded randomness

/** mulberry32: a small, fast, seedable 32-bit generator; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- output (pcap + pcapng in one pass)

const OUT_CHUNK = 4 * 1024 * 1024;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262144;

/** Appends records to a file through one reused chunk buffer. */
class ChunkFile {
  private readonly fd: number;
  readonly buf = Buffer.allocUnsafe(OUT_CHUNK);
  pos = 0;
  written = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  /** Makes room for n bytes and returns the offset to write them at. */
  reserve(n: number): number {
    if (this.pos + n > this.buf.length) this.flush();
    const at = this.pos;
    this.pos += n;
    return at;
  }

  flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.written += this.pos;
    this.pos = 0;
  }

  close(): number {
    this.flush();
    closeSync(this.fd);
    return this.written;
  }
}

/** Ethernet + IPv4/IPv6 (no extension headers) + TCP with either port 3389: what `tcp port 3389` selects. */
function isTcpPort3389(b: Buffer, len: number): boolean {
  const et = (b[12]! << 8) | b[13]!;
  let l4 = -1;
  if (et === 0x0800 && b[ETH + 9] === 6) l4 = ETH + (b[ETH]! & 15) * 4;
  else if (et === 0x86dd && b[ETH + 6] === 6) l4 = ETH + 40;
  if (l4 < 0 || l4 + 4 > len) return false;
  return ((b[l4]! << 8) | b[l4 + 1]!) === 3389 || ((b[l4 + 2]! << 8) | b[l4 + 3]!) === 3389;
}

export class CorpusWriter {
  frames = 0;
  rdpPortFrames = 0;
  first = -1;
  last = 0;
  private readonly pcap: ChunkFile | null;
  private readonly pcapng: ChunkFile | null;

  constructor(pcapPath: string | null, pcapngPath: string | null) {
    this.pcap = pcapPath ? new ChunkFile(pcapPath) : null;
    this.pcapng = pcapngPath ? new ChunkFile(pcapngPath) : null;
    if (this.pcap) {
      // https://www.tcpdump.org/manpages/pcap-savefile.5.html: microsecond magic, v2.4
      const o = this.pcap.reserve(24);
      const b = this.pcap.buf;
      b.writeUInt32LE(0xa1b2c3d4, o);
      b.writeUInt16LE(2, o + 4);
      b.writeUInt16LE(4, o + 6);
      b.writeUInt32LE(0, o + 8);
      b.writeUInt32LE(0, o + 12);
      b.writeUInt32LE(SNAPLEN, o + 16);
      b.writeUInt32LE(LINKTYPE_ETHERNET, o + 20);
    }
    if (this.pcapng) {
      const f = this.pcapng;
      // draft-ietf-opsawg-pcapng 4.1 Section Header Block (no options), section length unknown
      let o = f.reserve(28);
      f.buf.writeUInt32LE(0x0a0d0d0a, o);
      f.buf.writeUInt32LE(28, o + 4);
      f.buf.writeUInt32LE(0x1a2b3c4d, o + 8);
      f.buf.writeUInt16LE(1, o + 12);
      f.buf.writeUInt16LE(0, o + 14);
      f.buf.writeInt32LE(-1, o + 16);
      f.buf.writeInt32LE(-1, o + 20);
      f.buf.writeUInt32LE(28, o + 24);
      // 4.2 Interface Description Block: Ethernet, default microsecond resolution
      o = f.reserve(20);
      f.buf.writeUInt32LE(1, o);
      f.buf.writeUInt32LE(20, o + 4);
      f.buf.writeUInt16LE(LINKTYPE_ETHERNET, o + 8);
      f.buf.writeUInt16LE(0, o + 10);
      f.buf.writeUInt32LE(SNAPLEN, o + 12);
      f.buf.writeUInt32LE(20, o + 16);
    }
  }

  /** pcap file size so far (what the size target is measured on). */
  get size(): number {
    const f = this.pcap ?? this.pcapng!;
    return f.written + f.pos;
  }

  /** One Ethernet frame at time t (µs since the epoch), taken from src[0, len). */
  frame(t: number, src: Buffer, len: number): void {
    this.frames++;
    if (isTcpPort3389(src, len)) this.rdpPortFrames++;
    if (this.first < 0) this.first = t;
    if (t > this.last) this.last = t;
    const sec = Math.floor(t / 1e6);
    const usec = t - sec * 1e6;
    if (this.pcap) {
      const f = this.pcap;
      const o = f.reserve(16 + len);
      f.buf.writeUInt32LE(sec, o);
      f.buf.writeUInt32LE(usec, o + 4);
      f.buf.writeUInt32LE(len, o + 8);
      f.buf.writeUInt32LE(len, o + 12);
      src.copy(f.buf, o + 16, 0, len);
    }
    if (this.pcapng) {
      // 4.3 Enhanced Packet Block
      const f = this.pcapng;
      const padded = (len + 3) & ~3;
      const total = 32 + padded;
      const o = f.reserve(total);
      const b = f.buf;
      b.writeUInt32LE(6, o);
      b.writeUInt32LE(total, o + 4);
      b.writeUInt32LE(0, o + 8);
      b.writeUInt32LE(Math.floor(t / 0x100000000), o + 12);
      b.writeUInt32LE(t % 0x100000000, o + 16);
      b.writeUInt32LE(len, o + 20);
      b.writeUInt32LE(len, o + 24);
      src.copy(b, o + 28, 0, len);
      b.fill(0, o + 28 + len, o + 28 + padded);
      b.writeUInt32LE(total, o + total - 4);
    }
  }

  close(): { pcap: number; pcapng: number } {
    return { pcap: this.pcap?.close() ?? 0, pcapng: this.pcapng?.close() ?? 0 };
  }
}

// ---------------------------------------------------------------- frame building

export const ETH = 14;
/** Scratch frame: every source builds its frame here, then the writer copies it out. */
export const scratch = Buffer.alloc(65536 + ETH);

export function ethHeader(b: Buffer, etherType: number): void {
  // Locally administered MACs; direction does not matter to any reader.
  b.writeUInt32BE(0x02000000, 0);
  b.writeUInt16BE(0x0001, 4);
  b.writeUInt32BE(0x02000000, 6);
  b.writeUInt16BE(0x0002, 10);
  b.writeUInt16BE(etherType, 12);
}

function ipv4Header(b: Buffer, src: number, dst: number, proto: number, payloadLen: number, id: number, ttl: number): void {
  const o = ETH;
  b[o] = 0x45;
  b[o + 1] = 0;
  b.writeUInt16BE(20 + payloadLen, o + 2);
  b.writeUInt16BE(id & 0xffff, o + 4);
  b.writeUInt16BE(0x4000, o + 6); // DF
  b[o + 8] = ttl;
  b[o + 9] = proto;
  b[o + 10] = 0;
  b[o + 11] = 0;
  b.writeUInt32BE(src >>> 0, o + 12);
  b.writeUInt32BE(dst >>> 0, o + 16);
  const c = fold(sum16(b, o, o + 20));
  b[o + 10] = c >> 8;
  b[o + 11] = c & 255;
}

/** Transport checksum over the IPv4 pseudo-header and b[l4, end) (checksum field at ckOff zeroed first). */
function l4Checksum(b: Buffer, l4: number, end: number, ckOff: number, proto: number): void {
  b[ckOff] = 0;
  b[ckOff + 1] = 0;
  let c = fold(sum16(b, ETH + 12, ETH + 20) + proto + (end - l4) + sum16(b, l4, end));
  if (proto === 17 && c === 0) c = 0xffff;
  b[ckOff] = c >> 8;
  b[ckOff + 1] = c & 255;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/**
 * An Ethernet/IPv4/TCP frame into scratch, payload taken from the TLS stream model; returns its length.
 * SYNs carry MSS, SACK-permitted and window-scale options (RFC 9293 3.2, RFC 2018, RFC 7323).
 */
export function tcpFrame(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  payloadLen: number,
  fill: ((b: Buffer, off: number, len: number) => void) | null,
  id: number,
  ttl: number,
): number {
  const b = scratch;
  const opt = flags & SYN ? 12 : 0;
  const l4 = ETH + 20;
  const hl = 20 + opt;
  ethHeader(b, 0x0800);
  ipv4Header(b, src, dst, 6, hl + payloadLen, id, ttl);
  b.writeUInt16BE(sport, l4);
  b.writeUInt16BE(dport, l4 + 2);
  b.writeUInt32BE(seq >>> 0, l4 + 4);
  b.writeUInt32BE(flags & ACK ? ack >>> 0 : 0, l4 + 8);
  b[l4 + 12] = (hl >> 2) << 4;
  b[l4 + 13] = flags;
  b.writeUInt16BE(flags & SYN ? 64240 : 2053, l4 + 14);
  b[l4 + 18] = 0;
  b[l4 + 19] = 0;
  if (opt) {
    b.writeUInt32BE(0x020405b4, l4 + 20); // MSS 1460
    b.writeUInt32BE(0x01010402, l4 + 24); // NOP NOP SACK-permitted
    b.writeUInt32BE(0x01030308, l4 + 28); // NOP window scale 8
  }
  if (payloadLen > 0 && fill) fill(b, l4 + hl, payloadLen);
  const end = l4 + hl + payloadLen;
  l4Checksum(b, l4, end, l4 + 16, 6);
  return end < 60 ? pad(end) : end;
}

export function pad(end: number): number {
  scratch.fill(0, end, 60);
  return 60;
}

// ---------------------------------------------------------------- sources

export interface Source {
  /** Time of the next frame, µs since the epoch. */
  t: number;
  /** Tie-breaker for equal times (creation order), so the output does not depend on heap internals. */
  readonly order: number;
  /** Writes the frame due at t and advances t; false when the source has no more frames. */
  step(w: CorpusWriter): boolean;
}

export class Heap {
  private readonly a: Source[] = [];
  get size(): number {
    return this.a.length;
  }
  private less(x: Source, y: Source): boolean {
    return x.t < y.t || (x.t === y.t && x.order < y.order);
  }
  push(s: Source): void {
    const a = this.a;
    a.push(s);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Source | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Shared state of one generation run. */
export class Gen {
  full = false;
  order = 0;
  bulkFlows = 0;
  bulkBytes = 0;
  dnsQueries = 0;
  icmpEchoes = 0;
  rdpAttempts = 0;
  /** 1 MiB of seeded random bytes: TLS ciphertext and record bodies are windows of it. */
  readonly pool: Buffer;

  constructor(
    readonly rnd: () => number,
    readonly linkRate: number,
    readonly concurrency: number,
  ) {
    this.pool = Buffer.allocUnsafe(1 << 20);
    for (let i = 0; i < this.pool.length; i += 4) this.pool.writeUInt32LE(Math.floor(rnd() * 4294967296), i);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
}

export const MSS = 1460;
/** TLS 1.2 application data record: 16 KiB plaintext + 8-byte explicit nonce + 16-byte tag (RFC 5246 6.2.3.3, RFC 5288). */
export const APP_RECORD = 5 + 16384 + 24;
/** Server handshake flight (ServerHello, Certificate, ServerKeyExchange, ServerHelloDone) as one record. */
const SERVER_FLIGHT = 3200;
const CLIENT_HELLO = 517;
/** ClientKeyExchange + ChangeCipherSpec + Finished, then one request record. */
const CLIENT_FINISH = [5 + 37, 5 + 1, 5 + 40, 5 + 420];

interface TlsRecord {
  at: number;
  type: number;
  len: number;
}

/**
 * The bytes of one direction of a TLS connection (RFC 5246 6.2.1): records back to back, each a
 * 5-byte header (type, version 3.3, length) and a body of pool bytes. The head records are given;
 * after them the stream repeats records of one type and size.
 */
export class TlsStream {
  private readonly tailStart: number;

  constructor(
    private readonly pool: Buffer,
    private readonly poolOff: number,
    private readonly head: TlsRecord[],
    private readonly tailType: number,
    private readonly tailLen: number,
  ) {
    const last = head[head.length - 1];
    this.tailStart = last ? last.at + last.len : 0;
  }

  /** Writes stream bytes [pos, pos+len) to b at off. */
  fill(b: Buffer, off: number, pos: number, len: number): void {
    const pool = this.pool;
    const base = (this.poolOff + pos) % (pool.length - 65536);
    pool.copy(b, off, base, base + len);
    const end = pos + len;
    // Headers of the records that start in this window or whose header straddles into it.
    let r = this.recordAt(Math.max(0, pos - 4));
    while (r.at < end) {
      for (let i = 0; i < 5; i++) {
        const p = r.at + i;
        if (p >= pos && p < end) b[off + p - pos] = headerByte(r.type, r.len - 5, i);
      }
      r = this.recordAt(r.at + r.len);
    }
  }

  private recordAt(pos: number): TlsRecord {
    if (pos >= this.tailStart) {
      const n = Math.floor((pos - this.tailStart) / this.tailLen);
      return { at: this.tailStart + n * this.tailLen, type: this.tailType, len: this.tailLen };
    }
    for (const r of this.head) if (pos < r.at + r.len) return r;
    return this.head[this.head.length - 1]!;
  }
}

export function headerByte(type: number, bodyLen: number, i: number): number {
  switch (i) {
    case 0:
      return type;
    case 1:
      return 3;
    case 2:
      return 3;
    case 3:
      return (bodyLen >> 8) & 255;
    default:
      return bodyLen & 255;
  }
}

/** One bulk HTTPS download: handshake, client flight, server data, FIN exchange. */
class BulkFlow implements Source {
  t: number;
  readonly order: number;
  private phase = 0;
  private cSeq: number;
  private sSeq: number;
  private cIsn: number;
  private sIsn: number;
  private sent = 0;
  private unacked = 0;
  private clientStep = 0;
  private idC: number;
  private idS: number;
  private readonly interval: number;
  private readonly rtt: number;
  private readonly client: number;
  private readonly server: number;
  private readonly sport: number;
  private readonly size: number;
  private readonly up: TlsStream;
  private readonly down: TlsStream;

  constructor(
    private readonly g: Gen,
    start: number,
    n: number,
  ) {
    this.t = start;
    this.order = g.order++;
    const r = g.rnd;
    this.client = (172 << 24) | (16 << 16) | (((n >> 8) & 255) << 8) | (1 + (n % 250));
    this.server = (198 << 24) | (18 << 16) | (g.int(0, 3) << 8) | g.int(1, 60);
    this.sport = g.int(49152, 65535);
    this.cIsn = this.cSeq = Math.floor(r() * 4294967296);
    this.sIsn = this.sSeq = Math.floor(r() * 4294967296);
    this.idC = g.int(0, 65535);
    this.idS = g.int(0, 65535);
    // Log-uniform download size, 64 KiB .. 16 MiB.
    this.size = Math.floor(Math.exp(Math.log(65536) + r() * (Math.log(16 << 20) - Math.log(65536))));
    const rate = (g.linkRate / g.concurrency) * (0.5 + r());
    this.interval = Math.max(20, Math.round(((MSS + 54 + 16) / rate) * 1e6));
    this.rtt = g.int(4_000, 80_000);
    const upRecords = [{ at: 0, type: 0x16, len: CLIENT_HELLO }];
    let at = CLIENT_HELLO;
    const types = [0x16, 0x14, 0x16, 0x17];
    CLIENT_FINISH.forEach((len, i) => {
      upRecords.push({ at, type: types[i]!, len });
      at += len;
    });
    this.up = new TlsStream(g.pool, g.int(0, 1 << 19), upRecords, 0x17, 5 + 420);
    this.down = new TlsStream(g.pool, g.int(0, 1 << 19), [{ at: 0, type: 0x16, len: SERVER_FLIGHT }, { at: SERVER_FLIGHT, type: 0x14, len: 6 }, { at: SERVER_FLIGHT + 6, type: 0x16, len: 45 }], 0x17, APP_RECORD);
    g.bulkFlows++;
  }

  private cFrame(w: CorpusWriter, flags: number, len: number): void {
    const seq = this.cSeq;
    const pos = (seq - this.cIsn - 1) >>> 0;
    const up = this.up;
    const n = tcpFrame(this.client, this.server, this.sport, 443, seq, this.sSeq, flags, len, len ? (b, o, l) => up.fill(b, o, pos, l) : null, this.idC++, 64);
    w.frame(this.t, scratch, n);
    this.cSeq = (this.cSeq + len + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
  }

  private sFrame(w: CorpusWriter, flags: number, len: number): void {
    const seq = this.sSeq;
    const pos = (seq - this.sIsn - 1) >>> 0;
    const down = this.down;
    const n = tcpFrame(this.server, this.client, 443, this.sport, seq, this.cSeq, flags, len, len ? (b, o, l) => down.fill(b, o, pos, l) : null, this.idS++, 52);
    w.frame(this.t, scratch, n);
    this.sSeq = (this.sSeq + len + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    this.g.bulkBytes += len;
  }

  step(w: CorpusWriter): boolean {
    const half = this.rtt >> 1;
    switch (this.phase) {
      case 0: // SYN
        this.cFrame(w, SYN, 0);
        this.t += half;
        this.phase = 1;
        return true;
      case 1: // SYN/ACK
        this.sFrame(w, SYN | ACK, 0);
        this.t += half;
        this.phase = 2;
        return true;
      case 2: // ACK + ClientHello
        this.cFrame(w, ACK, 0);
        this.t += 30;
        this.phase = 3;
        return true;
      case 3:
        this.cFrame(w, ACK | PSH, CLIENT_HELLO);
        this.t += half;
        this.phase = 4;
        return true;
      case 4: {
        // Server flight: handshake record, ChangeCipherSpec, Finished.
        const flight = SERVER_FLIGHT + 6 + 45;
        const done = (this.sSeq - this.sIsn - 1) >>> 0;
        const len = Math.min(MSS, flight - done);
        this.sFrame(w, ACK | (done + len === flight ? PSH : 0), len);
        if (done + len === flight) {
          this.t += half;
          this.phase = 5;
        } else this.t += 40;
        return true;
      }
      case 5: {
        // Client: ClientKeyExchange, ChangeCipherSpec, Finished, request (one segment each).
        this.cFrame(w, ACK | PSH, CLIENT_FINISH[this.clientStep]!);
        this.clientStep++;
        if (this.clientStep === CLIENT_FINISH.length) {
          this.t += half;
          this.phase = 6;
        } else this.t += 15;
        return true;
      }
      case 6: {
        if (this.g.full) return false; // the capture ends mid-download
        if (this.unacked >= 2) {
          this.cFrame(w, ACK, 0);
          this.unacked = 0;
          this.t += Math.max(1, this.interval >> 2);
          return true;
        }
        const left = this.size - this.sent;
        const len = Math.min(MSS, left);
        this.sFrame(w, ACK | (len < MSS ? PSH : 0), len);
        this.sent += len;
        this.unacked++;
        if (this.sent >= this.size) {
          this.phase = 7;
          this.t += half;
        } else this.t += this.unacked >= 2 ? 40 : this.interval;
        return true;
      }
      case 7:
        this.cFrame(w, ACK, 0);
        this.t += 200;
        this.phase = 8;
        return true;
      case 8:
        this.sFrame(w, FIN | ACK, 0);
        this.t += half;
        this.phase = 9;
        return true;
      case 9:
        this.cFrame(w, FIN | ACK, 0);
        this.t += half;
        this.phase = 10;
        return true;
      default:
        this.sFrame(w, ACK, 0);
        return false;
    }
  }
}

/** Keeps `concurrency` bulk flows running: a finished flow's slot starts the next one. */
export class BulkSlot implements Source {
  t: number;
  readonly order: number;
  private flow: BulkFlow;
  private n: number;

  constructor(
    private readonly g: Gen,
    start: number,
    private readonly slot: number,
  ) {
    this.order = g.order++;
    this.n = slot;
    this.flow = new BulkFlow(g, start, this.n);
    this.t = this.flow.t;
  }

  step(w: CorpusWriter): boolean {
    if (!this.flow.step(w)) {
      if (this.g.full) return false;
      this.n += this.g.concurrency;
      this.flow = new BulkFlow(this.g, this.flow.t + this.g.int(1_000, 200_000), this.n);
    }
    this.t = this.flow.t;
    return true;
  }
}

/** DNS lookups (RFC 1035 4.1): a query and, a few ms later, its answer (one in ten NXDOMAIN). */
class DnsSource implements Source {
  t: number;
  readonly order: number;
  private pending = -1;
  private id = 0;
  private client = 0;
  private sport = 0;
  private name = '';
  private rcode = 0;

  constructor(
    private readonly g: Gen,
    start: number,
  ) {
    this.t = start;
    this.order = g.order++;
  }

  step(w: CorpusWriter): boolean {
    const g = this.g;
    if (g.full) return false;
    const resolver = (172 << 24) | (16 << 16) | 53;
    if (this.pending < 0) {
      this.id = g.int(0, 65535);
      this.client = (172 << 24) | (16 << 16) | (g.int(1, 15) << 8) | g.int(1, 250);
      this.sport = g.int(1024, 65535);
      this.name = `host${g.int(1, 5000)}.example${g.int(1, 40)}.net`;
      this.rcode = g.rnd() < 0.1 ? 3 : 0;
      w.frame(this.t, scratch, dnsFrame(this.client, resolver, this.sport, 53, this.id, this.name, false, 0, 0));
      g.dnsQueries++;
      this.pending = 1;
      this.t += g.int(500, 30_000);
    } else {
      const addr = (198 << 24) | (51 << 16) | (100 << 8) | g.int(1, 250);
      w.frame(this.t, scratch, dnsFrame(resolver, this.client, 53, this.sport, this.id, this.name, true, this.rcode, addr));
      this.pending = -1;
      this.t += g.int(5_000, 100_000);
    }
    return true;
  }
}

function dnsFrame(src: number, dst: number, sport: number, dport: number, id: number, name: string, response: boolean, rcode: number, addr: number): number {
  const b = scratch;
  const l4 = ETH + 20;
  let o = l4 + 8;
  b.writeUInt16BE(id, o);
  b.writeUInt16BE(response ? 0x8180 | rcode : 0x0100, o + 2);
  b.writeUInt16BE(1, o + 4);
  b.writeUInt16BE(response && rcode === 0 ? 1 : 0, o + 6);
  b.writeUInt32BE(0, o + 8);
  o += 12;
  const q = o;
  for (const label of name.split('.')) {
    b[o++] = label.length;
    o += b.write(label, o, 'latin1');
  }
  b[o++] = 0;
  b.writeUInt32BE(0x00010001, o); // type A, class IN
  o += 4;
  if (response && rcode === 0) {
    b.writeUInt16BE(0xc000 | (q - l4 - 8), o); // name: pointer to the question (RFC 1035 4.1.4)
    b.writeUInt32BE(0x00010001, o + 2);
    b.writeUInt32BE(300, o + 6);
    b.writeUInt16BE(4, o + 10);
    b.writeUInt32BE(addr >>> 0, o + 12);
    o += 16;
  }
  const udpLen = o - l4;
  ethHeader(b, 0x0800);
  ipv4Header(b, src, dst, 17, udpLen, id, response ? 63 : 64);
  b.writeUInt16BE(sport, l4);
  b.writeUInt16BE(dport, l4 + 2);
  b.writeUInt16BE(udpLen, l4 + 4);
  l4Checksum(b, l4, o, l4 + 6, 17);
  return o < 60 ? pad(o) : o;
}

/** ICMP echo request and reply (RFC 792) between monitoring hosts. */
class IcmpSource implements Source {
  t: number;
  readonly order: number;
  private seq = 0;
  private reply = false;

  constructor(
    private readonly g: Gen,
    start: number,
  ) {
    this.t = start;
    this.order = g.order++;
  }

  step(w: CorpusWriter): boolean {
    const g = this.g;
    if (g.full) return false;
    const a = (172 << 24) | (16 << 16) | (9 << 8) | 9;
    const b = (198 << 24) | (18 << 16) | (this.seq % 60) + 1;
    const b0 = scratch;
    const l4 = ETH + 20;
    const len = 8 + 56;
    ethHeader(b0, 0x0800);
    ipv4Header(b0, this.reply ? b : a, this.reply ? a : b, 1, len, this.seq, this.reply ? 60 : 64);
    b0[l4] = this.reply ? 0 : 8;
    b0[l4 + 1] = 0;
    b0.writeUInt16BE(0x4242, l4 + 4);
    b0.writeUInt16BE(this.seq & 0xffff, l4 + 6);
    g.pool.copy(b0, l4 + 8, 4096, 4096 + 56);
    b0[l4 + 2] = 0;
    b0[l4 + 3] = 0;
    const c = fold(sum16(b0, l4, l4 + len));
    b0[l4 + 2] = c >> 8;
    b0[l4 + 3] = c & 255;
    w.frame(this.t, b0, l4 + len);
    if (this.reply) {
      this.seq++;
      g.icmpEchoes++;
      this.t += g.int(50_000, 400_000);
    } else this.t += g.int(1_000, 40_000);
    this.reply = !this.reply;
    return true;
  }
}

/** One replay of a template: its frames re-addressed for instance k, shifted to start at `start`. */
export class RdpAttempt implements Source {
  t: number;
  readonly order: number;
  private i = 0;
  private readonly index: Map<string, number>;

  constructor(
    g: Gen,
    private readonly tpl: Template,
    private readonly start: number,
    private readonly k: number,
  ) {
    this.order = g.order++;
    this.t = start + (tpl.frames[0]?.dt ?? 0);
    this.index = new Map(tpl.addresses.map((a, j) => [a, j]));
    g.rdpAttempts++;
  }

  step(w: CorpusWriter): boolean {
    const f = this.tpl.frames[this.i++];
    if (!f) return false;
    const ip = scratch.subarray(ETH, ETH + f.ip.length);
    f.ip.copy(ip);
    readdress(ip, this.index, this.k);
    ethHeader(scratch, (f.ip[0]! >> 4) === 6 ? 0x86dd : 0x0800);
    const n = ETH + f.ip.length;
    w.frame(this.t, scratch, n < 60 ? pad(n) : n);
    const next = this.tpl.frames[this.i];
    if (!next) return false;
    this.t = this.start + next.dt;
    return true;
  }
}

// ---------------------------------------------------------------- entry points

function sameOptions(a: CorpusInfo, o: Required<Omit<CorpusOptions, 'templates' | 'base' | 'formats'>>): boolean {
  return (
    a.generatorVersion === GENERATOR_VERSION &&
    a.seed === o.seed &&
    a.bytesTarget === o.bytes &&
    a.linkRate === o.linkRate &&
    a.concurrency === o.concurrency &&
    a.rdpEvery === o.rdpEvery
  );
}

export function pathOf(base: string, f: CorpusFormat): string {
  return `${base}.${f}`;
}

/**
 * Runs the sources in time order until the capture reaches `bytes` (then lets them end), closes the
 * writer, and gzips the pcapng when asked: the files written. Shared by every corpus generator.
 */
export async function drainInto(heap: Heap, g: Gen, w: CorpusWriter, bytes: number, base: string, formats: CorpusFormat[]): Promise<CorpusFile[]> {
  for (;;) {
    const s = heap.pop();
    if (!s) break;
    if (s.step(w)) heap.push(s);
    if (!g.full && w.size >= bytes) g.full = true;
  }
  const sizes = w.close();
  const files: CorpusFile[] = [];
  if (formats.includes('pcap')) files.push({ format: 'pcap', path: pathOf(base, 'pcap'), bytes: sizes.pcap, captureBytes: sizes.pcap });
  if (formats.includes('pcapng') || formats.includes('pcapng.gz')) files.push({ format: 'pcapng', path: pathOf(base, 'pcapng'), bytes: sizes.pcapng, captureBytes: sizes.pcapng });
  if (formats.includes('pcapng.gz')) {
    const gz = pathOf(base, 'pcapng.gz');
    await pipeline(createReadStream(pathOf(base, 'pcapng'), { highWaterMark: 1 << 20 }), createGzip({ level: 6 }), createWriteStream(gz));
    files.push({ format: 'pcapng.gz', path: gz, bytes: statSync(gz).size, captureBytes: sizes.pcapng });
  }
  return files;
}

/** Returns the corpus described by <base>.json when it was made with these options and its files are intact. */
export function cachedCorpus(o: CorpusOptions): CorpusInfo | null {
  const meta = `${o.base}.json`;
  if (!existsSync(meta)) return null;
  try {
    const info = JSON.parse(readFileSync(meta, 'utf8')) as CorpusInfo;
    if (!sameOptions(info, withDefaults(o))) return null;
    for (const f of o.formats) {
      const rec = info.files.find((x) => x.format === f);
      if (!rec || !existsSync(rec.path) || statSync(rec.path).size !== rec.bytes) return null;
    }
    return info;
  } catch {
    return null;
  }
}

function withDefaults(o: CorpusOptions): Required<Omit<CorpusOptions, 'templates' | 'base' | 'formats'>> {
  return {
    seed: o.seed,
    bytes: o.bytes,
    linkRate: o.linkRate ?? 5_000_000,
    concurrency: o.concurrency ?? 32,
    rdpEvery: o.rdpEvery ?? 20_000_000,
  };
}

/** Writes the corpus (streaming) and <base>.json describing it. */
export async function generateCorpus(o: CorpusOptions): Promise<CorpusInfo> {
  const d = withDefaults(o);
  const templates = o.templates ?? (await loadTemplates());
  if (templates.length === 0) throw new Error('no RDP templates (fixtures/captures is empty)');
  const rnd = mulberry32(d.seed);
  const g = new Gen(rnd, d.linkRate, d.concurrency);
  const wantPcap = o.formats.includes('pcap');
  const wantNg = o.formats.includes('pcapng') || o.formats.includes('pcapng.gz');
  const w = new CorpusWriter(wantPcap ? pathOf(o.base, 'pcap') : null, wantNg ? pathOf(o.base, 'pcapng') : null);
  // Capture time: the fixtures' own (certificate dates are judged against it).
  const t0 = Math.min(...templates.map((t) => t.start));
  const span = (d.bytes / d.linkRate) * 1e6;
  const heap = new Heap();
  for (let s = 0; s < d.concurrency; s++) heap.push(new BulkSlot(g, t0 + g.int(0, 300_000), s));
  heap.push(new DnsSource(g, t0 + g.int(0, 50_000)));
  heap.push(new IcmpSource(g, t0 + g.int(0, 50_000)));
  const rounds = Math.max(1, Math.round(d.bytes / d.rdpEvery));
  let k = 1;
  for (let r = 0; r < rounds; r++) {
    for (const tpl of templates) {
      // Started where the whole attempt fits inside the bulk traffic's span when it can.
      const room = Math.max(0, span * 0.95 - tpl.duration);
      heap.push(new RdpAttempt(g, tpl, t0 + Math.floor(rnd() * room), k++));
    }
  }
  const files = await drainInto(heap, g, w, d.bytes, o.base, o.formats);
  const info: CorpusInfo = {
    generatorVersion: GENERATOR_VERSION,
    seed: d.seed,
    bytesTarget: d.bytes,
    linkRate: d.linkRate,
    concurrency: d.concurrency,
    rdpEvery: d.rdpEvery,
    files,
    frames: w.frames,
    rdpPortFrames: w.rdpPortFrames,
    rdpAttempts: g.rdpAttempts,
    rdpRounds: rounds,
    templates: templates.map((t) => t.name),
    bulkFlows: g.bulkFlows,
    bulkBytes: g.bulkBytes,
    dnsQueries: g.dnsQueries,
    icmpEchoes: g.icmpEchoes,
    start: w.first / 1e6,
    end: w.last / 1e6,
  };
  writeFileSync(`${o.base}.json`, JSON.stringify(info, null, 2) + '\n');
  return info;
}

/** The corpus for these options: cached when intact, generated otherwise. */
export async function ensureCorpus(o: CorpusOptions): Promise<CorpusInfo> {
  return cachedCorpus(o) ?? generateCorpus(o);
}

// ---------------------------------------------------------------- SYN flood

export interface SynFloodInfo {
  generatorVersion: number;
  seed: number;
  flows: number;
  path: string;
  bytes: number;
  frames: number;
}

/**
 * A SYN flood against one RDP server: `flows` SYNs from distinct spoofed sources, each answered by a
 * SYN/ACK 500 µs later and never completed (half-open), 10 µs apart. Classic pcap.
 */
export function generateSynFlood(o: { seed: number; flows: number; path: string }): SynFloodInfo {
  const meta = `${o.path}.json`;
  if (existsSync(meta) && existsSync(o.path)) {
    try {
      const info = JSON.parse(readFileSync(meta, 'utf8')) as SynFloodInfo;
      if (info.generatorVersion === GENERATOR_VERSION && info.seed === o.seed && info.flows === o.flows && statSync(o.path).size === info.bytes) return info;
    } catch {
      // rebuilt below
    }
  }
  const rnd = mulberry32(o.seed);
  const w = new CorpusWriter(o.path, null);
  const server = (10 << 24) | (20 << 16) | 15;
  const t0 = 1773133200 * 1e6;
  const lag = 50; // SYN/ACK after 50 more SYNs (500 µs)
  const ports = new Uint16Array(lag);
  const isns = new Uint32Array(lag);
  const srcOf = (i: number): number => (11 << 24) + 1 + i; // 11.0.0.1 onward: one source per flow
  for (let i = 0; i < o.flows + lag; i++) {
    const t = t0 + i * 10;
    const j = i - lag;
    // The flow answered now shares its ring slot with the one starting now: read it first.
    const jPort = ports[i % lag]!;
    const jIsn = isns[i % lag]!;
    if (i < o.flows) {
      const port = 1024 + Math.floor(rnd() * 64000);
      const isn = Math.floor(rnd() * 4294967296);
      ports[i % lag] = port;
      isns[i % lag] = isn;
      w.frame(t, scratch, tcpFrame(srcOf(i), server, port, 3389, isn, 0, SYN, 0, null, i, 57));
    }
    if (j >= 0) {
      w.frame(t + 5, scratch, tcpFrame(server, srcOf(j), 3389, jPort, Math.floor(rnd() * 4294967296), (jIsn + 1) >>> 0, SYN | ACK, 0, null, j, 128));
    }
  }
  const sizes = w.close();
  const info: SynFloodInfo = { generatorVersion: GENERATOR_VERSION, seed: o.seed, flows: o.flows, path: o.path, bytes: sizes.pcap, frames: w.frames };
  writeFileSync(meta, JSON.stringify(info, null, 2) + '\n');
  return info;
}
