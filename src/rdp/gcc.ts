// T.124 GCC Conference Create Request / Response as MS-RDPBCGR 2.2.1.3 / 2.2.1.4 wrap them in the
// MCS userData (PER aligned, the t124Identifier OID and the H.221 "Duca" / "McDn" keys), and the
// settings data blocks inside (2.2.1.3.x client, 2.2.1.4.x server). Decoders start at the MCS
// userData offset (McsConnectInitial.userDataOff / McsConnectResponse.userDataOff); `end` is its end.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { perChoice, perInteger, perInteger16, perLength, perNumericString, perObjectIdentifier, perOctetString } from './per.js';
import { latin1Z, u16le, u32le, utf16leZ } from './tpkt.js';

/** T.124 8.7 t124Identifier: { itu-t recommendation t 124 version(0) 1 }. */
export const T124_OID = '0.0.20.124.0.1';
export const H221_CLIENT_KEY = 'Duca';
export const H221_SERVER_KEY = 'McDn';

export const CS_CORE = 0xc001;
export const CS_SECURITY = 0xc002;
export const CS_NET = 0xc003;
export const CS_CLUSTER = 0xc004;
export const CS_MONITOR = 0xc005;
export const CS_MCS_MSGCHANNEL = 0xc006;
export const CS_MONITOR_EX = 0xc008;
export const CS_MULTITRANSPORT = 0xc00a;
export const SC_CORE = 0x0c01;
export const SC_SECURITY = 0x0c02;
export const SC_NET = 0x0c03;
export const SC_MCS_MSGCHANNEL = 0x0c04;
export const SC_MULTITRANSPORT = 0x0c08;

/** MS-RDPBCGR 2.2.1.3.1 User Data Header, as seen (every block, known or not). */
export interface GccBlockRef {
  type: number;
  off: number;
  length: number;
}

/** MS-RDPBCGR 2.2.1.3.2 Client Core Data (TS_UD_CS_CORE). Optional fields are null when the block ends before them. */
export interface ClientCoreData {
  version: number;
  /** High 16 bits of version (MS-RDPBCGR 2.2.1.3.2: 0x00080004 is major 8, minor 4). */
  versionMajor: number;
  versionMinor: number;
  desktopWidth: number;
  desktopHeight: number;
  colorDepth: number;
  sasSequence: number;
  keyboardLayout: number;
  clientBuild: number;
  clientName: string;
  keyboardType: number;
  keyboardSubType: number;
  keyboardFunctionKey: number;
  imeFileName: string;
  postBeta2ColorDepth: number | null;
  clientProductId: number | null;
  serialNumber: number | null;
  highColorDepth: number | null;
  supportedColorDepths: number | null;
  earlyCapabilityFlags: number | null;
  clientDigProductId: string | null;
  connectionType: number | null;
  pad1octet: number | null;
  serverSelectedProtocol: number | null;
  desktopPhysicalWidth: number | null;
  desktopPhysicalHeight: number | null;
  desktopOrientation: number | null;
  desktopScaleFactor: number | null;
  deviceScaleFactor: number | null;
}

/** MS-RDPBCGR 2.2.1.3.3 Client Security Data. */
export interface ClientSecurityData {
  encryptionMethods: number;
  extEncryptionMethods: number;
}

/** MS-RDPBCGR 2.2.1.3.4.1 CHANNEL_DEF. */
export interface ChannelDef {
  name: string;
  options: number;
}

/** MS-RDPBCGR 2.2.1.3.5 Client Cluster Data. */
export interface ClientClusterData {
  flags: number;
  redirectedSessionId: number;
}

/** MS-RDPBCGR 2.2.1.3 client settings blocks. Blocks not decoded here are listed in `blocks`. */
export interface ClientData {
  core: ClientCoreData | null;
  security: ClientSecurityData | null;
  /** CS_NET channelDefArray, null when the block is absent. */
  channels: ChannelDef[] | null;
  cluster: ClientClusterData | null;
  /** CS_MONITOR monitorCount (2.2.1.3.6). */
  monitorCount: number | null;
  /** CS_MCS_MSGCHANNEL flags (2.2.1.3.7). */
  msgChannelFlags: number | null;
  /** CS_MULTITRANSPORT flags (2.2.1.3.8). */
  multitransportFlags: number | null;
  blocks: GccBlockRef[];
}

