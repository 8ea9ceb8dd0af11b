// MS-TSGU (Terminal Services Gateway Server Protocol) HTTP transport packets, 2.2.10: what an RD
// Gateway and its client exchange inside the gateway's TLS, over the RDG_OUT_DATA / RDG_IN_DATA
// channels or the WebSocket that current clients upgrade to (2.2.3.3). Every packet starts with
// HTTP_PACKET_HEADER (2.2.10.9: packetType, reserved, packetLength, little-endian, the length
// counting the header). Pure decoders over (buf, off, end): `at` of a malformed result is relative
// to `off`. Result codes are HRESULTs (2.2.6); tsguResultName names them ("unknown (0x...)" else).
import { codeName, done, incomplete, malformed, type Decoded } from './result.js';

/** HTTP_PACKET_HEADER size (MS-TSGU 2.2.10.9). */
export const TSGU_HEADER = 8;
/** Largest packet a decoder accepts: a DATA packet carries at most 65535 bytes (cbDataLen is 16 bits). */
export const TSGU_MAX_PACKET = 0x10000 + 64;

/** packetType values (MS-TSGU 2.2.5.3.3 HTTP_PACKET_TYPE). */
export const PKT_TYPE_HANDSHAKE_REQUEST = 0x1;
export const PKT_TYPE_HANDSHAKE_RESPONSE = 0x2;
export const PKT_TYPE_EXTENDED_AUTH_MSG = 0x3;
export const PKT_TYPE_TUNNEL_CREATE = 0x4;
export const PKT_TYPE_TUNNEL_RESPONSE = 0x5;
export const PKT_TYPE_TUNNEL_AUTH = 0x6;
export const PKT_TYPE_TUNNEL_AUTH_RESPONSE = 0x7;
export const PKT_TYPE_CHANNEL_CREATE = 0x8;
export const PKT_TYPE_CHANNEL_RESPONSE = 0x9;
export const PKT_TYPE_DATA = 0xa;
export const PKT_TYPE_SERVICE_MESSAGE = 0xb;
export const PKT_TYPE_REAUTH_MESSAGE = 0xc;
export const PKT_TYPE_KEEPALIVE = 0xd;
export const PKT_TYPE_CLOSE_CHANNEL = 0x10;
export const PKT_TYPE_CLOSE_CHANNEL_RESPONSE = 0x11;

const PACKET_TYPES: Record<number, string> = {
  [PKT_TYPE_HANDSHAKE_REQUEST]: 'PKT_TYPE_HANDSHAKE_REQUEST',
  [PKT_TYPE_HANDSHAKE_RESPONSE]: 'PKT_TYPE_HANDSHAKE_RESPONSE',
  [PKT_TYPE_EXTENDED_AUTH_MSG]: 'PKT_TYPE_EXTENDED_AUTH_MSG',
  [PKT_TYPE_TUNNEL_CREATE]: 'PKT_TYPE_TUNNEL_CREATE',
  [PKT_TYPE_TUNNEL_RESPONSE]: 'PKT_TYPE_TUNNEL_RESPONSE',
  [PKT_TYPE_TUNNEL_AUTH]: 'PKT_TYPE_TUNNEL_AUTH',
  [PKT_TYPE_TUNNEL_AUTH_RESPONSE]: 'PKT_TYPE_TUNNEL_AUTH_RESPONSE',
  [PKT_TYPE_CHANNEL_CREATE]: 'PKT_TYPE_CHANNEL_CREATE',
  [PKT_TYPE_CHANNEL_RESPONSE]: 'PKT_TYPE_CHANNEL_RESPONSE',
  [PKT_TYPE_DATA]: 'PKT_TYPE_DATA',
  [PKT_TYPE_SERVICE_MESSAGE]: 'PKT_TYPE_SERVICE_MESSAGE',
  [PKT_TYPE_REAUTH_MESSAGE]: 'PKT_TYPE_REAUTH_MESSAGE',
  [PKT_TYPE_KEEPALIVE]: 'PKT_TYPE_KEEPALIVE',
  [PKT_TYPE_CLOSE_CHANNEL]: 'PKT_TYPE_CLOSE_CHANNEL',
  [PKT_TYPE_CLOSE_CHANNEL_RESPONSE]: 'PKT_TYPE_CLOSE_CHANNEL_RESPONSE',
};

export function tsguPacketTypeName(t: number): string {
  return codeName(PACKET_TYPES, t, 4);
}

/**
 * Result codes of the gateway (MS-TSGU 2.2.6): the E_PROXY_* HRESULTs, their HRESULT_CODE forms,
 * and the Win32 / SSPI codes a gateway answers with ([MS-ERREF]).
 */
