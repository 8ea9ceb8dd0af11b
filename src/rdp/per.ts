// ITU-T X.691 PER, ALIGNED variant, as T.125 (MCS domain PDUs) and T.124 (GCC Conference Create)
// use it. Only what those PDUs need; every reader is bounded by `end` and returns a Decoded with
// `consumed` bytes. Offsets are absolute.
import { type Decoded, done, incomplete, malformed } from './result.js';

/** X.691 10.9 length determinant: 1 byte (< 128) or 2 bytes (10xxxxxx, < 16384). Fragmented forms (11xxxxxx) are malformed here. */
export function perLength(buf: Uint8Array, off: number, end: number): Decoded<number> {
  if (off >= end) return incomplete(1);
  const b = buf[off];
  if ((b & 0x80) === 0) return done(b, 1);
  if ((b & 0x40) !== 0) return malformed(off, `fragmented PER length (0x${b.toString(16)}) is not supported`);
  if (off + 2 > end) return incomplete(off + 2 - end);
  return done(((b & 0x3f) << 8) | buf[off + 1], 2);
}

/** A CHOICE index or a selection (optional-field bitmap) octet. */
export function perChoice(buf: Uint8Array, off: number, end: number): Decoded<number> {
  if (off >= end) return incomplete(1);
  return done(buf[off], 1);
}

/** X.691 13: ENUMERATED with `count` root values, one aligned octet; a value >= count is malformed. */
export function perEnumerated(buf: Uint8Array, off: number, end: number, count: number): Decoded<number> {
  if (off >= end) return incomplete(1);
  const v = buf[off];
  if (v >= count) return malformed(off, `PER enumerated value ${v} is not below ${count}`);
  return done(v, 1);
}

/** X.691 12.2.6 semi-constrained whole number as T.124 writes INTEGER: a length (1..4) then the value, plus `lowerBound`. */
export function perInteger(buf: Uint8Array, off: number, end: number, lowerBound = 0): Decoded<number> {
  const l = perLength(buf, off, end);
  if (!l.ok) return l;
  const n = l.value;
  if (n < 1 || n > 4) return malformed(off, `PER integer of ${n} bytes (1..4 expected)`);
  const p = off + l.consumed;
  if (p + n > end) return incomplete(p + n - end);
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + buf[p + i];
  return done(v + lowerBound, l.consumed + n);
}

/** A 16-bit constrained integer (2 aligned bytes) plus `lowerBound` (UserId = 1001..65535, T.125 7 part 3). */
export function perInteger16(buf: Uint8Array, off: number, end: number, lowerBound = 0): Decoded<number> {
  if (off + 2 > end) return incomplete(off + 2 - end);
  return done(((buf[off] << 8) | buf[off + 1]) + lowerBound, 2);
}

/** X.691 24 OBJECT IDENTIFIER: a length octet then the BER content octets (X.690 8.19); returns "0.0.20.124.0.1". */
export function perObjectIdentifier(buf: Uint8Array, off: number, end: number): Decoded<string> {
  const l = perLength(buf, off, end);
  if (!l.ok) return l;
  const n = l.value;
  const p = off + l.consumed;
  if (n < 1) return malformed(off, 'empty PER object identifier');
  if (n > 64) return malformed(off, `PER object identifier of ${n} bytes is too long`);
  if (p + n > end) return incomplete(p + n - end);
  const arcs: number[] = [];
  let v = 0;
  let first = true;
  for (let i = 0; i < n; i++) {
    const b = buf[p + i];
    if (v > 0x1ffffff) return malformed(p + i, 'object identifier arc too large');
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (first) {
        const a = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(a, v - a * 40);
        first = false;
      } else arcs.push(v);
      v = 0;
    } else if (i === n - 1) return malformed(p + i, 'object identifier ends inside an arc');
  }
  return done(arcs.join('.'), l.consumed + n);
}

/** X.691 17 OCTET STRING with a lower size bound: a length (+minLength) then the bytes; returns where they are. */
export function perOctetString(
  buf: Uint8Array,
  off: number,
  end: number,
  minLength = 0,
): Decoded<{ valueOff: number; length: number }> {
  const l = perLength(buf, off, end);
  if (!l.ok) return l;
  const length = l.value + minLength;
  const p = off + l.consumed;
  if (p + length > end) return incomplete(p + length - end);
  return done({ valueOff: p, length }, l.consumed + length);
}

/**
 * X.691 27 NumericString, aligned, 4 bits per character, with a lower size bound. T.124 as Windows and
 * FreeRDP write it packs the digit value itself (conferenceName "1" is 0x10, MS-RDPBCGR 4.1.3), so a
 * nibble 0..9 is that digit; anything above is malformed.
 */
export function perNumericString(buf: Uint8Array, off: number, end: number, minLength = 0): Decoded<string> {
  const l = perLength(buf, off, end);
  if (!l.ok) return l;
  const chars = l.value + minLength;
  const bytes = (chars + 1) >> 1;
  const p = off + l.consumed;
  if (p + bytes > end) return incomplete(p + bytes - end);
  let s = '';
  for (let i = 0; i < chars; i++) {
    const b = buf[p + (i >> 1)];
    const nib = (i & 1) === 0 ? b >> 4 : b & 0x0f;
    if (nib > 9) return malformed(p + (i >> 1), `NumericString nibble ${nib} is not a digit`);
    s += String.fromCharCode(0x30 + nib);
  }
  return done(s, l.consumed + bytes);
}
