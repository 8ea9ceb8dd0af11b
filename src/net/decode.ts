// Link -> IP -> TCP / UDP / ICMP decoding, in place into a reusable DecodedPacket.
// Hot path: direct byte indexing, no allocation (error strings are made only for
// packets that fail), no closures. Every read is bounded by `end`, the last captured byte.
//   Ethernet II, IEEE 802.1Q / 802.1ad tags; PPPoE RFC 2516; MPLS RFC 3032
//   Linux cooked: https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html, _SLL2.html
//   BSD loopback: https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html
//   PPP RFC 1661 2 (protocol field), RFC 1662 3.1 (address/control)
//   IEEE 802.11-2020 9.2.4 (frame control), 9.3.2.1 (data frame); radiotap https://www.radiotap.org
//   IPv4 RFC 791 3.1; IPv6 RFC 8200 3, 4; AH RFC 4302 2.2
//   TCP RFC 9293 3.1; options RFC 7323 (WS, TS), RFC 2018 (SACK); UDP RFC 768
//   ICMP RFC 792, RFC 1191 (next-hop MTU); ICMPv6 RFC 4443 3
import { DecodedPacket, IpProto } from './packet.js';
import { LinkType } from './linktype.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN_8021Q = 0x8100;
const ETH_VLAN_8021AD = 0x88a8;
const ETH_VLAN_9100 = 0x9100;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS_UC = 0x8847;
const ETH_MPLS_MC = 0x8848;
const ETH_CISCO_METADATA = 0x8909;
const ETH_NSH = 0x894f;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

/** Upper bound on VLAN tags / MPLS labels walked (each consumes 4 bytes anyway). */
const MAX_TAGS = 16;

function fail(out: DecodedPacket, at: number, msg: string): void {
  out.error = msg;
  out.errorAt = at;
}

function cut(out: DecodedPacket, layer: string, at: number, have: number, need: number): void {
  out.error = `${layer} cut: ${have < 0 ? 0 : have} of ${need} bytes captured`;
  out.errorAt = at;
}

let lastUnsupported = -1;
let lastUnsupportedText = '';
function unsupported(out: DecodedPacket, at: number, linkType: number): void {
  // The same message for every packet of a file: made once, not per packet.
  if (linkType !== lastUnsupported) {
    lastUnsupported = linkType;
    lastUnsupportedText = `unsupported link type ${linkType}`;
  }
  fail(out, at, lastUnsupportedText);
}

/**
 * Decodes one captured packet. `out.reset` is called first; afterwards `out.error`
 * / `out.errorAt` say where and why decoding stopped early (never throws).
 */
export function decodePacket(buf: Buffer, off: number, capLen: number, linkType: number, out: DecodedPacket): void {
  decodeFrom(buf, off, capLen, linkType, out, true);
}

/**
 * decodePacket without its Ethernet / IPv4 / TCP shortcut (decodeEthernetIpv4Tcp): every packet
 * through the general decoders. For tests that compare the two.
 */
export function decodePacketGeneral(buf: Buffer, off: number, capLen: number, linkType: number, out: DecodedPacket): void {
  decodeFrom(buf, off, capLen, linkType, out, false);
}

function decodeFrom(buf: Buffer, off: number, capLen: number, linkType: number, out: DecodedPacket, shortcut: boolean): void {
  out.reset(buf, linkType);
  let end = off + (capLen > 0 ? capLen : 0);
  if (end > buf.length) end = buf.length;
  if (off < 0 || off > end) {
    fail(out, off < 0 ? 0 : end, 'packet offset outside the buffer');
    return;
  }
  if (shortcut && linkType === LinkType.ETHERNET && decodeEthernetIpv4Tcp(buf, off, end, out)) return;
  decodeLink(buf, off, end, linkType, out);
}

/**
 * The common packet of an RDP capture in one step (issue 16: nearly every packet of a `tcp port 3389`
 * capture is one): Ethernet II, IPv4 without options (RFC 791 3.1: IHL 5), not a fragment, TCP
 * without options (RFC 9293 3.1: data offset 5), both headers captured, and an IP total length that
 * holds them (or 0: offload). Fills `out` exactly as decodeEthernet -> decodeIpv4 -> decodeTransport
 * would (test/net/fast-path.property.test.ts); false, with `out` untouched, for any other packet.
 */
