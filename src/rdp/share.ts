// Share Control / Share Data PDUs (MS-RDPBCGR 2.2.8.1.1.1), the capability exchange
// (2.2.1.13), Control (2.2.1.15), Synchronize (2.2.1.14), Set Error Info (2.2.5.1),
// Save Session Info (2.2.10.1) and Status Info (2.2.5.2). Decoders start at the Share Control
// Header (SendDataClass.bodyOff of a 'share_control' payload); `end` is the MCS userData end.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { controlActionName, pduType2Name, pduTypeName, saveSessionInfoTypeName } from './codes.js';
import { latin1Z, u16le, u32le } from './tpkt.js';

export const PDUTYPE_DEMANDACTIVEPDU = 1;
export const PDUTYPE_CONFIRMACTIVEPDU = 3;
export const PDUTYPE_DEACTIVATEALLPDU = 6;
export const PDUTYPE_DATAPDU = 7;
export const PDUTYPE_SERVER_REDIR_PKT = 10;

export const PDUTYPE2_CONTROL = 20;
export const PDUTYPE2_SYNCHRONIZE = 31;
export const PDUTYPE2_SHUTDOWN_REQUEST = 36;
export const PDUTYPE2_SHUTDOWN_DENIED = 37;
export const PDUTYPE2_SAVE_SESSION_INFO = 38;
export const PDUTYPE2_FONTLIST = 39;
export const PDUTYPE2_FONTMAP = 40;
export const PDUTYPE2_SET_ERROR_INFO_PDU = 47;
export const PDUTYPE2_STATUS_INFO_PDU = 54;

/** Share Data Header compressedType bit: the body is bulk-compressed (3.1.8) and is not decoded here. */
export const PACKET_COMPRESSED = 0x20;

/** MS-RDPBCGR 2.2.8.1.1.1.1 Share Control Header. */
export interface ShareControlHeader {
  totalLength: number;
  /** Low nibble of the pduType field. */
  pduType: number;
  pduTypeName: string;
  /** High 12 bits of pduType (TS_PROTOCOL_VERSION = 1). */
  version: number;
  pduSource: number | null;
  end: number;
}

/** MS-RDPBCGR 2.2.8.1.1.1.2 Share Data Header (the 12 bytes after the Share Control Header). */
export interface ShareDataHeader {
  shareId: number;
  streamId: number;
  uncompressedLength: number;
  pduType2: number;
  pduType2Name: string;
  compressedType: number;
  compressedLength: number;
}

/** MS-RDPBCGR 2.2.1.13.1.1 / 2.2.1.13.2.1 Demand Active / Confirm Active PDU Data. */
export interface CapabilityExchange {
  shareId: number;
  /** Confirm Active only. */
  originatorId: number | null;
  lengthSourceDescriptor: number;
  lengthCombinedCapabilities: number;
  sourceDescriptor: string;
  numberCapabilities: number;
  /** capabilitySetType of each capability set actually present (bounded by the data). */
  capabilitySetTypes: number[];
  /** Demand Active only, when present. */
  sessionId: number | null;
}

export type ShareDataBody =
  /** 2.2.1.15.1 */
  | { type: 'control'; action: number; actionName: string; grantId: number; controlId: number }
  /** 2.2.1.14.1 */
  | { type: 'synchronize'; messageType: number; targetUser: number }
  /** 2.2.5.1.1 */
  | { type: 'setErrorInfo'; errorInfo: number }
  /** 2.2.10.1.1: INFOTYPE_LOGON* is the sign that the user's logon completed. */
  | { type: 'saveSessionInfo'; infoType: number; infoTypeName: string }
  /** 2.2.5.2.1 */
  | { type: 'statusInfo'; statusCode: number }
  /** Compressed bodies and the pduType2 values not decoded here. */
  | { type: 'other' };

