// HPACK (RFC 7541), the header compression of HTTP/2: what an RD Gateway's KDC proxy (MS-KKDCP,
// `POST /KdcProxy`) and its client exchange when they negotiate h2. A decoder of header blocks:
// integers with an N-bit prefix (5.1), string literals raw or Huffman-coded (5.2, Appendix B), the
// static table (Appendix A) and one dynamic table per direction (2.3.2, 4), and the five field
// representations (6.1 indexed, 6.2.1 with incremental indexing, 6.2.2 without indexing, 6.2.3
// never indexed, 6.3 dynamic table size update). Strings are latin1 text: untrusted.
import { done, incomplete, malformed, type Decoded } from './result.js';

/** RFC 7541 Appendix A: the static table, index 1 to 61. */
export const HPACK_STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B: the code length of each symbol (0-255, then EOS = 256). The code is
 * canonical (B: symbols ordered by length, then value, get consecutive codes), so the lengths
 * define it: huffmanCode() rebuilds the table's "code as hex" column from them.
 */
// prettier-ignore
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

export const HUFFMAN_EOS = 256;
const MAX_LEN = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where its symbols start in `symbols`. */
const firstCode = new Array<number>(MAX_LEN + 2).fill(0);
const countOf = new Array<number>(MAX_LEN + 2).fill(0);
const startOf = new Array<number>(MAX_LEN + 2).fill(0);
const symbols: number[] = [];
const codes = new Array<number>(257).fill(0);
{
  for (const l of HUFFMAN_LENGTHS) countOf[l]!++;
  let code = 0;
  let at = 0;
  for (let l = 1; l <= MAX_LEN; l++) {
    firstCode[l] = code;
    startOf[l] = at;
    at += countOf[l]!;
    code = (code + countOf[l]!) * 2;
  }
  for (let l = 1; l <= MAX_LEN; l++) for (let s = 0; s < 257; s++) if (HUFFMAN_LENGTHS[s] === l) symbols.push(s);
  for (let l = 1; l <= MAX_LEN; l++) for (let i = 0; i < countOf[l]!; i++) codes[symbols[startOf[l]! + i]!] = firstCode[l]! + i;
}

/** A symbol's Huffman code and length (RFC 7541 Appendix B, "code as hex aligned to LSB" and "len in bits"). */
export function huffmanCode(symbol: number): { code: number; bits: number } {
  return { code: codes[symbol]!, bits: HUFFMAN_LENGTHS[symbol]! };
}

/**
 * The Huffman-coded string at buf[off, end) (RFC 7541 5.2): latin1 text, or why not. Padding is
 * at most 7 bits, all ones (the EOS code's most significant bits); an EOS symbol is an error.
 */
export function huffmanDecode(buf: Uint8Array, off: number, end: number): { ok: true; text: string } | { ok: false; reason: string } {
  let out = '';
  let code = 0;
  let len = 0;
  for (let i = off; i < end; i++) {
    const byte = buf[i]!;
    for (let b = 7; b >= 0; b--) {
      code = code * 2 + ((byte >> b) & 1);
      len++;
      if (len > MAX_LEN) return { ok: false, reason: 'a Huffman code longer than 30 bits' };
      const k = code - firstCode[len]!;
      if (k >= 0 && k < countOf[len]!) {
        const sym = symbols[startOf[len]! + k]!;
        if (sym === HUFFMAN_EOS) return { ok: false, reason: 'the EOS symbol inside a Huffman string' };
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      }
    }
  }
  // What is left is padding: fewer than 8 bits, all ones.
  if (len > 7) return { ok: false, reason: 'more than 7 bits of Huffman padding' };
  if (code !== (1 << len) - 1) return { ok: false, reason: 'Huffman padding that is not the EOS prefix' };
  return { ok: true, text: out };
}

/** An integer with an N-bit prefix (RFC 7541 5.1) at buf[off]; values past 2^31 are refused. */
export function readHpackInt(buf: Uint8Array, off: number, end: number, prefixBits: number): Decoded<number> {
  if (off >= end) return incomplete(1);
  const max = (1 << prefixBits) - 1;
  let v = buf[off]! & max;
  if (v < max) return done(v, 1);
  let m = 0;
  for (let i = off + 1; i < end; i++) {
    const b = buf[i]!;
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    if (v > 0x7fffffff) return malformed(i - off, 'an HPACK integer larger than 2^31');
    if ((b & 0x80) === 0) return done(v, i - off + 1);
  }
  return incomplete(1);
}

/** A string literal (RFC 7541 5.2): H bit, 7-bit-prefix length, the octets. */
export function readHpackString(buf: Uint8Array, off: number, end: number): Decoded<string> {
  if (off >= end) return incomplete(1);
  const huffman = (buf[off]! & 0x80) !== 0;
  const n = readHpackInt(buf, off, end, 7);
  if (!n.ok) return n;
  const s = off + n.consumed;
  if (end - s < n.value) return incomplete(n.value - (end - s));
  if (huffman) {
    const h = huffmanDecode(buf, s, s + n.value);
    if (!h.ok) return malformed(n.consumed, h.reason);
    return done(h.text, n.consumed + n.value);
  }
  let text = '';
  for (let i = s; i < s + n.value; i++) text += String.fromCharCode(buf[i]!);
  return done(text, n.consumed + n.value);
}