function decodeEthernetIpv4Tcp(buf: Buffer, off: number, end: number, out: DecodedPacket): boolean {
  const p = off + 14;
  const t = p + 20;
  if (end - t < 20 || buf[off + 12] !== 0x08 || buf[off + 13] !== 0x00 || buf[p] !== 0x45 || buf[p + 9] !== IpProto.TCP) return false;
  // Flags and fragment offset: only DF (or reserved bit) may be set (MF 0, offset 0).
  if ((buf[p + 6]! & 0x3f) !== 0 || buf[p + 7] !== 0 || buf[t + 12]! >> 4 !== 5) return false;
  let totalLen = (buf[p + 2]! << 8) | buf[p + 3]!;
  if (totalLen === 0) totalLen = end - p;
  else if (totalLen < 40) return false;
  out.etherType = ETH_IPV4;
  out.ipOff = p;
  out.ipVersion = 4;
  out.ttl = buf[p + 8]!;
  out.ipProto = IpProto.TCP;
  out.ipId = (buf[p + 4]! << 8) | buf[p + 5]!;
  out.srcOff = p + 12;
  out.dstOff = p + 16;
  out.src4 = ((buf[p + 12]! << 24) | (buf[p + 13]! << 16) | (buf[p + 14]! << 8) | buf[p + 15]!) >>> 0;
  out.dst4 = ((buf[p + 16]! << 24) | (buf[p + 17]! << 16) | (buf[p + 18]! << 8) | buf[p + 19]!) >>> 0;
  out.ipHdrLen = 20;
  const wireEnd = p + totalLen;
  const ipEnd = wireEnd < end ? wireEnd : end;
  out.ipEnd = ipEnd;
  out.l4Off = t;
  out.srcPort = (buf[t]! << 8) | buf[t + 1]!;
  out.dstPort = (buf[t + 2]! << 8) | buf[t + 3]!;
  out.seq = ((buf[t + 4]! << 24) | (buf[t + 5]! << 16) | (buf[t + 6]! << 8) | buf[t + 7]!) >>> 0;
  out.ack = ((buf[t + 8]! << 24) | (buf[t + 9]! << 16) | (buf[t + 10]! << 8) | buf[t + 11]!) >>> 0;
  out.tcpFlags = buf[t + 13]!;
  out.window = (buf[t + 14]! << 8) | buf[t + 15]!;
  out.tcpHdrLen = 20;
  const payloadOff = t + 20;
  out.payloadOff = payloadOff;
  out.payloadLen = ipEnd - payloadOff;
  out.payloadWireLen = wireEnd - payloadOff;
  return true;
}

function decodeLink(buf: Buffer, off: number, end: number, linkType: number, out: DecodedPacket): void {
  switch (linkType) {
    case LinkType.ETHERNET:
      decodeEthernet(buf, off, end, out);
      return;
    case LinkType.LINUX_SLL: {
      // 16-byte header; protocol type (EtherType) at 14.
      if (end - off < 16) return cut(out, 'Linux cooked (SLL) header', off, end - off, 16);
      decodeEtherType(buf, off + 16, end, (buf[off + 14]! << 8) | buf[off + 15]!, out);
      return;
    }
    case LinkType.LINUX_SLL2: {
      // 20-byte header; protocol type (EtherType) first.
      if (end - off < 20) return cut(out, 'Linux cooked (SLL2) header', off, end - off, 20);
      decodeEtherType(buf, off + 20, end, (buf[off]! << 8) | buf[off + 1]!, out);
      return;
    }
    case LinkType.RAW:
    case LinkType.RAW_DLT12:
    case LinkType.RAW_DLT14:
      decodeRawIp(buf, off, end, 0, out);
      return;
    case LinkType.IPV4:
      decodeRawIp(buf, off, end, 4, out);
      return;
    case LinkType.IPV6:
      decodeRawIp(buf, off, end, 6, out);
      return;
    case LinkType.NULL:
    case LinkType.LOOP:
      decodeNull(buf, off, end, out);
      return;
    case LinkType.PPP:
    case LinkType.PPP_HDLC:
      decodePpp(buf, off, end, out);
      return;
    case LinkType.IEEE802_11:
      decode80211(buf, off, end, out);
      return;
    case LinkType.IEEE802_11_RADIOTAP:
      decodeRadiotap(buf, off, end, out);
      return;
    default:
      unsupported(out, off, linkType);
  }
}

