// MS-RDPEUDP side channel: the RDPUDP_FEC_HEADER (2.2.2.1) and the SYN / SYN+ACK datagram
// (3.1.5.1.1 / 3.1.5.1.2) with its SYNDATA (2.2.2.5), CORRELATION_ID (2.2.2.8) and SYNDATAEX
// (2.2.2.9) payloads. Network byte order. Offsets are absolute; [off, end) is the UDP payload.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { RDPUDP_FLAGS, flagNames, rdpudpVersionName } from './codes.js';
import { u16be, u32be } from './tpkt.js';

export const RDPUDP_FLAG_SYN = 0x0001;
export const RDPUDP_FLAG_FIN = 0x0002;
export const RDPUDP_FLAG_ACK = 0x0004;
export const RDPUDP_FLAG_DATA = 0x0008;
export const RDPUDP_FLAG_FEC = 0x0010;
export const RDPUDP_FLAG_CN = 0x0020;
export const RDPUDP_FLAG_CWR = 0x0040;
export const RDPUDP_FLAG_AOA = 0x0100;
export const RDPUDP_FLAG_SYNLOSSY = 0x0200;
export const RDPUDP_FLAG_ACKDELAYED = 0x0400;
export const RDPUDP_FLAG_CORRELATION_ID = 0x0800;
export const RDPUDP_FLAG_SYNEX = 0x1000;

export const RDPUDP_PROTOCOL_VERSION_1 = 0x0001;
export const RDPUDP_PROTOCOL_VERSION_2 = 0x0002;
export const RDPUDP_PROTOCOL_VERSION_3 = 0x0101;
/** uSynExFlags bit: uUdpVer is valid. */
export const RDPUDP_VERSION_INFO_VALID = 0x0001;

/** MTU bounds of RDPUDP_SYNDATA_PAYLOAD (2.2.2.5: 1132..1232). */
export const RDPUDP_MIN_MTU = 1132;
export const RDPUDP_MAX_MTU = 1232;

/** MS-RDPEUDP 2.2.2.1 RDPUDP_FEC_HEADER. */
export interface RdpudpFecHeader {
  snSourceAck: number;
  uReceiveWindowSize: number;
  uFlags: number;
}

/** A SYN (client) or SYN+ACK (server) datagram. */
export interface RdpudpSyn extends RdpudpFecHeader {
  flagNames: string[];
  /** SYN+ACK: the server's answer. */
  isSynAck: boolean;
  lossy: boolean;
  snInitialSequenceNumber: number;
  uUpStreamMtu: number;
  uDownStreamMtu: number;
  /** RDPUDP_CORRELATION_ID_PAYLOAD uCorrelationId as 32 hex digits, when RDPUDP_FLAG_CORRELATION_ID is set. */
  correlationId: string | null;
  /** RDPUDP_SYNDATAEX_PAYLOAD, when RDPUDP_FLAG_SYNEX is set. */
  synExFlags: number | null;
  /** uUdpVer (1, 2, 0x101 = version 3), when SYNEX is set. */
  udpVersion: number | null;
  udpVersionName: string | null;
}

export function readRdpudpFecHeader(buf: Uint8Array, off: number, end: number): Decoded<RdpudpFecHeader> {
  if (off + 8 > end) return incomplete(off + 8 - end);
  return done({ snSourceAck: u32be(buf, off), uReceiveWindowSize: u16be(buf, off + 4), uFlags: u16be(buf, off + 6) }, 8);
}

/** Decodes a SYN or SYN+ACK datagram; anything without RDPUDP_FLAG_SYN is malformed for this decoder. */
export function decodeRdpudpSyn(buf: Uint8Array, off: number, end: number): Decoded<RdpudpSyn> {
  const h = readRdpudpFecHeader(buf, off, end);
  if (!h.ok) return h;
  const f = h.value.uFlags;
  if ((f & RDPUDP_FLAG_SYN) === 0) return malformed(off + 6, 'RDPUDP_FLAG_SYN not set');
  let p = off + 8;
  if (p + 8 > end) return incomplete(p + 8 - end);
  const up = u16be(buf, p + 4);
  const down = u16be(buf, p + 6);
  if (up < RDPUDP_MIN_MTU || up > RDPUDP_MAX_MTU) return malformed(p + 4, `uUpStreamMtu ${up} outside ${RDPUDP_MIN_MTU}..${RDPUDP_MAX_MTU}`);
  if (down < RDPUDP_MIN_MTU || down > RDPUDP_MAX_MTU) return malformed(p + 6, `uDownStreamMtu ${down} outside ${RDPUDP_MIN_MTU}..${RDPUDP_MAX_MTU}`);
  // Fields written out, not `{ ...h.value, more }` (V8 11 makes a dictionary-mode object of a spread
  // followed by more properties; see x224.ts).
  const r: RdpudpSyn = {
    snSourceAck: h.value.snSourceAck,
    uReceiveWindowSize: h.value.uReceiveWindowSize,
    uFlags: h.value.uFlags,
    flagNames: flagNames(RDPUDP_FLAGS, f, 4),
    isSynAck: (f & RDPUDP_FLAG_ACK) !== 0,
    lossy: (f & RDPUDP_FLAG_SYNLOSSY) !== 0,
    snInitialSequenceNumber: u32be(buf, p),
    uUpStreamMtu: up,
    uDownStreamMtu: down,
    correlationId: null,
    synExFlags: null,
    udpVersion: null,
    udpVersionName: null,
  };
  p += 8;
  if ((f & RDPUDP_FLAG_CORRELATION_ID) !== 0) {
    if (p + 32 > end) return incomplete(p + 32 - end);
    let hex = '';
    for (let i = 0; i < 16; i++) hex += buf[p + i].toString(16).padStart(2, '0');
    r.correlationId = hex;
    p += 32;
  }
  if ((f & RDPUDP_FLAG_SYNEX) !== 0) {
    if (p + 4 > end) return incomplete(p + 4 - end);
    r.synExFlags = u16be(buf, p);
    if ((r.synExFlags & RDPUDP_VERSION_INFO_VALID) !== 0) {
      r.udpVersion = u16be(buf, p + 2);
      r.udpVersionName = rdpudpVersionName(r.udpVersion);
    }
    p += 4;
    if (r.udpVersion === RDPUDP_PROTOCOL_VERSION_3) {
      if (p + 32 > end) return incomplete(p + 32 - end);
      p += 32; // cookieHash (SHA-256 of the SecurityCookie)
    }
  }
  return done(r, end - off); // SYN datagrams are zero-padded to the MTU
}

/** Cheap test for the side-channel tracker: a SYN whose MTUs are in range. Allocates nothing. */
export function looksLikeRdpudpSyn(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 16) return false;
  if ((buf[off + 7] & RDPUDP_FLAG_SYN) === 0) return false;
  const up = u16be(buf, off + 12);
  const down = u16be(buf, off + 14);
  return up >= RDPUDP_MIN_MTU && up <= RDPUDP_MAX_MTU && down >= RDPUDP_MIN_MTU && down <= RDPUDP_MAX_MTU;
}
