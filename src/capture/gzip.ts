// Gzip (RFC 1952) inflated with our own member framing: the header is parsed here, the deflate data
// (RFC 1951) goes through zlib's raw inflate, and the trailer (CRC32, ISIZE) is checked here.
//
// Why not node:zlib's gunzip: it checks the trailer inside the same inflate call that produces the
// last output, and on a mismatch it reports the error and drops that output (up to a whole chunk:
// hundreds of frames); trailing garbage after a member is an error too, so a small file gave no
// report at all. zcat and tshark hand out every byte that inflated. Here every inflated byte is
// passed on first; a bad CRC or ISIZE, a cut-short member or trailing garbage becomes `damage` (with
// its byte offset in the compressed file), and the stream then ends normally, so the caller analyses
// everything and names the damage. A deflate error inside the data stays an 'error' (zlib gives no
// output past it). Several members follow one another as gunzip does (RFC 1952 2.2); zero bytes
// after the last member are ignored (tape padding; gzip(1) ignores them too).
import { Duplex, type DuplexOptions } from 'node:stream';
import { createInflateRaw, crc32, type InflateRaw } from 'node:zlib';

/** What went wrong with the gzip framing; `offset` is the byte offset in the compressed input. */
export interface GzipDamage {
  offset: number;
  message: string;
}

/** RFC 1952 2.3.1 FLG bits. */
const FTEXT = 0x01;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;
/** A header longer than this (names without their terminating zero) is not a gzip header. */
const MAX_HEADER = 1024 * 1024;

type GzipHeader = { ok: true; consumed: number } | { ok: false; kind: 'incomplete'; needed: number } | { ok: false; kind: 'malformed'; at: number; reason: string };

/** A zero-terminated field (FNAME, FCOMMENT) from `off`: the offset after its zero, or -1. */
function zeroEnd(b: Uint8Array, off: number, end: number): number {
  for (let i = off; i < end; i++) if (b[i] === 0) return i + 1;
  return -1;
}

/** RFC 1952 2.3: the member header's length (ID1 ID2 CM FLG MTIME XFL OS [XLEN extra] [name] [comment] [CRC16]). */
export function decodeGzipHeader(b: Uint8Array, off: number, end: number): GzipHeader {
  const need = (n: number): GzipHeader => ({ ok: false, kind: 'incomplete', needed: n - (end - off) });
  if (end - off < 10) {
    if (end - off >= 1 && b[off] !== 0x1f) return { ok: false, kind: 'malformed', at: off, reason: 'no gzip magic' };
    if (end - off >= 2 && b[off + 1] !== 0x8b) return { ok: false, kind: 'malformed', at: off, reason: 'no gzip magic' };
    return need(10);
  }
  if (b[off] !== 0x1f || b[off + 1] !== 0x8b) return { ok: false, kind: 'malformed', at: off, reason: 'no gzip magic' };
  if (b[off + 2] !== 8) return { ok: false, kind: 'malformed', at: off + 2, reason: `compression method ${b[off + 2]} (only 8, deflate, exists)` };
  const flg = b[off + 3]!;
  if ((flg & FRESERVED) !== 0) return { ok: false, kind: 'malformed', at: off + 3, reason: `reserved header flags 0x${flg.toString(16)}` };
  void FTEXT;
  let p = off + 10;
  if (flg & FEXTRA) {
    if (end - p < 2) return need(p + 2 - off);
    const xlen = b[p]! | (b[p + 1]! << 8);
    p += 2 + xlen;
    if (p > end) return need(p - off);
  }
  for (const bit of [FNAME, FCOMMENT]) {
    if (flg & bit) {
      const z = zeroEnd(b, p, end);
      if (z < 0) return end - off > MAX_HEADER ? { ok: false, kind: 'malformed', at: p, reason: 'unterminated file name or comment' } : need(end - off + 1);
      p = z;
    }
  }
  if (flg & FHCRC) {
    p += 2;
    if (p > end) return need(p - off);
  }
  return { ok: true, consumed: p - off };
}

type State = 'header' | 'body' | 'trailer' | 'between' | 'done';