// ------------------------------------------------------------------ link layers

function decodeEthernet(buf: Buffer, off: number, end: number, out: DecodedPacket): void {
  if (end - off < 14) return cut(out, 'Ethernet header', off, end - off, 14);
  decodeEtherType(buf, off + 14, end, (buf[off + 12]! << 8) | buf[off + 13]!, out);
}

/** Walks VLAN tags, PPPoE and MPLS from an EtherType at p (the first byte after the type field). */
function decodeEtherType(buf: Buffer, p: number, end: number, etherType: number, out: DecodedPacket): void {
  let tags = 0;
  while (etherType === ETH_VLAN_8021Q || etherType === ETH_VLAN_8021AD || etherType === ETH_VLAN_9100) {
    // IEEE 802.1Q 9.6: TCI (PCP 3, DEI 1, VID 12), then the next EtherType.
    if (end - p < 4) return cut(out, 'VLAN tag', p, end - p, 4);
    if (out.vlan < 0) out.vlan = ((buf[p]! << 8) | buf[p + 1]!) & 0x0fff;
    etherType = (buf[p + 2]! << 8) | buf[p + 3]!;
    p += 4;
    if (++tags > MAX_TAGS) return fail(out, p, `more than ${MAX_TAGS} VLAN tags`);
  }
  if (etherType === ETH_CISCO_METADATA) {
    // Cisco TrustSec MetaData: version, length, option (type/length, SGT), then the EtherType.
    if (end - p < 8) return cut(out, 'Cisco MetaData header', p, end - p, 8);
    etherType = (buf[p + 6]! << 8) | buf[p + 7]!;
    p += 8;
    if (etherType === ETH_VLAN_8021Q) {
      if (end - p < 4) return cut(out, 'VLAN tag', p, end - p, 4);
      if (out.vlan < 0) out.vlan = ((buf[p]! << 8) | buf[p + 1]!) & 0x0fff;
      etherType = (buf[p + 2]! << 8) | buf[p + 3]!;
      p += 4;
    }
  } else if (etherType === ETH_NSH) {
    // RFC 8300 2.2: Ver(2) O U TTL(6) Length(6, in 4-byte words), MD type, next protocol (1 IPv4, 2 IPv6).
    if (end - p < 8) return cut(out, 'NSH header', p, end - p, 8);
    const len = (buf[p + 1]! & 0x3f) << 2;
    const next = buf[p + 3]!;
    if (len < 8) return fail(out, p, `NSH length ${len} < 8`);
    if (end - p < len) return cut(out, 'NSH header', p, end - p, len);
    p += len;
    if (next === 1) etherType = ETH_IPV4;
    else if (next === 2) etherType = ETH_IPV6;
    else return;
  }
  if (etherType === ETH_PPPOE_SESSION) {
    // RFC 2516 4: ver/type, code, session id, length; then the PPP protocol field.
    if (end - p < 8) return cut(out, 'PPPoE header', p, end - p, 8);
    const pppProto = (buf[p + 6]! << 8) | buf[p + 7]!;
    p += 8;
    etherType = pppProto === PPP_IPV4 ? ETH_IPV4 : pppProto === PPP_IPV6 ? ETH_IPV6 : 0;
    if (etherType === 0) return;
  } else if (etherType === ETH_MPLS_UC || etherType === ETH_MPLS_MC) {
    // RFC 3032 2.1: 4-byte label stack entries until bottom of stack (S bit).
    let labels = 0;
    for (;;) {
      if (end - p < 4) return cut(out, 'MPLS label', p, end - p, 4);
      const bottom = buf[p + 2]! & 1;
      p += 4;
      if (bottom) break;
      if (++labels > MAX_TAGS) return fail(out, p, `more than ${MAX_TAGS} MPLS labels`);
    }
    return decodeRawIp(buf, p, end, 0, out);
  }
  out.etherType = etherType;
  if (etherType === ETH_IPV4) decodeIpv4(buf, p, end, out, false);
  else if (etherType === ETH_IPV6) decodeIpv6(buf, p, end, out, false);
  // Other EtherTypes (ARP, LLDP, 802.3 lengths, ...) are not IP: no error.
}

