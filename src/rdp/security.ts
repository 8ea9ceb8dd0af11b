// Standard RDP Security headers and the PDUs of the Secure Settings Exchange in the clear
// (MS-RDPBCGR 2.2.8.1.1.2, 2.2.1.10, 2.2.1.11), and the classification of a Send Data
// Request / Indication payload. Decoders start at the MCS userData (McsDomainPdu.userDataOff).
import { type Decoded, done, incomplete, malformed } from './result.js';
import { u16le, u32le } from './tpkt.js';

/** MS-RDPBCGR 2.2.8.1.1.2.1 Basic Security Header flags. */
export const SEC_EXCHANGE_PKT = 0x0001;
export const SEC_TRANSPORT_REQ = 0x0002;
export const SEC_TRANSPORT_RSP = 0x0004;
export const SEC_ENCRYPT = 0x0008;
export const SEC_RESET_SEQNO = 0x0010;
export const SEC_IGNORE_SEQNO = 0x0020;
export const SEC_INFO_PKT = 0x0040;
export const SEC_LICENSE_PKT = 0x0080;
export const SEC_LICENSE_ENCRYPT_CS = 0x0200;
export const SEC_LICENSE_ENCRYPT_SC = 0x0200;
export const SEC_REDIRECTION_PKT = 0x0400;
export const SEC_SECURE_CHECKSUM = 0x0800;
export const SEC_AUTODETECT_REQ = 0x1000;
export const SEC_AUTODETECT_RSP = 0x2000;
export const SEC_HEARTBEAT = 0x4000;
export const SEC_FLAGSHI_VALID = 0x8000;

export const SECURITY_FLAGS: Readonly<Record<number, string>> = {
  0x0001: 'SEC_EXCHANGE_PKT',
  0x0002: 'SEC_TRANSPORT_REQ',
  0x0004: 'SEC_TRANSPORT_RSP',
  0x0008: 'SEC_ENCRYPT',
  0x0010: 'SEC_RESET_SEQNO',
  0x0020: 'SEC_IGNORE_SEQNO',
  0x0040: 'SEC_INFO_PKT',
  0x0080: 'SEC_LICENSE_PKT',
  0x0200: 'SEC_LICENSE_ENCRYPT',
  0x0400: 'SEC_REDIRECTION_PKT',
  0x0800: 'SEC_SECURE_CHECKSUM',
  0x1000: 'SEC_AUTODETECT_REQ',
  0x2000: 'SEC_AUTODETECT_RSP',
  0x4000: 'SEC_HEARTBEAT',
  0x8000: 'SEC_FLAGSHI_VALID',
};

/** MS-RDPBCGR 2.2.8.1.1.2.1 Basic Security Header (TS_SECURITY_HEADER). */
export interface BasicSecurityHeader {
  flags: number;
  flagsHi: number;
}

export function readSecurityHeader(buf: Uint8Array, off: number, end: number): Decoded<BasicSecurityHeader> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  return done({ flags: u16le(buf, off), flagsHi: u16le(buf, off + 2) }, 4);
}

/** What a Send Data Request / Indication payload is (the state machine's view of the connection sequence). */
export type SendDataKind =
  | 'security_exchange'
  | 'client_info'
  | 'licensing'
  | 'share_control'
  | 'encrypted'
  | 'heartbeat'
  | 'autodetect'
  | 'multitransport'
  | 'redirection'
  | 'unknown';

export interface SendDataClass {
  kind: SendDataKind;
  /** The basic security header flags, or null when the payload has no security header. */
  flags: number | null;
  /** Offset of what follows the security header (the PDU body; for SEC_ENCRYPT, the 8-byte MAC). */
  bodyOff: number;
}

/**
 * Classifies the userData of a Send Data Request / Indication (MS-RDPBCGR 2.2.8.1.1.2, 5.3.8, 5.4.4).
 * `securityHeader`: true under Standard RDP Security with an encryption level above NONE (every PDU has
 * one), false when none is expected, 'auto' under TLS / CredSSP, where the Client Info, licensing,
 * auto-detect, heartbeat and multitransport PDUs carry one and Share Control PDUs do not.
 */
export function classifySendData(
  buf: Uint8Array,
  off: number,
  end: number,
  securityHeader: boolean | 'auto',
): Decoded<SendDataClass> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  if (securityHeader === false || (securityHeader === 'auto' && looksLikeShareControl(buf, off, end))) {
    return done({ kind: 'share_control', flags: null, bodyOff: off }, end - off);
  }
  const flags = u16le(buf, off);
  let kind: SendDataKind;
  if (flags & SEC_EXCHANGE_PKT) kind = 'security_exchange';
  else if (flags & SEC_INFO_PKT) kind = 'client_info';
  else if (flags & SEC_LICENSE_PKT) kind = 'licensing';
  else if (flags & SEC_HEARTBEAT) kind = 'heartbeat';
  else if (flags & (SEC_AUTODETECT_REQ | SEC_AUTODETECT_RSP)) kind = 'autodetect';
  else if (flags & (SEC_TRANSPORT_REQ | SEC_TRANSPORT_RSP)) kind = 'multitransport';
  else if (flags & SEC_REDIRECTION_PKT) kind = 'redirection';
  else if (flags & SEC_ENCRYPT) kind = 'encrypted';
  else if (securityHeader === true) kind = 'share_control';
  else kind = 'unknown';
  return done({ kind, flags, bodyOff: off + 4 }, end - off);
}

