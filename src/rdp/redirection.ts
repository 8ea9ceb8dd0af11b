// Server Redirection (MS-RDPBCGR 2.2.13.1 RDP_SERVER_REDIRECTION_PACKET): a server (a connection
// broker, or a session host) tells the client to reconnect elsewhere. Sent under Enhanced Security
// inside a Share Control PDU of type PDUTYPE_SERVER_REDIR_PKT after pad2Octets (2.2.13.3.1), and under
// Standard RDP Security right after the MCS Send Data Indication header, its Flags field (0x0400)
// standing where the security header's flags are (2.2.13.2.1). Pure: reads, never copies the packet.
// Every string here is the server's, untrusted; the password (a logon cookie) is never read.
import { codeName, done, incomplete, malformed, type Decoded } from './result.js';
import { u16le, u32le } from './tpkt.js';

/** 2.2.13.1 Flags: MUST be SEC_REDIRECTION_PKT. */
export const SEC_REDIRECTION_PKT = 0x0400;

/** 2.2.13.1 RedirFlags. */
export const LB_TARGET_NET_ADDRESS = 0x00000001;
export const LB_LOAD_BALANCE_INFO = 0x00000002;
export const LB_USERNAME = 0x00000004;
export const LB_DOMAIN = 0x00000008;
export const LB_PASSWORD = 0x00000010;
export const LB_DONTSTOREUSERNAME = 0x00000020;
export const LB_SMARTCARD_LOGON = 0x00000040;
export const LB_NOREDIRECT = 0x00000080;
export const LB_TARGET_FQDN = 0x00000100;
export const LB_TARGET_NETBIOS_NAME = 0x00000200;
export const LB_TARGET_NET_ADDRESSES = 0x00000800;
export const LB_CLIENT_TSV_URL = 0x00001000;
export const LB_SERVER_TSV_CAPABLE = 0x00002000;
export const LB_PASSWORD_IS_PK_ENCRYPTED = 0x00004000;
export const LB_REDIRECTION_GUID = 0x00008000;
export const LB_TARGET_CERTIFICATE = 0x00010000;

const FLAG_NAMES: Readonly<Record<number, string>> = {
  [LB_TARGET_NET_ADDRESS]: 'LB_TARGET_NET_ADDRESS',
  [LB_LOAD_BALANCE_INFO]: 'LB_LOAD_BALANCE_INFO',
  [LB_USERNAME]: 'LB_USERNAME',
  [LB_DOMAIN]: 'LB_DOMAIN',
  [LB_PASSWORD]: 'LB_PASSWORD',
  [LB_DONTSTOREUSERNAME]: 'LB_DONTSTOREUSERNAME',
  [LB_SMARTCARD_LOGON]: 'LB_SMARTCARD_LOGON',
  [LB_NOREDIRECT]: 'LB_NOREDIRECT',
  [LB_TARGET_FQDN]: 'LB_TARGET_FQDN',
  [LB_TARGET_NETBIOS_NAME]: 'LB_TARGET_NETBIOS_NAME',
  [LB_TARGET_NET_ADDRESSES]: 'LB_TARGET_NET_ADDRESSES',
  [LB_CLIENT_TSV_URL]: 'LB_CLIENT_TSV_URL',
  [LB_SERVER_TSV_CAPABLE]: 'LB_SERVER_TSV_CAPABLE',
  [LB_PASSWORD_IS_PK_ENCRYPTED]: 'LB_PASSWORD_IS_PK_ENCRYPTED',
  [LB_REDIRECTION_GUID]: 'LB_REDIRECTION_GUID',
  [LB_TARGET_CERTIFICATE]: 'LB_TARGET_CERTIFICATE',
};

/** Characters kept of one string (a longer one is cut and says so). */
export const MAX_REDIRECTION_TEXT = 256;
/** Addresses kept of TargetNetAddresses (2.2.13.1.1). */
export const MAX_TARGET_NET_ADDRESSES = 16;

export interface ServerRedirection {
  /** The packet's Length field (bytes of the RDP_SERVER_REDIRECTION_PACKET). */
  length: number;
  sessionId: number;
  redirFlags: number;
  redirFlagNames: string[];
  targetNetAddress: string | null;
  /** LoadBalanceInfo as text (a routing token such as "Cookie: msts=..." or a tsv:// URL), other bytes as \xNN. */
  loadBalanceInfo: string | null;
  targetFqdn: string | null;
  targetNetBiosName: string | null;
  /** TargetNetAddresses (2.2.13.1.1), the first MAX_TARGET_NET_ADDRESSES. */
  targetNetAddresses: string[];
  /** LB_NOREDIRECT: the fields are for the client to keep; it is not asked to reconnect elsewhere. */
  noRedirect: boolean;
}

export function redirFlagNames(flags: number): string[] {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
    if ((flags & bit) !== 0) out.push(codeName(FLAG_NAMES, bit));
  }
  return out;
}