const RESULTS: Record<number, string> = {
  0x00000000: 'S_OK',
  0x800759d8: 'E_PROXY_INTERNALERROR',
  0x800759da: 'E_PROXY_RAP_ACCESSDENIED',
  0x800759db: 'E_PROXY_NAP_ACCESSDENIED',
  0x800759dd: 'E_PROXY_TS_CONNECTFAILED',
  0x800759df: 'E_PROXY_ALREADYDISCONNECTED',
  0x800759e9: 'E_PROXY_CAPABILITYMISMATCH',
  0x800759ed: 'E_PROXY_QUARANTINE_ACCESSDENIED',
  0x800759ee: 'E_PROXY_NOCERTAVAILABLE',
  0x800759f7: 'E_PROXY_COOKIE_BADPACKET',
  0x800759f8: 'E_PROXY_COOKIE_AUTHENTICATION_ACCESS_DENIED',
  0x800759f9: 'E_PROXY_UNSUPPORTED_AUTHENTICATION_METHOD',
  0x000059d8: 'E_PROXY_INTERNALERROR (HRESULT_CODE)',
  0x000059dd: 'E_PROXY_TS_CONNECTFAILED (HRESULT_CODE)',
  0x000059e6: 'E_PROXY_MAXCONNECTIONSREACHED',
  0x000059e8: 'E_PROXY_NOTSUPPORTED',
  0x000059f6: 'E_PROXY_SESSIONTIMEOUT',
  0x000059fa: 'E_PROXY_REAUTH_AUTHN_FAILED',
  0x000059fb: 'E_PROXY_REAUTH_CAP_FAILED',
  0x000059fc: 'E_PROXY_REAUTH_RAP_FAILED',
  0x000059fd: 'E_PROXY_SDR_NOT_SUPPORTED_BY_TS',
  0x00005a00: 'E_PROXY_REAUTH_NAP_FAILED',
  0x000004d4: 'E_PROXY_CONNECTIONABORTED',
  0x000004ca: 'ERROR_GRACEFUL_DISCONNECT',
  0x000003e3: 'ERROR_OPERATION_ABORTED',
  0x00000005: 'ERROR_ACCESS_DENIED',
  0x00000057: 'ERROR_INVALID_PARAMETER',
  0x000000a0: 'ERROR_BAD_ARGUMENTS',
  0x8009030c: 'SEC_E_LOGON_DENIED',
  0x80004005: 'E_FAIL',
  0x80070005: 'E_ACCESSDENIED',
};

/** The name of a gateway result code ("E_PROXY_RAP_ACCESSDENIED"), or "unknown (0x........)". */
export function tsguResultName(code: number): string {
  return codeName(RESULTS, code >>> 0);
}

/** An HRESULT with the severity bit set (MS-ERREF 2.1) is a failure; the HRESULT_CODE forms of E_PROXY_* are failures too. */
export function tsguFailed(code: number): boolean {
  const c = code >>> 0;
  if (c === 0) return false;
  if ((c & 0x80000000) !== 0) return true;
  return RESULTS[c] !== undefined && c !== 0x000004ca;
}

/** HTTP_EXTENDED_AUTH (MS-TSGU 2.2.5.3.2). */
export const HTTP_EXTENDED_AUTH_NONE = 0x0;
export const HTTP_EXTENDED_AUTH_SC = 0x1;
export const HTTP_EXTENDED_AUTH_PAA = 0x2;
export const HTTP_EXTENDED_AUTH_SSPI_NTLM = 0x4;

export interface TsguHeader {
  packetType: number;
  packetLength: number;
}

/** HTTP_PACKET_HEADER (2.2.10.9): needs the whole packet (incomplete until packetLength bytes are there). */
export function readTsguHeader(buf: Uint8Array, off: number, end: number): Decoded<TsguHeader> {
  const avail = end - off;
  if (avail < TSGU_HEADER) return incomplete(TSGU_HEADER - Math.max(0, avail));
  const packetType = buf[off]! | (buf[off + 1]! << 8);
  const packetLength = u32(buf, off + 4);
  if (packetLength < TSGU_HEADER) return malformed(4, `packetLength ${packetLength} is shorter than the 8-byte header`);
  if (packetLength > TSGU_MAX_PACKET) return malformed(4, `packetLength ${packetLength} is beyond ${TSGU_MAX_PACKET} bytes`);
  if (avail < packetLength) return incomplete(packetLength - avail);
  return done({ packetType, packetLength }, packetLength);
}