/** Raw IP: the version nibble decides; `want` 4 or 6 insists on one (LINKTYPE_IPV4 / _IPV6). */
function decodeRawIp(buf: Buffer, p: number, end: number, want: number, out: DecodedPacket): void {
  if (end - p < 1) return cut(out, 'IP header', p, 0, 20);
  const version = buf[p]! >> 4;
  if (version === 4 && want !== 6) {
    out.etherType = ETH_IPV4;
    decodeIpv4(buf, p, end, out, false);
  } else if (version === 6 && want !== 4) {
    out.etherType = ETH_IPV6;
    decodeIpv6(buf, p, end, out, false);
  } else {
    fail(out, p, want === 0 ? `raw IP: version field is ${version}` : `IPv${want} link: version field is ${version}`);
  }
}

function decodeNull(buf: Buffer, off: number, end: number, out: DecodedPacket): void {
  // 4-byte address family: host byte order of the writer for NULL, network order for LOOP;
  // both are accepted (a family fits in the low 16 bits, so the zero half tells the order).
  if (end - off < 4) return cut(out, 'loopback header', off, end - off, 4);
  const b0 = buf[off]!, b1 = buf[off + 1]!, b2 = buf[off + 2]!, b3 = buf[off + 3]!;
  const family = b0 === 0 && b1 === 0 ? (b2 << 8) | b3 : (b1 << 8) | b0;
  if (family === 2) {
    out.etherType = ETH_IPV4;
    decodeIpv4(buf, off + 4, end, out, false);
  } else if (family === 24 || family === 28 || family === 30 || family === 10) {
    // AF_INET6: 24 NetBSD/OpenBSD, 28 FreeBSD/DragonFly, 30 macOS, 10 Linux.
    out.etherType = ETH_IPV6;
    decodeIpv6(buf, off + 4, end, out, false);
  } else {
    fail(out, off, `loopback: unknown address family ${family}`);
  }
}

function decodePpp(buf: Buffer, off: number, end: number, out: DecodedPacket): void {
  let p = off;
  // RFC 1662 3.1: optional address 0xff / control 0x03.
  if (end - p >= 2 && buf[p] === 0xff && buf[p + 1] === 0x03) p += 2;
  if (end - p < 1) return cut(out, 'PPP header', off, end - off, 2);
  let proto: number;
  if (buf[p]! & 1) {
    proto = buf[p]!; // RFC 1661 6.5 protocol field compression: one odd byte
    p += 1;
  } else {
    if (end - p < 2) return cut(out, 'PPP header', off, end - off, p - off + 2);
    proto = (buf[p]! << 8) | buf[p + 1]!;
    p += 2;
  }
  if (proto === PPP_IPV4) {
    out.etherType = ETH_IPV4;
    decodeIpv4(buf, p, end, out, false);
  } else if (proto === PPP_IPV6) {
    out.etherType = ETH_IPV6;
    decodeIpv6(buf, p, end, out, false);
  }
  // LCP, IPCP, CHAP, ...: not IP, no error.
}