/** MS-RDPBCGR 2.2.1.4.2 Server Core Data. */
export interface ServerCoreData {
  version: number;
  versionMajor: number;
  versionMinor: number;
  clientRequestedProtocols: number | null;
  earlyCapabilityFlags: number | null;
}

/** MS-RDPBCGR 2.2.1.4.3.1.1.1 RSA Public Key (RSA_PUBLIC_KEY). */
export interface RsaPublicKey {
  magic: number;
  keylen: number;
  bitlen: number;
  datalen: number;
  pubExp: number;
  modulusOff: number;
  modulusLength: number;
}

/** MS-RDPBCGR 2.2.1.4.3.1.1 Server Proprietary Certificate. */
export interface ProprietaryCertificate {
  dwSigAlgId: number;
  dwKeyAlgId: number;
  wPublicKeyBlobType: number;
  wPublicKeyBlobLen: number;
  publicKey: RsaPublicKey;
  wSignatureBlobType: number;
  wSignatureBlobLen: number;
}

/** MS-RDPBCGR 2.2.1.4.3.1 SERVER_CERTIFICATE. X.509 chains (2.2.1.4.3.1.2 / 2.2.1.4.2) are returned as DER views for x509.ts. */
export interface ServerCertificate {
  dwVersion: number;
  /** CERT_CHAIN_VERSION_1 (1, proprietary) or CERT_CHAIN_VERSION_2 (2, X.509). */
  certChainVersion: number;
  /** Bit 31 of dwVersion: the certificate is temporary. */
  temporary: boolean;
  type: 'proprietary' | 'x509' | 'unknown';
  proprietary: ProprietaryCertificate | null;
  /** The CertBlob DER bytes, in order (subarrays of the input, no copies). */
  x509Chain: Uint8Array[];
}

/** MS-RDPBCGR 2.2.1.4.3 Server Security Data. */
export interface ServerSecurityData {
  encryptionMethod: number;
  encryptionLevel: number;
  serverRandomLen: number | null;
  serverCertLen: number | null;
  serverRandomOff: number | null;
  serverCertOff: number | null;
  serverCertificate: ServerCertificate | null;
  /** Set when the certificate is present but could not be decoded (the lengths above still stand). */
  certificateError: { at: number; reason: string } | null;
}

/** MS-RDPBCGR 2.2.1.4.4 Server Network Data. */
export interface ServerNetworkData {
  mcsChannelId: number;
  channelCount: number;
  channelIds: number[];
}

/** MS-RDPBCGR 2.2.1.4 server settings blocks. */
export interface ServerData {
  core: ServerCoreData | null;
  security: ServerSecurityData | null;
  network: ServerNetworkData | null;
  /** SC_MCS_MSGCHANNEL MCSChannelID (2.2.1.4.5). */
  msgChannelId: number | null;
  /** SC_MULTITRANSPORT flags (2.2.1.4.6). */
  multitransportFlags: number | null;
  blocks: GccBlockRef[];
}

/** T.124 ConnectData + ConnectGCCPDU conferenceCreateRequest (MS-RDPBCGR 2.2.1.3.1 .. 4.1.3). */
export interface ConferenceCreateRequest {
  oid: string;
  conferenceName: string;
  h221Key: string;
  userDataOff: number;
  userDataLength: number;
  clientData: ClientData;
}

/** T.124 ConnectData + ConnectGCCPDU conferenceCreateResponse (MS-RDPBCGR 2.2.1.4 .. 4.1.4). */
export interface ConferenceCreateResponse {
  oid: string;
  nodeId: number;
  tag: number;
  result: number;
  h221Key: string;
  userDataOff: number;
  userDataLength: number;
  serverData: ServerData;
}

/** ConnectData header: key choice (object), t124Identifier OID, connectPDU length. Returns the offset after it. */
function readConnectData(buf: Uint8Array, off: number, end: number): Decoded<{ oid: string; p: number }> {
  const k = perChoice(buf, off, end);
  if (!k.ok) return k;
  if (k.value !== 0) return malformed(off, `T.124 ConnectData key choice ${k.value} (expected 0, object)`);
  const o = perObjectIdentifier(buf, off + 1, end);
  if (!o.ok) return o;
  if (o.value !== T124_OID) return malformed(off + 1, `T.124 identifier ${o.value} (expected ${T124_OID})`);
  let p = off + 1 + o.consumed;
  // The connectPDU length is not trusted (Windows writes 0x2a in responses of any size); read and skip it.
  const l = perLength(buf, p, end);
  if (!l.ok) return l;
  p += l.consumed;
  return done({ oid: o.value, p }, p - off);
}

