// Address text, made only for packets that matter (reports, flow keys shown to users).
// IPv6 text follows RFC 5952 4 (lowercase, no leading zeros, the longest run of two or
// more zero groups shortened to "::", the first one on a tie) and 5 (IPv4-mapped
// addresses in mixed notation, "::ffff:192.0.2.1", as Wireshark shows them).
import type { DecodedPacket } from './packet.js';

export function ipv4Text(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Text of the 4 (IPv4) or 16 (IPv6) address bytes at off; "" when they are not all there. */
export function ipText(buf: Uint8Array, off: number, version: 4 | 6): string {
  if (off < 0) return '';
  if (version === 4) {
    if (off + 4 > buf.length) return '';
    return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  }
  if (off + 16 > buf.length) return '';
  const g: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  // RFC 5952 5: IPv4-mapped (::ffff:0:0/96).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  // RFC 5952 4.2: find the longest run (>= 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += g[i]!.toString(16);
  }
  return s;
}

export function srcText(p: DecodedPacket): string {
  if (p.ipVersion === 4) return ipv4Text(p.src4);
  if (p.ipVersion === 6) return ipText(p.buf, p.srcOff, 6);
  return '';
}

export function dstText(p: DecodedPacket): string {
  if (p.ipVersion === 4) return ipv4Text(p.dst4);
  if (p.ipVersion === 6) return ipText(p.buf, p.dstOff, 6);
  return '';
}
