// The net stage: link types, IPv4/IPv6, TCP, UDP, ICMP/ICMPv6, DNS decoders over (bytes, offset).
export { DecodedPacket, IpProto, TcpFlag } from './packet.js';
export { decodePacket, decodeQuoted } from './decode.js';
export { ipText, ipv4Text, srcText, dstText } from './addr.js';
export { checkIpChecksum, checkTransportChecksum } from './checksum.js';
export { decodeDns, DnsType, type DnsMessage } from './dns.js';
export { decodeKrbError, decodeKrbErrorMessage, looksLikeKrbError, krbErrorName, KERBEROS_PORT, type KrbError, type PrincipalName } from './kerberos.js';
export { LinkType, linkTypeName, isKnownLinkType } from './linktype.js';