export type SharePdu =
  | { type: 'demandActive'; header: ShareControlHeader; body: CapabilityExchange }
  | { type: 'confirmActive'; header: ShareControlHeader; body: CapabilityExchange }
  | { type: 'deactivateAll'; header: ShareControlHeader; shareId: number | null }
  | { type: 'data'; header: ShareControlHeader; data: ShareDataHeader; body: ShareDataBody }
  | { type: 'flowControl'; header: ShareControlHeader }
  | { type: 'serverRedirect'; header: ShareControlHeader }
  | { type: 'other'; header: ShareControlHeader };

/** MS-RDPBCGR 2.2.8.1.1.1.1. A totalLength of 0x8000 is a flow-control PDU (2.2.8.1.1.1.1 note), 8 bytes. */
export function decodeShareControlHeader(buf: Uint8Array, off: number, end: number): Decoded<ShareControlHeader> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  const totalLength = u16le(buf, off);
  const raw = u16le(buf, off + 2);
  if (totalLength === 0x8000) {
    if (off + 8 > end) return incomplete(off + 8 - end);
    return done({ totalLength, pduType: 0, pduTypeName: 'flow control', version: 0, pduSource: null, end: off + 8 }, 8);
  }
  if (totalLength < 4) return malformed(off, `Share Control totalLength ${totalLength} is below 4`);
  if (off + totalLength > end) return incomplete(off + totalLength - end);
  const pduType = raw & 0x0f;
  const version = raw >> 4;
  if (version !== 1) return malformed(off + 2, `Share Control pduType version ${version} (expected 1)`);
  return done(
    {
      totalLength,
      pduType,
      pduTypeName: pduTypeName(pduType),
      version,
      pduSource: totalLength >= 6 ? u16le(buf, off + 4) : null,
      end: off + totalLength,
    },
    totalLength,
  );
}

/** Decodes a whole slow-path Share Control PDU and, for data PDUs, the Share Data Header and the bodies listed in ShareDataBody. */
export function decodeSharePdu(buf: Uint8Array, off: number, end: number): Decoded<SharePdu> {
  const h = decodeShareControlHeader(buf, off, end);
  if (!h.ok) return h;
  const header = h.value;
  const e = header.end;
  const p = off + 6;
  if (header.totalLength === 0x8000) return done({ type: 'flowControl', header }, h.consumed);
  switch (header.pduType) {
    case PDUTYPE_DEMANDACTIVEPDU:
    case PDUTYPE_CONFIRMACTIVEPDU: {
      const confirm = header.pduType === PDUTYPE_CONFIRMACTIVEPDU;
      const c = decodeCapabilityExchange(buf, p, e, confirm);
      if (!c.ok) return c;
      return done(confirm ? { type: 'confirmActive', header, body: c.value } : { type: 'demandActive', header, body: c.value }, h.consumed);
    }
    case PDUTYPE_DEACTIVATEALLPDU:
      return done({ type: 'deactivateAll', header, shareId: p + 4 <= e ? u32le(buf, p) : null }, h.consumed);
    case PDUTYPE_DATAPDU: {
      if (p + 12 > e) return malformed(off, `Data PDU totalLength ${header.totalLength} is shorter than its Share Data Header`);
      const data: ShareDataHeader = {
        shareId: u32le(buf, p),
        streamId: buf[p + 5],
        uncompressedLength: u16le(buf, p + 6),
        pduType2: buf[p + 8],
        pduType2Name: pduType2Name(buf[p + 8]),
        compressedType: buf[p + 9],
        compressedLength: u16le(buf, p + 10),
      };
      const b = decodeDataBody(buf, p + 12, e, data);
      if (!b.ok) return b;
      return done({ type: 'data', header, data, body: b.value }, h.consumed);
    }
    case PDUTYPE_SERVER_REDIR_PKT:
      return done({ type: 'serverRedirect', header }, h.consumed);
    default:
      return done({ type: 'other', header }, h.consumed);
  }
}

