// pcapng framing: pure decoders for the non-packet blocks and the timestamp arithmetic.
// Spec: draft-ietf-opsawg-pcapng (sections cited as "pcapng 4.1" etc.). No state, no I/O.

import type { NameRecord } from './types.js';

/** Block types (pcapng 10.1). */
export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
/** Obsolete Packet Block (pcapng Appendix A). */
export const BT_PB = 0x00000002;
export const BT_SPB = 0x00000003;
export const BT_NRB = 0x00000004;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
/** systemd Journal Export Block (pcapng 4.7 / Wireshark): a record tshark 4.0 counts as a frame. */
export const BT_SYSTEMD_JOURNAL = 0x00000009;
export const BT_DSB = 0x0000000a;
/** Custom Blocks (pcapng 4.8): tshark 4.0 counts both as frames. */
export const BT_CB_COPY = 0x00000bad;
export const BT_CB_NOCOPY = 0x40000bad;

/** Byte-Order Magic as read little-endian from a little-endian section (pcapng 4.1). */
export const BOM_LE = 0x1a2b3c4d;
/** The same magic read little-endian from a big-endian section. */
export const BOM_BE = 0x4d3c2b1a;

/** Minimum block sizes (header + trailer + fixed fields). */
export const MIN_BLOCK_LEN = 12;
export const MIN_SHB_LEN = 28;
export const MIN_IDB_LEN = 20;
export const MIN_EPB_LEN = 32;
export const MIN_PB_LEN = 32;
export const MIN_SPB_LEN = 16;
export const MIN_DSB_LEN = 20;
/**
 * Largest block we buffer. tshark 4.0 accepts Decryption Secrets Blocks of 20 MB; packets are capped by
 * MAX_CAP_LEN anyway, so this only bounds metadata blocks (and the carry buffer) to a fixed size.
 */
export const MAX_BLOCK_LEN = 64 * 1024 * 1024;

/** Option codes (pcapng 4.2 if_name, if_tsresol, if_tsoffset). */
export const OPT_ENDOFOPT = 0;
export const OPT_IF_NAME = 2;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_TSOFFSET = 14;

/** Reads an unsigned 16/32-bit field in the section's byte order. */
export function rd16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}
export function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000
    : b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** How one interface's 64-bit timestamps become (seconds, nanoseconds): precomputed once per IDB. */
export interface TsUnits {
  /** Units per second (may be inexact as a number for resolutions finer than 2^-53). */
  perSec: number;
  /** Exact units per second when perSec >= 2^37 (integer long division would lose bits): slow BigInt path. */
  big: bigint | null;
  /** 1e9 / perSec when perSec divides 1e9 exactly (10^-0..10^-9, 2^-0..2^-9), else 0. */
  nsMul: number;
  /** if_tsoffset (pcapng 4.2): whole seconds added to every timestamp. */
  offsetSec: number;
}

const TWO_37 = 2 ** 37;

/**
 * Units per second from an if_tsresol value (pcapng 4.2 option 9): MSB clear = 10^-v, set = 2^-(v & 0x7f).
 * Absent option: 10^-6.
 */
export function tsUnits(tsresol: number | null, offsetSec = 0): TsUnits {
  let perSec: number;
  let exact: bigint;
  if (tsresol === null) {
    perSec = 1e6;
    exact = 1_000_000n;
  } else if ((tsresol & 0x80) !== 0) {
    const e = tsresol & 0x7f;
    perSec = 2 ** e;
    exact = 1n << BigInt(e);
  } else {
    perSec = 10 ** tsresol;
    exact = 10n ** BigInt(tsresol);
  }
  const big = perSec >= TWO_37 ? exact : null;
  const nsMul = big === null && 1e9 % perSec === 0 ? 1e9 / perSec : 0;
  return { perSec, big, nsMul, offsetSec };
}

/** Output of splitTimestamp (a reused object: callers copy the two numbers). */
export interface TsOut {
  tsSec: number;
  tsNsec: number;
}

/**
 * Splits the 64-bit timestamp hi:lo (in u.perSec units) into whole seconds and nanoseconds with integer
 * arithmetic only (pcapng 4.3: a nanosecond timestamp exceeds 2^53, so no float multiply), then adds
 * if_tsoffset. Nanoseconds are truncated like Wireshark's (ts % units) * 1e9 / units.
 */
export function splitTimestamp(hi: number, lo: number, u: TsUnits, out: TsOut): void {
  let sec: number;
  let rem: number;
  const U = u.perSec;
  if (u.big !== null) {
    splitBig(hi, lo, u.big, out);
    out.tsSec += u.offsetSec;
    return;
  }
  if (hi < 0x100000) {
    // hi * 2^32 + lo < 2^52: exact as a double, and so is sec * U (<= ts + U < 2^53). The float quotient
    // may be off by one either way: corrected from the exact remainder (cheaper than fmod).
    const ts = hi * 4294967296 + lo;
    sec = Math.floor(ts / U);
    rem = ts - sec * U;
    if (rem < 0) {
      sec--;
      rem += U;
    } else if (rem >= U) {
      sec++;
      rem -= U;
    }
  } else {
    // Long division in 16-bit limbs; every intermediate stays below U * 2^16 < 2^53 (U < 2^37).
    const rh = hi % U;
    const qh = (hi - rh) / U;
    const t1 = rh * 65536 + (lo >>> 16);
    const r1 = t1 % U;
    const q1 = (t1 - r1) / U;
    const t2 = r1 * 65536 + (lo & 0xffff);
    rem = t2 % U;
    const q2 = (t2 - rem) / U;
    sec = qh * 4294967296 + q1 * 65536 + q2;
  }
  let nsec: number;
  if (u.nsMul !== 0) {
    nsec = rem * u.nsMul;
  } else {
    // floor(rem * 1e9 / U) in three exact steps of * 1000 (R * 1000 < 2^47).
    let q = 0;
    let r = rem;
    for (let i = 0; i < 3; i++) {
      const x = r * 1000;
      r = x % U;
      q = q * 1000 + (x - r) / U;
    }
    nsec = q;
  }
  out.tsSec = sec + u.offsetSec;
  out.tsNsec = nsec;
}