/**
 * A drop-in for node:zlib's createGunzip() as this project uses it (write/end, 'data', pause,
 * pipeline): a Duplex of compressed bytes in, inflated bytes out. After the end, `damage` says what
 * was wrong with the framing, if anything; `bytesIn` counts the compressed bytes read.
 */
export class CheckedGunzip extends Duplex {
  damage: GzipDamage | null = null;
  /** Compressed bytes taken in so far (the offset of the next byte). */
  bytesIn = 0;
  private state: State = 'header';
  private head: Buffer = Buffer.alloc(0);
  private inner: InflateRaw | null = null;
  /** Bytes written to the current member's raw inflate, and its offset in the input. */
  private fed = 0;
  private bodyStart = 0;
  private memberStart = 0;
  private crc = 0;
  private isize = 0;
  private readonly trailer = Buffer.alloc(8);
  private trailerLen = 0;
  private innerDone = false;
  /** Work waiting for the current member's inflated bytes to be all out (its 'end'). */
  private afterInner: (() => void) | null = null;
  private finalCb: ((e?: Error | null) => void) | null = null;
  private ended = false;
  /** The callback of the write the raw inflate is working on. */
  private bodyCb: (() => void) | null = null;

  constructor(private readonly zopts: { chunkSize?: number } = {}, opts?: DuplexOptions) {
    super(opts);
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.consume(chunk, 0, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.finalCb = cb;
    switch (this.state) {
      case 'body':
        // The input ended inside the deflate data: the raw inflate says so when ended.
        this.inner!.end();
        return;
      case 'trailer':
        this.whenInnerDone(() => {
          this.setDamage(this.bytesIn, `gzip data cut short in the trailer of the member at compressed byte ${this.memberStart} (${this.trailerLen} of 8 bytes)`);
          this.close();
        });
        return;
      case 'header':
        if (this.head.length > 0) this.setDamage(this.memberStart, `gzip data cut short in the header of the member at compressed byte ${this.memberStart}`);
        this.close();
        return;
      default:
        this.close();
    }
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }

  /** Ends the output once the current member's bytes are all out. */
  private close(): void {
    this.state = 'done';
    if (!this.ended) {
      this.ended = true;
      this.push(null);
    }
    const cb = this.finalCb;
    this.finalCb = null;
    cb?.();
  }

  private setDamage(offset: number, message: string): void {
    this.damage ??= { offset, message };
    this.state = 'done';
  }

  private whenInnerDone(f: () => void): void {
    if (this.inner === null || this.innerDone) f();
    else this.afterInner = f;
  }

  /** Handles `chunk` from `off`; calls cb once it is consumed (or copied where needed). */
  private consume(chunk: Buffer, off: number, cb: (e?: Error | null) => void): void {
    for (;;) {
      if (off >= chunk.length || this.state === 'done') {
        cb();
        return;
      }
      switch (this.state) {
        case 'between': {
          // Zero padding after a member is ignored; anything else must be the next member.
          let i = off;
          while (i < chunk.length && chunk[i] === 0) i++;
          this.bytesIn += i - off;
          off = i;
          if (off < chunk.length) {
            this.state = 'header';
            this.memberStart = this.bytesIn;
          }
          continue;
        }
        case 'header': {
          const before = this.head.length;
          this.head = before === 0 ? Buffer.from(chunk.subarray(off)) : Buffer.concat([this.head, chunk.subarray(off)]);
          const h = decodeGzipHeader(this.head, 0, this.head.length);
          if (!h.ok && h.kind === 'incomplete') {
            this.bytesIn += chunk.length - off;
            cb();
            return;
          }
          if (!h.ok) {
            const at = this.memberStart + h.at;
            this.bytesIn = this.memberStart + this.head.length;
            this.head = Buffer.alloc(0);
            this.setDamage(
              at,
              this.memberStart > 0 && h.reason === 'no gzip magic'
                ? `trailing garbage after the gzip data, from compressed byte ${this.memberStart} (not a gzip member; ignored)`
                : `bad gzip header at compressed byte ${at}: ${h.reason}`,
            );
            cb();
            return;
          }
          const used = h.consumed - before;
          this.bytesIn += used;
          off += used;
          this.head = Buffer.alloc(0);
          this.startMember();
          continue;
        }
        case 'body': {
          const piece = off === 0 ? chunk : chunk.subarray(off);
          this.fed += piece.length;
          const inner = this.inner!;
          // A raw inflate that fails is destroyed without calling back the write in progress:
          // its 'error' handler calls bodyCb instead.
          let called = false;
          const done = (): void => {
            if (called) return;
            called = true;
            this.bodyCb = null;
            cb();
          };
          this.bodyCb = done;
          inner.write(piece, (e) => {
            if (e || called) {
              done();
              return;
            }
            const left = this.fed - inner.bytesWritten;
            if (left <= 0) {
              this.bytesIn += piece.length;
              done();
              return;
            }
            // The deflate data ended inside this piece: the rest is the trailer and what follows.
            called = true;
            this.bodyCb = null;
            this.bytesIn += piece.length - left;
            this.state = 'trailer';
            this.trailerLen = 0;
            this.consume(piece, piece.length - left, cb);
          });
          return;
        }
        case 'trailer': {
          const n = Math.min(8 - this.trailerLen, chunk.length - off);
          chunk.copy(this.trailer, this.trailerLen, off, off + n);
          this.trailerLen += n;
          this.bytesIn += n;
          off += n;
          if (this.trailerLen < 8) continue;
          // RFC 1952 2.3.1: CRC32 and ISIZE (size mod 2^32) of the inflated data, little-endian;
          // checked once every inflated byte of the member is out.
          const rest = off < chunk.length ? Buffer.from(chunk.subarray(off)) : null;
          this.state = 'between';
          this.whenInnerDone(() => {
            this.checkTrailer();
            if (rest !== null && this.state !== 'done') this.consume(rest, 0, cb);
            else cb();
          });
          return;
        }
      }
    }
  }

  private startMember(): void {
    this.state = 'body';
    this.fed = 0;
    this.bodyStart = this.bytesIn;
    this.crc = 0;
    this.isize = 0;
    this.innerDone = false;
    const inner = createInflateRaw(this.zopts);
    this.inner = inner;
    inner.on('data', (c: Buffer) => {
      this.crc = crc32(c, this.crc);
      this.isize = (this.isize + c.length) >>> 0;
      if (!this.push(c)) inner.pause();
    });
    inner.on('end', () => {
      this.innerDone = true;
      const f = this.afterInner;
      this.afterInner = null;
      if (f) f();
      else if (this.finalCb !== null && this.state === 'body') {
        // Ended by end(): the deflate data was complete but no trailer followed.
        this.setDamage(this.bytesIn, `gzip data cut short after the deflate data of the member at compressed byte ${this.memberStart} (no trailer)`);
        this.close();
      }
    });
    inner.on('error', (e: NodeJS.ErrnoException) => {
      this.innerDone = true;
      const cut = this.finalCb !== null && /unexpected end/i.test(e.message);
      const at = this.bodyStart + inner.bytesWritten;
      this.setDamage(
        at,
        cut
          ? `gzip data cut short at compressed byte ${this.bytesIn}, inside the deflate data of the member at compressed byte ${this.memberStart}`
          : `gzip deflate data is corrupt at about compressed byte ${at} (${e.message})`,
      );
      const f = this.afterInner;
      this.afterInner = null;
      f?.();
      this.bodyCb?.();
      this.close();
    });
  }

  private checkTrailer(): void {
    const storedCrc = this.trailer.readUInt32LE(0);
    const storedSize = this.trailer.readUInt32LE(4);
    const at = this.bytesIn - 8;
    if (storedCrc !== this.crc >>> 0) {
      this.setDamage(at, `gzip CRC32 mismatch in the trailer at compressed byte ${at}: stored 0x${hex(storedCrc)}, data 0x${hex(this.crc >>> 0)} (every inflated byte was analysed)`);
    } else if (storedSize !== this.isize) {
      this.setDamage(at + 4, `gzip ISIZE mismatch in the trailer at compressed byte ${at + 4}: stored ${storedSize}, data ${this.isize} (mod 2^32; every inflated byte was analysed)`);
    }
    this.inner = null;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** createGunzip's replacement (see CheckedGunzip). */
export function createCheckedGunzip(opts: { chunkSize?: number } = {}): CheckedGunzip {
  return new CheckedGunzip(opts);
}
