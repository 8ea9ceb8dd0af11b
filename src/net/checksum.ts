// Checksums, checked only when the caller asks (decodePacket does not, for speed).
// RFC 1071 (one's complement sum); pseudo-headers RFC 9293 3.1 (TCP), RFC 768 (UDP),
// RFC 8200 8.1 (IPv6); ICMP RFC 792, ICMPv6 RFC 4443 2.3.
import { type DecodedPacket, IpProto } from './packet.js';

/** One's complement partial sum of buf[from, to) as 16-bit big-endian words (odd tail padded with zero). */
function sum16(buf: Buffer, from: number, to: number, acc: number): number {
  let i = from;
  // Two words per step, in blocks of at most 8192 steps so the block's sum stays a small integer
  // (8192 * 2 * 0xffff < 2^31); the one's complement sum does not depend on where it is folded.
  while (to - i >= 4) {
    const blockEnd = Math.min(to - 3, i + 32768);
    let s = 0;
    for (; i < blockEnd; i += 4) s += ((buf[i]! << 8) | buf[i + 1]!) + ((buf[i + 2]! << 8) | buf[i + 3]!);
    acc = fold(acc + s);
  }
  for (; i + 1 < to; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < to) acc += buf[i]! << 8;
  return fold(acc);
}

/** End-around carry; plain arithmetic, as acc may exceed 2^32 on jumbo payloads (it stays far below 2^53). */
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return acc;
}

/** IPv4 header checksum (also stored in p.ipChecksumOk); null for IPv6 or no complete IPv4 header. */
export function checkIpChecksum(p: DecodedPacket): boolean | null {
  if (p.ipVersion !== 4 || p.ipHdrLen < 20 || p.ipOff < 0 || p.ipOff + p.ipHdrLen > p.buf.length) return null;
  const ok = fold(sum16(p.buf, p.ipOff, p.ipOff + p.ipHdrLen, 0)) === 0xffff;
  p.ipChecksumOk = ok;
  return ok;
}

/**
 * TCP / UDP (and ICMP / ICMPv6) checksum over the pseudo-header (also stored in
 * p.l4ChecksumOk). null when it cannot be checked: no complete transport header, a
 * decoding error, a fragment, bytes cut by the snaplen, or a UDP checksum of zero (not sent).
 */
export function checkTransportChecksum(p: DecodedPacket): boolean | null {
  if (p.l4Off < 0 || p.error !== null || p.isFragment) return null;
  const proto = p.ipProto;
  if (proto !== IpProto.TCP && proto !== IpProto.UDP && proto !== IpProto.ICMP && proto !== IpProto.ICMPV6) return null;
  if (proto === IpProto.TCP && p.tcpHdrLen < 20) return null;
  // Transport length on the wire, and whether all of it was captured.
  if (p.payloadLen !== p.payloadWireLen) return null;
  const len = p.payloadOff - p.l4Off + p.payloadWireLen;
  const buf = p.buf;
  if (p.l4Off + len > buf.length) return null;
  if (proto === IpProto.UDP && buf[p.l4Off + 6] === 0 && buf[p.l4Off + 7] === 0) return null;
  let acc = 0;
  if (proto !== IpProto.ICMP) {
    if (p.ipVersion === 4) {
      acc = sum16(buf, p.srcOff, p.srcOff + 4, acc);
      acc = sum16(buf, p.dstOff, p.dstOff + 4, acc);
      acc += proto + len;
    } else if (p.ipVersion === 6) {
      acc = sum16(buf, p.srcOff, p.srcOff + 16, acc);
      acc = sum16(buf, p.dstOff, p.dstOff + 16, acc);
      acc += (len >>> 16) + (len & 0xffff) + proto;
    } else {
      return null;
    }
  }
  const ok = fold(sum16(buf, p.l4Off, p.l4Off + len, acc)) === 0xffff;
  p.l4ChecksumOk = ok;
  return ok;
}