/** One decoded packet: its type and the fields of that type (the client's and the server's). */
export type TsguPacket =
  | { type: 'handshake_request'; versionMajor: number; versionMinor: number; clientVersion: number; extendedAuth: number }
  | { type: 'handshake_response'; errorCode: number; versionMajor: number; versionMinor: number; serverVersion: number; extendedAuth: number }
  | { type: 'extended_auth'; errorCode: number; blobLength: number }
  | { type: 'tunnel_create'; capsFlags: number; fieldsPresent: number; paaCookieLength: number | null }
  | { type: 'tunnel_response'; serverVersion: number; statusCode: number; fieldsPresent: number; tunnelId: number | null; capsFlags: number | null; consentMessage: string | null }
  | { type: 'tunnel_auth'; fieldsPresent: number; clientName: string }
  | { type: 'tunnel_auth_response'; errorCode: number; fieldsPresent: number; redirFlags: number | null; idleTimeout: number | null }
  | { type: 'channel_create'; resources: string[]; altResources: string[]; port: number; protocol: number }
  | { type: 'channel_response'; errorCode: number; fieldsPresent: number; channelId: number | null; udpPort: number | null }
  | { type: 'data'; dataOff: number; dataLength: number }
  | { type: 'service_message'; message: string }
  | { type: 'reauth'; reauthTunnelContext: bigint }
  | { type: 'keepalive' }
  | { type: 'close_channel'; statusCode: number }
  | { type: 'close_channel_response'; statusCode: number }
  | { type: 'unknown'; packetType: number };

