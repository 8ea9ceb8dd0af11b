// Contract of the net stage: one reusable, mutable record that the decoders fill
// in place for every packet (no allocation per packet on the fast path).
// Addresses stay as offsets into the frame's buffer (and, for IPv4, as numbers);
// strings are made only for packets that matter (see addr.ts).

export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export class DecodedPacket {
  /** The buffer the offsets below point into (the FrameView's buf). */
  buf: Buffer = EMPTY;
  /** Why decoding stopped early (null when the packet decoded to its last layer). */
  error: string | null = null;
  /** Byte offset (in buf) where the error was found, or -1. */
  errorAt = -1;

  // ---- link layer
  linkType = 0;
  /** Outermost 802.1Q / 802.1ad VLAN id, or -1. */
  vlan = -1;
  /** EtherType of the network layer (0x0800, 0x86dd, ...), 0 when unknown. */
  etherType = 0;

  // ---- network layer
  /** 4, 6, or 0 when there is no IP layer. */
  ipVersion = 0;
  ipOff = -1;
  /** IPv4 header length / IPv6 fixed header + extension headers walked. */
  ipHdrLen = 0;
  /** Offset in buf just past the IP payload (bounded by the captured bytes). */
  ipEnd = 0;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl = 0;
  /** Upper-layer protocol after IPv6 extension headers (6, 17, 1, 58, ...). */
  ipProto = 0;
  /** Offsets in buf of the source / destination address bytes (4 or 16 bytes). */
  srcOff = -1;
  dstOff = -1;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6). */
  src4 = 0;
  dst4 = 0;
  ipId = 0;
  /** IPv4/IPv6 fragment: offset in bytes, more-fragments flag; isFragment when either is set. */
  fragOffset = 0;
  moreFragments = false;
  isFragment = false;
  /** IPv4 header checksum: true ok, false bad, null not checked (zero / IPv6). */
  ipChecksumOk: boolean | null = null;

  // ---- transport layer
  l4Off = -1;
  srcPort = 0;
  dstPort = 0;
  /** TCP */
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  tcpHdrLen = 0;
  /** TCP options (-1 / false when absent). */
  mss = -1;
  wscale = -1;
  sackPermitted = false;
  sackBlocks = 0;
  tsVal = -1;
  tsEcr = -1;
  /** TCP/UDP checksum: true ok, false bad, null not checked (zero, offloaded, or cut by snaplen). */
  l4ChecksumOk: boolean | null = null;
  /** Offset and length of the TCP/UDP payload actually captured. */
  payloadOff = 0;
  payloadLen = 0;
  /** Payload length according to the IP header (may exceed payloadLen when cut by the snaplen). */
  payloadWireLen = 0;

  // ---- ICMP / ICMPv6
  icmpType = -1;
  icmpCode = -1;
  /** ICMP error: the MTU of a "fragmentation needed" / "packet too big" message, else -1. */
  icmpMtu = -1;
  /** ICMP error: offset and length of the quoted (inner) IP packet, or -1. */
  quotedOff = -1;
  quotedLen = 0;

  reset(buf: Buffer, linkType: number): void {
    this.buf = buf;
    this.error = null;
    this.errorAt = -1;
    this.linkType = linkType;
    this.vlan = -1;
    this.etherType = 0;
    this.ipVersion = 0;
    this.ipOff = -1;
    this.ipHdrLen = 0;
    this.ipEnd = 0;
    this.ttl = 0;
    this.ipProto = 0;
    this.srcOff = -1;
    this.dstOff = -1;
    this.src4 = 0;
    this.dst4 = 0;
    this.ipId = 0;
    this.fragOffset = 0;
    this.moreFragments = false;
    this.isFragment = false;
    this.ipChecksumOk = null;
    this.l4Off = -1;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.tcpHdrLen = 0;
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.sackBlocks = 0;
    this.tsVal = -1;
    this.tsEcr = -1;
    this.l4ChecksumOk = null;
    this.payloadOff = 0;
    this.payloadLen = 0;
    this.payloadWireLen = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpMtu = -1;
    this.quotedOff = -1;
    this.quotedLen = 0;
  }
}

const EMPTY = Buffer.alloc(0);
