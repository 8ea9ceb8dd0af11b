// Push-based capture parser: classic pcap and pcapng bytes in, one reused FrameView per record out.
// Byte order is decided once per file (pcap) or section (pcapng): each has its own specialised loop.

import type { CaptureFileInfo, CaptureSink, FrameView, InterfaceInfo } from './types.js';
import { LinkType, MAX_TIME_SECONDS, timeInRange } from './types.js';
import { MAX_CAP_LEN, PCAP_HEADER_LEN, PCAP_RECORD_HEADER_LEN, decodePcapHeader, pcapMagic } from './pcap.js';
import {
  BT_CB_COPY,
  BT_CB_NOCOPY,
  BT_DSB,
  BT_EPB,
  BT_IDB,
  BT_NRB,
  BT_PB,
  BT_SHB,
  BT_SPB,
  BT_SYSTEMD_JOURNAL,
  MAX_BLOCK_LEN,
  MIN_BLOCK_LEN,
  MIN_DSB_LEN,
  MIN_EPB_LEN,
  MIN_IDB_LEN,
  MIN_PB_LEN,
  MIN_SHB_LEN,
  MIN_SPB_LEN,
  decodeDsb,
  decodeIdb,
  decodeNrb,
  rd16,
  rd32,
  shbByteOrder,
  splitTimestamp,
  tsUnits,
  type TsUnits,
} from './pcapng.js';

const enum State {
  Magic,
  Pcap,
  Pcapng,
  Stopped,
}

/** At most this many warnings are kept per file (then one "suppressed" note). */
export const MAX_WARNINGS = 100;
/** At most this many NRB entries are kept per file. */
export const MAX_NAME_RECORDS = 65536;
/** At most this many bytes of DSB secrets are kept per file. */
export const MAX_SECRETS_BYTES = 64 * 1024 * 1024;

/** The first record-loop calls read at most this many bytes (CaptureParser.warmStop), at most WARM_CALLS of them. */
const WARM_SLICE = 32 * 1024;
const WARM_CALLS = 3;

const KNOWN_LINK_TYPES = new Set<number>(Object.values(LinkType));

/** One interface of the current pcapng section, with its precomputed timestamp units. */
interface Iface {
  linkType: number;
  snapLen: number;
  units: TsUnits;
}

function hex32(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}

function firstBytes(b: Uint8Array, o: number, end: number): string {
  const parts: string[] = [];
  for (let i = o; i < end && i < o + 4; i++) parts.push(b[i]!.toString(16).padStart(2, '0'));
  return parts.join(' ');
}

/**
 * Feed the bytes of one capture file in order (push for chunks you do not own, feed for a buffer you own
 * and keep); sink.onFrame receives one reused FrameView per record. Bad bytes never throw: they become
 * info.damage and the parser stops. finish() at the end of input turns a partial last record into damage.
 */
export class CaptureParser {
  readonly info: CaptureFileInfo;
  /**
   * Total byte length of the unit (file header, record or block) the parser is waiting for when the last
   * call stopped short of the end: present at least that many bytes from the returned offset.
   */
  needed = 4;

  private state: State = State.Magic;
  private readonly view: FrameView;
  private readonly sink: CaptureSink;
  /** File offset of the next unconsumed byte. */
  private pos = 0;
  private frames = 0;
  private firstTs = true;
  private lastSec = 0;
  private lastNsec = 0;
  /** Set when a time base or a frame's time is out of range: the span is not reported (issue 19). */
  private timesOutOfRange = false;
  private header = false;
  // Classic pcap.
  private pcapLe = true;
  private pcapFracMul = 1000;
  private pcapLinkType = 0;
  private pcapSnapLen = 0;
  private pcapWarnedSnap = false;
  // pcapng: current section.
  private le = true;
  private ifaces: Iface[] = [];
  private sections = 0;
  private secretsBytes = 0;
  private countedNonPacket = false;
  private resume = false;
  // Carry: the partial unit that straddles pushed chunks.
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  private readonly tsOut = { tsSec: 0, tsNsec: 0 };
  /** Record-loop calls still cut to WARM_SLICE (warmStop). */
  private warmCalls = WARM_CALLS;