function readH221(buf: Uint8Array, p: number, end: number, key: string): Decoded<string> {
  const s = perOctetString(buf, p, end, 4);
  if (!s.ok) return s;
  let k = '';
  for (let i = 0; i < s.value.length; i++) k += String.fromCharCode(buf[s.value.valueOff + i]);
  if (k !== key) return malformed(p, `H.221 non-standard key "${k}" (expected "${key}")`);
  return done(k, s.consumed);
}

/** MS-RDPBCGR 2.2.1.3: GCC Conference Create Request carrying the client data blocks. */
export function decodeConferenceCreateRequest(buf: Uint8Array, off: number, end: number): Decoded<ConferenceCreateRequest> {
  const cd = readConnectData(buf, off, end);
  if (!cd.ok) return cd;
  let p = cd.value.p;
  const c = perChoice(buf, p, end);
  if (!c.ok) return c;
  if (((c.value >> 4) & 0x07) !== 0) return malformed(p, `ConnectGCCPDU choice 0x${c.value.toString(16)} is not conferenceCreateRequest`);
  p += 1;
  const sel = perChoice(buf, p, end); // ConferenceCreateRequest optional-field bitmap (0x08: userData present)
  if (!sel.ok) return sel;
  p += 1;
  const name = perNumericString(buf, p, end, 1);
  if (!name.ok) return name;
  p += name.consumed;
  if (p + 3 > end) return incomplete(p + 3 - end);
  p += 1; // padding / terminationMethod
  const sets = buf[p++]; // number of UserData sets
  if (sets < 1) return malformed(p - 1, 'Conference Create Request without user data');
  const ch = buf[p]; // 0xc0: value present, h221NonStandard key
  if ((ch & 0x40) === 0) return malformed(p, `UserData key choice 0x${ch.toString(16)} is not h221NonStandard`);
  p += 1;
  const key = readH221(buf, p, end, H221_CLIENT_KEY);
  if (!key.ok) return key;
  p += key.consumed;
  const l = perLength(buf, p, end);
  if (!l.ok) return l;
  p += l.consumed;
  if (p + l.value > end) return incomplete(p + l.value - end);
  const blocks = decodeClientDataBlocks(buf, p, p + l.value);
  if (!blocks.ok) return blocks;
  return done(
    { oid: cd.value.oid, conferenceName: name.value, h221Key: key.value, userDataOff: p, userDataLength: l.value, clientData: blocks.value },
    p + l.value - off,
  );
}

/** MS-RDPBCGR 2.2.1.4: GCC Conference Create Response carrying the server data blocks. */
export function decodeConferenceCreateResponse(buf: Uint8Array, off: number, end: number): Decoded<ConferenceCreateResponse> {
  const cd = readConnectData(buf, off, end);
  if (!cd.ok) return cd;
  let p = cd.value.p;
  const c = perChoice(buf, p, end);
  if (!c.ok) return c;
  if (((c.value >> 4) & 0x07) !== 1) return malformed(p, `ConnectGCCPDU choice 0x${c.value.toString(16)} is not conferenceCreateResponse`);
  p += 1;
  const node = perInteger16(buf, p, end, 1001);
  if (!node.ok) return node;
  p += node.consumed;
  const tag = perInteger(buf, p, end);
  if (!tag.ok) return tag;
  p += tag.consumed;
  if (p + 3 > end) return incomplete(p + 3 - end);
  const result = buf[p++]; // enumerated result
  const sets = buf[p++];
  if (sets < 1) return malformed(p - 1, 'Conference Create Response without user data');
  const ch = buf[p];
  if ((ch & 0x40) === 0) return malformed(p, `UserData key choice 0x${ch.toString(16)} is not h221NonStandard`);
  p += 1;
  const key = readH221(buf, p, end, H221_SERVER_KEY);
  if (!key.ok) return key;
  p += key.consumed;
  const l = perLength(buf, p, end);
  if (!l.ok) return l;
  p += l.consumed;
  if (p + l.value > end) return incomplete(p + l.value - end);
  const blocks = decodeServerDataBlocks(buf, p, p + l.value);
  if (!blocks.ok) return blocks;
  return done(
    {
      oid: cd.value.oid,
      nodeId: node.value,
      tag: tag.value,
      result,
      h221Key: key.value,
      userDataOff: p,
      userDataLength: l.value,
      serverData: blocks.value,
    },
    p + l.value - off,
  );
}

