// Protocol constants the rules compare against (named with the specs' own words).

/** RDP_NEG_REQ requestedProtocols / RDP_NEG_RSP selectedProtocol flags (MS-RDPBCGR 2.2.1.1.1). */
export const PROTOCOL_RDP = 0x0;
export const PROTOCOL_SSL = 0x1;
export const PROTOCOL_HYBRID = 0x2;
export const PROTOCOL_RDSTLS = 0x4;
export const PROTOCOL_HYBRID_EX = 0x8;
export const PROTOCOL_RDSAAD = 0x10;

export function protocolNames(flags: number): string[] {
  if (flags === PROTOCOL_RDP) return ['PROTOCOL_RDP'];
  const names: string[] = [];
  if (flags & PROTOCOL_SSL) names.push('PROTOCOL_SSL');
  if (flags & PROTOCOL_HYBRID) names.push('PROTOCOL_HYBRID');
  if (flags & PROTOCOL_RDSTLS) names.push('PROTOCOL_RDSTLS');
  if (flags & PROTOCOL_HYBRID_EX) names.push('PROTOCOL_HYBRID_EX');
  if (flags & PROTOCOL_RDSAAD) names.push('PROTOCOL_RDSAAD');
  const rest = flags & ~0x1f;
  if (rest) names.push(`unknown (0x${rest.toString(16)})`);
  return names;
}

/** RDP_NEG_FAILURE failureCode (MS-RDPBCGR 2.2.1.2.2). */
export const SSL_REQUIRED_BY_SERVER = 1;
export const SSL_NOT_ALLOWED_BY_SERVER = 2;
export const SSL_CERT_NOT_ON_SERVER = 3;
export const INCONSISTENT_FLAGS = 4;
export const HYBRID_REQUIRED_BY_SERVER = 5;
export const SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = 6;

const FAILURE_CODE_NAMES: Record<number, string> = {
  1: 'SSL_REQUIRED_BY_SERVER',
  2: 'SSL_NOT_ALLOWED_BY_SERVER',
  3: 'SSL_CERT_NOT_ON_SERVER',
  4: 'INCONSISTENT_FLAGS',
  5: 'HYBRID_REQUIRED_BY_SERVER',
  6: 'SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER',
};

export function failureCodeName(code: number): string {
  return FAILURE_CODE_NAMES[code] ?? `failure_code-${code}`;
}

/** TLS AlertDescription values (RFC 8446 6, RFC 5246 7.2). */
export const ALERT = {
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  unknown_ca: 48,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
} as const;
export type AlertName = keyof typeof ALERT;

/** ICMPv4 destination unreachable (RFC 792, RFC 1812 5.2.7.1) and ICMPv6 (RFC 4443 3.1). */
export const ICMP_DEST_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;

/** Administratively prohibited: ICMP 3/9, 3/10, 3/13; ICMPv6 1/1 (and 1/5 reject route). */
export function isAdminProhibited(ipVersion: 4 | 6, type: number, code: number): boolean {
  if (ipVersion === 4) return type === ICMP_DEST_UNREACH && (code === 9 || code === 10 || code === 13);
  return type === ICMP6_DEST_UNREACH && (code === 1 || code === 5);
}

/** Port unreachable for a TCP segment: a host answers TCP with RST, so this is a firewall's REJECT rule. */
export function isPortUnreachable(ipVersion: 4 | 6, type: number, code: number): boolean {
  if (ipVersion === 4) return type === ICMP_DEST_UNREACH && code === 3;
  return type === ICMP6_DEST_UNREACH && code === 4;
}

/** Host / network unreachable: a router has no way to the host. */
export function isHostUnreachable(ipVersion: 4 | 6, type: number, code: number): boolean {
  if (ipVersion === 4) return type === ICMP_DEST_UNREACH && (code === 0 || code === 1 || code === 6 || code === 7);
  return type === ICMP6_DEST_UNREACH && (code === 0 || code === 3);
}

export function isFragNeeded(ipVersion: 4 | 6, type: number, code: number): boolean {
  if (ipVersion === 4) return type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED;
  return type === ICMP6_PACKET_TOO_BIG;
}

const ICMP4_UNREACH_NAMES: Record<number, string> = {
  0: 'network unreachable',
  1: 'host unreachable',
  3: 'port unreachable',
  4: 'fragmentation needed',
  6: 'destination network unknown',
  7: 'destination host unknown',
  9: 'network administratively prohibited',
  10: 'host administratively prohibited',
  13: 'communication administratively prohibited',
};
const ICMP6_UNREACH_NAMES: Record<number, string> = {
  0: 'no route to destination',
  1: 'communication with destination administratively prohibited',
  3: 'address unreachable',
  4: 'port unreachable',
  5: 'source address failed ingress/egress policy',
};

export function icmpName(ipVersion: 4 | 6, type: number, code: number): string {
  if (ipVersion === 4 && type === ICMP_DEST_UNREACH) return ICMP4_UNREACH_NAMES[code] ?? `destination unreachable code ${code}`;
  if (ipVersion === 6 && type === ICMP6_DEST_UNREACH) return ICMP6_UNREACH_NAMES[code] ?? `destination unreachable code ${code}`;
  if (ipVersion === 6 && type === ICMP6_PACKET_TOO_BIG) return 'packet too big';
  return `type ${type} code ${code}`;
}

/** Early User Authorization Result (MS-RDPBCGR 2.2.10.2). */
export const AUTHZ_SUCCESS = 0x00000000;
export const AUTHZ_ACCESS_DENIED = 0x00000005;

/** Licensing ERROR_ALERT bMsgType and STATUS_VALID_CLIENT (MS-RDPELE 2.2.2.7.1, MS-RDPBCGR 2.2.1.12.1.3). */
export const LICENSE_ERROR_ALERT = 0xff;
export const STATUS_VALID_CLIENT = 0x00000007;

/**
 * Set Error Info codes that mean the server refused the user or the licence
 * (MS-RDPBCGR 2.2.5.1.1): SERVER_DENIED_CONNECTION, ..._FIPS,
 * SERVER_INSUFFICIENT_PRIVILEGES, SERVER_FRESH_CREDENTIALS_REQUIRED, and the
 * licensing range 0x100..0x10B.
 */
export function isDenialErrorInfo(code: number): boolean {
  return code === 0x7 || code === 0x8 || code === 0x9 || code === 0xa || (code >= 0x100 && code <= 0x10b);
}