  constructor(file: string, fileIndex: number, sink: CaptureSink) {
    this.sink = sink;
    this.info = {
      file,
      fileIndex,
      format: 'pcap',
      gzip: false,
      littleEndian: true,
      nanosecond: false,
      interfaces: [],
      frames: 0,
      bytes: 0,
      start: null,
      end: null,
      names: [],
      secrets: [],
      damage: null,
      warnings: [],
    };
    this.view = {
      buf: this.carry,
      off: 0,
      capLen: 0,
      origLen: 0,
      frame: 0,
      fileIndex,
      ifIndex: 0,
      linkType: 0,
      tsSec: 0,
      tsNsec: 0,
      fileOffset: 0,
    };
  }

  /** True after damage: nothing more is parsed or emitted. */
  get stopped(): boolean {
    return this.state === State.Stopped;
  }

  /** True once a valid file header (pcap) or first Section Header Block (pcapng) was read. */
  get headerSeen(): boolean {
    return this.header;
  }

  /** Bytes held back because they start a record not yet complete. */
  get pending(): number {
    return this.carryLen;
  }

  /** Parses a chunk it does not own: complete records are read in place, a straddling one is carried. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    let off = 0;
    const end = chunk.length;
    while (this.carryLen > 0) {
      const want = this.needed;
      const take = Math.min(want - this.carryLen, end - off);
      if (take > 0) {
        this.appendCarry(chunk, off, take);
        off += take;
      }
      if (this.carryLen < want) return;
      const used = this.consume(this.carry, 0, this.carryLen);
      if (this.stopped) return;
      if (used === 0 && this.needed <= this.carryLen) {
        this.damage(this.pos, `parser made no progress on a ${this.carryLen}-byte unit (internal error)`);
        return;
      }
      if (used === this.carryLen) {
        this.carryLen = 0;
      } else if (used > 0) {
        this.carry.copyWithin(0, used, this.carryLen);
        this.carryLen -= used;
      }
    }
    if (off >= end) return;
    const next = this.consume(chunk, off, end);
    if (this.stopped) return;
    if (next < end) this.appendCarry(chunk, next, end - next);
  }

  /**
   * Parses complete records of buf[off, end), a buffer the caller owns and keeps unchanged during the call
   * (views point into it). Returns the offset where an incomplete unit starts (end when none): present
   * those bytes again, followed by more, on the next call; needed says how many that unit takes.
   * Only valid while nothing is carried (pending === 0), i.e. when not mixed with push.
   */
  feed(buf: Buffer, off: number, end: number): number {
    if (this.state === State.Stopped) return end;
    if (this.carryLen > 0) {
      this.push(buf.subarray(off, end));
      return end;
    }
    return this.consume(buf, off, end);
  }

  /** Records damage at the unit being assembled (e.g. the gzip stream broke), unless damage is already set. */
  fail(message: string): void {
    if (this.state === State.Stopped) return;
    this.damage(this.pos, message);
  }

  /** End of input: a partial unit becomes damage. Returns info (final). */
  finish(): CaptureFileInfo {
    if (this.state !== State.Stopped && this.carryLen > 0) {
      const n = this.carryLen;
      const c = this.carry;
      let msg: string;
      if (this.state === State.Magic) {
        msg = `file too short for a capture header (${n} bytes)`;
      } else if (this.state === State.Pcap) {
        msg =
          n < PCAP_RECORD_HEADER_LEN
            ? `truncated record: header cut after ${n} of ${PCAP_RECORD_HEADER_LEN} bytes`
            : `truncated record: ${n} of ${this.needed} bytes present (capLen ${this.needed - PCAP_RECORD_HEADER_LEN})`;
      } else if (n < MIN_BLOCK_LEN) {
        msg = `truncated block: header cut after ${n} of ${MIN_BLOCK_LEN} bytes`;
      } else {
        const type = rd32(c, 0, this.le);
        msg = `truncated block: block type ${hex32(type)} has total length ${this.needed} but only ${n} bytes remain`;
      }
      this.damage(this.pos, msg);
      this.info.bytes = this.pos + n;
    }
    this.carryLen = 0;
    this.syncInfo();
    return this.info;
  }

  // ---------------------------------------------------------------------------------------------------