function decodeRadiotap(buf: Buffer, off: number, end: number, out: DecodedPacket): void {
  // Radiotap header: version 0, pad, length (LE), present bitmaps (bit 31 = another follows).
  if (end - off < 8) return cut(out, 'radiotap header', off, end - off, 8);
  const len = buf[off + 2]! | (buf[off + 3]! << 8);
  if (buf[off] !== 0 || len < 8) return fail(out, off + 2, `radiotap: bad header (version ${buf[off]}, length ${len})`);
  if (end - off < len) return cut(out, 'radiotap header', off, end - off, len);
  let q = off + 4;
  const present0 = (buf[q]! | (buf[q + 1]! << 8) | (buf[q + 2]! << 16) | (buf[q + 3]! << 24)) >>> 0;
  while (q + 4 <= off + len && buf[q + 3]! & 0x80) q += 4;
  q += 4;
  // The Flags field (bit 1) follows TSFT (bit 0, 8 bytes aligned to 8): FCS-at-end is flag 0x10.
  if (present0 & 2) {
    if (present0 & 1) q = off + (((q - off + 7) & ~7) + 8);
    if (q < off + len && buf[q]! & 0x10 && end - (off + len) >= 4) end -= 4;
  }
  decode80211(buf, off + len, end, out);
}

function decode80211(buf: Buffer, off: number, end: number, out: DecodedPacket): void {
  if (end - off < 2) return cut(out, '802.11 header', off, end - off, 24);
  const fc0 = buf[off]!, fc1 = buf[off + 1]!;
  const type = (fc0 >> 2) & 3;
  const subtype = fc0 >> 4;
  // Only data frames with a body and no protection carry IP in the clear.
  if (type !== 2 || subtype & 4 || fc1 & 0x40) return;
  let hl = 24;
  if ((fc1 & 3) === 3) hl += 6; // Address 4 (to DS and from DS)
  if (subtype & 8) {
    hl += 2; // QoS Control
    if (fc1 & 0x80) hl += 4; // HT Control (+HTC / order)
  }
  if (end - off < hl) return cut(out, '802.11 header', off, end - off, hl);
  const p = off + hl;
  // IEEE 802.2 LLC + SNAP: AA AA 03, OUI 00-00-00 (RFC 1042) or 00-00-F8 (802.1H), EtherType.
  if (end - p < 8) return cut(out, 'LLC/SNAP header', p, end - p, 8);
  if (buf[p] !== 0xaa || buf[p + 1] !== 0xaa || buf[p + 2] !== 0x03) return;
  decodeEtherType(buf, p + 8, end, (buf[p + 6]! << 8) | buf[p + 7]!, out);
}

// ------------------------------------------------------------------ IP

/**
 * IPv4 at p. `quoted`: the header is quoted in an ICMP error, where the total length
 * describes the original datagram and the transport header may be cut after 8 bytes.
 */
function decodeIpv4(buf: Buffer, p: number, end: number, out: DecodedPacket, quoted: boolean): void {
  out.ipOff = p;
  out.ipEnd = end;
  if (end - p < 20) return cut(out, 'IPv4 header', p, end - p, 20);
  const vihl = buf[p]!;
  if (vihl >> 4 !== 4) return fail(out, p, `IPv4: version field is ${vihl >> 4}`);
  const hl = (vihl & 0x0f) << 2;
  out.ipVersion = 4;
  out.ttl = buf[p + 8]!;
  out.ipProto = buf[p + 9]!;
  out.ipId = (buf[p + 4]! << 8) | buf[p + 5]!;
  out.srcOff = p + 12;
  out.dstOff = p + 16;
  out.src4 = ((buf[p + 12]! << 24) | (buf[p + 13]! << 16) | (buf[p + 14]! << 8) | buf[p + 15]!) >>> 0;
  out.dst4 = ((buf[p + 16]! << 24) | (buf[p + 17]! << 16) | (buf[p + 18]! << 8) | buf[p + 19]!) >>> 0;
  const frag = (buf[p + 6]! << 8) | buf[p + 7]!;
  out.fragOffset = (frag & 0x1fff) << 3;
  out.moreFragments = (frag & 0x2000) !== 0;
  out.isFragment = out.fragOffset !== 0 || out.moreFragments;
  if (hl < 20) return fail(out, p, `IPv4 header length ${hl} < 20`);
  out.ipHdrLen = hl;
  if (end - p < hl) return cut(out, 'IPv4 header (options)', p, end - p, hl);
  let totalLen = (buf[p + 2]! << 8) | buf[p + 3]!;
  // Total length 0: TCP segmentation offload on the capturing host; the captured bytes are the datagram.
  if (totalLen === 0 && !quoted) totalLen = end - p;
  if (totalLen < hl) return fail(out, p + 2, `IPv4 total length ${totalLen} < header length ${hl}`);
  const wireEnd = p + totalLen;
  out.ipEnd = wireEnd < end ? wireEnd : end; // drops Ethernet padding / trailers
  if (out.fragOffset !== 0) return; // a non-first fragment carries no transport header
  decodeTransport(buf, p + hl, out.ipEnd, wireEnd, out, quoted);
}

