// T.125 MCS as RDP uses it (MS-RDPBCGR 2.2.1.3 - 2.2.1.9, 2.2.2.3): the BER-encoded
// Connect-Initial / Connect-Response (application tags 101 / 102) and the PER-encoded domain PDUs.
// Decoders start at the MCS PDU (the X.224 Data TPDU's payloadOff) and `end` is the TPKT end.
import { type BerTlv, readTlv, berUint } from './ber.js';
import { type Decoded, done, incomplete, malformed } from './result.js';
import { perInteger, perLength } from './per.js';
import { MCS_REASONS, MCS_RESULTS, domainMcsPduName, mcsReasonName, mcsResultName } from './codes.js';

/** T.125 7 part 2 DomainParameters. */
export interface DomainParameters {
  maxChannelIds: number;
  maxUserIds: number;
  maxTokenIds: number;
  numPriorities: number;
  minThroughput: number;
  maxHeight: number;
  maxMCSPDUsize: number;
  protocolVersion: number;
}

/** T.125 7 part 2 Connect-Initial ([APPLICATION 101]), MS-RDPBCGR 2.2.1.3. userData holds the GCC Conference Create Request (gcc.ts). */
export interface McsConnectInitial {
  callingDomainSelector: { off: number; length: number };
  calledDomainSelector: { off: number; length: number };
  upwardFlag: boolean;
  targetParameters: DomainParameters;
  minimumParameters: DomainParameters;
  maximumParameters: DomainParameters;
  userDataOff: number;
  userDataLength: number;
  end: number;
}

/** T.125 7 part 2 Connect-Response ([APPLICATION 102]), MS-RDPBCGR 2.2.1.4. A failure may carry the result alone (3.3.5.3.3.1). */
export interface McsConnectResponse {
  result: number;
  resultName: string;
  calledConnectId: number | null;
  domainParameters: DomainParameters | null;
  userDataOff: number | null;
  userDataLength: number | null;
  end: number;
}

export const CONNECT_INITIAL_TAG = 101;
export const CONNECT_RESPONSE_TAG = 102;

const BER_BOOLEAN = 0x01;
const BER_INTEGER = 0x02;
const BER_OCTET_STRING = 0x04;
const BER_ENUMERATED = 0x0a;
const BER_SEQUENCE = 0x30;

function ident(t: BerTlv): number {
  return t.cls | (t.constructed ? 0x20 : 0) | (t.tag < 31 ? t.tag : 31);
}

/** Reads a TLV at `p` (bounded by `limit`) with the expected identifier byte. */
function expect(buf: Uint8Array, p: number, limit: number, id: number, what: string): Decoded<BerTlv> {
  const t = readTlv(buf, p, limit);
  if (!t.ok) return t;
  if (ident(t.value) !== id) return malformed(p, `${what}: BER identifier 0x${ident(t.value).toString(16)} (expected 0x${id.toString(16)})`);
  return t;
}

/** Application-tagged MCS connect PDU header (0x7f 0x65 / 0x7f 0x66 ...). */
function readConnectHeader(buf: Uint8Array, off: number, end: number, tag: number, what: string): Decoded<BerTlv> {
  const t = readTlv(buf, off, end);
  if (!t.ok) return t;
  if (t.value.cls !== 0x40 || !t.value.constructed || t.value.tag !== tag) {
    return malformed(off, `${what}: not an [APPLICATION ${tag}] constructed tag`);
  }
  return t;
}

function readUintTlv(buf: Uint8Array, p: number, limit: number, id: number, what: string): Decoded<number> {
  const t = expect(buf, p, limit, id, what);
  if (!t.ok) return t;
  const v = berUint(buf, t.value.valueOff, t.value.length);
  if (v === null) return malformed(p, `${what}: integer of ${t.value.length} bytes`);
  return done(v, t.consumed);
}

/** T.125 DomainParameters SEQUENCE of eight INTEGERs. */
export function decodeDomainParameters(buf: Uint8Array, off: number, end: number): Decoded<DomainParameters> {
  const s = expect(buf, off, end, BER_SEQUENCE, 'DomainParameters');
  if (!s.ok) return s;
  const v: number[] = [];
  let p = s.value.valueOff;
  for (let i = 0; i < 8; i++) {
    const n = readUintTlv(buf, p, s.value.end, BER_INTEGER, 'DomainParameters field');
    if (!n.ok) return n.kind === 'incomplete' ? malformed(p, 'DomainParameters shorter than its eight integers') : n;
    v.push(n.value);
    p += n.consumed;
  }
  return done(
    {
      maxChannelIds: v[0],
      maxUserIds: v[1],
      maxTokenIds: v[2],
      numPriorities: v[3],
      minThroughput: v[4],
      maxHeight: v[5],
      maxMCSPDUsize: v[6],
      protocolVersion: v[7],
    },
    s.consumed,
  );
}