function decodeDataBody(buf: Uint8Array, p: number, e: number, d: ShareDataHeader): Decoded<ShareDataBody> {
  if ((d.compressedType & PACKET_COMPRESSED) !== 0) return done({ type: 'other' }, e - p);
  const need = (n: number, what: string): Decoded<never> | null =>
    p + n > e ? malformed(p, `${what} needs ${n} bytes, the PDU has ${e - p}`) : null;
  switch (d.pduType2) {
    case PDUTYPE2_CONTROL: {
      const x = need(8, 'Control PDU');
      if (x) return x;
      const action = u16le(buf, p);
      return done({ type: 'control', action, actionName: controlActionName(action), grantId: u16le(buf, p + 2), controlId: u32le(buf, p + 4) }, 8);
    }
    case PDUTYPE2_SYNCHRONIZE: {
      const x = need(4, 'Synchronize PDU');
      if (x) return x;
      return done({ type: 'synchronize', messageType: u16le(buf, p), targetUser: u16le(buf, p + 2) }, 4);
    }
    case PDUTYPE2_SET_ERROR_INFO_PDU: {
      const x = need(4, 'Set Error Info PDU');
      if (x) return x;
      return done({ type: 'setErrorInfo', errorInfo: u32le(buf, p) }, 4);
    }
    case PDUTYPE2_SAVE_SESSION_INFO: {
      const x = need(4, 'Save Session Info PDU');
      if (x) return x;
      const infoType = u32le(buf, p);
      return done({ type: 'saveSessionInfo', infoType, infoTypeName: saveSessionInfoTypeName(infoType) }, 4);
    }
    case PDUTYPE2_STATUS_INFO_PDU: {
      const x = need(4, 'Status Info PDU');
      if (x) return x;
      return done({ type: 'statusInfo', statusCode: u32le(buf, p) }, 4);
    }
    default:
      return done({ type: 'other' }, e - p);
  }
}

/** Demand Active (2.2.1.13.1.1) / Confirm Active (2.2.1.13.2.1) PDU Data after the Share Control Header. */
function decodeCapabilityExchange(buf: Uint8Array, p: number, e: number, confirm: boolean): Decoded<CapabilityExchange> {
  const fixed = confirm ? 10 : 8;
  if (p + fixed > e) return malformed(p, `capability PDU shorter than its ${fixed} fixed bytes`);
  const shareId = u32le(buf, p);
  let q = p + 4;
  let originatorId: number | null = null;
  if (confirm) {
    originatorId = u16le(buf, q);
    q += 2;
  }
  const lengthSourceDescriptor = u16le(buf, q);
  const lengthCombinedCapabilities = u16le(buf, q + 2);
  q += 4;
  if (q + lengthSourceDescriptor + 4 > e) return malformed(q - 4, `lengthSourceDescriptor ${lengthSourceDescriptor} runs past the PDU`);
  const sourceDescriptor = latin1Z(buf, q, lengthSourceDescriptor);
  q += lengthSourceDescriptor;
  const capsStart = q;
  const numberCapabilities = u16le(buf, q);
  q += 4; // numberCapabilities + pad2Octets
  const capsEnd = capsStart + lengthCombinedCapabilities;
  if (capsEnd > e) return malformed(capsStart, `lengthCombinedCapabilities ${lengthCombinedCapabilities} runs past the PDU`);
  const types: number[] = [];
  for (let i = 0; i < numberCapabilities; i++) {
    if (q + 4 > capsEnd) return malformed(q, `capability set ${i + 1} of ${numberCapabilities} is missing`);
    const len = u16le(buf, q + 2);
    if (len < 4 || q + len > capsEnd) return malformed(q + 2, `capability set ${i + 1} lengthCapability ${len} is invalid`);
    types.push(u16le(buf, q));
    q += len;
  }
  const sessionId = !confirm && capsEnd + 4 <= e ? u32le(buf, capsEnd) : null;
  return done(
    { shareId, originatorId, lengthSourceDescriptor, lengthCombinedCapabilities, sourceDescriptor, numberCapabilities, capabilitySetTypes: types, sessionId },
    e - p,
  );
}
