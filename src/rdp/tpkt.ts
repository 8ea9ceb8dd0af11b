// TPKT (RFC 1006 section 6 / T.123 section 8): the 4-byte header of every slow-path RDP PDU,
// plus the little byte readers the slow-path decoders of src/rdp share.
import { type Decoded, done, incomplete, malformed } from './result.js';

export const TPKT_VERSION = 3;
export const TPKT_HEADER_LENGTH = 4;
/** The smallest PDU a TPKT can carry in RDP: 4-byte header + the 3-byte X.224 Data TPDU header. */
export const TPKT_MIN_LENGTH = 7;

/** RFC 1006 section 6: version 3, reserved, length (big-endian, header included). */
export interface TpktHeader {
  version: number;
  reserved: number;
  /** The whole PDU, header included. */
  length: number;
  /** Offset of the first byte after the header (the X.224 TPDU). */
  payloadOff: number;
  /** Offset just past the PDU. */
  end: number;
}

/**
 * Reads the TPKT header at `off` and checks the whole PDU is within `end`
 * (incomplete otherwise, with the missing byte count). Offsets are absolute.
 */
export function readTpkt(buf: Uint8Array, off: number, end: number): Decoded<TpktHeader> {
  if (off + TPKT_HEADER_LENGTH > end) return incomplete(off + TPKT_HEADER_LENGTH - end);
  if (buf[off] !== TPKT_VERSION) return malformed(off, `TPKT version ${buf[off]} (expected 3)`);
  const length = (buf[off + 2] << 8) | buf[off + 3];
  if (length < TPKT_MIN_LENGTH) return malformed(off + 2, `TPKT length ${length} is below the minimum of ${TPKT_MIN_LENGTH}`);
  if (off + length > end) return incomplete(off + length - end);
  return done({ version: TPKT_VERSION, reserved: buf[off + 1], length, payloadOff: off + TPKT_HEADER_LENGTH, end: off + length }, length);
}

// ---- byte readers (callers check bounds first)

export function u16le(buf: Uint8Array, off: number): number {
  return buf[off] | (buf[off + 1] << 8);
}

export function u32le(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

export function u16be(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

export function u32be(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** UTF-16LE text of [off, off+len) up to the first NUL character (fixed-size fields such as clientName). */
export function utf16leZ(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i + 1 < off + len; i += 2) {
    const c = buf[i] | (buf[i + 1] << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** ANSI (latin1) text of [off, off+len) up to the first NUL byte. */
export function latin1Z(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) {
    if (buf[i] === 0) break;
    s += String.fromCharCode(buf[i]);
  }
  return s;
}

/** ANSI (latin1) text of [off, off+len), every byte kept. */
export function latin1(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) s += String.fromCharCode(buf[i]);
  return s;
}

/** A 16-byte GUID in its usual text form (first three groups little-endian, as Windows prints them). */
export function guidString(buf: Uint8Array, off: number): string {
  const h = (i: number): string => buf[off + i].toString(16).padStart(2, '0');
  return (
    h(3) + h(2) + h(1) + h(0) + '-' + h(5) + h(4) + '-' + h(7) + h(6) + '-' + h(8) + h(9) + '-' +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15)
  );
}