/** MS-RDPBCGR 2.2.1.3 / T.125 Connect-Initial. */
export function decodeConnectInitial(buf: Uint8Array, off: number, end: number): Decoded<McsConnectInitial> {
  const h = readConnectHeader(buf, off, end, CONNECT_INITIAL_TAG, 'Connect-Initial');
  if (!h.ok) return h;
  const lim = h.value.end;
  let p = h.value.valueOff;
  const calling = expect(buf, p, lim, BER_OCTET_STRING, 'callingDomainSelector');
  if (!calling.ok) return calling;
  p += calling.consumed;
  const called = expect(buf, p, lim, BER_OCTET_STRING, 'calledDomainSelector');
  if (!called.ok) return called;
  p += called.consumed;
  const up = expect(buf, p, lim, BER_BOOLEAN, 'upwardFlag');
  if (!up.ok) return up;
  if (up.value.length !== 1) return malformed(p, `upwardFlag of ${up.value.length} bytes`);
  const upwardFlag = buf[up.value.valueOff] !== 0;
  p += up.consumed;
  const params: DomainParameters[] = [];
  for (let i = 0; i < 3; i++) {
    const d = decodeDomainParameters(buf, p, lim);
    if (!d.ok) return d;
    params.push(d.value);
    p += d.consumed;
  }
  const ud = expect(buf, p, lim, BER_OCTET_STRING, 'userData');
  if (!ud.ok) return ud;
  return done(
    {
      callingDomainSelector: { off: calling.value.valueOff, length: calling.value.length },
      calledDomainSelector: { off: called.value.valueOff, length: called.value.length },
      upwardFlag,
      targetParameters: params[0],
      minimumParameters: params[1],
      maximumParameters: params[2],
      userDataOff: ud.value.valueOff,
      userDataLength: ud.value.length,
      end: lim,
    },
    h.consumed,
  );
}

/** MS-RDPBCGR 2.2.1.4 / T.125 Connect-Response. */
export function decodeConnectResponse(buf: Uint8Array, off: number, end: number): Decoded<McsConnectResponse> {
  const h = readConnectHeader(buf, off, end, CONNECT_RESPONSE_TAG, 'Connect-Response');
  if (!h.ok) return h;
  const lim = h.value.end;
  let p = h.value.valueOff;
  const res = readUintTlv(buf, p, lim, BER_ENUMERATED, 'result');
  if (!res.ok) return res;
  if (res.value > 15) return malformed(p, `Connect-Response result ${res.value} is not a T.125 Result`);
  p += res.consumed;
  const r: McsConnectResponse = {
    result: res.value,
    resultName: mcsResultName(res.value),
    calledConnectId: null,
    domainParameters: null,
    userDataOff: null,
    userDataLength: null,
    end: lim,
  };
  if (p >= lim) return done(r, h.consumed);
  const cid = readUintTlv(buf, p, lim, BER_INTEGER, 'calledConnectId');
  if (!cid.ok) return cid;
  r.calledConnectId = cid.value;
  p += cid.consumed;
  const d = decodeDomainParameters(buf, p, lim);
  if (!d.ok) return d;
  r.domainParameters = d.value;
  p += d.consumed;
  const ud = expect(buf, p, lim, BER_OCTET_STRING, 'userData');
  if (!ud.ok) return ud;
  r.userDataOff = ud.value.valueOff;
  r.userDataLength = ud.value.length;
  return done(r, h.consumed);
}

// ---- domain PDUs (PER aligned): the first byte's top six bits are the DomainMCSPDU choice.

export const MCS_ERECT_DOMAIN_REQUEST = 1;
export const MCS_DISCONNECT_PROVIDER_ULTIMATUM = 8;
export const MCS_ATTACH_USER_REQUEST = 10;
export const MCS_ATTACH_USER_CONFIRM = 11;
export const MCS_CHANNEL_JOIN_REQUEST = 14;
export const MCS_CHANNEL_JOIN_CONFIRM = 15;
export const MCS_SEND_DATA_REQUEST = 25;
export const MCS_SEND_DATA_INDICATION = 26;
/** UserId lower bound (T.125 7 part 3: UserId ::= DynamicChannelId (1001..65535)). */
export const MCS_USER_ID_BASE = 1001;

export type McsDomainPdu =
  /** MS-RDPBCGR 2.2.1.5 */
  | { type: 'erectDomainRequest'; choice: 1; subHeight: number; subInterval: number }
  /** MS-RDPBCGR 2.2.2.3 */
  | { type: 'disconnectProviderUltimatum'; choice: 8; reason: number; reasonName: string }
  /** MS-RDPBCGR 2.2.1.6 */
  | { type: 'attachUserRequest'; choice: 10 }
  /** MS-RDPBCGR 2.2.1.7 */
  | { type: 'attachUserConfirm'; choice: 11; result: number; resultName: string; initiator: number | null }
  /** MS-RDPBCGR 2.2.1.8 */
  | { type: 'channelJoinRequest'; choice: 14; initiator: number; channelId: number }
  /** MS-RDPBCGR 2.2.1.9 */
  | { type: 'channelJoinConfirm'; choice: 15; result: number; resultName: string; initiator: number; requested: number; channelId: number | null }
  /** T.125 11.32 / 11.33 (MS-RDPBCGR 2.2.1.10 .. 2.2.1.11 and all later slow-path PDUs) */
  | {
      type: 'sendDataRequest' | 'sendDataIndication';
      choice: 25 | 26;
      initiator: number;
      channelId: number;
      dataPriority: number;
      segmentation: number;
      userDataOff: number;
      userDataLength: number;
    }
  /** Any other DomainMCSPDU: named, not decoded. */
  | { type: 'other'; choice: number; name: string };

