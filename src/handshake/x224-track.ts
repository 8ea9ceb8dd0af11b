// The X.224 step of a connection (MS-RDPBCGR 1.3.1.1 "Connection Initiation"): the client's
// Connection Request and the server's Connection Confirm (RDP_NEG_RSP / RDP_NEG_FAILURE).
// Decoding is src/rdp/x224.ts; this file turns the decoded PDUs into the record and timeline.
import type { Dir } from '../flow/types.js';
import type { NegotiationInfo } from './types.js';
import type { StreamBuf } from './stream.js';
import {
  decodeConnectionConfirm,
  decodeConnectionRequest,
  connectionRequestFailsAt,
  decodeX224,
  looksLikeConnectionRequest,
  type X224ConnectionConfirm,
  type X224ConnectionRequest,
} from '../rdp/x224.js';
import {
  PROTOCOL_HYBRID,
  PROTOCOL_HYBRID_EX,
  PROTOCOL_RDP,
  PROTOCOL_RDSAAD,
  PROTOCOL_RDSTLS,
  PROTOCOL_SSL,
  failureCodeName,
  logonModeNames,
  logonModeOf,
  logonModeSupport,
  protocolNames,
  selectedProtocolName,
} from '../rdp/codes.js';
import { describeBytes, type MachineSink } from './machine.js';

/** Protocols whose selection switches the stream to TLS after the Confirm (MS-RDPBCGR 5.4.5). */
const TLS_PROTOCOLS = PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX | PROTOCOL_RDSTLS | PROTOCOL_RDSAAD;

/** requestedText() entries kept at most (a client offers one of a few combinations; hostile bits are not kept). */
const MAX_REQUESTED_TEXTS = 64;
const requestedTexts = new Map<number, { names: string[]; text: string }>();

const selectedTexts = new Map<number, string>();

/** The timeline's detail of an RDP_NEG_RSP (MS-RDPBCGR 2.2.1.2.1), made once per selected protocol. */
function selectedText(selected: number, name: string): string {
  let t = selectedTexts.get(selected);
  if (t === undefined) {
    t = `RDP_NEG_RSP selectedProtocol ${hex8(selected)} (${name})`;
    if (selectedTexts.size < MAX_REQUESTED_TEXTS) selectedTexts.set(selected, t);
  }
  return t;
}

/**
 * The protocol names of an RDP_NEG_REQ's requestedProtocols (MS-RDPBCGR 2.2.1.1.1) and its part of the
 * timeline's detail, made once per value: every attempt of a storm offers the same few. The names list
 * is shared, frozen (as the record's compaction shares it: compact.ts).
 */
function requestedText(protocols: number): { names: string[]; text: string } {
  let e = requestedTexts.get(protocols);
  if (e === undefined) {
    const names = Object.freeze(protocolNames(protocols)) as string[];
    e = { names, text: `RDP_NEG_REQ requestedProtocols ${hex8(protocols)} (${names.join('|')})` };
    if (requestedTexts.size < MAX_REQUESTED_TEXTS) requestedTexts.set(protocols, e);
  }
  return e;
}

/** The record's `security` for a selectedProtocol (null when unknown). */
export function securityOf(selected: number): string | null {
  switch (selected) {
    case PROTOCOL_RDP:
      return 'rdp';
    case PROTOCOL_SSL:
      return 'tls';
    case PROTOCOL_HYBRID:
    case PROTOCOL_HYBRID_EX:
      return 'credssp';
    case PROTOCOL_RDSTLS:
      return 'rdstls';
    case PROTOCOL_RDSAAD:
      return 'aad';
    default:
      return null;
  }
}

export function isTlsProtocol(selected: number): boolean {
  return selected !== 0 && (selected & TLS_PROTOCOLS) === selected;
}

export function emptyNegotiation(): NegotiationInfo {
  return {
    cookie: null,
    routingToken: null,
    requestFlags: null,
    requestedProtocols: null,
    requestedProtocolNames: [],
    correlationId: null,
    responseFlags: null,
    selectedProtocol: null,
    selectedProtocolName: null,
    failureCode: null,
    failureCodeName: null,
    requestFrame: null,
    confirmFrame: null,
  };
}

export class X224Track {
  requestFrame: number | null = null;
  confirmFrame: number | null = null;
  private done: [boolean, boolean] = [false, false];

  constructor(private readonly m: MachineSink & { notRdp(dir: Dir, frame: number, offset: number, detail: string): void }) {}

  /** Whether the first PDU of this direction (CR / CC) has been decoded. */
  started(dir: Dir): boolean {
    return this.done[dir];
  }
  seenConfirm(): boolean {
    return this.confirmFrame !== null;
  }