/** Walks User Data Headers (2.2.1.3.1) in [off, end), calling `each` for every block. */
function walkBlocks(
  buf: Uint8Array,
  off: number,
  end: number,
  each: (type: number, b: number, len: number) => Decoded<unknown> | null,
): Decoded<GccBlockRef[]> {
  const refs: GccBlockRef[] = [];
  let p = off;
  while (p < end) {
    // [off, end) is the whole container (its PER length was checked by the caller): a block
    // header or a block running past it is malformed, not incomplete (MS-RDPBCGR 2.2.1.3.1).
    if (p + 4 > end) return malformed(p, `${end - p} bytes after the last user data block are too few for a block header`);
    const type = u16le(buf, p);
    const len = u16le(buf, p + 2);
    if (len < 4) return malformed(p + 2, `user data block 0x${type.toString(16)} length ${len} is below 4`);
    if (p + len > end) return malformed(p + 2, `user data block 0x${type.toString(16)} length ${len} runs past its container (${end - p} bytes left)`);
    refs.push({ type, off: p, length: len });
    const r = each(type, p, len);
    if (r !== null && !r.ok) return r;
    p += len;
  }
  return done(refs, end - off);
}

/** MS-RDPBCGR 2.2.1.3.2 .. 2.2.1.3.8: the client blocks of a Conference Create Request. Unknown blocks are skipped. */
export function decodeClientDataBlocks(buf: Uint8Array, off: number, end: number): Decoded<ClientData> {
  const d: ClientData = {
    core: null,
    security: null,
    channels: null,
    cluster: null,
    monitorCount: null,
    msgChannelFlags: null,
    multitransportFlags: null,
    blocks: [],
  };
  const w = walkBlocks(buf, off, end, (type, b, len) => {
    switch (type) {
      case CS_CORE: {
        const c = decodeClientCoreData(buf, b, b + len);
        if (!c.ok) return c;
        d.core = c.value;
        return null;
      }
      case CS_SECURITY:
        if (len < 12) return malformed(b, `CS_SECURITY length ${len} (expected 12)`);
        d.security = { encryptionMethods: u32le(buf, b + 4), extEncryptionMethods: u32le(buf, b + 8) };
        return null;
      case CS_NET: {
        if (len < 8) return malformed(b, `CS_NET length ${len} is below 8`);
        const count = u32le(buf, b + 4);
        if (count * 12 > len - 8) return malformed(b + 4, `CS_NET channelCount ${count} does not fit in ${len} bytes`);
        const ch: ChannelDef[] = [];
        for (let i = 0; i < count; i++) {
          const q = b + 8 + i * 12;
          ch.push({ name: latin1Z(buf, q, 8), options: u32le(buf, q + 8) });
        }
        d.channels = ch;
        return null;
      }
      case CS_CLUSTER:
        if (len < 12) return malformed(b, `CS_CLUSTER length ${len} (expected 12)`);
        d.cluster = { flags: u32le(buf, b + 4), redirectedSessionId: u32le(buf, b + 8) };
        return null;
      case CS_MONITOR:
        if (len >= 12) d.monitorCount = u32le(buf, b + 8);
        return null;
      case CS_MCS_MSGCHANNEL:
        if (len >= 8) d.msgChannelFlags = u32le(buf, b + 4);
        return null;
      case CS_MULTITRANSPORT:
        if (len >= 8) d.multitransportFlags = u32le(buf, b + 4);
        return null;
      default:
        return null;
    }
  });
  if (!w.ok) return w;
  d.blocks = w.value;
  return done(d, w.consumed);
}