/** A Share Control Header whose totalLength is the payload length and whose pduType carries version 1 (2.2.8.1.1.1.1). */
function looksLikeShareControl(buf: Uint8Array, off: number, end: number): boolean {
  const total = u16le(buf, off);
  const pduType = u16le(buf, off + 2);
  return (total === end - off || total === 0x8000) && (pduType & 0xfff0) === 0x0010;
}

/** MS-RDPBCGR 2.2.1.10.1 Security Exchange PDU Data. */
export interface SecurityExchange {
  flags: number;
  /** length field: encrypted client random + 8 bytes of padding. */
  length: number;
  encryptedClientRandomOff: number;
  end: number;
}

/** Largest Security Exchange length accepted (a 16384-bit RSA key + padding); larger is malformed, never read. */
const MAX_EXCHANGE_LENGTH = 2048 + 8;

export function decodeSecurityExchange(buf: Uint8Array, off: number, end: number): Decoded<SecurityExchange> {
  if (off + 8 > end) return incomplete(off + 8 - end);
  const flags = u16le(buf, off);
  if ((flags & SEC_EXCHANGE_PKT) === 0) return malformed(off, 'security header lacks SEC_EXCHANGE_PKT');
  const length = u32le(buf, off + 4);
  if (length > MAX_EXCHANGE_LENGTH) return malformed(off + 4, `Security Exchange length ${length} is too large`);
  if (off + 8 + length > end) return incomplete(off + 8 + length - end);
  return done({ flags, length, encryptedClientRandomOff: off + 8, end: off + 8 + length }, 8 + length);
}

/** MS-RDPBCGR 2.2.1.11.1.1 Info Packet flags worth naming. */
export const INFO_MOUSE = 0x00000001;
export const INFO_AUTOLOGON = 0x00000008;
export const INFO_UNICODE = 0x00000010;
export const INFO_LOGONNOTIFY = 0x00000040;
export const INFO_RAIL = 0x00008000;
export const INFO_PASSWORD_IS_SC_PIN = 0x00040000;

/** MS-RDPBCGR 2.2.1.11 Client Info PDU. When encrypted only `encrypted` and `flags` are known. The password is never returned. */
export interface ClientInfo {
  /** Security header flags. */
  securityFlags: number;
  encrypted: boolean;
  codePage: number | null;
  /** TS_INFO_PACKET flags. */
  infoFlags: number | null;
  domain: string | null;
  userName: string | null;
  cbPassword: number | null;
  alternateShell: string | null;
  workingDir: string | null;
}

/** Decodes a Client Info PDU at the security header (2.2.1.11.1); the TS_INFO_PACKET fields when it is in the clear. */
export function decodeClientInfo(buf: Uint8Array, off: number, end: number): Decoded<ClientInfo> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  const securityFlags = u16le(buf, off);
  if ((securityFlags & SEC_INFO_PKT) === 0) return malformed(off, 'security header lacks SEC_INFO_PKT');
  const r: ClientInfo = {
    securityFlags,
    encrypted: (securityFlags & SEC_ENCRYPT) !== 0,
    codePage: null,
    infoFlags: null,
    domain: null,
    userName: null,
    cbPassword: null,
    alternateShell: null,
    workingDir: null,
  };
  if (r.encrypted) return done(r, end - off);
  const p = off + 4;
  if (p + 18 > end) return incomplete(p + 18 - end);
  r.codePage = u32le(buf, p);
  const flags = u32le(buf, p + 4);
  r.infoFlags = flags;
  const unicode = (flags & INFO_UNICODE) !== 0;
  const nul = unicode ? 2 : 1;
  const lens = [u16le(buf, p + 8), u16le(buf, p + 10), u16le(buf, p + 12), u16le(buf, p + 14), u16le(buf, p + 16)];
  let q = p + 18;
  const texts: string[] = [];
  for (let i = 0; i < 5; i++) {
    const n = lens[i];
    if (n > 512) return malformed(p + 8 + i * 2, `Info Packet string length ${n} exceeds 512`);
    if (q + n + nul > end) return incomplete(q + n + nul - end);
    if (i === 2) texts.push(''); // the password is skipped, never decoded
    else texts.push(unicode ? utf16(buf, q, n) : ansi(buf, q, n));
    q += n + nul;
  }
  r.domain = texts[0];
  r.userName = texts[1];
  r.cbPassword = lens[2];
  r.alternateShell = texts[3];
  r.workingDir = texts[4];
  return done(r, q - off);
}

function utf16(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i + 1 < off + len; i += 2) s += String.fromCharCode(buf[i] | (buf[i + 1] << 8));
  return s;
}

function ansi(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) s += String.fromCharCode(buf[i]);
  return s;
}