function decodeIpv6(buf: Buffer, p: number, end: number, out: DecodedPacket, quoted: boolean): void {
  out.ipOff = p;
  out.ipEnd = end;
  if (end - p < 40) return cut(out, 'IPv6 header', p, end - p, 40);
  if (buf[p]! >> 4 !== 6) return fail(out, p, `IPv6: version field is ${buf[p]! >> 4}`);
  out.ipVersion = 6;
  out.ttl = buf[p + 7]!;
  out.srcOff = p + 8;
  out.dstOff = p + 24;
  const payloadLen = (buf[p + 4]! << 8) | buf[p + 5]!;
  // Payload length 0: a jumbogram (RFC 2675) or offload; the captured bytes are the datagram.
  const wireEnd = payloadLen === 0 && !quoted ? end : p + 40 + payloadLen;
  const ipEnd = wireEnd < end ? wireEnd : end;
  out.ipEnd = ipEnd;
  let next = buf[p + 6]!;
  let q = p + 40;
  // RFC 8200 4.1: walk extension headers; each one consumes at least 8 bytes, so this ends.
  for (;;) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      // Hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-octet units, not counting the first 8.
      if (ipEnd - q < 2) break;
      const len = (buf[q + 1]! + 1) << 3;
      if (ipEnd - q < len) {
        out.ipProto = next;
        out.ipHdrLen = q - p;
        return cut(out, 'IPv6 extension header', q, ipEnd - q, len);
      }
      next = buf[q]!;
      q += len;
    } else if (next === 44) {
      // RFC 8200 4.5: fragment header, 8 bytes.
      if (ipEnd - q < 8) {
        out.ipProto = next;
        out.ipHdrLen = q - p;
        return cut(out, 'IPv6 fragment header', q, ipEnd - q, 8);
      }
      const fo = (buf[q + 2]! << 8) | buf[q + 3]!;
      out.fragOffset = fo & 0xfff8;
      out.moreFragments = (fo & 1) !== 0;
      out.isFragment = true;
      out.ipId = ((buf[q + 4]! << 24) | (buf[q + 5]! << 16) | (buf[q + 6]! << 8) | buf[q + 7]!) >>> 0;
      next = buf[q]!;
      q += 8;
    } else if (next === 51) {
      // RFC 4302 2.2: AH payload length in 4-octet units minus 2.
      if (ipEnd - q < 2) break;
      const len = (buf[q + 1]! + 2) << 2;
      if (ipEnd - q < len) {
        out.ipProto = next;
        out.ipHdrLen = q - p;
        return cut(out, 'IPv6 authentication header', q, ipEnd - q, len);
      }
      next = buf[q]!;
      q += len;
    } else {
      break; // upper layer, ESP (50), no next header (59)
    }
  }
  out.ipProto = next;
  out.ipHdrLen = q - p;
  if (next === 0 || next === 43 || next === 60 || next === 51 || next === 135 || next === 139 || next === 140) {
    return cut(out, 'IPv6 extension header', q, ipEnd - q, 2);
  }
  if (out.fragOffset !== 0) return;
  decodeTransport(buf, q, ipEnd, wireEnd, out, quoted);
}

// ------------------------------------------------------------------ transport