/** MS-RDPBCGR 2.2.1.3.2 Client Core Data block (header included, [off, end) is the block). */
export function decodeClientCoreData(buf: Uint8Array, off: number, end: number): Decoded<ClientCoreData> {
  const len = end - off;
  if (len < 132) return malformed(off, `CS_CORE length ${len} is below the 132 mandatory bytes`);
  const has = (o: number, n: number): boolean => o + n <= len;
  const u16 = (o: number): number | null => (has(o, 2) ? u16le(buf, off + o) : null);
  const u32 = (o: number): number | null => (has(o, 4) ? u32le(buf, off + o) : null);
  const version = u32le(buf, off + 4);
  return done(
    {
      version,
      versionMajor: version >>> 16,
      versionMinor: version & 0xffff,
      desktopWidth: u16le(buf, off + 8),
      desktopHeight: u16le(buf, off + 10),
      colorDepth: u16le(buf, off + 12),
      sasSequence: u16le(buf, off + 14),
      keyboardLayout: u32le(buf, off + 16),
      clientBuild: u32le(buf, off + 20),
      clientName: utf16leZ(buf, off + 24, 32),
      keyboardType: u32le(buf, off + 56),
      keyboardSubType: u32le(buf, off + 60),
      keyboardFunctionKey: u32le(buf, off + 64),
      imeFileName: utf16leZ(buf, off + 68, 64),
      postBeta2ColorDepth: u16(132),
      clientProductId: u16(134),
      serialNumber: u32(136),
      highColorDepth: u16(140),
      supportedColorDepths: u16(142),
      earlyCapabilityFlags: u16(144),
      clientDigProductId: has(146, 64) ? utf16leZ(buf, off + 146, 64) : null,
      connectionType: has(210, 1) ? buf[off + 210] : null,
      pad1octet: has(211, 1) ? buf[off + 211] : null,
      serverSelectedProtocol: u32(212),
      desktopPhysicalWidth: u32(216),
      desktopPhysicalHeight: u32(220),
      desktopOrientation: u16(224),
      desktopScaleFactor: u32(226),
      deviceScaleFactor: u32(230),
    },
    len,
  );
}

/** MS-RDPBCGR 2.2.1.4.2 .. 2.2.1.4.6: the server blocks of a Conference Create Response. Unknown blocks are skipped. */
export function decodeServerDataBlocks(buf: Uint8Array, off: number, end: number): Decoded<ServerData> {
  const d: ServerData = { core: null, security: null, network: null, msgChannelId: null, multitransportFlags: null, blocks: [] };
  const w = walkBlocks(buf, off, end, (type, b, len) => {
    switch (type) {
      case SC_CORE: {
        if (len < 8) return malformed(b, `SC_CORE length ${len} is below 8`);
        const version = u32le(buf, b + 4);
        d.core = {
          version,
          versionMajor: version >>> 16,
          versionMinor: version & 0xffff,
          clientRequestedProtocols: len >= 12 ? u32le(buf, b + 8) : null,
          earlyCapabilityFlags: len >= 16 ? u32le(buf, b + 12) : null,
        };
        return null;
      }
      case SC_SECURITY: {
        const s = decodeServerSecurityData(buf, b, b + len);
        if (!s.ok) return s;
        d.security = s.value;
        return null;
      }
      case SC_NET: {
        if (len < 8) return malformed(b, `SC_NET length ${len} is below 8`);
        const count = u16le(buf, b + 6);
        if (8 + count * 2 > len) return malformed(b + 6, `SC_NET channelCount ${count} does not fit in ${len} bytes`);
        const ids: number[] = [];
        for (let i = 0; i < count; i++) ids.push(u16le(buf, b + 8 + i * 2));
        d.network = { mcsChannelId: u16le(buf, b + 4), channelCount: count, channelIds: ids };
        return null;
      }
      case SC_MCS_MSGCHANNEL:
        if (len >= 6) d.msgChannelId = u16le(buf, b + 4);
        return null;
      case SC_MULTITRANSPORT:
        if (len >= 8) d.multitransportFlags = u32le(buf, b + 4);
        return null;
      default:
        return null;
    }
  });
  if (!w.ok) return w;
  d.blocks = w.value;
  return done(d, w.consumed);
}

/** MS-RDPBCGR 2.2.1.4.3 Server Security Data block (header included). */
export function decodeServerSecurityData(buf: Uint8Array, off: number, end: number): Decoded<ServerSecurityData> {
  const len = end - off;
  if (len < 12) return malformed(off, `SC_SECURITY length ${len} is below 12`);
  const s: ServerSecurityData = {
    encryptionMethod: u32le(buf, off + 4),
    encryptionLevel: u32le(buf, off + 8),
    serverRandomLen: null,
    serverCertLen: null,
    serverRandomOff: null,
    serverCertOff: null,
    serverCertificate: null,
    certificateError: null,
  };
  if (len === 12) return done(s, len); // ENCRYPTION_METHOD_NONE / LEVEL_NONE: nothing follows
  if (len < 20) return malformed(off + 12, `SC_SECURITY length ${len}: serverRandomLen / serverCertLen truncated`);
  const rl = u32le(buf, off + 12);
  const cl = u32le(buf, off + 16);
  s.serverRandomLen = rl;
  s.serverCertLen = cl;
  if (rl > len - 20 || cl > len - 20 - rl) {
    return malformed(off + 12, `SC_SECURITY serverRandomLen ${rl} + serverCertLen ${cl} exceed the block (${len - 20} bytes)`);
  }
  s.serverRandomOff = off + 20;
  s.serverCertOff = off + 20 + rl;
  if (cl > 0) {
    const c = decodeServerCertificate(buf, off + 20 + rl, off + 20 + rl + cl);
    if (c.ok) s.serverCertificate = c.value;
    else s.certificateError = c.kind === 'malformed' ? { at: c.at, reason: c.reason } : { at: off + 20 + rl, reason: 'certificate shorter than its fields' };
  }
  return done(s, len);
}

