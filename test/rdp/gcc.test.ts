import { describe, expect, it } from 'vitest';
import {
  decodeClientCoreData,
  decodeClientDataBlocks,
  decodeConferenceCreateRequest,
  decodeConferenceCreateResponse,
  decodeServerCertificate,
  decodeServerDataBlocks,
  decodeServerSecurityData,
} from '../../src/rdp/gcc.js';
import { decodeConnectInitial, decodeConnectResponse } from '../../src/rdp/mcs.js';
import { encryptionLevelName, encryptionMethodName, gccBlockTypeName } from '../../src/rdp/codes.js';
import {
  CONNECT_INITIAL_4_1_3,
  ascii,
  block,
  cat,
  connectResponse,
  expectIncompleteAtEveryCut,
  expectSurvivesRandomBytes,
  hex,
  le16,
  le32,
  ok,
  utf16le,
} from './tpkt-helpers.js';

const ci = ok(decodeConnectInitial(CONNECT_INITIAL_4_1_3, 7, CONNECT_INITIAL_4_1_3.length));
const CCR = CONNECT_INITIAL_4_1_3.subarray(ci.userDataOff, ci.userDataOff + ci.userDataLength);

describe('GCC Conference Create Request (T.124, MS-RDPBCGR 2.2.1.3 / 4.1.3)', () => {
  it('decodes the wrapper: t124Identifier, conferenceName, "Duca"', () => {
    const v = ok(decodeConferenceCreateRequest(CCR, 0, CCR.length));
    expect(v.oid).toBe('0.0.20.124.0.1');
    expect(v.conferenceName).toBe('1');
    expect(v.h221Key).toBe('Duca');
    expect(v.userDataLength).toBe(0x11c);
    expect(v.userDataOff + v.userDataLength).toBe(CCR.length);
    expect(v.clientData.blocks.map((b) => gccBlockTypeName(b.type))).toEqual(['CS_CORE', 'CS_CLUSTER', 'CS_SECURITY', 'CS_NET']);
  });

  it('decodes the client core data of 4.1.3 field by field', () => {
    const core = ok(decodeConferenceCreateRequest(CCR, 0, CCR.length)).clientData.core!;
    expect(core).toEqual({
      version: 0x00080004,
      versionMajor: 8,
      versionMinor: 4,
      desktopWidth: 1280,
      desktopHeight: 1024,
      colorDepth: 0xca01,
      sasSequence: 0xaa03,
      keyboardLayout: 0x409,
      clientBuild: 3790,
      clientName: 'ELTONS-DEV2',
      keyboardType: 4,
      keyboardSubType: 0,
      keyboardFunctionKey: 12,
      imeFileName: '',
      postBeta2ColorDepth: 0xca01,
      clientProductId: 1,
      serialNumber: 0,
      highColorDepth: 0x18,
      supportedColorDepths: 0x07,
      earlyCapabilityFlags: 1,
      clientDigProductId: '69712-783-0357974-42714',
      connectionType: 0,
      pad1octet: 0,
      serverSelectedProtocol: 0,
      desktopPhysicalWidth: null,
      desktopPhysicalHeight: null,
      desktopOrientation: null,
      desktopScaleFactor: null,
      deviceScaleFactor: null,
    });
  });

  it('decodes security, cluster and network blocks of 4.1.3', () => {
    const d = ok(decodeConferenceCreateRequest(CCR, 0, CCR.length)).clientData;
    expect(d.security).toEqual({ encryptionMethods: 0x1b, extEncryptionMethods: 0 });
    expect(d.cluster).toEqual({ flags: 0x0d, redirectedSessionId: 0 });
    expect(d.channels).toEqual([
      { name: 'rdpdr', options: 0x80800000 },
      { name: 'cliprdr', options: 0xc0a00000 },
      { name: 'rdpsnd', options: 0xc0000000 },
    ]);
  });

  it('says incomplete at every cut', () => {
    expectIncompleteAtEveryCut(decodeConferenceCreateRequest, CCR, 4);
  });

  it('rejects another OID and another H.221 key', () => {
    const oid = Uint8Array.from(CCR);
    oid[4] = 0x7d;
    expect(decodeConferenceCreateRequest(oid, 0, oid.length)).toMatchObject({ ok: false, kind: 'malformed', at: 1 });
    const key = Uint8Array.from(CCR);
    key[17] = 0x45; // "Duca" -> "Euca"
    expect(decodeConferenceCreateRequest(key, 0, key.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConferenceCreateRequest, [CCR.subarray(0, 23), CCR.subarray(0, 8)]);
    expectSurvivesRandomBytes(decodeClientDataBlocks, [hex('01 c0 d8 00'), hex('03 c0 2c 00 ff ff ff 0f')]);
  });
});

describe('client data blocks (MS-RDPBCGR 2.2.1.3.2 .. 2.2.1.3.8)', () => {
  const coreBody = (len: number): Uint8Array => {
    const b = new Uint8Array(len - 4);
    b.set(le32(0x00080004), 0);
    b.set(le16(1920), 4);
    b.set(le16(1080), 6);
    b.set(le32(0x409), 12);
    b.set(le32(9600), 16);
    b.set(utf16le('JOHN-PC-LAPTOP'), 20);
    return b;
  };
  it('keeps optional fields null when the block ends before them', () => {
    const b = block(0xc001, coreBody(132));
    const v = ok(decodeClientCoreData(b, 0, b.length));
    expect(v.clientName).toBe('JOHN-PC-LAPTOP');
    expect(v.clientBuild).toBe(9600);
    expect(v.postBeta2ColorDepth).toBeNull();
    expect(v.clientDigProductId).toBeNull();
    expect(v.serverSelectedProtocol).toBeNull();
    const b2 = block(0xc001, coreBody(142));
    expect(ok(decodeClientCoreData(b2, 0, b2.length))).toMatchObject({ highColorDepth: 0, supportedColorDepths: null });
    const b3 = block(0xc001, coreBody(234));
    expect(ok(decodeClientCoreData(b3, 0, b3.length))).toMatchObject({ deviceScaleFactor: 0, desktopOrientation: 0 });
  });
  it('rejects a core block shorter than its mandatory part', () => {
    const b = block(0xc001, new Uint8Array(100));
    expect(decodeClientDataBlocks(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('skips unknown blocks by their length and notes monitor / msgchannel / multitransport', () => {
    const b = cat(block(0xc0ff, [1, 2, 3]), block(0xc005, [...le32(0), ...le32(2)]), block(0xc006, le32(0)), block(0xc00a, le32(0x305)));
    const v = ok(decodeClientDataBlocks(b, 0, b.length));
    expect(v.blocks.map((x) => x.type)).toEqual([0xc0ff, 0xc005, 0xc006, 0xc00a]);
    expect(v.monitorCount).toBe(2);
    expect(v.msgChannelFlags).toBe(0);
    expect(v.multitransportFlags).toBe(0x305);
  });
  it('bounds the channel count by the block, never by the count', () => {
    const b = block(0xc003, [...le32(0x10000000), ...new Array(12).fill(0)]);
    expect(decodeClientDataBlocks(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
  });
  it('rejects a block length below 4', () => {
    const b = Uint8Array.from([0x01, 0xc0, 0x02, 0x00]);
    expect(decodeClientDataBlocks(b, 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
  });
  it('a block length past its container is malformed at the length, not incomplete (the container is whole)', () => {
    const b = cat(block(0xc002, cat(le32(3), le32(0))), [0x01, 0xc0, 0xf0, 0xff, 0x04, 0x00, 0x08, 0x00]);
    expect(decodeClientDataBlocks(b, 0, b.length)).toEqual({
      ok: false,
      kind: 'malformed',
      at: 14,
      reason: 'user data block 0xc001 length 65520 runs past its container (8 bytes left)',
    });
    const s = cat(block(0x0c02, cat(le32(0), le32(0))), [0x03, 0x0c, 0x40, 0x00]);
    expect(decodeServerDataBlocks(s, 0, s.length)).toMatchObject({ ok: false, kind: 'malformed', at: 14 });
  });
  it('trailing bytes too few for a block header are malformed', () => {
    const b = cat(block(0xc002, cat(le32(3), le32(0))), [0x01, 0xc0]);
    expect(decodeClientDataBlocks(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 12 });
  });
});

// Server side: SC_CORE, SC_SECURITY (proprietary certificate), SC_NET, as a Windows server sends them (4.1.4 layout).
const modulus = Uint8Array.from({ length: 72 }, (_, i) => (i * 7 + 1) & 0xff);
const proprietary = cat(
  le32(1), le32(1), le32(1), le16(6), le16(92),
  ascii('RSA1'), le32(72), le32(512), le32(63), le32(0x10001), modulus,
  le16(8), le16(72), new Uint8Array(72),
);
const serverRandom = Uint8Array.from({ length: 32 }, (_, i) => i);
const scSecurity = block(0x0c02, cat(le32(2), le32(2), le32(32), le32(proprietary.length), serverRandom, proprietary));
const scCore = block(0x0c01, cat(le32(0x00080004), le32(0), le32(0)));
const scNet = block(0x0c03, cat(le16(1003), le16(3), le16(1004), le16(1005), le16(1006), le16(0)));
const SERVER_BLOCKS = cat(scCore, scNet, scSecurity);
function ccResponse(blocks: Uint8Array): Uint8Array {
  const l = blocks.length < 128 ? [blocks.length] : [0x80 | (blocks.length >> 8), blocks.length & 0xff];
  return cat(hex('00 05 00 14 7c 00 01 2a 14 76 0a 01 01 00 01 c0 00'), ascii('McDn'), l, blocks);
}

describe('GCC Conference Create Response and server blocks (MS-RDPBCGR 2.2.1.4)', () => {
  const CCRSP = ccResponse(SERVER_BLOCKS);
  it('decodes the wrapper and every block', () => {
    const v = ok(decodeConferenceCreateResponse(CCRSP, 0, CCRSP.length));
    expect(v.oid).toBe('0.0.20.124.0.1');
    expect(v.nodeId).toBe(0x760a + 1001);
    expect(v.tag).toBe(1);
    expect(v.result).toBe(0);
    expect(v.h221Key).toBe('McDn');
    const d = v.serverData;
    expect(d.core).toEqual({ version: 0x00080004, versionMajor: 8, versionMinor: 4, clientRequestedProtocols: 0, earlyCapabilityFlags: 0 });
    expect(d.network).toEqual({ mcsChannelId: 1003, channelCount: 3, channelIds: [1004, 1005, 1006] });
    const s = d.security!;
    expect(s.encryptionMethod).toBe(2);
    expect(encryptionMethodName(s.encryptionMethod)).toBe('ENCRYPTION_METHOD_128BIT');
    expect(encryptionLevelName(s.encryptionLevel)).toBe('ENCRYPTION_LEVEL_CLIENT_COMPATIBLE');
    expect(s.serverRandomLen).toBe(32);
    expect(s.serverCertLen).toBe(184);
    expect(CCRSP.subarray(s.serverRandomOff!, s.serverRandomOff! + 32)).toEqual(serverRandom);
    const c = s.serverCertificate!;
    expect(c.type).toBe('proprietary');
    expect(c.temporary).toBe(false);
    expect(c.proprietary).toMatchObject({ dwSigAlgId: 1, dwKeyAlgId: 1, wPublicKeyBlobType: 6, wPublicKeyBlobLen: 92, wSignatureBlobType: 8, wSignatureBlobLen: 72 });
    expect(c.proprietary!.publicKey).toMatchObject({ magic: 0x31415352, keylen: 72, bitlen: 512, datalen: 63, pubExp: 0x10001 });
    const m = c.proprietary!.publicKey;
    expect(CCRSP.subarray(m.modulusOff, m.modulusOff + m.modulusLength)).toEqual(modulus);
  });
  it('works inside an MCS Connect-Response', () => {
    const b = connectResponse(CCRSP);
    const r = ok(decodeConnectResponse(b, 0, b.length));
    const v = ok(decodeConferenceCreateResponse(b, r.userDataOff!, r.userDataOff! + r.userDataLength!));
    expect(v.serverData.security?.serverCertLen).toBe(184);
  });
  it('says incomplete at every cut', () => {
    expectIncompleteAtEveryCut(decodeConferenceCreateResponse, CCRSP, 1);
  });
  it('accepts SC_SECURITY with method and level NONE and nothing after', () => {
    const b = block(0x0c02, cat(le32(0), le32(0)));
    expect(ok(decodeServerSecurityData(b, 0, b.length))).toMatchObject({ encryptionMethod: 0, encryptionLevel: 0, serverRandomLen: null, serverCertificate: null });
  });
  it('rejects random / certificate lengths past the block, never reading them', () => {
    const b = block(0x0c02, cat(le32(2), le32(2), le32(0xffffffff), le32(4)));
    expect(decodeServerSecurityData(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 12 });
  });
  it('keeps the lengths when the certificate itself is damaged', () => {
    const bad = Uint8Array.from(proprietary);
    bad.set(ascii('XXXX'), 16);
    const b = block(0x0c02, cat(le32(2), le32(2), le32(32), le32(bad.length), serverRandom, bad));
    const v = ok(decodeServerSecurityData(b, 0, b.length));
    expect(v.serverCertLen).toBe(184);
    expect(v.serverCertificate).toBeNull();
    expect(v.certificateError?.reason).toMatch(/RSA1/);
  });
  it('returns an X.509 chain (CERT_CHAIN_VERSION_2, temporary bit) as DER views', () => {
    const der1 = hex('30 03 02 01 01');
    const der2 = hex('30 03 02 01 02');
    const chain = cat(le32(0x80000002), le32(2), le32(der1.length), der1, le32(der2.length), der2, new Uint8Array(8));
    const v = ok(decodeServerCertificate(chain, 0, chain.length));
    expect(v.type).toBe('x509');
    expect(v.temporary).toBe(true);
    expect(v.certChainVersion).toBe(2);
    expect(v.x509Chain).toEqual([der1, der2]);
    expect(v.x509Chain[0].buffer).toBe(chain.buffer);
    const huge = cat(le32(2), le32(0x40000000));
    expect(decodeServerCertificate(huge, 0, huge.length)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    const longBlob = cat(le32(2), le32(1), le32(1000), der1);
    expect(decodeServerCertificate(longBlob, 0, longBlob.length)).toMatchObject({ ok: false, kind: 'malformed', at: 8 });
  });
  it('rejects an unknown certificate version', () => {
    const c = cat(le32(3), new Uint8Array(8));
    expect(decodeServerCertificate(c, 0, c.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConferenceCreateResponse, [CCRSP.subarray(0, 21)]);
    expectSurvivesRandomBytes(decodeServerDataBlocks, [hex('02 0c ec 00 02 00 00 00 02 00 00 00'), hex('03 0c 10 00')]);
    expectSurvivesRandomBytes(decodeServerCertificate, [hex('01 00 00 00'), hex('02 00 00 00 01 00 00 00')]);
  });
});
