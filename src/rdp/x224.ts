// X.224 class 0 TPDUs as RDP uses them (ITU-T X.224 section 13, MS-RDPBCGR 2.2.1.1 / 2.2.1.2),
// with the RDP negotiation structures. Every decoder starts at the TPKT header (offset `off`),
// needs the whole TPKT PDU within `end` (incomplete otherwise) and reports offsets absolutely.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { guidString, latin1, readTpkt, u16le, u32le } from './tpkt.js';

/** X.224 TPDU codes (high nibble of the second header byte). */
export const X224_CR = 0xe0;
export const X224_CC = 0xd0;
export const X224_DR = 0x80;
export const X224_DT = 0xf0;
export const X224_ER = 0x70;

/** MS-RDPBCGR 2.2.1.1.1 / 2.2.1.2.1 / 2.2.1.2.2 / 2.2.1.1.2 negotiation structure types. */
export const TYPE_RDP_NEG_REQ = 0x01;
export const TYPE_RDP_NEG_RSP = 0x02;
export const TYPE_RDP_NEG_FAILURE = 0x03;
export const TYPE_RDP_CORRELATION_INFO = 0x06;

/** RDP_NEG_REQ flags (MS-RDPBCGR 2.2.1.1.1). */
export const RESTRICTED_ADMIN_MODE_REQUIRED = 0x01;
export const REDIRECTED_AUTHENTICATION_MODE_REQUIRED = 0x02;
export const CORRELATION_INFO_PRESENT = 0x08;
/** RDP_NEG_RSP flags (MS-RDPBCGR 2.2.1.2.1). */
export const EXTENDED_CLIENT_DATA_SUPPORTED = 0x01;
export const DYNVC_GFX_PROTOCOL_SUPPORTED = 0x02;
export const RESTRICTED_ADMIN_MODE_SUPPORTED = 0x08;
export const REDIRECTED_AUTHENTICATION_MODE_SUPPORTED = 0x10;

const COOKIE_PREFIX = 'Cookie: mstshash=';
const COOKIE_GENERIC = 'Cookie: ';

/** A negotiation structure that is present but wrong: the X.224 header around it still decoded. */
export interface NegotiationError {
  /** Absolute offset of the faulty structure (or field). */
  at: number;
  /** e.g. "RDP_Negotiation_Response:length 0 (expected 8)". */
  reason: string;
}

/** Fixed part of an X.224 class 0 CR / CC / DR TPDU (X.224 13.3, 13.4, 13.5). */
export interface X224Fixed {
  /** TPKT length (the whole PDU). */
  tpktLength: number;
  /** Length indicator: bytes of the TPDU header after this byte. */
  lengthIndicator: number;
  /** TPDU code, high nibble (0xe0, 0xd0, 0x80). */
  code: number;
  /** Low nibble of the code byte (CDT, credit). */
  credit: number;
  dstRef: number;
  srcRef: number;
  /** Class and options (CR/CC) or reason (DR). */
  classOptions: number;
  /** Offset just past the X.224 TPDU header (= start of the TPDU's user data, if any). */
  headerEnd: number;
  /** Offset just past the TPKT PDU. */
  end: number;
}

/** MS-RDPBCGR 2.2.1.1.1 RDP Negotiation Request. */
export interface RdpNegReq {
  at: number;
  flags: number;
  length: number;
  requestedProtocols: number;
}

/** MS-RDPBCGR 2.2.1.1.2 RDP Correlation Info. */
export interface RdpCorrelationInfo {
  at: number;
  flags: number;
  length: number;
  /** The 16-byte correlationId as a GUID string (first three groups little-endian). */
  correlationId: string;
}