/** MS-RDPBCGR 2.2.1.4.3.1 SERVER_CERTIFICATE in [off, end) (exactly serverCertLen bytes). */
export function decodeServerCertificate(buf: Uint8Array, off: number, end: number): Decoded<ServerCertificate> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  const dwVersion = u32le(buf, off);
  const certChainVersion = dwVersion & 0x7fffffff;
  const c: ServerCertificate = {
    dwVersion,
    certChainVersion,
    temporary: (dwVersion & 0x80000000) !== 0,
    type: 'unknown',
    proprietary: null,
    x509Chain: [],
  };
  if (certChainVersion === 1) {
    // 2.2.1.4.3.1.1 Server Proprietary Certificate
    let p = off + 4;
    if (p + 12 > end) return incomplete(p + 12 - end);
    const dwSigAlgId = u32le(buf, p);
    const dwKeyAlgId = u32le(buf, p + 4);
    const wPublicKeyBlobType = u16le(buf, p + 8);
    const wPublicKeyBlobLen = u16le(buf, p + 10);
    p += 12;
    if (p + wPublicKeyBlobLen > end) return incomplete(p + wPublicKeyBlobLen - end);
    if (wPublicKeyBlobLen < 20) return malformed(p - 2, `wPublicKeyBlobLen ${wPublicKeyBlobLen} is below 20`);
    const magic = u32le(buf, p);
    if (magic !== 0x31415352) return malformed(p, `RSA public key magic 0x${magic.toString(16)} (expected "RSA1")`);
    const keylen = u32le(buf, p + 4);
    if (keylen > wPublicKeyBlobLen - 20) return malformed(p + 4, `RSA keylen ${keylen} exceeds the key blob`);
    const publicKey: RsaPublicKey = {
      magic,
      keylen,
      bitlen: u32le(buf, p + 8),
      datalen: u32le(buf, p + 12),
      pubExp: u32le(buf, p + 16),
      modulusOff: p + 20,
      modulusLength: keylen,
    };
    p += wPublicKeyBlobLen;
    if (p + 4 > end) return incomplete(p + 4 - end);
    const wSignatureBlobType = u16le(buf, p);
    const wSignatureBlobLen = u16le(buf, p + 2);
    if (p + 4 + wSignatureBlobLen > end) return incomplete(p + 4 + wSignatureBlobLen - end);
    c.type = 'proprietary';
    c.proprietary = { dwSigAlgId, dwKeyAlgId, wPublicKeyBlobType, wPublicKeyBlobLen, publicKey, wSignatureBlobType, wSignatureBlobLen };
    return done(c, p + 4 + wSignatureBlobLen - off);
  }
  if (certChainVersion === 2) {
    // 2.2.1.4.3.1.2 X.509 Certificate Chain (2.2.1.4.2.1 CertBlob: cbCert + abCert)
    if (off + 8 > end) return incomplete(off + 8 - end);
    const n = u32le(buf, off + 4);
    if (n > (end - off - 8) / 4) return malformed(off + 4, `NumCertBlobs ${n} cannot fit in ${end - off} bytes`);
    let p = off + 8;
    for (let i = 0; i < n; i++) {
      if (p + 4 > end) return incomplete(p + 4 - end);
      const cb = u32le(buf, p);
      if (cb > end - p - 4) return malformed(p, `CertBlob ${i + 1} cbCert ${cb} runs past the certificate`);
      c.x509Chain.push(buf.subarray(p + 4, p + 4 + cb));
      p += 4 + cb;
    }
    c.type = 'x509';
    return done(c, end - off); // 8..16 bytes of padding may follow the blobs
  }
  return malformed(off, `certificate dwVersion 0x${dwVersion.toString(16)} is neither CERT_CHAIN_VERSION_1 nor _2`);
}
