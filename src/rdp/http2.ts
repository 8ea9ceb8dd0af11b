// HTTP/2 framing (RFC 7540 3.5, 4.1, 6): the connection preface and the frames of an h2 connection,
// as the RD Gateway's KDC proxy (MS-KKDCP `POST /KdcProxy`) and its client use them when ALPN
// chose h2. A pure decoder of one frame: its header and where its payload is; HEADERS frames also
// say where their header block fragment is (padding and priority taken off, 6.2). Header blocks
// are decoded by hpack.ts.
import { done, incomplete, malformed, type Decoded } from './result.js';

/** The client connection preface (RFC 7540 3.5): "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Frame header size (RFC 7540 4.1). */
export const H2_FRAME_HEADER = 9;
/** Largest frame payload a peer may allow (RFC 7540 4.2: 2^24 - 1). */
export const H2_MAX_FRAME = 0xffffff;

/** Frame types (RFC 7540 6). */
export const H2_DATA = 0x0;
export const H2_HEADERS = 0x1;
export const H2_PRIORITY = 0x2;
export const H2_RST_STREAM = 0x3;
export const H2_SETTINGS = 0x4;
export const H2_PUSH_PROMISE = 0x5;
export const H2_PING = 0x6;
export const H2_GOAWAY = 0x7;
export const H2_WINDOW_UPDATE = 0x8;
export const H2_CONTINUATION = 0x9;

/** Flags (RFC 7540 6.1, 6.2). */
export const H2_FLAG_END_STREAM = 0x1;
export const H2_FLAG_END_HEADERS = 0x4;
export const H2_FLAG_PADDED = 0x8;
export const H2_FLAG_PRIORITY = 0x20;

export interface H2Frame {
  length: number;
  type: number;
  flags: number;
  /** Stream identifier (the reserved bit dropped). */
  streamId: number;
  /** The payload is buf[payloadOff, payloadOff + length). */
  payloadOff: number;
  /** HEADERS / CONTINUATION: the header block fragment's bounds (PADDED and PRIORITY fields taken off); else the payload's. */
  fragmentOff: number;
  fragmentEnd: number;
  /** RST_STREAM / GOAWAY: the error code (RFC 7540 7); else null. */
  errorCode: number | null;
}

/** Whether buf[off, end) starts with (a prefix of) the client connection preface. */
export function startsWithPreface(buf: Uint8Array, off: number, end: number): 'yes' | 'prefix' | 'no' {
  const n = Math.min(end - off, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (buf[off + i] !== H2_PREFACE[i]) return 'no';
  return n === H2_PREFACE.length ? 'yes' : 'prefix';
}

/**
 * One frame at buf[off, end): incomplete until its whole payload is there; malformed when the
 * length exceeds `maxFrame` (RFC 7540 4.2, FRAME_SIZE_ERROR), a HEADERS frame's padding or
 * priority fields do not fit (6.2, PROTOCOL_ERROR), or a frame type that needs a stream has
 * stream 0 (6.1, 6.2, 6.9) or SETTINGS / PING / GOAWAY have one (6.5, 6.7, 6.8).
 */
export function readH2Frame(buf: Uint8Array, off: number, end: number, maxFrame = H2_MAX_FRAME): Decoded<H2Frame> {
  if (end - off < H2_FRAME_HEADER) return incomplete(H2_FRAME_HEADER - Math.max(0, end - off));
  const length = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
  const type = buf[off + 3]!;
  const flags = buf[off + 4]!;
  const streamId = ((buf[off + 5]! & 0x7f) * 0x1000000) + ((buf[off + 6]! << 16) | (buf[off + 7]! << 8) | buf[off + 8]!);
  if (length > maxFrame) return malformed(0, `an HTTP/2 frame of ${length} bytes, above the ${maxFrame} allowed`);
  const needsStream = type === H2_DATA || type === H2_HEADERS || type === H2_PRIORITY || type === H2_RST_STREAM || type === H2_CONTINUATION || type === H2_PUSH_PROMISE;
  if (needsStream && streamId === 0) return malformed(5, `HTTP/2 frame type ${type} on stream 0`);
  if ((type === H2_SETTINGS || type === H2_PING || type === H2_GOAWAY) && streamId !== 0) return malformed(5, `HTTP/2 frame type ${type} on stream ${streamId}`);
  if (end - off < H2_FRAME_HEADER + length) return incomplete(H2_FRAME_HEADER + length - (end - off));
  const payloadOff = off + H2_FRAME_HEADER;
  let fragmentOff = payloadOff;
  let fragmentEnd = payloadOff + length;
  let errorCode: number | null = null;
  if (type === H2_HEADERS || type === H2_DATA) {
    let pad = 0;
    if (flags & H2_FLAG_PADDED) {
      if (length < 1) return malformed(H2_FRAME_HEADER, 'a PADDED frame without its Pad Length');
      pad = buf[payloadOff]!;
      fragmentOff++;
    }
    if (type === H2_HEADERS && flags & H2_FLAG_PRIORITY) fragmentOff += 5;
    if (fragmentOff + pad > fragmentEnd) return malformed(H2_FRAME_HEADER, 'padding or priority fields longer than the frame');
    fragmentEnd -= pad;
  }
  if (type === H2_RST_STREAM) {
    if (length !== 4) return malformed(0, 'an RST_STREAM frame that is not 4 bytes');
    errorCode = u32(buf, payloadOff);
  }
  if (type === H2_GOAWAY) {
    if (length < 8) return malformed(0, 'a GOAWAY frame shorter than 8 bytes');
    errorCode = u32(buf, payloadOff + 4);
  }
  return done({ length, type, flags, streamId, payloadOff, fragmentOff, fragmentEnd, errorCode }, H2_FRAME_HEADER + length);
}

function u32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) >>> 0) + ((buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!);
}
