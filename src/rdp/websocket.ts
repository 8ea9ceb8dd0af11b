// WebSocket frames (RFC 6455 5.2), the transport current RD Gateway clients upgrade RDG_OUT_DATA
// to (MS-TSGU 2.2.3.3): the client's frames are masked (RFC 6455 5.3), the server's are not. A pure
// decoder: readWebSocketFrame reads one frame's header and says where its payload is; unmaskInto
// copies the payload out unmasked. Only the frames of a gateway's handshake and its first data are
// decoded, so the copy is no hot-path cost.
import { done, incomplete, malformed, type Decoded } from './result.js';

export const WS_OPCODE_CONTINUATION = 0x0;
export const WS_OPCODE_TEXT = 0x1;
export const WS_OPCODE_BINARY = 0x2;
export const WS_OPCODE_CLOSE = 0x8;
export const WS_OPCODE_PING = 0x9;
export const WS_OPCODE_PONG = 0xa;

/** Largest payload accepted (a gateway's frames carry one MS-TSGU packet, under 64 KiB). */
export const WS_MAX_PAYLOAD = 1 << 24;

export interface WebSocketFrame {
  fin: boolean;
  /** RSV1-3 (RFC 6455 5.2): non-zero only with a negotiated extension. */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The 4-byte masking key as a big-endian number, or null when not masked. */
  maskingKey: number | null;
  /** Absolute offset and length of the (still masked) payload. */
  payloadOff: number;
  payloadLength: number;
}

/** One frame at buf[off, end): incomplete until the whole payload is there; `consumed` = header + payload. */
export function readWebSocketFrame(buf: Uint8Array, off: number, end: number): Decoded<WebSocketFrame> {
  const avail = end - off;
  if (avail < 2) return incomplete(2 - Math.max(0, avail));
  const b0 = buf[off]!;
  const b1 = buf[off + 1]!;
  const opcode = b0 & 0x0f;
  // RFC 6455 5.2: opcodes 3-7 and 0xB-0xF are reserved.
  if ((opcode > 2 && opcode < 8) || opcode > 0xa) return malformed(0, `WebSocket opcode 0x${opcode.toString(16)} is reserved (RFC 6455 5.2)`);
  const fin = (b0 & 0x80) !== 0;
  // RFC 6455 5.5: control frames are not fragmented and carry at most 125 bytes.
  if (opcode >= 8 && !fin) return malformed(0, 'WebSocket control frame without FIN (RFC 6455 5.5)');
  const masked = (b1 & 0x80) !== 0;
  let len = b1 & 0x7f;
  let o = 2;
  if (len === 126) {
    if (avail < 4) return incomplete(4 - avail);
    len = (buf[off + 2]! << 8) | buf[off + 3]!;
    o = 4;
  } else if (len === 127) {
    if (avail < 10) return incomplete(10 - avail);
    // RFC 6455 5.2: the most significant bit must be 0; anything past WS_MAX_PAYLOAD is refused.
    const hi = ((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0;
    const lo = ((buf[off + 6]! << 24) | (buf[off + 7]! << 16) | (buf[off + 8]! << 8) | buf[off + 9]!) >>> 0;
    if (hi !== 0 || lo > WS_MAX_PAYLOAD) return malformed(2, `WebSocket payload length ${hi !== 0 ? `of ${hi} * 2^32 + ${lo}` : lo} bytes is beyond ${WS_MAX_PAYLOAD}`);
    len = lo;
    o = 10;
  }
  if (opcode >= 8 && len > 125) return malformed(1, `WebSocket control frame of ${len} bytes (RFC 6455 5.5: at most 125)`);
  let maskingKey: number | null = null;
  if (masked) {
    if (avail < o + 4) return incomplete(o + 4 - avail);
    maskingKey = ((buf[off + o]! << 24) | (buf[off + o + 1]! << 16) | (buf[off + o + 2]! << 8) | buf[off + o + 3]!) >>> 0;
    o += 4;
  }
  if (avail < o + len) return incomplete(o + len - avail);
  return done({ fin, rsv: (b0 >> 4) & 0x7, opcode, masked, maskingKey, payloadOff: off + o, payloadLength: len }, o + len);
}

/** The frame's payload, unmasked (RFC 6455 5.3: octet i XOR key octet i mod 4), written into `out` at `at`; returns the bytes written. */
export function unmaskInto(buf: Uint8Array, f: WebSocketFrame, out: Uint8Array, at: number): number {
  const n = f.payloadLength;
  const k = f.maskingKey;
  if (k === null) {
    out.set(buf.subarray(f.payloadOff, f.payloadOff + n), at);
    return n;
  }
  for (let i = 0; i < n; i++) out[at + i] = buf[f.payloadOff + i]! ^ ((k >>> (24 - 8 * (i & 3))) & 0xff);
  return n;
}

/** The close frame's status code (RFC 6455 5.5.1, 7.4), or null when its payload has none. */
export function closeStatus(buf: Uint8Array, f: WebSocketFrame): number | null {
  if (f.opcode !== WS_OPCODE_CLOSE || f.payloadLength < 2) return null;
  const two = new Uint8Array(2);
  unmaskInto(buf, { ...f, payloadLength: 2 }, two, 0);
  return (two[0]! << 8) | two[1]!;
}