/** T.125 7 part 10 DomainMCSPDU, PER aligned, as RDP sends it. */
export function decodeDomainPdu(buf: Uint8Array, off: number, end: number): Decoded<McsDomainPdu> {
  if (off >= end) return incomplete(1);
  const b0 = buf[off];
  const choice = b0 >> 2;
  const need = (n: number): number => (off + n > end ? off + n - end : 0);
  switch (choice) {
    case MCS_ERECT_DOMAIN_REQUEST: {
      const h = perInteger(buf, off + 1, end);
      if (!h.ok) return h;
      const i = perInteger(buf, off + 1 + h.consumed, end);
      if (!i.ok) return i;
      return done({ type: 'erectDomainRequest', choice: 1, subHeight: h.value, subInterval: i.value }, 1 + h.consumed + i.consumed);
    }
    case MCS_DISCONNECT_PROVIDER_ULTIMATUM: {
      if (need(2)) return incomplete(need(2));
      const reason = ((b0 & 0x03) << 1) | (buf[off + 1] >> 7);
      if (MCS_REASONS[reason] === undefined) return malformed(off, `Disconnect-Provider-Ultimatum reason ${reason} is not a T.125 Reason`);
      return done({ type: 'disconnectProviderUltimatum', choice: 8, reason, reasonName: mcsReasonName(reason) }, 2);
    }
    case MCS_ATTACH_USER_REQUEST:
      return done({ type: 'attachUserRequest', choice: 10 }, 1);
    case MCS_ATTACH_USER_CONFIRM: {
      const present = (b0 & 0x02) !== 0;
      const n = present ? 4 : 2;
      if (need(n)) return incomplete(need(n));
      const result = ((b0 & 0x01) << 3) | (buf[off + 1] >> 5);
      const initiator = present ? ((buf[off + 2] << 8) | buf[off + 3]) + MCS_USER_ID_BASE : null;
      return done({ type: 'attachUserConfirm', choice: 11, result, resultName: mcsResultName(result), initiator }, n);
    }
    case MCS_CHANNEL_JOIN_REQUEST: {
      if (need(5)) return incomplete(need(5));
      const initiator = ((buf[off + 1] << 8) | buf[off + 2]) + MCS_USER_ID_BASE;
      const channelId = (buf[off + 3] << 8) | buf[off + 4];
      return done({ type: 'channelJoinRequest', choice: 14, initiator, channelId }, 5);
    }
    case MCS_CHANNEL_JOIN_CONFIRM: {
      const present = (b0 & 0x02) !== 0;
      const n = present ? 8 : 6;
      if (need(n)) return incomplete(need(n));
      const result = ((b0 & 0x01) << 3) | (buf[off + 1] >> 5);
      const initiator = ((buf[off + 2] << 8) | buf[off + 3]) + MCS_USER_ID_BASE;
      const requested = (buf[off + 4] << 8) | buf[off + 5];
      const channelId = present ? (buf[off + 6] << 8) | buf[off + 7] : null;
      return done({ type: 'channelJoinConfirm', choice: 15, result, resultName: mcsResultName(result), initiator, requested, channelId }, n);
    }
    case MCS_SEND_DATA_REQUEST:
    case MCS_SEND_DATA_INDICATION: {
      if (need(6)) return incomplete(need(6));
      const initiator = ((buf[off + 1] << 8) | buf[off + 2]) + MCS_USER_ID_BASE;
      const channelId = (buf[off + 3] << 8) | buf[off + 4];
      const b = buf[off + 5];
      const l = perLength(buf, off + 6, end);
      if (!l.ok) return l;
      const userDataOff = off + 6 + l.consumed;
      const userDataLength = l.value;
      if (userDataOff + userDataLength > end) return incomplete(userDataOff + userDataLength - end);
      return done(
        {
          type: choice === MCS_SEND_DATA_REQUEST ? 'sendDataRequest' : 'sendDataIndication',
          choice,
          initiator,
          channelId,
          dataPriority: b >> 6,
          segmentation: (b >> 4) & 0x03,
          userDataOff,
          userDataLength,
        },
        userDataOff + userDataLength - off,
      );
    }
    default:
      if (choice > 42) return malformed(off, `DomainMCSPDU choice ${choice} does not exist (0..42)`);
      return done({ type: 'other', choice, name: domainMcsPduName(choice) }, 1);
  }
}

/** Re-exported for the state machine's convenience. */
export { MCS_RESULTS, MCS_REASONS };