function decodeTransport(buf: Buffer, p: number, end: number, wireEnd: number, out: DecodedPacket, quoted: boolean): void {
  out.l4Off = p;
  out.payloadOff = p;
  const have = end - p;
  switch (out.ipProto) {
    case IpProto.TCP: {
      // RFC 9293 3.1. An ICMP error quotes at least the first 8 bytes (ports, sequence number).
      // What a cut header holds (ports, sequence number) is kept before reporting the cut.
      if (have >= 4) {
        out.srcPort = (buf[p]! << 8) | buf[p + 1]!;
        out.dstPort = (buf[p + 2]! << 8) | buf[p + 3]!;
      }
      if (have >= 8) out.seq = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
      if (have < 20) {
        if (!quoted || have < 8) cut(out, 'TCP header', p, have, 20);
        return; // quoted: the rest is not required
      }
      out.ack = ((buf[p + 8]! << 24) | (buf[p + 9]! << 16) | (buf[p + 10]! << 8) | buf[p + 11]!) >>> 0;
      const hl = (buf[p + 12]! >> 4) << 2;
      out.tcpFlags = buf[p + 13]!;
      out.window = (buf[p + 14]! << 8) | buf[p + 15]!;
      if (hl < 20) return fail(out, p + 12, `TCP data offset ${hl} < 20`);
      out.tcpHdrLen = hl;
      const optEnd = hl <= have ? p + hl : end;
      if (optEnd > p + 20) decodeTcpOptions(buf, p + 20, optEnd, out);
      const payloadOff = p + hl;
      const wireLen = wireEnd - payloadOff;
      out.payloadWireLen = wireLen > 0 ? wireLen : 0;
      if (hl > have) {
        out.payloadOff = end;
        if (!quoted) cut(out, 'TCP header (options)', p, have, hl);
        return;
      }
      out.payloadOff = payloadOff;
      out.payloadLen = end - payloadOff;
      return;
    }
    case IpProto.UDP: {
      // RFC 768.
      if (have >= 4) {
        out.srcPort = (buf[p]! << 8) | buf[p + 1]!;
        out.dstPort = (buf[p + 2]! << 8) | buf[p + 3]!;
      }
      if (have < 8) return cut(out, 'UDP header', p, have, 8);
      const udpLen = (buf[p + 4]! << 8) | buf[p + 5]!;
      out.payloadOff = p + 8;
      let wireLen = wireEnd - p - 8;
      let capEnd = end;
      if (udpLen >= 8) {
        if (udpLen - 8 < wireLen || quoted) wireLen = udpLen - 8;
        if (p + udpLen < capEnd) capEnd = p + udpLen;
      } else if (udpLen !== 0 || out.ipVersion !== 6) {
        // 0 is legal only in an IPv6 jumbogram (RFC 2675 4); the IP length still bounds the payload.
        fail(out, p + 4, `UDP length ${udpLen} < 8`);
      }
      out.payloadWireLen = wireLen > 0 ? wireLen : 0;
      out.payloadLen = capEnd - p - 8;
      return;
    }
    case IpProto.ICMP: {
      // RFC 792: type, code, checksum, 4 bytes that depend on the type, then data.
      if (have < 8) return cut(out, 'ICMP header', p, have, 8);
      const type = buf[p]!;
      out.icmpType = type;
      out.icmpCode = buf[p + 1]!;
      out.payloadOff = p + 8;
      out.payloadLen = have - 8;
      out.payloadWireLen = wireEnd - p - 8 > 0 ? wireEnd - p - 8 : 0;
      // Errors quoting the offending datagram: unreachable 3, source quench 4, redirect 5,
      // time exceeded 11, parameter problem 12.
      if (type === 3 || type === 4 || type === 5 || type === 11 || type === 12) {
        out.quotedOff = p + 8;
        out.quotedLen = have - 8;
        // RFC 1191 4: "fragmentation needed" carries the next-hop MTU in the low 16 bits.
        if (type === 3 && out.icmpCode === 4) out.icmpMtu = (buf[p + 6]! << 8) | buf[p + 7]!;
      }
      return;
    }
    case IpProto.ICMPV6: {
      // RFC 4443 2.1; error messages (types < 128) carry 4 more bytes and the invoking packet.
      if (have < 4) return cut(out, 'ICMPv6 header', p, have, 4);
      const type = buf[p]!;
      out.icmpType = type;
      out.icmpCode = buf[p + 1]!;
      if (type < 128) {
        if (have < 8) return cut(out, 'ICMPv6 error header', p, have, 8);
        out.quotedOff = p + 8;
        out.quotedLen = have - 8;
        // RFC 4443 3.2: Packet Too Big, 32-bit MTU.
        if (type === 2) out.icmpMtu = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
        out.payloadOff = p + 8;
      } else {
        out.payloadOff = p + 4;
      }
      out.payloadLen = end - out.payloadOff;
      out.payloadWireLen = wireEnd - out.payloadOff > 0 ? wireEnd - out.payloadOff : 0;
      return;
    }
    default:
      // Other protocols (ESP, GRE, tunnels, ...): the IP payload as is.
      out.l4Off = -1;
      out.payloadOff = p;
      out.payloadLen = have > 0 ? have : 0;
      out.payloadWireLen = wireEnd - p > 0 ? wireEnd - p : 0;
  }
}