  /** Decodes the first PDU of a direction. Returns bytes used, 0 when incomplete, -1 to stop. */
  first(dir: Dir, s: StreamBuf): number {
    const buf = s.bytes;
    const off = s.off;
    const end = s.end;
    if (buf[off] !== 0x03) {
      // A proxy exchange (SOCKS, HTTP CONNECT) may come before the X.224 PDU: skip it, saying so.
      const at = scanForX224(buf, off, end, dir === 0 ? X224_CR_CODE : X224_CC_CODE);
      if (at > off) {
        this.m.warn(s.frameOfStart(), s.position, `${at - off} bytes before the ${dir === 0 ? "client's X.224 Connection Request" : "server's X.224 Connection Confirm"} skipped (a proxy exchange?)`);
        return at - off;
      }
      if (end - off < MAX_PREFIX) return 0;
      this.m.notRdp(dir, s.frameOfStart(), s.position, this.notX224(dir, buf, off, end));
      return -1;
    }
    if (dir === 0) {
      if (end - off < 6 && buf[off] === 0x03 && (end - off < 2 || buf[off + 1] === 0)) return 0;
      if (!looksLikeConnectionRequest(buf, off, end)) {
        const at = connectionRequestFailsAt(buf, off, end);
        this.m.notRdp(0, s.frameOfStart(), s.position + (at < 0 ? 0 : at - off), this.notX224(0, buf, off, end));
        return -1;
      }
      const d = decodeConnectionRequest(buf, off, end);
      if (!d.ok) {
        if (d.kind === 'incomplete') return 0;
        this.m.warn(s.frameOfStart(), s.position + d.at - off, `X.224 Connection Request: ${d.reason}`);
        return -1;
      }
      this.request(d.value, s.frameOfEnd(d.consumed), s.timeOfEnd(d.consumed), s.position);
      this.done[0] = true;
      return d.consumed;
    }
    // Server: the Connection Confirm (or a Disconnect Request refusing the connection).
    const d = decodeX224(buf, off, end);
    if (!d.ok) {
      if (d.kind === 'incomplete' && buf[off] === 0x03) return 0;
      this.m.notRdp(1, s.frameOfStart(), s.position + (d.kind === 'malformed' ? d.at - off : 0), this.notX224(1, buf, off, end));
      return -1;
    }
    const frame = s.frameOfEnd(d.consumed);
    const time = s.timeOfEnd(d.consumed);
    const v = d.value;
    if (v.type === 'CC') {
      this.confirm(v, frame, time, s.position);
      this.done[1] = true;
      return d.consumed;
    }
    if (v.type === 'DR') {
      this.done[1] = true;
      this.disconnectRequest(1, v.classOptions, frame, time);
      return d.consumed;
    }
    // The TPDU code (X.224 13.1) is the octet after the TPKT header and the length indicator.
    this.m.notRdp(1, frame, s.position + 5, `the server's first PDU is an X.224 ${v.type} TPDU, not a Connection Confirm`);
    return -1;
  }

  /** The warning for a direction whose first bytes are not its X.224 PDU. */
  notX224(dir: Dir, buf: Uint8Array, off: number, end: number): string {
    return dir === 0
      ? `the client's first bytes are not an X.224 Connection Request (${describeBytes(buf, off, end)})`
      : `the server's first bytes are not an X.224 Connection Confirm (${describeBytes(buf, off, end)})`;
  }

  /** X.224 13.5 Disconnect Request from either side. */
  disconnectRequest(dir: Dir, reason: number, frame: number, time: number): void {
    this.m.event(dir, frame, time, 'X.224 Disconnect Request', `reason ${reason}`);
    this.m.end({
      phase: this.m.reached(),
      how: 'x224_disconnect',
      by: dir === 0 ? 'client' : 'server',
      frame,
      time,
      detail: `${dir === 0 ? 'client' : 'server'} sent an X.224 Disconnect Request (reason ${reason})`,
      normal: false,
    });
  }

  private negotiation(): NegotiationInfo {
    if (this.m.rec.negotiation === null) this.m.rec.negotiation = emptyNegotiation();
    return this.m.rec.negotiation;
  }

