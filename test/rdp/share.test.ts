import { describe, expect, it } from 'vitest';
import { decodeShareControlHeader, decodeSharePdu } from '../../src/rdp/share.js';
import { PDU_TYPES2, SAVE_SESSION_INFO_TYPES, pduType2Name } from '../../src/rdp/codes.js';
import { ascii, cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, le16, le32, ok } from './tpkt-helpers.js';

function control(pduType: number, body: Uint8Array | number[]): Uint8Array {
  return cat(le16(body.length + 6), le16(0x10 | pduType), le16(1002), body);
}
function data(pduType2: number, body: Uint8Array | number[], compressedType = 0): Uint8Array {
  return control(7, cat(le32(0x103ea), [0, 1], le16(body.length + 4), [pduType2, compressedType], le16(0), body));
}
function caps(...sets: [number, number][]): Uint8Array {
  return cat(...sets.map(([t, len]) => cat(le16(t), le16(len), new Uint8Array(len - 4))));
}
function demandActive(sets: Uint8Array, n: number): Uint8Array {
  const src = ascii('RDP\0');
  return control(1, cat(le32(0x103ea), le16(src.length), le16(sets.length + 4), src, le16(n), le16(0), sets, le32(7)));
}

describe('Share Control Header (MS-RDPBCGR 2.2.8.1.1.1.1)', () => {
  it('reads totalLength, pduType, version, pduSource', () => {
    const b = data(31, cat(le16(1), le16(1002)));
    expect(ok(decodeShareControlHeader(b, 0, b.length))).toEqual({
      totalLength: b.length, pduType: 7, pduTypeName: 'PDUTYPE_DATAPDU', version: 1, pduSource: 1002, end: b.length,
    });
    expectIncompleteAtEveryCut(decodeShareControlHeader, b);
  });
  it('recognises a flow-control PDU (totalLength 0x8000)', () => {
    const b = hex('00 80 42 00 00 00 00 00');
    expect(ok(decodeSharePdu(b, 0, b.length)).type).toBe('flowControl');
  });
  it('rejects a wrong protocol version', () => {
    expect(decodeShareControlHeader(hex('06 00 27 00 ea 03'), 0, 6)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
  });
});

describe('capability exchange (MS-RDPBCGR 2.2.1.13)', () => {
  it('Demand Active: shareId, source descriptor, capability set types, sessionId', () => {
    const b = demandActive(caps([1, 24], [2, 28], [3, 88]), 3);
    const v = ok(decodeSharePdu(b, 0, b.length));
    expect(v.type).toBe('demandActive');
    if (v.type !== 'demandActive') return;
    expect(v.body).toEqual({
      shareId: 0x103ea, originatorId: null, lengthSourceDescriptor: 4, lengthCombinedCapabilities: 144, sourceDescriptor: 'RDP',
      numberCapabilities: 3, capabilitySetTypes: [1, 2, 3], sessionId: 7,
    });
    expectIncompleteAtEveryCut(decodeSharePdu, b);
  });
  it('Confirm Active carries originatorId', () => {
    const sets = caps([1, 24]);
    const src = ascii('MSTSC\0');
    const b = control(3, cat(le32(0x103ea), le16(0x3ea), le16(src.length), le16(sets.length + 4), src, le16(1), le16(0), sets));
    const v = ok(decodeSharePdu(b, 0, b.length));
    expect(v).toMatchObject({ type: 'confirmActive', body: { originatorId: 0x3ea, sourceDescriptor: 'MSTSC', capabilitySetTypes: [1], sessionId: null } });
  });
  it('rejects a capability set running past lengthCombinedCapabilities', () => {
    const b = demandActive(cat(le16(1), le16(200), new Uint8Array(20)), 1);
    expect(decodeSharePdu(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });
  it('Deactivate All', () => {
    const b = control(6, cat(le32(0x103ea), le16(1), [0]));
    expect(ok(decodeSharePdu(b, 0, b.length))).toMatchObject({ type: 'deactivateAll', shareId: 0x103ea });
  });
});

describe('data PDUs (MS-RDPBCGR 2.2.8.1.1.1.2 and bodies)', () => {
  it('Set Error Info carries errorInfo', () => {
    const b = data(47, le32(0x0000000c));
    const v = ok(decodeSharePdu(b, 0, b.length));
    expect(v).toMatchObject({ type: 'data', data: { pduType2: 47, pduType2Name: 'PDUTYPE2_SET_ERROR_INFO_PDU', shareId: 0x103ea, streamId: 1 }, body: { type: 'setErrorInfo', errorInfo: 12 } });
    expectIncompleteAtEveryCut(decodeSharePdu, b);
  });
  it.each([
    [1, 'CTRLACTION_REQUEST_CONTROL'],
    [2, 'CTRLACTION_GRANTED_CONTROL'],
    [3, 'CTRLACTION_DETACH'],
    [4, 'CTRLACTION_COOPERATE'],
  ])('Control action %i', (action, name) => {
    const b = data(20, cat(le16(action), le16(0x3ea), le32(0x3ea)));
    expect(ok(decodeSharePdu(b, 0, b.length))).toMatchObject({ body: { type: 'control', action, actionName: name, grantId: 0x3ea, controlId: 0x3ea } });
  });
  it.each(Object.entries(SAVE_SESSION_INFO_TYPES))('Save Session Info infoType %s (logon notification)', (t, name) => {
    const b = data(38, cat(le32(Number(t)), new Uint8Array(8)));
    expect(ok(decodeSharePdu(b, 0, b.length))).toMatchObject({ body: { type: 'saveSessionInfo', infoType: Number(t), infoTypeName: name } });
  });
  it('Synchronize and Status Info', () => {
    const s = data(31, cat(le16(1), le16(1002)));
    expect(ok(decodeSharePdu(s, 0, s.length))).toMatchObject({ body: { type: 'synchronize', messageType: 1, targetUser: 1002 } });
    const st = data(54, le32(0x401));
    expect(ok(decodeSharePdu(st, 0, st.length))).toMatchObject({ body: { type: 'statusInfo', statusCode: 0x401 } });
  });
  it('does not read a compressed body', () => {
    const b = data(47, le32(0x0c), 0x21);
    expect(ok(decodeSharePdu(b, 0, b.length))).toMatchObject({ body: { type: 'other' } });
  });
  it('rejects a Set Error Info too short for errorInfo', () => {
    const b = data(47, Uint8Array.of(1, 2));
    expect(decodeSharePdu(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });
  it('names every pduType2 of the table', () => {
    for (const [k, v] of Object.entries(PDU_TYPES2)) expect(pduType2Name(Number(k))).toBe(v);
    expect(pduType2Name(99)).toBe('unknown (0x63)');
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeSharePdu, [hex('40 00 17 00 ea 03'), hex('40 00 11 00 ea 03'), hex('40 00 13 00 ea 03')]);
    expectSurvivesRandomBytes(decodeShareControlHeader, [hex('00 80')]);
  });
});
