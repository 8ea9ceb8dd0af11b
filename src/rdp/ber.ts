// Minimal BER/DER reader (ITU-T X.690 8.1) over (bytes, offset, end): tags, definite lengths,
// with explicit limits, so a length of 2^31 is "malformed" or "incomplete", never an allocation.
import { type Decoded, done, incomplete, malformed } from './result.js';

export interface BerTlv {
  /** Class bits (0x00 universal, 0x40 application, 0x80 context, 0xc0 private). */
  cls: number;
  constructed: boolean;
  /** Tag number (multi-byte tags supported up to 2^28). */
  tag: number;
  /** Offset of the first content byte in the buffer. */
  valueOff: number;
  /** Content length. */
  length: number;
  /** Offset in the buffer just past the content. */
  end: number;
}

/** The identifier byte(s) as a single number for simple comparisons (e.g. 0x30 SEQUENCE, 0xa0 [0]). */
export function berIdentifier(t: BerTlv): number {
  return t.cls | (t.constructed ? 0x20 : 0) | (t.tag < 31 ? t.tag : 31);
}

/**
 * Reads one TLV header at `off`. `end` bounds what may be read. When the header is
 * complete but the content runs past `end`, the result is `incomplete` with the bytes
 * still needed. Indefinite lengths are malformed in the PDUs we decode (DER / MS-CSSP, T.125 uses definite).
 * Offsets in `at` are absolute (in buf).
 */
export function readTlv(buf: Uint8Array, off: number, end: number): Decoded<BerTlv> {
  let p = off;
  if (p >= end) return incomplete(2);
  const id = buf[p++]!;
  const cls = id & 0xc0;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let i = 0; ; i++) {
      if (p >= end) return incomplete(2);
      if (i >= 4) return malformed(p, 'BER tag number too large');
      const b = buf[p++]!;
      tag = (tag << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= end) return incomplete(1);
  const l0 = buf[p++]!;
  let length: number;
  if (l0 < 0x80) {
    length = l0;
  } else if (l0 === 0x80) {
    return malformed(p - 1, 'BER indefinite length not allowed here');
  } else {
    const n = l0 & 0x7f;
    if (n > 4) return malformed(p - 1, `BER length of ${n} bytes is too large`);
    if (p + n > end) return incomplete(p + n - end);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[p++]!;
    if (length > 0x7fffffff) return malformed(p - n - 1, `BER length ${length} is too large`);
  }
  const valueOff = p;
  const tlvEnd = valueOff + length;
  if (tlvEnd > end) return incomplete(tlvEnd - end);
  return done({ cls, constructed, tag, valueOff, length, end: tlvEnd }, tlvEnd - off);
}

/** Unsigned big-endian INTEGER content (up to 6 bytes; longer values are malformed for our uses). */
export function berUint(buf: Uint8Array, off: number, len: number): number | null {
  if (len < 1 || len > 7) return null;
  let v = 0;
  let start = off;
  if (len === 7) {
    if (buf[off] !== 0) return null;
    start++;
  }
  for (let i = start; i < off + len; i++) v = v * 256 + buf[i]!;
  return v;
}

/**
 * Signed big-endian INTEGER content (up to 5 bytes, two's complement). An NTSTATUS such as
 * 0xC000006D arrives either as 5 bytes (00 C0 00 00 6D, positive) or as 4 (negative):
 * callers wanting the 32-bit pattern use `>>> 0`.
 */
export function berInt(buf: Uint8Array, off: number, len: number): number | null {
  if (len < 1 || len > 5) return null;
  let u = 0;
  for (let i = 0; i < len; i++) u = u * 256 + buf[off + i]!;
  return buf[off]! & 0x80 ? u - 256 ** len : u;
}