/** MS-RDPBCGR 2.2.1.1 Client X.224 Connection Request PDU. */
export interface X224ConnectionRequest extends X224Fixed {
  /** The user hint of "Cookie: mstshash=IDENTIFIER\r\n" without the prefix, or null. */
  cookie: string | null;
  /** The whole cookie line as sent (without CR LF), e.g. "Cookie: mstshash=eltons", or null. */
  cookieLine: string | null;
  /** Any other token line (e.g. "Cookie: msts=3640205228.15629.0000"), without CR LF, or null. */
  routingToken: string | null;
  /** True when the cookie / token ran to the end of the TPDU without a CR LF. */
  tokenUnterminated: boolean;
  negReq: RdpNegReq | null;
  correlationInfo: RdpCorrelationInfo | null;
  /** Set when a negotiation structure is present but wrong (the rest is still valid). */
  negotiationError: NegotiationError | null;
}

/** MS-RDPBCGR 2.2.1.2.1 RDP Negotiation Response. */
export interface RdpNegRsp {
  at: number;
  flags: number;
  length: number;
  selectedProtocol: number;
}

/** MS-RDPBCGR 2.2.1.2.2 RDP Negotiation Failure. */
export interface RdpNegFailure {
  at: number;
  flags: number;
  length: number;
  failureCode: number;
}

/** MS-RDPBCGR 2.2.1.2 Server X.224 Connection Confirm PDU. negRsp and negFailure are both null for an old server. */
export interface X224ConnectionConfirm extends X224Fixed {
  negRsp: RdpNegRsp | null;
  negFailure: RdpNegFailure | null;
  negotiationError: NegotiationError | null;
}

/** X.224 13.5 Disconnect Request (reason in classOptions). */
export type X224DisconnectRequest = X224Fixed;

/** X.224 13.7 Data TPDU header (02 f0 80): where the MCS PDU starts. */
export interface X224Data {
  tpktLength: number;
  lengthIndicator: number;
  /** EOT bit of the third byte (always set by RDP). */
  eot: boolean;
  /** Offset of the TPDU user data (the MCS PDU). */
  payloadOff: number;
  end: number;
}

export type X224Pdu =
  | ({ type: 'CR' } & X224ConnectionRequest)
  | ({ type: 'CC' } & X224ConnectionConfirm)
  | ({ type: 'DR' } & X224DisconnectRequest)
  | ({ type: 'DT' } & X224Data);

/**
 * The "RDP on any port" test: TPKT version 3 + a plausible length + an X.224 CR code (0xe0)
 * whose length indicator fits the TPKT length. Reads at most 6 bytes, allocates nothing.
 */
export function looksLikeConnectionRequest(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 6) return false;
  if (buf[off] !== 3 || buf[off + 1] !== 0) return false;
  const len = (buf[off + 2] << 8) | buf[off + 3];
  if (len < 11) return false;
  const li = buf[off + 4];
  return (buf[off + 5] & 0xf0) === X224_CR && li >= 6 && li + 5 <= len;
}

/**
 * Where `looksLikeConnectionRequest` fails: the absolute offset of the first field that is not
 * what a TPKT (RFC 1006 6) + X.224 Connection Request (X.224 13.3) header needs — the TPKT version
 * or reserved octet, the TPKT length, the length indicator or the CR code — or `end` when there
 * are too few bytes to tell; -1 when it does not fail.
 */
export function connectionRequestFailsAt(buf: Uint8Array, off: number, end: number): number {
  if (off >= end) return end;
  if (buf[off] !== 3) return off;
  if (off + 1 >= end) return end;
  if (buf[off + 1] !== 0) return off + 1;
  if (off + 4 > end) return end;
  const len = (buf[off + 2] << 8) | buf[off + 3];
  if (len < 11) return off + 2;
  if (off + 6 > end) return end;
  const li = buf[off + 4];
  if ((buf[off + 5] & 0xf0) !== X224_CR) return off + 5;
  if (li < 6 || li + 5 > len) return off + 4;
  return -1;
}

