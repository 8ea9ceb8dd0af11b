// Link-layer header types as they appear in pcap / pcapng files.
// https://www.tcpdump.org/linktypes.html (LINKTYPE_* values; DLT_RAW 12 and 14 kept as raw IP,
// as old files written on BSDs carry them).

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  PPP_HDLC: 50,
  RAW: 101,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** Link types decodePacket understands (others get "unsupported link type N"). */
const SUPPORTED: ReadonlySet<number> = new Set<number>([
  LinkType.NULL,
  LinkType.ETHERNET,
  LinkType.PPP,
  LinkType.RAW_DLT12,
  LinkType.RAW_DLT14,
  LinkType.PPP_HDLC,
  LinkType.RAW,
  LinkType.IEEE802_11,
  LinkType.LOOP,
  LinkType.LINUX_SLL,
  LinkType.IEEE802_11_RADIOTAP,
  LinkType.IPV4,
  LinkType.IPV6,
  LinkType.LINUX_SLL2,
]);

const NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [0, 'NULL (BSD loopback)'],
  [1, 'ETHERNET'],
  [6, 'IEEE802_5 (Token Ring)'],
  [8, 'SLIP'],
  [9, 'PPP'],
  [10, 'FDDI'],
  [12, 'RAW (DLT 12)'],
  [14, 'RAW (DLT 14)'],
  [50, 'PPP_HDLC'],
  [51, 'PPP_ETHER (PPPoE)'],
  [101, 'RAW'],
  [104, 'C_HDLC (Cisco HDLC)'],
  [105, 'IEEE802_11'],
  [108, 'LOOP (OpenBSD loopback)'],
  [113, 'LINUX_SLL'],
  [119, 'IEEE802_11_PRISM'],
  [127, 'IEEE802_11_RADIOTAP'],
  [143, 'DOCSIS'],
  [147, 'USER0'],
  [192, 'PPI'],
  [195, 'IEEE802_15_4'],
  [220, 'USB_LINUX_MMAPPED'],
  [228, 'IPV4'],
  [229, 'IPV6'],
  [249, 'NETLINK'],
  [252, 'WIRESHARK_UPPER_PDU'],
  [276, 'LINUX_SLL2'],
]);

/** SUPPORTED as a table for the 16-bit link types (asked once per packet). */
const SUPPORTED_16 = new Uint8Array(65536);
for (const t of SUPPORTED) if (t >= 0 && t < 65536) SUPPORTED_16[t] = 1;

export function isKnownLinkType(linkType: number): boolean {
  return linkType >= 0 && linkType < 65536 && Number.isInteger(linkType) ? SUPPORTED_16[linkType] === 1 : SUPPORTED.has(linkType);
}

/** The LINKTYPE_ name, or "unknown (N)" (Zeek-style fallback: shown, never dropped). */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `unknown (${linkType})`;
}
