// Fast-path framing (MS-RDPBCGR 2.2.9.1.2 server output, 2.2.8.1.2 client input): the 2- or 3-byte
// header, so a stream can be cut into PDUs and slow-path (TPKT) told apart from fast-path.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { readTpkt } from './tpkt.js';

/** fpOutputHeader / fpInputHeader action (2 low bits). */
export const FASTPATH_ACTION_FASTPATH = 0x0;
export const FASTPATH_ACTION_X224 = 0x3;
/** Flags (2 high bits of the first byte). */
export const FASTPATH_SECURE_CHECKSUM = 0x1;
export const FASTPATH_ENCRYPTED = 0x2;

/** The first byte of a PDU is fast-path when its action bits are FASTPATH_ACTION_FASTPATH (a TPKT starts with 0x03). */
export function isFastPath(byte0: number): boolean {
  return (byte0 & 0x03) === FASTPATH_ACTION_FASTPATH;
}

/** MS-RDPBCGR 2.2.9.1.2 TS_FP_UPDATE_PDU / 2.2.8.1.2 TS_FP_INPUT_PDU header. */
export interface FastPathHeader {
  action: number;
  /** Bits 2..5: numEvents for client input (0 means a numEvents byte follows), reserved for server output. */
  numEvents: number;
  /** Bits 6..7: FASTPATH_SECURE_CHECKSUM, FASTPATH_ENCRYPTED. */
  flags: number;
  encrypted: boolean;
  /** The whole PDU, header included. */
  length: number;
  /** 2 or 3 (length in 1 or 2 bytes). */
  headerLength: number;
  bodyOff: number;
  end: number;
}

export function readFastPathHeader(buf: Uint8Array, off: number, end: number): Decoded<FastPathHeader> {
  if (off + 2 > end) return incomplete(off + 2 - end);
  const b0 = buf[off];
  if (!isFastPath(b0)) return malformed(off, `fast-path action ${b0 & 0x03} (expected 0)`);
  const l1 = buf[off + 1];
  let length: number;
  let headerLength: number;
  if ((l1 & 0x80) !== 0) {
    if (off + 3 > end) return incomplete(off + 3 - end);
    length = ((l1 & 0x7f) << 8) | buf[off + 2];
    headerLength = 3;
  } else {
    length = l1;
    headerLength = 2;
  }
  if (length < headerLength + 1) return malformed(off + 1, `fast-path length ${length} is below ${headerLength + 1}`);
  if (off + length > end) return incomplete(off + length - end);
  const flags = b0 >> 6;
  return done(
    {
      action: b0 & 0x03,
      numEvents: (b0 >> 2) & 0x0f,
      flags,
      encrypted: (flags & FASTPATH_ENCRYPTED) !== 0,
      length,
      headerLength,
      bodyOff: off + headerLength,
      end: off + length,
    },
    length,
  );
}

/** One PDU of an RDP stream after the X.224 exchange: slow-path (TPKT) or fast-path, with its extent. */
export interface RdpFrame {
  kind: 'tpkt' | 'fastpath';
  length: number;
  end: number;
}

/** Cuts the next PDU of a stream: TPKT when the first byte is 3, fast-path when its action bits are 0. */
export function readFrame(buf: Uint8Array, off: number, end: number): Decoded<RdpFrame> {
  if (off >= end) return incomplete(1);
  if (buf[off] === 0x03) {
    const t = readTpkt(buf, off, end);
    return t.ok ? done({ kind: 'tpkt', length: t.value.length, end: t.value.end }, t.consumed) : t;
  }
  const f = readFastPathHeader(buf, off, end);
  return f.ok ? done({ kind: 'fastpath', length: f.value.length, end: f.value.end }, f.consumed) : f;
}