/** Reads TPKT + the 7-byte fixed X.224 header of a CR/CC/DR, checking the code and the length indicator. */
function readFixed(buf: Uint8Array, off: number, end: number, code: number, what: string): Decoded<X224Fixed> {
  const t = readTpkt(buf, off, end);
  if (!t.ok) return t;
  const tpktEnd = t.value.end;
  if (t.value.length < 11) return malformed(off + 2, `TPKT length ${t.value.length} too short for an X.224 ${what} (11)`);
  const li = buf[off + 4];
  const c = buf[off + 5];
  if ((c & 0xf0) !== code) return malformed(off + 5, `X.224 code 0x${c.toString(16)} is not ${what}`);
  if (li < 6) return malformed(off + 4, `X.224 length indicator ${li} is below 6`);
  if (off + 5 + li > tpktEnd) return malformed(off + 4, `X.224 length indicator ${li} runs past the TPKT length ${t.value.length}`);
  return done(
    {
      tpktLength: t.value.length,
      lengthIndicator: li,
      code: c & 0xf0,
      credit: c & 0x0f,
      dstRef: (buf[off + 6] << 8) | buf[off + 7],
      srcRef: (buf[off + 8] << 8) | buf[off + 9],
      classOptions: buf[off + 10],
      headerEnd: off + 5 + li,
      end: tpktEnd,
    },
    t.value.length,
  );
}