/** Default SETTINGS_HEADER_TABLE_SIZE (RFC 7540 6.5.2). */
export const HPACK_DEFAULT_TABLE_SIZE = 4096;
/** A header block that decodes to more fields than this is refused (a bound on hostile input). */
export const HPACK_MAX_FIELDS = 256;

/**
 * One direction's HPACK decoding context: its dynamic table (RFC 7541 2.3.2, newest first; entry
 * size = name + value + 32, 4.1) bounded by the size the peer's SETTINGS allow.
 */
export class HpackDecoder {
  private readonly table: [string, string][] = [];
  private size = 0;
  /** The current maximum (6.3 updates it, never above `limit`). */
  private max: number;

  constructor(private limit = HPACK_DEFAULT_TABLE_SIZE) {
    this.max = limit;
  }

  /** The decoding side's SETTINGS_HEADER_TABLE_SIZE changed (RFC 7540 6.5.2): the encoder's updates must stay within it. */
  setLimit(n: number): void {
    this.limit = n;
    if (this.max > n) {
      this.max = n;
      this.evict();
    }
  }

  /** The dynamic table, newest first (index 62 is its first entry). */
  get dynamic(): readonly (readonly [string, string])[] {
    return this.table;
  }

  get tableSize(): number {
    return this.size;
  }

  private entry(index: number): readonly [string, string] | null {
    if (index >= 1 && index <= HPACK_STATIC_TABLE.length) return HPACK_STATIC_TABLE[index - 1]!;
    return this.table[index - HPACK_STATIC_TABLE.length - 1] ?? null;
  }

  private add(name: string, value: string): void {
    const s = name.length + value.length + 32;
    this.table.unshift([name, value]);
    this.size += s;
    this.evict();
  }

  private evict(): void {
    // RFC 7541 4.4: an entry larger than the table empties it.
    while (this.size > this.max && this.table.length > 0) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  /**
   * A whole header block (RFC 7541 3, the HEADERS and CONTINUATION fragments joined): its header
   * list in order. Malformed (and the context no longer usable: the caller stops) on an index
   * past the tables, a bad string, a size update above the limit or after a field (4.2), a
   * truncated representation, or more than HPACK_MAX_FIELDS fields.
   */
  decodeBlock(buf: Uint8Array, off: number, end: number): Decoded<[string, string][]> {
    const out: [string, string][] = [];
    let p = off;
    while (p < end) {
      const b = buf[p]!;
      if (out.length >= HPACK_MAX_FIELDS) return malformed(p - off, `more than ${HPACK_MAX_FIELDS} header fields in one block`);
      if (b & 0x80) {
        // 6.1 Indexed Header Field.
        const i = readHpackInt(buf, p, end, 7);
        if (!i.ok) return i.kind === 'incomplete' ? malformed(p - off, 'a truncated indexed header field') : malformed(p - off + i.at, i.reason);
        const e = i.value === 0 ? null : this.entry(i.value);
        if (e === null) return malformed(p - off, `HPACK index ${i.value} is not in the tables`);
        out.push([e[0], e[1]]);
        p += i.consumed;
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        // 6.3 Dynamic Table Size Update: only at the start of a block (4.2).
        if (out.length > 0) return malformed(p - off, 'a dynamic table size update after a header field');
        const i = readHpackInt(buf, p, end, 5);
        if (!i.ok) return i.kind === 'incomplete' ? malformed(p - off, 'a truncated table size update') : malformed(p - off + i.at, i.reason);
        if (i.value > this.limit) return malformed(p - off, `a dynamic table size of ${i.value} above the ${this.limit} allowed`);
        this.max = i.value;
        this.evict();
        p += i.consumed;
        continue;
      }
      // 6.2.1 with incremental indexing (01), 6.2.2 without (0000), 6.2.3 never indexed (0001).
      const indexing = (b & 0xc0) === 0x40;
      const prefix = indexing ? 6 : 4;
      const i = readHpackInt(buf, p, end, prefix);
      if (!i.ok) return i.kind === 'incomplete' ? malformed(p - off, 'a truncated literal header field') : malformed(p - off + i.at, i.reason);
      let q = p + i.consumed;
      let name: string;
      if (i.value === 0) {
        const n = readHpackString(buf, q, end);
        if (!n.ok) return n.kind === 'incomplete' ? malformed(q - off, 'a truncated header name') : malformed(q - off + n.at, n.reason);
        name = n.value;
        q += n.consumed;
      } else {
        const e = this.entry(i.value);
        if (e === null) return malformed(p - off, `HPACK index ${i.value} is not in the tables`);
        name = e[0];
      }
      const v = readHpackString(buf, q, end);
      if (!v.ok) return v.kind === 'incomplete' ? malformed(q - off, 'a truncated header value') : malformed(q - off + v.at, v.reason);
      q += v.consumed;
      out.push([name, v.value]);
      if (indexing) this.add(name, v.value);
      p = q;
    }
    return done(out, end - off);
  }
}