function splitBig(hi: number, lo: number, U: bigint, out: TsOut): void {
  const ts = (BigInt(hi) << 32n) | BigInt(lo);
  const rem = ts % U;
  out.tsSec = Number(ts / U);
  out.tsNsec = Number((rem * 1_000_000_000n) / U);
}

/** Section Header Block body (pcapng 4.1), decoded once its byte order is known. */
export interface ShbInfo {
  littleEndian: boolean;
  versionMajor: number;
  versionMinor: number;
}

/**
 * Byte order of the SHB at o from its Byte-Order Magic (needs 12 bytes), or null when the magic is wrong.
 */
export function shbByteOrder(b: Uint8Array, o: number): boolean | null {
  const bom = rd32(b, o + 8, true);
  if (bom === BOM_LE) return true;
  if (bom === BOM_BE) return false;
  return null;
}

/** Interface Description Block (pcapng 4.2). */
export interface IdbInfo {
  linkType: number;
  snapLen: number;
  name: string | null;
  tsresol: number | null;
  tsoffset: number;
  /** Why the options were cut short (an option running past the block), or null. */
  optionError: string | null;
}

/**
 * Decodes an IDB occupying b[o, o + len) (len already checked: >= MIN_IDB_LEN, multiple of 4, trailer ok).
 */
export function decodeIdb(b: Uint8Array, o: number, len: number, le: boolean): IdbInfo {
  const info: IdbInfo = {
    linkType: rd16(b, o + 8, le),
    snapLen: rd32(b, o + 12, le),
    name: null,
    tsresol: null,
    tsoffset: 0,
    optionError: null,
  };
  const end = o + len - 4;
  let p = o + 16;
  while (p + 4 <= end) {
    const code = rd16(b, p, le);
    const olen = rd16(b, p + 2, le);
    if (code === OPT_ENDOFOPT) break;
    const v = p + 4;
    if (v + olen > end) {
      info.optionError = `IDB option ${code} of length ${olen} runs past the block`;
      break;
    }
    if (code === OPT_IF_NAME) {
      info.name = Buffer.from(b.buffer, b.byteOffset + v, olen).toString('utf8').replace(/\0+$/, '');
    } else if (code === OPT_IF_TSRESOL && olen >= 1) {
      info.tsresol = b[v]!;
    } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
      // Signed 64-bit seconds.
      const lo = rd32(b, le ? v : v + 4, le);
      const hi = rd32(b, le ? v + 4 : v, le) | 0;
      info.tsoffset = hi * 4294967296 + lo;
    }
    p = v + ((olen + 3) & ~3);
  }
  return info;
}

/** Formats 16 bytes at o as an RFC 5952 IPv6 text address. */
export function formatIpv6(b: Uint8Array, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  // RFC 5952 4.2: compress the longest run (>= 2) of zero words, the first one on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, z: number): string =>
    w
      .slice(a, z)
      .map((x) => x.toString(16))
      .join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/**
 * Name Resolution Block records (pcapng 4.5): nrb_record_ipv4 (1) and nrb_record_ipv6 (2), each an
 * address followed by zero-terminated names. Stops at nrb_record_end or at a record running past the block.
 */
export function decodeNrb(b: Uint8Array, o: number, len: number, le: boolean): NameRecord[] {
  const out: NameRecord[] = [];
  const end = o + len - 4;
  let p = o + 8;
  while (p + 4 <= end) {
    const type = rd16(b, p, le);
    const rlen = rd16(b, p + 2, le);
    if (type === 0) break;
    const v = p + 4;
    if (v + rlen > end) break;
    const addrLen = type === 1 ? 4 : type === 2 ? 16 : 0;
    if (addrLen !== 0 && rlen >= addrLen) {
      const ip = addrLen === 4 ? `${b[v]}.${b[v + 1]}.${b[v + 2]}.${b[v + 3]}` : formatIpv6(b, v);
      const names = Buffer.from(b.buffer, b.byteOffset + v + addrLen, rlen - addrLen)
        .toString('utf8')
        .split('\0')
        .filter((s) => s.length > 0);
      out.push({ ip, names });
    }
    p = v + ((rlen + 3) & ~3);
  }
  return out;
}

/**
 * Decryption Secrets Block (pcapng 4.7): secrets type and a copy of the secrets data, or null when the
 * secrets length runs past the block.
 */
export function decodeDsb(
  b: Uint8Array,
  o: number,
  len: number,
  le: boolean,
): { type: number; data: Buffer } | null {
  const type = rd32(b, o + 8, le);
  const slen = rd32(b, o + 12, le);
  if (slen > len - MIN_DSB_LEN) return null;
  return { type, data: Buffer.from(Buffer.from(b.buffer, b.byteOffset + o + 16, slen)) };
}