/** RFC 9293 3.2: kinds 0 EOL, 1 NOP, then kind/length; a bad length stops parsing, not the packet. */
function decodeTcpOptions(buf: Buffer, p: number, end: number, out: DecodedPacket): void {
  while (p < end) {
    const kind = buf[p]!;
    if (kind === 0) return;
    if (kind === 1) {
      p++;
      continue;
    }
    if (end - p < 2) return;
    const len = buf[p + 1]!;
    if (len < 2 || end - p < len) return;
    switch (kind) {
      case 2: // MSS, RFC 9293 3.7.1
        if (len === 4) out.mss = (buf[p + 2]! << 8) | buf[p + 3]!;
        break;
      case 3: // window scale, RFC 7323 2.2
        if (len === 3) out.wscale = buf[p + 2]!;
        break;
      case 4: // SACK permitted, RFC 2018 2
        if (len === 2) out.sackPermitted = true;
        break;
      case 5: // SACK blocks, RFC 2018 3
        if ((len - 2) % 8 === 0) out.sackBlocks = (len - 2) >> 3;
        break;
      case 8: // timestamps, RFC 7323 3.2
        if (len === 10) {
          out.tsVal = ((buf[p + 2]! << 24) | (buf[p + 3]! << 16) | (buf[p + 4]! << 8) | buf[p + 5]!) >>> 0;
          out.tsEcr = ((buf[p + 6]! << 24) | (buf[p + 7]! << 16) | (buf[p + 8]! << 8) | buf[p + 9]!) >>> 0;
        }
        break;
    }
    p += len;
  }
}

// ------------------------------------------------------------------ ICMP quotes

/**
 * Decodes the IP packet quoted in an ICMP / ICMPv6 error of `outer` into `inner`
 * (inner.reset is called; same buffer, same link type). True when at least the
 * transport ports were read.
 */
export function decodeQuoted(outer: DecodedPacket, inner: DecodedPacket): boolean {
  inner.reset(outer.buf, outer.linkType);
  if (outer.quotedOff < 0) return false;
  const p = outer.quotedOff;
  let end = p + outer.quotedLen;
  if (end > outer.buf.length) end = outer.buf.length;
  if (end - p < 1) {
    cut(inner, 'quoted IP header', p, 0, 20);
    return false;
  }
  const version = outer.buf[p]! >> 4;
  if (version === 4) {
    inner.etherType = ETH_IPV4;
    decodeIpv4(outer.buf, p, end, inner, true);
  } else if (version === 6) {
    inner.etherType = ETH_IPV6;
    decodeIpv6(outer.buf, p, end, inner, true);
  } else {
    fail(inner, p, `quoted IP: version field is ${version}`);
    return false;
  }
  // decodeTransport reads the ports of TCP and UDP whenever their 4 bytes are there.
  return (
    (inner.ipProto === IpProto.TCP || inner.ipProto === IpProto.UDP) &&
    inner.l4Off >= 0 &&
    inner.ipEnd - inner.l4Off >= 4
  );
}
