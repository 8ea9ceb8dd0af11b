// HTTP/1.1 chunked transfer coding (RFC 9112 7.1): the framing of the RD Gateway's legacy IN
// channel (MS-TSGU 2.2.3, 3.3.5.1), where the client's RDG_IN_DATA request body is a chunk per
// MS-TSGU packet ("%X\r\n" packet "\r\n", as FreeRDP's rdg.c writes it). A pure decoder of one
// chunk's size line; the caller takes the chunk's data and its closing CRLF.
import { done, incomplete, malformed, type Decoded } from './result.js';

/** A size line longer than this is refused (a chunk-size of 8 hex digits and an extension or two). */
export const CHUNK_LINE_MAX = 256;
/** Largest chunk size accepted (2^31 - 1: more than any gateway writes, and exact in a number). */
export const CHUNK_SIZE_MAX = 0x7fffffff;

export interface ChunkHead {
  /** chunk-size (RFC 9112 7.1): 0 is the last chunk. */
  size: number;
}

const HEX = /^[0-9A-Fa-f]{1,8}$/;

/**
 * The chunk-size line at buf[off, end) (RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF; a bare LF is
 * accepted as RFC 9112 2.2 allows). Extensions are skipped. Incomplete until the line's LF is there;
 * malformed past CHUNK_LINE_MAX or when the size is not 1 to 8 hex digits.
 */
export function readChunkHead(buf: Uint8Array, off: number, end: number): Decoded<ChunkHead> {
  const limit = Math.min(end, off + CHUNK_LINE_MAX);
  let lf = -1;
  for (let i = off; i < limit; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
    // Only hex digits, ';', tabs, spaces and extension tokens belong on the line; a control byte does not.
    const b = buf[i]!;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0d) || b >= 0x7f) return malformed(i - off, 'not a chunk-size line');
  }
  if (lf < 0) return end - off >= CHUNK_LINE_MAX ? malformed(0, `no end of the chunk-size line within ${CHUNK_LINE_MAX} bytes`) : incomplete(1);
  let e = lf > off && buf[lf - 1] === 0x0d ? lf - 1 : lf;
  let text = '';
  for (let i = off; i < e; i++) text += String.fromCharCode(buf[i]!);
  const semi = text.indexOf(';');
  const size = (semi >= 0 ? text.slice(0, semi) : text).replace(/[ \t]+$/, '');
  if (!HEX.test(size)) return malformed(0, `not a chunk size: ${JSON.stringify(text.slice(0, 40))}`);
  const n = parseInt(size, 16);
  if (n > CHUNK_SIZE_MAX) return malformed(0, `chunk size ${n} is too large`);
  e = lf + 1;
  return done({ size: n }, e - off);
}

/** The CRLF (or bare LF) that closes a chunk's data: its length (2 or 1), incomplete, or malformed. */
export function readChunkEnd(buf: Uint8Array, off: number, end: number): Decoded<null> {
  if (off >= end) return incomplete(2);
  if (buf[off] === 0x0a) return done(null, 1);
  if (buf[off] !== 0x0d) return malformed(0, 'no CRLF after the chunk data');
  if (off + 1 >= end) return incomplete(1);
  if (buf[off + 1] !== 0x0a) return malformed(1, 'no CRLF after the chunk data');
  return done(null, 2);
}