/** HTTP_TUNNEL_RESPONSE_FIELDS_PRESENT_FLAGS (2.2.5.3.8). */
const TUNNEL_RESPONSE_FIELD_TUNNEL_ID = 0x1;
const TUNNEL_RESPONSE_FIELD_CAPS = 0x2;
const TUNNEL_RESPONSE_FIELD_SOH_REQ = 0x4;
const TUNNEL_RESPONSE_FIELD_CONSENT_MSG = 0x10;
/** HTTP_TUNNEL_AUTH_RESPONSE_FIELDS_PRESENT_FLAGS (2.2.5.3.6). */
const TUNNEL_AUTH_RESPONSE_FIELD_REDIR_FLAGS = 0x1;
const TUNNEL_AUTH_RESPONSE_FIELD_IDLE_TIMEOUT = 0x2;
/** HTTP_CHANNEL_RESPONSE_FIELDS_PRESENT_FLAGS (2.2.5.3.1). */
const CHANNEL_RESPONSE_FIELD_CHANNELID = 0x1;
const CHANNEL_RESPONSE_FIELD_UDPPORT = 0x4;
/** HTTP_TUNNEL_PACKET_FIELDS_PRESENT_FLAGS (2.2.5.3.9). */
const TUNNEL_PACKET_FIELD_PAA_COOKIE = 0x1;
const TUNNEL_PACKET_FIELD_REAUTH = 0x2;

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A UTF-16LE string of `n` bytes, up to its first NUL (an odd last byte is ignored). */
function utf16(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = 0; i + 1 < n; i += 2) {
    const c = u16(b, o + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * One whole HTTP transport packet at buf[off, end): its header checked, then its body decoded by
 * type (MS-TSGU 2.2.10.1 - 2.2.10.21). `consumed` is packetLength; a body shorter than its type's
 * fields is malformed (with the offset of the field that does not fit).
 */
export function readTsguPacket(buf: Uint8Array, off: number, end: number): Decoded<TsguPacket> {
  const h = readTsguHeader(buf, off, end);
  if (!h.ok) return h;
  const { packetType, packetLength } = h.value;
  const p = off + TSGU_HEADER;
  const e = off + packetLength;
  /** The body must hold `n` bytes from `o` (absolute): else malformed at o (relative to off). */
  const need = (o: number, n: number, what: string): string | null => (o + n > e ? `${tsguPacketTypeName(packetType)}: ${what} (${n} bytes at offset ${o - off}) runs past packetLength ${packetLength}` : null);
  const bad = (o: number, reason: string): Decoded<TsguPacket> => malformed(o - off, reason);
  const ok = (v: TsguPacket): Decoded<TsguPacket> => done(v, packetLength);
  let r: string | null;
  switch (packetType) {
    case PKT_TYPE_HANDSHAKE_REQUEST:
      if ((r = need(p, 6, 'HTTP_HANDSHAKE_REQUEST_PACKET'))) return bad(p, r);
      return ok({ type: 'handshake_request', versionMajor: buf[p]!, versionMinor: buf[p + 1]!, clientVersion: u16(buf, p + 2), extendedAuth: u16(buf, p + 4) });
    case PKT_TYPE_HANDSHAKE_RESPONSE:
      if ((r = need(p, 10, 'HTTP_HANDSHAKE_RESPONSE_PACKET'))) return bad(p, r);
      return ok({ type: 'handshake_response', errorCode: u32(buf, p), versionMajor: buf[p + 4]!, versionMinor: buf[p + 5]!, serverVersion: u16(buf, p + 6), extendedAuth: u16(buf, p + 8) });
    case PKT_TYPE_EXTENDED_AUTH_MSG: {
      if ((r = need(p, 6, 'HTTP_EXTENDED_AUTH_PACKET'))) return bad(p, r);
      const blobLength = u16(buf, p + 4);
      if ((r = need(p + 6, blobLength, 'cbExtendedAuthBlob'))) return bad(p + 4, r);
      return ok({ type: 'extended_auth', errorCode: u32(buf, p), blobLength });
    }
    case PKT_TYPE_TUNNEL_CREATE: {
      if ((r = need(p, 8, 'HTTP_TUNNEL_PACKET'))) return bad(p, r);
      const fieldsPresent = u16(buf, p + 4);
      let paaCookieLength: number | null = null;
      let o = p + 8;
      if ((fieldsPresent & TUNNEL_PACKET_FIELD_REAUTH) !== 0) {
        // reauthTunnelContext (8 bytes), before the PAA cookie (2.2.10.21 HTTP_TUNNEL_PACKET_OPTIONAL).
        if ((r = need(o, 8, 'reauthTunnelContext'))) return bad(o, r);
        o += 8;
      }
      if ((fieldsPresent & TUNNEL_PACKET_FIELD_PAA_COOKIE) !== 0) {
        if ((r = need(o, 2, 'PAA cookie length'))) return bad(o, r);
        paaCookieLength = u16(buf, o);
        if ((r = need(o + 2, paaCookieLength, 'PAA cookie'))) return bad(o, r);
      }
      return ok({ type: 'tunnel_create', capsFlags: u32(buf, p), fieldsPresent, paaCookieLength });
    }
    case PKT_TYPE_TUNNEL_RESPONSE: {
      if ((r = need(p, 10, 'HTTP_TUNNEL_RESPONSE'))) return bad(p, r);
      const fieldsPresent = u16(buf, p + 6);
      let o = p + 10;
      let tunnelId: number | null = null;
      let capsFlags: number | null = null;
      let consentMessage: string | null = null;
      if ((fieldsPresent & TUNNEL_RESPONSE_FIELD_TUNNEL_ID) !== 0) {
        if ((r = need(o, 4, 'TunnelId'))) return bad(o, r);
        tunnelId = u32(buf, o);
        o += 4;
      }
      if ((fieldsPresent & TUNNEL_RESPONSE_FIELD_CAPS) !== 0) {
        if ((r = need(o, 4, 'CapsFlags'))) return bad(o, r);
        capsFlags = u32(buf, o);
        o += 4;
      }
      if ((fieldsPresent & TUNNEL_RESPONSE_FIELD_SOH_REQ) !== 0) {
        // Nonce (16 bytes) and the server certificate as an HTTP_UNICODE_STRING (2.2.10.18).
        if ((r = need(o, 18, 'Nonce and ServerCert length'))) return bad(o, r);
        const n = u16(buf, o + 16);
        if ((r = need(o + 18, n, 'ServerCert'))) return bad(o + 16, r);
        o += 18 + n;
      }
      if ((fieldsPresent & TUNNEL_RESPONSE_FIELD_CONSENT_MSG) !== 0) {
        if ((r = need(o, 2, 'consent message length'))) return bad(o, r);
        const n = u16(buf, o);
        if ((r = need(o + 2, n, 'consent message'))) return bad(o, r);
        consentMessage = utf16(buf, o + 2, n);
      }
      return ok({ type: 'tunnel_response', serverVersion: u16(buf, p), statusCode: u32(buf, p + 2), fieldsPresent, tunnelId, capsFlags, consentMessage });
    }
    case PKT_TYPE_TUNNEL_AUTH: {
      if ((r = need(p, 4, 'HTTP_TUNNEL_AUTH_PACKET'))) return bad(p, r);
      const n = u16(buf, p + 2);
      if ((r = need(p + 4, n, 'clientName'))) return bad(p + 2, r);
      return ok({ type: 'tunnel_auth', fieldsPresent: u16(buf, p), clientName: utf16(buf, p + 4, n) });
    }
    case PKT_TYPE_TUNNEL_AUTH_RESPONSE: {
      if ((r = need(p, 8, 'HTTP_TUNNEL_AUTH_RESPONSE'))) return bad(p, r);
      const fieldsPresent = u16(buf, p + 4);
      let o = p + 8;
      let redirFlags: number | null = null;
      let idleTimeout: number | null = null;
      if ((fieldsPresent & TUNNEL_AUTH_RESPONSE_FIELD_REDIR_FLAGS) !== 0) {
        if ((r = need(o, 4, 'redirFlags'))) return bad(o, r);
        redirFlags = u32(buf, o);
        o += 4;
      }
      if ((fieldsPresent & TUNNEL_AUTH_RESPONSE_FIELD_IDLE_TIMEOUT) !== 0) {
        if ((r = need(o, 4, 'idleTimeout'))) return bad(o, r);
        idleTimeout = u32(buf, o);
      }
      return ok({ type: 'tunnel_auth_response', errorCode: u32(buf, p), fieldsPresent, redirFlags, idleTimeout });
    }
    case PKT_TYPE_CHANNEL_CREATE: {
      if ((r = need(p, 6, 'HTTP_CHANNEL_PACKET'))) return bad(p, r);
      const numResources = buf[p]!;
      const numAlt = buf[p + 1]!;
      if (numResources === 0) return bad(p, 'HTTP_CHANNEL_PACKET: numResources is 0 (MS-TSGU 2.2.10.2: at least one resource)');
      const names: string[] = [];
      let o = p + 6;
      for (let i = 0; i < numResources + numAlt; i++) {
        if ((r = need(o, 2, 'resource name length'))) return bad(o, r);
        const n = u16(buf, o);
        if ((r = need(o + 2, n, 'resource name'))) return bad(o, r);
        names.push(utf16(buf, o + 2, n));
        o += 2 + n;
      }
      return ok({ type: 'channel_create', resources: names.slice(0, numResources), altResources: names.slice(numResources), port: u16(buf, p + 2), protocol: u16(buf, p + 4) });
    }
    case PKT_TYPE_CHANNEL_RESPONSE: {
      if ((r = need(p, 8, 'HTTP_CHANNEL_RESPONSE'))) return bad(p, r);
      const fieldsPresent = u16(buf, p + 4);
      let o = p + 8;
      let channelId: number | null = null;
      let udpPort: number | null = null;
      if ((fieldsPresent & CHANNEL_RESPONSE_FIELD_CHANNELID) !== 0) {
        if ((r = need(o, 4, 'ChannelId'))) return bad(o, r);
        channelId = u32(buf, o);
        o += 4;
      }
      if ((fieldsPresent & CHANNEL_RESPONSE_FIELD_UDPPORT) !== 0) {
        if ((r = need(o, 2, 'UdpPort'))) return bad(o, r);
        udpPort = u16(buf, o);
      }
      return ok({ type: 'channel_response', errorCode: u32(buf, p), fieldsPresent, channelId, udpPort });
    }
    case PKT_TYPE_DATA: {
      if ((r = need(p, 2, 'HTTP_DATA_PACKET'))) return bad(p, r);
      const n = u16(buf, p);
      if ((r = need(p + 2, n, 'data'))) return bad(p, r);
      return ok({ type: 'data', dataOff: p + 2, dataLength: n });
    }
    case PKT_TYPE_SERVICE_MESSAGE: {
      if ((r = need(p, 2, 'HTTP_SERVICE_MESSAGE'))) return bad(p, r);
      const n = u16(buf, p);
      if ((r = need(p + 2, n, 'message'))) return bad(p, r);
      return ok({ type: 'service_message', message: utf16(buf, p + 2, n) });
    }
    case PKT_TYPE_REAUTH_MESSAGE: {
      if ((r = need(p, 8, 'HTTP_REAUTH_MESSAGE'))) return bad(p, r);
      return ok({ type: 'reauth', reauthTunnelContext: BigInt(u32(buf, p)) | (BigInt(u32(buf, p + 4)) << 32n) });
    }
    case PKT_TYPE_KEEPALIVE:
      return ok({ type: 'keepalive' });
    case PKT_TYPE_CLOSE_CHANNEL:
    case PKT_TYPE_CLOSE_CHANNEL_RESPONSE:
      if ((r = need(p, 4, 'HTTP_CLOSE_PACKET'))) return bad(p, r);
      return ok({ type: packetType === PKT_TYPE_CLOSE_CHANNEL ? 'close_channel' : 'close_channel_response', statusCode: u32(buf, p) });
    default:
      return ok({ type: 'unknown', packetType });
  }
}
