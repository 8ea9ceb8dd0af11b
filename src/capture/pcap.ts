// Classic pcap (libpcap savefile) framing: pure decoders, no state, no I/O.
// Format: draft-ietf-opsawg-pcap (pcap-savefile(5)); link types: pcap-linktype(7).

/** File header length (draft-ietf-opsawg-pcap 4). */
export const PCAP_HEADER_LEN = 24;
/** Packet record header length (draft-ietf-opsawg-pcap 5). */
export const PCAP_RECORD_HEADER_LEN = 16;
/**
 * Largest capLen accepted: Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD. tshark 4.0 rejects a
 * record above it ("File has N-byte packet, bigger than maximum of 262144"), so do we.
 */
export const MAX_CAP_LEN = 262144;

/** Magic numbers as read little-endian from the first 4 bytes (draft-ietf-opsawg-pcap 4). */
export const PCAP_MAGIC_USEC_LE = 0xa1b2c3d4;
export const PCAP_MAGIC_USEC_BE = 0xd4c3b2a1;
export const PCAP_MAGIC_NSEC_LE = 0xa1b23c4d;
export const PCAP_MAGIC_NSEC_BE = 0x4d3cb2a1;

export interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  /** The low 16 bits of the LinkType field (draft-ietf-opsawg-pcap 4: the FCS bits are masked off). */
  linkType: number;
  /** FCS length in 16-bit words when the f bit is set, else null. */
  fcsLen: number | null;
}

/** Reads a little-endian u32 at o (unsigned). */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

/** Reads a big-endian u32 at o (unsigned). */
export function u32be(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

/** Classifies the first 4 bytes: classic pcap byte order / resolution, or null when not a pcap magic. */
export function pcapMagic(b: Uint8Array, o: number): { littleEndian: boolean; nanosecond: boolean } | null {
  switch (u32le(b, o)) {
    case PCAP_MAGIC_USEC_LE:
      return { littleEndian: true, nanosecond: false };
    case PCAP_MAGIC_USEC_BE:
      return { littleEndian: false, nanosecond: false };
    case PCAP_MAGIC_NSEC_LE:
      return { littleEndian: true, nanosecond: true };
    case PCAP_MAGIC_NSEC_BE:
      return { littleEndian: false, nanosecond: true };
    default:
      return null;
  }
}

/** Decodes the 24-byte file header at o; null when b has fewer than 24 bytes there or the magic is wrong. */
export function decodePcapHeader(b: Uint8Array, o: number): PcapHeader | null {
  if (b.length - o < PCAP_HEADER_LEN) return null;
  const m = pcapMagic(b, o);
  if (m === null) return null;
  const le = m.littleEndian;
  const u16 = (p: number): number => (le ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!);
  const u32 = le ? u32le : u32be;
  const linkField = u32(b, o + 20);
  // draft-ietf-opsawg-pcap 4 / libpcap pcap-common.h: bits 28-31 FCS length, bit 26 P (FCS length
  // present), bits 16-25 reserved, bits 0-15 LinkType.
  const fBit = (linkField >>> 26) & 1;
  return {
    littleEndian: le,
    nanosecond: m.nanosecond,
    versionMajor: u16(o + 4),
    versionMinor: u16(o + 6),
    snapLen: u32(b, o + 16),
    linkType: linkField & 0xffff,
    fcsLen: fBit === 1 ? linkField >>> 28 : null,
  };
}
