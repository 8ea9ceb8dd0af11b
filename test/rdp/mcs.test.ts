import { describe, expect, it } from 'vitest';
import { decodeConnectInitial, decodeConnectResponse, decodeDomainPdu, decodeDomainParameters } from '../../src/rdp/mcs.js';
import { decodeDataHeader } from '../../src/rdp/x224.js';
import { mcsReasonName, mcsResultName } from '../../src/rdp/codes.js';
import { CONNECT_INITIAL_4_1_3, ber, cat, connectResponse, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, ok } from './tpkt-helpers.js';



const mcsOf = (pdu: Uint8Array): Uint8Array => pdu.subarray(7);

describe('MCS Connect-Initial (T.125, MS-RDPBCGR 2.2.1.3 / 4.1.3)', () => {
  it('the vector is the whole PDU', () => {
    expect(CONNECT_INITIAL_4_1_3.length).toBe(0x1a0);
    expect(ok(decodeDataHeader(CONNECT_INITIAL_4_1_3, 0, 0x1a0)).payloadOff).toBe(7);
  });

  it('decodes 4.1.3', () => {
    const b = CONNECT_INITIAL_4_1_3;
    const v = ok(decodeConnectInitial(b, 7, b.length));
    expect(v.callingDomainSelector).toEqual({ off: 14, length: 1 });
    expect(v.calledDomainSelector).toEqual({ off: 17, length: 1 });
    expect(v.upwardFlag).toBe(true);
    expect(v.targetParameters).toEqual({
      maxChannelIds: 34, maxUserIds: 2, maxTokenIds: 0, numPriorities: 1,
      minThroughput: 0, maxHeight: 1, maxMCSPDUsize: 65535, protocolVersion: 2,
    });
    expect(v.minimumParameters).toMatchObject({ maxChannelIds: 1, maxUserIds: 1, maxTokenIds: 1, maxMCSPDUsize: 1056 });
    expect(v.maximumParameters).toMatchObject({ maxChannelIds: 65535, maxUserIds: 64535, maxTokenIds: 65535, maxMCSPDUsize: 65535 });
    expect(v.userDataLength).toBe(0x133);
    expect(v.userDataOff + v.userDataLength).toBe(b.length);
  });

  it('says incomplete at every cut (from the MCS PDU start)', () => {
    expectIncompleteAtEveryCut(decodeConnectInitial, mcsOf(CONNECT_INITIAL_4_1_3), 2);
  });

  it('rejects another application tag and a bad BER length without allocating', () => {
    const b = Uint8Array.from(mcsOf(CONNECT_INITIAL_4_1_3));
    b[1] = 0x66;
    expect(decodeConnectInitial(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    const huge = hex('7f 65 84 80 00 00 00 04 01 01');
    expect(decodeConnectInitial(huge, 0, huge.length)).toMatchObject({ ok: false, kind: 'malformed' });
    const big = hex('7f 65 84 7f ff ff ff 04 01 01');
    const r = decodeConnectInitial(big, 0, big.length);
    expect(r).toMatchObject({ ok: false, kind: 'incomplete' });
    const five = hex('7f 65 85 01 00 00 00 00');
    expect(decodeConnectInitial(five, 0, five.length)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
  });

  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConnectInitial, [hex('7f 65 82 01 00'), mcsOf(CONNECT_INITIAL_4_1_3).subarray(0, 60)]);
  });
});