function startsWith(buf: Uint8Array, p: number, end: number, s: string): boolean {
  if (p + s.length > end) return false;
  for (let i = 0; i < s.length; i++) if (buf[p + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** MS-RDPBCGR 2.2.1.1: TPKT + X.224 CR + optional routing token / cookie + RDP_NEG_REQ + RDP_CORRELATION_INFO. */
export function decodeConnectionRequest(buf: Uint8Array, off: number, end: number): Decoded<X224ConnectionRequest> {
  const f = readFixed(buf, off, end, X224_CR, 'Connection Request');
  if (!f.ok) return f;
  const h = f.value;
  // Every field written out, not `{ ...h, cookie: null, ... }`: V8 built that (a spread followed by
  // more properties) as a dictionary-mode object, ~15 us and 1 KB of garbage per call.
  const r: X224ConnectionRequest = {
    tpktLength: h.tpktLength,
    lengthIndicator: h.lengthIndicator,
    code: h.code,
    credit: h.credit,
    dstRef: h.dstRef,
    srcRef: h.srcRef,
    classOptions: h.classOptions,
    headerEnd: h.headerEnd,
    end: h.end,
    cookie: null,
    cookieLine: null,
    routingToken: null,
    tokenUnterminated: false,
    negReq: null,
    correlationInfo: null,
    negotiationError: null,
  };
  const vEnd = h.headerEnd;
  let p = off + 11;
  // A token line is anything not starting with a negotiation type byte; it ends at CR LF.
  if (p < vEnd && buf[p] !== TYPE_RDP_NEG_REQ) {
    let q = p;
    while (q + 1 < vEnd && !(buf[q] === 0x0d && buf[q + 1] === 0x0a)) q++;
    const terminated = q + 1 < vEnd;
    const lineEnd = terminated ? q : vEnd;
    const line = latin1(buf, p, lineEnd - p);
    if (startsWith(buf, p, lineEnd, COOKIE_PREFIX)) {
      r.cookieLine = line;
      r.cookie = line.slice(COOKIE_PREFIX.length);
    } else {
      r.routingToken = line;
    }
    if (!terminated) {
      r.tokenUnterminated = true;
      r.negotiationError = { at: p, reason: `${startsWith(buf, p, lineEnd, COOKIE_GENERIC) ? 'cookie' : 'routing token'} not terminated by CR LF` };
      return done(r, h.tpktLength);
    }
    p = q + 2;
  }
  if (p < vEnd) {
    const nr = readNeg(buf, p, vEnd, TYPE_RDP_NEG_REQ, 'RDP_Negotiation_Request');
    if ('reason' in nr) {
      r.negotiationError = nr;
      return done(r, h.tpktLength);
    }
    r.negReq = { at: p, flags: nr.flags, length: nr.length, requestedProtocols: nr.value };
    p += 8;
    if (p < vEnd) {
      if ((nr.flags & CORRELATION_INFO_PRESENT) === 0 && buf[p] !== TYPE_RDP_CORRELATION_INFO) {
        r.negotiationError = { at: p, reason: `${vEnd - p} unexpected byte(s) after RDP_NEG_REQ` };
        return done(r, h.tpktLength);
      }
      if (buf[p] !== TYPE_RDP_CORRELATION_INFO) {
        r.negotiationError = { at: p, reason: `RDP_Correlation_Info:type 0x${buf[p].toString(16)} (expected 0x06)` };
      } else if (p + 4 > vEnd) {
        r.negotiationError = { at: p, reason: 'RDP_Correlation_Info truncated by the X.224 length indicator' };
      } else {
        const len = u16le(buf, p + 2);
        if (len !== 36) r.negotiationError = { at: p, reason: `RDP_Correlation_Info:length ${len} (expected 36)` };
        else if (p + 36 > vEnd) r.negotiationError = { at: p, reason: 'RDP_Correlation_Info truncated by the X.224 length indicator' };
        else r.correlationInfo = { at: p, flags: buf[p + 1], length: len, correlationId: guidString(buf, p + 4) };
      }
    } else if ((nr.flags & CORRELATION_INFO_PRESENT) !== 0) {
      r.negotiationError = { at: p, reason: 'CORRELATION_INFO_PRESENT set but no RDP_Correlation_Info follows' };
    }
  }
  return done(r, h.tpktLength);
}

/** Reads an 8-byte negotiation structure of the given type within [p, vEnd). */
function readNeg(
  buf: Uint8Array,
  p: number,
  vEnd: number,
  type: number,
  name: string,
): { flags: number; length: number; value: number } | NegotiationError {
  if (buf[p] !== type) return { at: p, reason: `${name}:type 0x${buf[p].toString(16)} (expected 0x0${type})` };
  if (p + 4 > vEnd) return { at: p, reason: `${name} truncated by the X.224 length indicator (${vEnd - p} of 8 bytes)` };
  const length = u16le(buf, p + 2);
  if (length !== 8) return { at: p, reason: `${name}:length ${length} (expected 8)` };
  if (p + 8 > vEnd) return { at: p, reason: `${name} truncated by the X.224 length indicator (${vEnd - p} of 8 bytes)` };
  return { flags: buf[p + 1], length, value: u32le(buf, p + 4) };
}

/** MS-RDPBCGR 2.2.1.2: TPKT + X.224 CC + optional RDP_NEG_RSP or RDP_NEG_FAILURE. */
export function decodeConnectionConfirm(buf: Uint8Array, off: number, end: number): Decoded<X224ConnectionConfirm> {
  const f = readFixed(buf, off, end, X224_CC, 'Connection Confirm');
  if (!f.ok) return f;
  const h = f.value;
  const r: X224ConnectionConfirm = {
    tpktLength: h.tpktLength,
    lengthIndicator: h.lengthIndicator,
    code: h.code,
    credit: h.credit,
    dstRef: h.dstRef,
    srcRef: h.srcRef,
    classOptions: h.classOptions,
    headerEnd: h.headerEnd,
    end: h.end,
    negRsp: null,
    negFailure: null,
    negotiationError: null,
  };
  const p = off + 11;
  const vEnd = h.headerEnd;
  if (p >= vEnd) return done(r, h.tpktLength);
  const t = buf[p];
  if (t === TYPE_RDP_NEG_RSP) {
    const n = readNeg(buf, p, vEnd, t, 'RDP_Negotiation_Response');
    if ('reason' in n) r.negotiationError = n;
    else r.negRsp = { at: p, flags: n.flags, length: n.length, selectedProtocol: n.value };
  } else if (t === TYPE_RDP_NEG_FAILURE) {
    const n = readNeg(buf, p, vEnd, t, 'RDP_Negotiation_Failure');
    if ('reason' in n) r.negotiationError = n;
    else r.negFailure = { at: p, flags: n.flags, length: n.length, failureCode: n.value };
  } else {
    r.negotiationError = { at: p, reason: `negotiation type 0x${t.toString(16)} is neither RDP_NEG_RSP (2) nor RDP_NEG_FAILURE (3)` };
  }
  if (r.negotiationError === null && p + 8 < vEnd) {
    r.negotiationError = { at: p + 8, reason: `${vEnd - p - 8} unexpected byte(s) after the negotiation structure` };
  }
  return done(r, h.tpktLength);
}

/** X.224 13.5 Disconnect Request (code 0x80). */
export function decodeDisconnectRequest(buf: Uint8Array, off: number, end: number): Decoded<X224DisconnectRequest> {
  return readFixed(buf, off, end, X224_DR, 'Disconnect Request');
}

/** X.224 13.7 Data TPDU header "02 f0 80": gives the offset of the MCS PDU within the TPKT. */
export function decodeDataHeader(buf: Uint8Array, off: number, end: number): Decoded<X224Data> {
  const t = readTpkt(buf, off, end);
  if (!t.ok) return t;
  const li = buf[off + 4];
  const c = buf[off + 5];
  if ((c & 0xf0) !== X224_DT) return malformed(off + 5, `X.224 code 0x${c.toString(16)} is not a Data TPDU`);
  if (li !== 2) return malformed(off + 4, `X.224 Data length indicator ${li} (expected 2)`);
  return done(
    { tpktLength: t.value.length, lengthIndicator: li, eot: (buf[off + 6] & 0x80) !== 0, payloadOff: off + 7, end: t.value.end },
    t.value.length,
  );
}

/** Dispatches on the X.224 code of the TPKT PDU at `off`. */
export function decodeX224(buf: Uint8Array, off: number, end: number): Decoded<X224Pdu> {
  if (off + 6 > end) {
    const t = readTpkt(buf, off, end);
    if (!t.ok) return t;
    return incomplete(off + 6 - end);
  }
  const code = buf[off + 5] & 0xf0;
  switch (code) {
    case X224_CR: {
      const d = decodeConnectionRequest(buf, off, end);
      if (!d.ok) return d;
      const v = d.value;
      // Fields written out (as in decodeConnectionRequest): a spread made a dictionary-mode object.
      return done(
        { type: 'CR', tpktLength: v.tpktLength, lengthIndicator: v.lengthIndicator, code: v.code, credit: v.credit, dstRef: v.dstRef, srcRef: v.srcRef, classOptions: v.classOptions, headerEnd: v.headerEnd, end: v.end, cookie: v.cookie, cookieLine: v.cookieLine, routingToken: v.routingToken, tokenUnterminated: v.tokenUnterminated, negReq: v.negReq, correlationInfo: v.correlationInfo, negotiationError: v.negotiationError },
        d.consumed,
      );
    }
    case X224_CC: {
      const d = decodeConnectionConfirm(buf, off, end);
      if (!d.ok) return d;
      const v = d.value;
      return done({ type: 'CC', tpktLength: v.tpktLength, lengthIndicator: v.lengthIndicator, code: v.code, credit: v.credit, dstRef: v.dstRef, srcRef: v.srcRef, classOptions: v.classOptions, headerEnd: v.headerEnd, end: v.end, negRsp: v.negRsp, negFailure: v.negFailure, negotiationError: v.negotiationError }, d.consumed);
    }
    case X224_DR: {
      const d = decodeDisconnectRequest(buf, off, end);
      if (!d.ok) return d;
      const v = d.value;
      return done({ type: 'DR', tpktLength: v.tpktLength, lengthIndicator: v.lengthIndicator, code: v.code, credit: v.credit, dstRef: v.dstRef, srcRef: v.srcRef, classOptions: v.classOptions, headerEnd: v.headerEnd, end: v.end }, d.consumed);
    }
    case X224_DT: {
      const d = decodeDataHeader(buf, off, end);
      if (!d.ok) return d;
      const v = d.value;
      return done({ type: 'DT', tpktLength: v.tpktLength, lengthIndicator: v.lengthIndicator, eot: v.eot, payloadOff: v.payloadOff, end: v.end }, d.consumed);
    }
    default: {
      const t = readTpkt(buf, off, end);
      if (!t.ok) return t;
      return malformed(off + 5, `X.224 TPDU code 0x${code.toString(16)} is not used by RDP`);
    }
  }
}