/** A UTF-16LE string of `len` bytes (its terminating NUL and what follows dropped), cut to MAX_REDIRECTION_TEXT. */
function unicode(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i + 1 < off + len; i += 2) {
    const c = buf[i]! | (buf[i + 1]! << 8);
    if (c === 0) break;
    if (s.length >= MAX_REDIRECTION_TEXT) return `${s}…`;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Bytes as text: printable ASCII kept, CR LF and others as \xNN, cut to MAX_REDIRECTION_TEXT. */
function bytesText(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) {
    if (s.length >= MAX_REDIRECTION_TEXT) return `${s}…`;
    const b = buf[i]!;
    s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

/**
 * Decodes an RDP_SERVER_REDIRECTION_PACKET at `off` (its Flags field) up to `end`. The optional
 * fields follow in the order of 2.2.13.1, each present when its RedirFlags bit is set, each a
 * 4-byte length and that many bytes; the Pad and anything after Length are not read.
 */
export function decodeServerRedirection(buf: Uint8Array, off: number, end: number): Decoded<ServerRedirection> {
  if (off + 12 > end) return incomplete(off + 12 - end);
  const flags = u16le(buf, off);
  if (flags !== SEC_REDIRECTION_PKT) return malformed(off, `Server Redirection Flags 0x${flags.toString(16).padStart(4, '0')} (expected SEC_REDIRECTION_PKT 0x0400)`);
  const length = u16le(buf, off + 2);
  if (length < 12) return malformed(off + 2, `Server Redirection Length ${length} is below 12`);
  // Windows counts the 8-byte Pad in Length but some versions leave it out: read up to Length or the PDU's end.
  const stop = Math.min(end, off + length);
  const sessionId = u32le(buf, off + 4);
  const redirFlags = u32le(buf, off + 8);
  const r: ServerRedirection = {
    length,
    sessionId,
    redirFlags,
    redirFlagNames: redirFlagNames(redirFlags),
    targetNetAddress: null,
    loadBalanceInfo: null,
    targetFqdn: null,
    targetNetBiosName: null,
    targetNetAddresses: [],
    noRedirect: (redirFlags & LB_NOREDIRECT) !== 0,
  };
  let p = off + 12;
  /** The next length-prefixed field: its offset and length, or a failure. */
  const field = (name: string): { at: number; len: number } | { fail: Decoded<ServerRedirection> } => {
    if (p + 4 > stop) return { fail: stop < off + length ? incomplete(p + 4 - stop) : malformed(p, `${name}Length runs past the packet's Length ${length}`) };
    const len = u32le(buf, p);
    if (p + 4 + len > stop) return { fail: stop < off + length ? incomplete(p + 4 + len - stop) : malformed(p, `${name}Length ${len} runs past the packet's Length ${length}`) };
    const at = p + 4;
    p = at + len;
    return { at, len };
  };
  const order: [number, string, ((at: number, len: number) => void) | null][] = [
    [LB_TARGET_NET_ADDRESS, 'TargetNetAddress', (at, len) => (r.targetNetAddress = unicode(buf, at, len))],
    [LB_LOAD_BALANCE_INFO, 'LoadBalanceInfo', (at, len) => (r.loadBalanceInfo = bytesText(buf, at, len))],
    [LB_USERNAME, 'UserName', null],
    [LB_DOMAIN, 'Domain', null],
    // The password (or the broker's logon cookie) is skipped unread.
    [LB_PASSWORD, 'Password', null],
    [LB_TARGET_FQDN, 'TargetFQDN', (at, len) => (r.targetFqdn = unicode(buf, at, len))],
    [LB_TARGET_NETBIOS_NAME, 'TargetNetBiosName', (at, len) => (r.targetNetBiosName = unicode(buf, at, len))],
    [LB_CLIENT_TSV_URL, 'TsvUrl', null],
    [LB_REDIRECTION_GUID, 'RedirectionGuid', null],
    [LB_TARGET_CERTIFICATE, 'TargetCertificate', null],
  ];
  for (const [bit, name, read] of order) {
    if ((redirFlags & bit) === 0) continue;
    const f = field(name);
    if ('fail' in f) return f.fail;
    read?.(f.at, f.len);
  }
  if ((redirFlags & LB_TARGET_NET_ADDRESSES) !== 0) {
    // 2.2.13.1.1 TARGET_NET_ADDRESSES: addressCount, then each TARGET_NET_ADDRESS (length, UTF-16LE address).
    const f = field('TargetNetAddresses');
    if ('fail' in f) return f.fail;
    const fe = f.at + f.len;
    if (f.len < 4) return malformed(f.at - 4, `TargetNetAddressesLength ${f.len} is below 4`);
    const count = u32le(buf, f.at);
    let q = f.at + 4;
    for (let i = 0; i < count; i++) {
      if (q + 4 > fe) return malformed(q, `TargetNetAddresses: address ${i + 1} of ${count} runs past its length`);
      const len = u32le(buf, q);
      if (q + 4 + len > fe) return malformed(q, `TargetNetAddresses: address ${i + 1} length ${len} runs past its length`);
      if (r.targetNetAddresses.length < MAX_TARGET_NET_ADDRESSES) r.targetNetAddresses.push(unicode(buf, q + 4, len));
      q += 4 + len;
    }
  }
  return done(r, stop - off);
}