describe('MCS Connect-Response (T.125, MS-RDPBCGR 2.2.1.4)', () => {
  it('decodes result, calledConnectId, domainParameters and the userData extent', () => {
    const ud = hex('00 05 00 14 7c 00 01 2a 14 76 0a 01 01 00 01 c0 00 4d 63 44 6e 00');
    const b = connectResponse(ud);
    const v = ok(decodeConnectResponse(b, 0, b.length));
    expect(v.result).toBe(0);
    expect(v.resultName).toBe('rt-successful');
    expect(v.calledConnectId).toBe(0);
    expect(v.domainParameters).toMatchObject({ maxChannelIds: 34, maxUserIds: 3, maxMCSPDUsize: 0xfff8 });
    expect(v.userDataLength).toBe(ud.length);
    expect(b.subarray(v.userDataOff!, v.userDataOff! + v.userDataLength!)).toEqual(ud);
    expectIncompleteAtEveryCut(decodeConnectResponse, b);
  });
  it('accepts a failure carrying only the result (3.3.5.3.3.1)', () => {
    const b = ber([0x7f, 0x66], ber([0x0a], Uint8Array.of(14)));
    const v = ok(decodeConnectResponse(b, 0, b.length));
    expect(v.result).toBe(14);
    expect(v.resultName).toBe('rt-unspecified-failure');
    expect(v.userDataOff).toBeNull();
  });
  it('rejects a result outside T.125 Result', () => {
    const b = ber([0x7f, 0x66], ber([0x0a], Uint8Array.of(16)));
    expect(decodeConnectResponse(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConnectResponse, [hex('7f 66 82 00 40 0a 01 00')]);
    expectSurvivesRandomBytes(decodeDomainParameters, [hex('30 19 02 01 22')]);
  });
});

describe('MCS domain PDUs (PER, T.125 7 part 10)', () => {
  const d = (s: string) => {
    const b = hex(s);
    const h = ok(decodeDataHeader(b, 0, b.length));
    return ok(decodeDomainPdu(b, h.payloadOff, h.end));
  };
  it('Erect Domain Request (4.1.5)', () => {
    expect(d('03 00 00 0c 02 f0 80 04 01 00 01 00')).toEqual({ type: 'erectDomainRequest', choice: 1, subHeight: 0, subInterval: 0 });
  });
  it('Attach User Request (4.1.6)', () => {
    expect(d('03 00 00 08 02 f0 80 28')).toEqual({ type: 'attachUserRequest', choice: 10 });
  });
  it('Attach User Confirm (4.1.7)', () => {
    expect(d('03 00 00 0b 02 f0 80 2e 00 00 06')).toEqual({ type: 'attachUserConfirm', choice: 11, result: 0, resultName: 'rt-successful', initiator: 1007 });
  });
  it('Attach User Confirm with a failure result straddling the byte boundary', () => {
    // choice 11, initiator absent, result 13 (rt-too-many-users) = 1 101: last bit of byte 0, top three of byte 1
    expect(d('03 00 00 09 02 f0 80 2d a0')).toMatchObject({ result: 13, resultName: 'rt-too-many-users', initiator: null });
  });
  it('Channel Join Request (4.1.8.2.1)', () => {
    expect(d('03 00 00 0c 02 f0 80 38 00 06 03 eb')).toEqual({ type: 'channelJoinRequest', choice: 14, initiator: 1007, channelId: 1003 });
  });
  it('Channel Join Confirm (4.1.8.1.2)', () => {
    expect(d('03 00 00 0f 02 f0 80 3e 00 00 06 03 ef 03 ef')).toEqual({
      type: 'channelJoinConfirm', choice: 15, result: 0, resultName: 'rt-successful', initiator: 1007, requested: 1007, channelId: 1007,
    });
  });
  it('Disconnect Provider Ultimatum (4.2.3): rn-user-requested', () => {
    expect(d('03 00 00 09 02 f0 80 21 80')).toEqual({ type: 'disconnectProviderUltimatum', choice: 8, reason: 3, reasonName: 'rn-user-requested' });
  });
  it.each([0, 1, 2, 3, 4])('Disconnect Provider Ultimatum reason %i', (reason) => {
    const b0 = (8 << 2) | (reason >> 1);
    const b1 = (reason & 1) << 7;
    const v = ok(decodeDomainPdu(Uint8Array.of(b0, b1), 0, 2));
    expect(v).toMatchObject({ reason, reasonName: mcsReasonName(reason) });
  });
  it('Send Data Request with its userData extent', () => {
    const b = hex('64 00 06 03 eb 70 05 01 02 03 04 05');
    const v = ok(decodeDomainPdu(b, 0, b.length));
    expect(v).toEqual({
      type: 'sendDataRequest', choice: 25, initiator: 1007, channelId: 1003, dataPriority: 1, segmentation: 3, userDataOff: 7, userDataLength: 5,
    });
    expectIncompleteAtEveryCut(decodeDomainPdu, b);
    const l2 = cat(hex('68 00 01 03 eb 70 81 00'), new Uint8Array(256));
    expect(ok(decodeDomainPdu(l2, 0, l2.length))).toMatchObject({ type: 'sendDataIndication', initiator: 1002, userDataOff: 8, userDataLength: 256 });
  });
  it('names other choices and rejects choices past 42', () => {
    expect(ok(decodeDomainPdu(Uint8Array.of(12 << 2), 0, 1))).toEqual({ type: 'other', choice: 12, name: 'detachUserRequest' });
    expect(decodeDomainPdu(Uint8Array.of(0xfc), 0, 1)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('says incomplete at every cut of each PDU', () => {
    for (const s of ['04 01 00 01 00', '2e 00 00 06', '38 00 06 03 eb', '3e 00 00 06 03 ef 03 ef', '21 80']) {
      expectIncompleteAtEveryCut(decodeDomainPdu, hex(s));
    }
  });
  it('names MCS results', () => {
    expect(mcsResultName(0)).toBe('rt-successful');
    expect(mcsResultName(15)).toBe('rt-user-rejected');
    expect(mcsResultName(99)).toBe('unknown (0x63)');
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeDomainPdu, [hex('64'), hex('68'), hex('3e'), hex('2e'), hex('04')]);
  });
});