  private request(cr: X224ConnectionRequest, frame: number, time: number, pos: number): void {
    const n = this.negotiation();
    this.requestFrame = frame;
    n.requestFrame = frame;
    n.cookie = cr.cookie;
    n.routingToken = cr.routingToken;
    const parts: string[] = [];
    if (cr.cookieLine !== null) parts.push(cr.cookieLine);
    if (cr.routingToken !== null) parts.push(cr.routingToken);
    if (cr.negReq) {
      n.requestFlags = cr.negReq.flags;
      n.requestedProtocols = cr.negReq.requestedProtocols;
      const req = requestedText(cr.negReq.requestedProtocols);
      n.requestedProtocolNames = req.names;
      parts.push(req.text);
      // MS-RDPBCGR 2.2.1.1.1: the client asks for a Restricted Admin / Remote Credential Guard logon.
      const mode = logonModeOf(cr.negReq.flags, frame);
      if (mode !== null) {
        n.logonMode = mode;
        for (const name of logonModeNames(mode)) parts.push(`flags ${name}`);
      }
    } else {
      parts.push('no RDP_NEG_REQ (Standard RDP Security only)');
    }
    if (cr.correlationInfo) n.correlationId = cr.correlationInfo.correlationId;
    if (cr.negotiationError) this.m.warn(frame, pos + cr.negotiationError.at - (cr.end - cr.tpktLength), `X.224 Connection Request: ${cr.negotiationError.reason}`);
    this.m.reach('x224', frame, time);
    this.m.event(0, frame, time, 'X.224 Connection Request', parts.join(', '));
  }

  private confirm(cc: X224ConnectionConfirm, frame: number, time: number, pos: number): void {
    const n = this.negotiation();
    this.confirmFrame = frame;
    n.confirmFrame = frame;
    this.m.reach('x224', frame, time);
    if (cc.negFailure) {
      const code = cc.negFailure.failureCode;
      n.failureCode = code;
      n.failureCodeName = failureCodeName(code);
      this.m.event(1, frame, time, 'X.224 Connection Confirm (RDP Negotiation Failure)', `failureCode ${hex8(code)} ${n.failureCodeName}`);
      this.m.end({
        phase: 'x224',
        how: 'negotiation_failure',
        by: 'server',
        frame,
        time,
        detail: `server refused the requested protocols with RDP_NEG_FAILURE ${n.failureCodeName}`,
        normal: false,
      });
      return;
    }
    let selected = PROTOCOL_RDP;
    if (cc.negRsp) {
      selected = cc.negRsp.selectedProtocol;
      n.responseFlags = cc.negRsp.flags;
      if (n.logonMode) logonModeSupport(n.logonMode, cc.negRsp.flags);
      n.selectedProtocol = selected;
      n.selectedProtocolName = selectedProtocolName(selected);
    } else if (cc.negotiationError === null && n.requestedProtocols !== null) {
      // MS-RDPBCGR 3.2.5.3.2: no RDP_NEG_RSP = Standard RDP Security.
      n.selectedProtocol = PROTOCOL_RDP;
      n.selectedProtocolName = 'RDP';
    }
    this.m.rec.security = cc.negotiationError === null ? securityOf(selected) : null;
    const detail = cc.negRsp
      ? selectedText(selected, n.selectedProtocolName!)
      : cc.negotiationError
        ? `negotiation structure unreadable: ${cc.negotiationError.reason}`
        : 'no RDP_NEG_RSP (Standard RDP Security)';
    this.m.event(1, frame, time, 'X.224 Connection Confirm', detail);
    if (cc.negotiationError) this.m.warn(frame, pos + cc.negotiationError.at - (cc.end - cc.tpktLength), `X.224 Connection Confirm: ${cc.negotiationError.reason}`);
    if (cc.negRsp && n.requestedProtocols !== null && selected !== 0 && (n.requestedProtocols & selected) !== selected) {
      this.m.warn(frame, null, `the server selected ${n.selectedProtocolName}, which the client did not offer (${n.requestedProtocolNames.join('|')})`);
    }
  }
}

/** Bytes of a proxy exchange looked through for the X.224 PDU. */
const MAX_PREFIX = 512;
const X224_CR_CODE = 0xe0;
const X224_CC_CODE = 0xd0;

/**
 * The offset of the first TPKT + X.224 TPDU of the given code (CR 0xe0, CC 0xd0) within
 * MAX_PREFIX bytes, checked as looksLikeConnectionRequest does (X.224 13.3, 13.4); -1 when none.
 */
export function scanForX224(buf: Uint8Array, off: number, end: number, code: number): number {
  const last = Math.min(end, off + MAX_PREFIX) - 6;
  for (let p = off; p <= last; p++) {
    if (buf[p] !== 3 || buf[p + 1] !== 0) continue;
    const len = (buf[p + 2]! << 8) | buf[p + 3]!;
    const li = buf[p + 4]!;
    if (len >= 11 && (buf[p + 5]! & 0xf0) === code && li >= 6 && li + 5 <= len) return p;
  }
  return -1;
}

export function hex8(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