  private appendCarry(src: Buffer, off: number, n: number): void {
    const need = this.carryLen + n;
    if (need > this.carry.length) {
      // Grow geometrically with the bytes that actually arrived, never to an announced length at once.
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(this.carry.length * 2, MAX_BLOCK_LEN), 256));
      this.carry.copy(grown, 0, 0, this.carryLen);
      this.carry = grown;
    }
    src.copy(this.carry, this.carryLen, off, off + n);
    this.carryLen = need;
  }

  private syncInfo(): void {
    const info = this.info;
    info.frames = this.frames;
    if (this.pos > info.bytes) info.bytes = this.pos;
    if (!this.firstTs) info.end = this.lastSec + this.lastNsec / 1e9;
    if (this.timesOutOfRange) {
      info.start = null;
      info.end = null;
    }
  }

  /** One warning per file: its times cannot be shown, and the capture's span is left out. */
  private outOfRange(why: string, frame = this.frames + 1): void {
    if (this.timesOutOfRange) return;
    this.timesOutOfRange = true;
    this.info.start = null;
    this.info.end = null;
    const message = `${why}: times are out of range, the capture's start and end are not reported`;
    if (this.info.warnings.length < MAX_WARNINGS) this.info.warnings.push({ file: this.info.file, offset: this.pos, frame, message });
  }

  private damage(offset: number, message: string): void {
    this.info.damage = { file: this.info.file, offset, frame: this.frames + 1, message };
    this.state = State.Stopped;
    this.syncInfo();
  }

  private warn(offset: number, message: string): void {
    const w = this.info.warnings;
    if (w.length < MAX_WARNINGS) {
      w.push({ file: this.info.file, offset, frame: this.frames + 1, message });
    } else if (w.length === MAX_WARNINGS) {
      w.push({ file: this.info.file, offset, frame: this.frames + 1, message: 'further warnings suppressed' });
    }
  }

  /** Dispatches on the state; returns the offset of the first unconsumed byte. */
  private consume(buf: Buffer, off: number, end: number): number {
    for (;;) {
      switch (this.state) {
        case State.Magic: {
          off = this.readMagic(buf, off, end);
          if (this.state === State.Magic) return off;
          continue;
        }
        case State.Pcap: {
          const stop = this.warmStop(off, end);
          off = this.pcapLe ? this.pcapLoopLE(buf, off, stop) : this.pcapLoopBE(buf, off, stop);
          this.syncInfo();
          if (this.stopped) return end;
          if (stop < end) continue;
          return off;
        }
        case State.Pcapng: {
          this.resume = false;
          const stop = this.warmStop(off, end);
          off = this.le ? this.ngLoopLE(buf, off, stop) : this.ngLoopBE(buf, off, stop);
          this.syncInfo();
          if (this.stopped) return end;
          // A loop returns right after an SHB (the byte order may have changed): dispatch again.
          if (this.resume && this.state === State.Pcapng) continue;
          if (stop < end) continue;
          return off;
        }
        default:
          return end;
      }
    }
  }

  /**
   * Where the record loop's call stops: before the first frame, a short slice (WARM_SLICE), so that
   * the loop's first call runs to its exit before V8 optimises the loop in the middle of a long first
   * buffer (on-stack replacement); an optimised loop whose exit had never run was deoptimised there
   * and compiled again, with the whole per-frame path it inlines (issue 16, warm-up). The rest of the
   * buffer is read by the next call; frames, offsets and `needed` are the same. At most WARM_CALLS
   * such calls (a pcapng file's first call ends at its Section Header Block; a unit longer than the
   * slice is read by the next, whole call).
   */
  private warmStop(off: number, end: number): number {
    if (this.warmCalls === 0 || end - off <= WARM_SLICE) return end;
    this.warmCalls--;
    return off + WARM_SLICE;
  }

  /** File magic and (pcap) header. Returns off when more bytes are needed. */
  private readMagic(buf: Buffer, off: number, end: number): number {
    if (end - off < 4) {
      this.needed = 4;
      return off;
    }
    if (rd32(buf, off, true) === BT_SHB) {
      this.state = State.Pcapng;
      this.info.format = 'pcapng';
      this.needed = MIN_BLOCK_LEN;
      return off;
    }
    const m = pcapMagic(buf, off);
    if (m === null) {
      const gz = buf[off] === 0x1f && buf[off + 1] === 0x8b ? ' (gzip data: decompress first)' : '';
      this.damage(this.pos, `not a pcap or pcapng file (starts with ${firstBytes(buf, off, end)})${gz}`);
      return end;
    }
    if (end - off < PCAP_HEADER_LEN) {
      this.needed = PCAP_HEADER_LEN;
      return off;
    }
    const h = decodePcapHeader(buf, off)!;
    this.info.format = 'pcap';
    this.info.littleEndian = h.littleEndian;
    this.info.nanosecond = h.nanosecond;
    this.info.interfaces.push({
      fileIndex: this.info.fileIndex,
      ifIndex: 0,
      linkType: h.linkType,
      snapLen: h.snapLen,
      name: null,
      tsUnitsPerSec: h.nanosecond ? 1e9 : 1e6,
    });
    this.pcapLe = h.littleEndian;
    this.pcapFracMul = h.nanosecond ? 1 : 1000;
    this.pcapLinkType = h.linkType;
    this.pcapSnapLen = h.snapLen;
    this.view.linkType = h.linkType;
    this.view.ifIndex = 0;
    if (h.versionMajor !== 2) this.warn(this.pos, `pcap version ${h.versionMajor}.${h.versionMinor} (expected 2.4)`);
    if (!KNOWN_LINK_TYPES.has(h.linkType)) this.warn(this.pos, `unknown link type ${h.linkType}`);
    this.header = true;
    this.state = State.Pcap;
    this.needed = PCAP_RECORD_HEADER_LEN;
    this.pos += PCAP_HEADER_LEN;
    return off + PCAP_HEADER_LEN;
  }

  private noteTime(sec: number, nsec: number): void {
    // (pcapng only: a classic pcap's 32-bit seconds are always in range.) Called once the frame is counted.
    if (sec > MAX_TIME_SECONDS || sec < -MAX_TIME_SECONDS) this.outOfRange(`frame ${this.frames} has a timestamp of ${sec} s from 1970`, this.frames);
    if (this.firstTs) {
      this.firstTs = false;
      if (!this.timesOutOfRange) this.info.start = sec + nsec / 1e9;
    }
    this.lastSec = sec;
    this.lastNsec = nsec;
  }

  /** Writes a pcap loop's locals back (frame0: the frame count when the loop started). */
  private pcapSave(frame0: number, frame: number, pos: number, sec: number, nsec: number): void {
    if (frame > frame0) {
      this.lastSec = sec;
      this.lastNsec = nsec;
    }
    this.frames = frame;
    this.pos = pos;
  }

  private pcapBadCapLen(capLen: number): void {
    this.damage(this.pos, `record capLen ${capLen} is larger than the maximum ${MAX_CAP_LEN}`);
  }

  private pcapCapOverSnap(capLen: number): void {
    this.pcapWarnedSnap = true;
    this.warn(this.pos, `record capLen ${capLen} exceeds the file's snaplen ${this.pcapSnapLen}`);
  }

  // Classic pcap records (draft-ietf-opsawg-pcap 5), little-endian file.
  private pcapLoopLE(buf: Buffer, off: number, end: number): number {
    const v = this.view;
    const sink = this.sink;
    const mul = this.pcapFracMul;
    let snap = this.pcapWarnedSnap || this.pcapSnapLen === 0 ? 0xffffffff : this.pcapSnapLen;
    const frame0 = this.frames;
    let frame = frame0;
    let pos = this.pos;
    let sec = 0;
    let nsec = 0;
    // Stored once at the one exit (a store the first call has run: no deoptimisation when the loop ends).
    let needed = 16;
    v.buf = buf;
    while (end - off >= 16) {
      const capLen = (buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16)) + buf[off + 11]! * 0x1000000;
      if (capLen > MAX_CAP_LEN) {
        this.pcapSave(frame0, frame, pos, sec, nsec);
        this.pcapBadCapLen(capLen);
        return end;
      }
      const total = 16 + capLen;
      if (end - off < total) {
        needed = total;
        break;
      }
      sec = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x1000000;
      nsec = ((buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16)) + buf[off + 7]! * 0x1000000) * mul;
      if (nsec >= 1e9) {
        const carry = Math.floor(nsec / 1e9);
        sec += carry;
        nsec -= carry * 1e9;
      }
      if (capLen > snap) {
        this.pcapSave(frame0, frame, pos, sec, nsec);
        this.pcapCapOverSnap(capLen);
        snap = 0xffffffff;
      }
      v.off = off + 16;
      v.capLen = capLen;
      v.origLen = (buf[off + 12]! | (buf[off + 13]! << 8) | (buf[off + 14]! << 16)) + buf[off + 15]! * 0x1000000;
      v.frame = ++frame;
      v.tsSec = sec;
      v.tsNsec = nsec;
      v.fileOffset = pos;
      if (frame === 1) this.noteTime(sec, nsec);
      sink.onFrame(v);
      off += total;
      pos += total;
    }
    this.needed = needed;
    this.pcapSave(frame0, frame, pos, sec, nsec);
    return off;
  }

  // Classic pcap records, big-endian file.
  private pcapLoopBE(buf: Buffer, off: number, end: number): number {
    const v = this.view;
    const sink = this.sink;
    const mul = this.pcapFracMul;
    let snap = this.pcapWarnedSnap || this.pcapSnapLen === 0 ? 0xffffffff : this.pcapSnapLen;
    const frame0 = this.frames;
    let frame = frame0;
    let pos = this.pos;
    let sec = 0;
    let nsec = 0;
    // Stored once at the one exit (a store the first call has run: no deoptimisation when the loop ends).
    let needed = 16;
    v.buf = buf;
    while (end - off >= 16) {
      const capLen = buf[off + 8]! * 0x1000000 + ((buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!);
      if (capLen > MAX_CAP_LEN) {
        this.pcapSave(frame0, frame, pos, sec, nsec);
        this.pcapBadCapLen(capLen);
        return end;
      }
      const total = 16 + capLen;
      if (end - off < total) {
        needed = total;
        break;
      }
      sec = buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
      nsec = (buf[off + 4]! * 0x1000000 + ((buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!)) * mul;
      if (nsec >= 1e9) {
        const carry = Math.floor(nsec / 1e9);
        sec += carry;
        nsec -= carry * 1e9;
      }
      if (capLen > snap) {
        this.pcapSave(frame0, frame, pos, sec, nsec);
        this.pcapCapOverSnap(capLen);
        snap = 0xffffffff;
      }
      v.off = off + 16;
      v.capLen = capLen;
      v.origLen = buf[off + 12]! * 0x1000000 + ((buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!);
      v.frame = ++frame;
      v.tsSec = sec;
      v.tsNsec = nsec;
      v.fileOffset = pos;
      if (frame === 1) this.noteTime(sec, nsec);
      sink.onFrame(v);
      off += total;
      pos += total;
    }
    this.needed = needed;
    this.pcapSave(frame0, frame, pos, sec, nsec);
    return off;
  }

  // pcapng, little-endian section: Enhanced Packet Blocks (pcapng 4.3) inline, other blocks via ngBlock.
  private ngLoopLE(buf: Buffer, off: number, end: number): number {
    const v = this.view;
    const sink = this.sink;
    const ts = this.tsOut;
    let ifaces = this.ifaces;
    // Stored once at the loop's exit (see pcapLoopLE).
    let needed = MIN_BLOCK_LEN;
    while (end - off >= 12) {
      const type = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16)) + buf[off + 3]! * 0x1000000;
      const len = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16)) + buf[off + 7]! * 0x1000000;
      if (type === BT_EPB && len >= MIN_EPB_LEN && (len & 3) === 0 && len <= MAX_BLOCK_LEN) {
        if (end - off < len) {
          needed = len;
          break;
        }
        const t = off + len - 4;
        const ifId = (buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16)) + buf[off + 11]! * 0x1000000;
        const capLen = (buf[off + 20]! | (buf[off + 21]! << 8) | (buf[off + 22]! << 16)) + buf[off + 23]! * 0x1000000;
        if (
          (buf[t]! | (buf[t + 1]! << 8) | (buf[t + 2]! << 16)) + buf[t + 3]! * 0x1000000 !== len ||
          ifId >= ifaces.length ||
          capLen > len - MIN_EPB_LEN ||
          capLen > MAX_CAP_LEN
        ) {
          this.epbDamage(buf, off, len, ifId, capLen);
          return end;
        }
        const iface = ifaces[ifId]!;
        splitTimestamp(
          (buf[off + 12]! | (buf[off + 13]! << 8) | (buf[off + 14]! << 16)) + buf[off + 15]! * 0x1000000,
          (buf[off + 16]! | (buf[off + 17]! << 8) | (buf[off + 18]! << 16)) + buf[off + 19]! * 0x1000000,
          iface.units,
          ts,
        );
        v.buf = buf;
        v.off = off + 28;
        v.capLen = capLen;
        v.origLen = (buf[off + 24]! | (buf[off + 25]! << 8) | (buf[off + 26]! << 16)) + buf[off + 27]! * 0x1000000;
        v.frame = ++this.frames;
        v.ifIndex = ifId;
        v.linkType = iface.linkType;
        v.tsSec = ts.tsSec;
        v.tsNsec = ts.tsNsec;
        v.fileOffset = this.pos;
        this.noteTime(ts.tsSec, ts.tsNsec);
        sink.onFrame(v);
        off += len;
        this.pos += len;
        continue;
      }
      const r = this.ngBlock(buf, off, end, type);
      if (r <= 0) return r === 0 ? off : end;
      off += r;
      if (type === BT_SHB) {
        this.resume = true;
        return off;
      }
      ifaces = this.ifaces;
    }
    this.needed = needed;
    return off;
  }

  // pcapng, big-endian section: same as ngLoopLE with big-endian field reads.
  private ngLoopBE(buf: Buffer, off: number, end: number): number {
    const v = this.view;
    const sink = this.sink;
    const ts = this.tsOut;
    let ifaces = this.ifaces;
    // Stored once at the loop's exit (see pcapLoopLE).
    let needed = MIN_BLOCK_LEN;
    while (end - off >= 12) {
      const type = buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
      const len = buf[off + 4]! * 0x1000000 + ((buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!);
      if (type === BT_EPB && len >= MIN_EPB_LEN && (len & 3) === 0 && len <= MAX_BLOCK_LEN) {
        if (end - off < len) {
          needed = len;
          break;
        }
        const t = off + len - 4;
        const ifId = buf[off + 8]! * 0x1000000 + ((buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!);
        const capLen = buf[off + 20]! * 0x1000000 + ((buf[off + 21]! << 16) | (buf[off + 22]! << 8) | buf[off + 23]!);
        if (
          buf[t]! * 0x1000000 + ((buf[t + 1]! << 16) | (buf[t + 2]! << 8) | buf[t + 3]!) !== len ||
          ifId >= ifaces.length ||
          capLen > len - MIN_EPB_LEN ||
          capLen > MAX_CAP_LEN
        ) {
          this.epbDamage(buf, off, len, ifId, capLen);
          return end;
        }
        const iface = ifaces[ifId]!;
        splitTimestamp(
          buf[off + 12]! * 0x1000000 + ((buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!),
          buf[off + 16]! * 0x1000000 + ((buf[off + 17]! << 16) | (buf[off + 18]! << 8) | buf[off + 19]!),
          iface.units,
          ts,
        );
        v.buf = buf;
        v.off = off + 28;
        v.capLen = capLen;
        v.origLen = buf[off + 24]! * 0x1000000 + ((buf[off + 25]! << 16) | (buf[off + 26]! << 8) | buf[off + 27]!);
        v.frame = ++this.frames;
        v.ifIndex = ifId;
        v.linkType = iface.linkType;
        v.tsSec = ts.tsSec;
        v.tsNsec = ts.tsNsec;
        v.fileOffset = this.pos;
        this.noteTime(ts.tsSec, ts.tsNsec);
        sink.onFrame(v);
        off += len;
        this.pos += len;
        continue;
      }
      const r = this.ngBlock(buf, off, end, type);
      if (r <= 0) return r === 0 ? off : end;
      off += r;
      if (type === BT_SHB) {
        this.resume = true;
        return off;
      }
      ifaces = this.ifaces;
    }
    this.needed = needed;
    return off;
  }

  private epbDamage(buf: Buffer, off: number, len: number, ifId: number, capLen: number): void {
    const le = this.le;
    const trailer = rd32(buf, off + len - 4, le);
    if (trailer !== len) {
      this.damage(this.pos, `block total length ${len} does not match the trailing copy ${trailer}`);
    } else if (ifId >= this.ifaces.length) {
      this.damage(this.pos, `EPB interface id ${ifId} but the section has ${this.ifaces.length} interface(s)`);
    } else if (capLen > MAX_CAP_LEN) {
      this.damage(this.pos, `EPB capLen ${capLen} is larger than the maximum ${MAX_CAP_LEN}`);
    } else {
      this.damage(this.pos, `EPB total length ${len} is too small for ${capLen} bytes of packet data`);
    }
  }

  /**
   * Any block other than a well-formed EPB (pcapng 3.1 general block structure). Returns the bytes consumed,
   * 0 when more bytes are needed (needed set), -1 on damage.
   */
  private ngBlock(buf: Buffer, off: number, end: number, typeInOrder: number): number {
    let le = this.le;
    let type = typeInOrder;
    const firstBlock = !this.header;
    if (rd32(buf, off, true) === BT_SHB) {
      // pcapng 4.1: the SHB's own Byte-Order Magic gives the order of its length field and of the section.
      const order = shbByteOrder(buf, off);
      if (order === null) {
        this.damage(this.pos, `Section Header Block with a bad byte-order magic ${hex32(rd32(buf, off + 8, false))}`);
        return -1;
      }
      le = order;
      type = BT_SHB;
    } else if (firstBlock) {
      this.damage(this.pos, 'pcapng file does not start with a Section Header Block');
      return -1;
    }
    const len = rd32(buf, off + 4, le);
    if (len < MIN_BLOCK_LEN) {
      this.damage(this.pos, `block type ${hex32(type)} has total length ${len}, less than ${MIN_BLOCK_LEN}`);
      return -1;
    }
    if ((len & 3) !== 0) {
      this.damage(this.pos, `block type ${hex32(type)} has total length ${len}, not a multiple of 4`);
      return -1;
    }
    if (len > MAX_BLOCK_LEN) {
      this.damage(this.pos, `block type ${hex32(type)} has total length ${len}, more than the ${MAX_BLOCK_LEN} accepted`);
      return -1;
    }
    if (end - off < len) {
      this.needed = len;
      return 0;
    }
    const trailer = rd32(buf, off + len - 4, le);
    if (trailer !== len) {
      this.damage(this.pos, `block total length ${len} does not match the trailing copy ${trailer}`);
      return -1;
    }
    const minLen =
      type === BT_SHB
        ? MIN_SHB_LEN
        : type === BT_IDB
          ? MIN_IDB_LEN
          : type === BT_EPB
            ? MIN_EPB_LEN
            : type === BT_PB
              ? MIN_PB_LEN
              : type === BT_SPB
                ? MIN_SPB_LEN
                : type === BT_DSB
                  ? MIN_DSB_LEN
                  : MIN_BLOCK_LEN;
    if (len < minLen) {
      this.damage(this.pos, `block type ${hex32(type)} has total length ${len}, less than its minimum ${minLen}`);
      return -1;
    }
    switch (type) {
      case BT_SHB: {
        const major = rd16(buf, off + 12, le);
        const minor = rd16(buf, off + 14, le);
        if (major !== 1) {
          this.damage(this.pos, `unsupported pcapng version ${major}.${minor}`);
          return -1;
        }
        this.le = le;
        if (this.sections === 0) this.info.littleEndian = le;
        this.sections++;
        this.ifaces = [];
        this.header = true;
        break;
      }
      case BT_IDB: {
        const d = decodeIdb(buf, off, len, le);
        if (d.optionError !== null) this.warn(this.pos, d.optionError);
        const units = tsUnits(d.tsresol, d.tsoffset);
        // pcapng 4.2: a 64-bit count of 2^-64 s or 10^-20 s spans under a second; an if_tsoffset past
        // the range of dates puts every time out of it.
        if (d.tsresol !== null && ((d.tsresol & 0x80) !== 0 ? (d.tsresol & 0x7f) >= 64 : d.tsresol >= 20)) {
          this.outOfRange(`interface ${this.ifaces.length} has if_tsresol ${(d.tsresol & 0x80) !== 0 ? `2^-${d.tsresol & 0x7f}` : `10^-${d.tsresol}`} (a 64-bit timestamp spans under a second)`);
        } else if (!timeInRange(d.tsoffset)) {
          this.outOfRange(`interface ${this.ifaces.length} has if_tsoffset ${d.tsoffset} s`);
        }
        const ifIndex = this.ifaces.length;
        this.ifaces.push({ linkType: d.linkType, snapLen: d.snapLen, units });
        const info: InterfaceInfo = {
          fileIndex: this.info.fileIndex,
          ifIndex,
          linkType: d.linkType,
          snapLen: d.snapLen,
          name: d.name,
          tsUnitsPerSec: units.perSec,
        };
        this.info.interfaces.push(info);
        if (!KNOWN_LINK_TYPES.has(d.linkType)) {
          this.warn(this.pos, `interface ${ifIndex} has unknown link type ${d.linkType}`);
        }
        break;
      }
      case BT_EPB: {
        // Reached only when the fast path's checks failed.
        const ifId = rd32(buf, off + 8, le);
        const capLen = rd32(buf, off + 20, le);
        this.epbDamage(buf, off, len, ifId, capLen);
        return -1;
      }
      case BT_PB: {
        // Obsolete Packet Block (pcapng Appendix A): 16-bit interface id, 16-bit drops count.
        const ifId = rd16(buf, off + 8, le);
        const capLen = rd32(buf, off + 20, le);
        if (ifId >= this.ifaces.length) {
          this.damage(this.pos, `Packet Block interface id ${ifId} but the section has ${this.ifaces.length} interface(s)`);
          return -1;
        }
        if (capLen > MAX_CAP_LEN || capLen > len - MIN_PB_LEN) {
          this.damage(this.pos, `Packet Block total length ${len} cannot hold capLen ${capLen}`);
          return -1;
        }
        this.emitNg(buf, off + 28, capLen, rd32(buf, off + 24, le), ifId, rd32(buf, off + 12, le), rd32(buf, off + 16, le));
        break;
      }
      case BT_SPB: {
        // pcapng 4.4: interface 0, no timestamp; captured length = min(original length, snaplen, data room).
        if (this.ifaces.length === 0) {
          this.damage(this.pos, 'Simple Packet Block in a section without an interface');
          return -1;
        }
        const origLen = rd32(buf, off + 8, le);
        const snap = this.ifaces[0]!.snapLen;
        let capLen = snap !== 0 && origLen > snap ? snap : origLen;
        if (capLen > len - MIN_SPB_LEN) {
          this.damage(this.pos, `Simple Packet Block total length ${len} is too small for ${capLen} bytes of packet data`);
          return -1;
        }
        if (capLen > MAX_CAP_LEN) capLen = MAX_CAP_LEN;
        this.emitNg(buf, off + 12, capLen, origLen, 0, -1, 0);
        break;
      }
      case BT_NRB: {
        const names = this.info.names;
        for (const rec of decodeNrb(buf, off, len, le)) {
          if (names.length >= MAX_NAME_RECORDS) {
            this.warn(this.pos, `more than ${MAX_NAME_RECORDS} name records: the rest are dropped`);
            break;
          }
          names.push(rec);
        }
        break;
      }
      case BT_DSB: {
        const d = decodeDsb(buf, off, len, le);
        if (d === null) {
          this.warn(this.pos, 'Decryption Secrets Block secrets length runs past the block: skipped');
        } else if (this.secretsBytes + d.data.length > MAX_SECRETS_BYTES) {
          this.warn(this.pos, 'Decryption Secrets Blocks exceed the kept maximum: skipped');
        } else {
          this.secretsBytes += d.data.length;
          this.info.secrets.push(d);
          this.sink.onSecrets?.(d);
        }
        break;
      }
      case BT_CB_COPY:
      case BT_CB_NOCOPY:
      case BT_SYSTEMD_JOURNAL: {
        // tshark 4.0 counts these records as frames; they carry no packet, so nothing is emitted.
        this.frames++;
        if (!this.countedNonPacket) {
          this.countedNonPacket = true;
          this.warn(
            this.pos,
            `block type ${hex32(type)} counted as frame ${this.frames} (as Wireshark does) but not a packet`,
          );
        }
        break;
      }
      default:
        // ISB and unknown blocks: skipped by their length (pcapng 3.1).
        break;
    }
    this.pos += len;
    return len;
  }

  /** Emits a PB / SPB record (rare block types, so through the generic path). hi < 0 means no timestamp. */
  private emitNg(buf: Buffer, dataOff: number, capLen: number, origLen: number, ifId: number, hi: number, lo: number): void {
    const v = this.view;
    const iface = this.ifaces[ifId]!;
    if (hi >= 0) {
      splitTimestamp(hi, lo, iface.units, this.tsOut);
      v.tsSec = this.tsOut.tsSec;
      v.tsNsec = this.tsOut.tsNsec;
    } else {
      // pcapng 4.4: an SPB has no timestamp (tshark 4.0 prints an empty frame.time_epoch): 0 here.
      v.tsSec = 0;
      v.tsNsec = 0;
    }
    v.buf = buf;
    v.off = dataOff;
    v.capLen = capLen;
    v.origLen = origLen;
    v.frame = ++this.frames;
    v.ifIndex = ifId;
    v.linkType = iface.linkType;
    v.fileOffset = this.pos;
    if (hi >= 0) this.noteTime(v.tsSec, v.tsNsec);
    this.sink.onFrame(v);
  }
}
