import { describe, expect, it } from 'vitest';
import {
  decodeConnectionConfirm,
  decodeConnectionRequest,
  decodeDataHeader,
  decodeDisconnectRequest,
  connectionRequestFailsAt,
  decodeX224,
  looksLikeConnectionRequest,
} from '../../src/rdp/x224.js';
import fc from 'fast-check';
import { failureCodeName, flagNames, NEG_REQ_FLAGS, NEG_RSP_FLAGS, protocolNames } from '../../src/rdp/codes.js';
import { ascii, cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, le16, le32, ok, tpkt } from './tpkt-helpers.js';

// MS-RDPBCGR 4.1.1
const CR_4_1_1 = hex(`03 00 00 2c 27 e0 00 00 00 00 00 43 6f 6f 6b 69
65 3a 20 6d 73 74 73 68 61 73 68 3d 65 6c 74 6f 6e 73 0d 0a 01 00 08 00 00 00 00 00`);
// MS-RDPBCGR 4.1.2
const CC_4_1_2 = hex('03 00 00 13 0e d0 00 00 12 34 00 02 00 08 00 01 00 00 00');

/** Builds a CR TPKT from its variable part. */
function cr(variable: Uint8Array): Uint8Array {
  return tpkt(cat([6 + variable.length, 0xe0, 0, 0, 0, 0, 0], variable));
}
function cc(variable: Uint8Array): Uint8Array {
  return tpkt(cat([6 + variable.length, 0xd0, 0, 0, 0x12, 0x34, 0], variable));
}
function negReq(flags: number, protocols: number, length = 8): Uint8Array {
  return Uint8Array.from([1, flags, ...le16(length), ...le32(protocols)]);
}

describe('X.224 Connection Request (MS-RDPBCGR 2.2.1.1)', () => {
  it('decodes the 4.1.1 example byte for byte', () => {
    const v = ok(decodeConnectionRequest(CR_4_1_1, 0, CR_4_1_1.length));
    expect(v.tpktLength).toBe(44);
    expect(v.lengthIndicator).toBe(0x27);
    expect(v.code).toBe(0xe0);
    expect(v.dstRef).toBe(0);
    expect(v.srcRef).toBe(0);
    expect(v.classOptions).toBe(0);
    expect(v.cookie).toBe('eltons');
    expect(v.cookieLine).toBe('Cookie: mstshash=eltons');
    expect(v.routingToken).toBeNull();
    expect(v.negReq).toEqual({ at: 36, flags: 0, length: 8, requestedProtocols: 0 });
    expect(v.correlationInfo).toBeNull();
    expect(v.negotiationError).toBeNull();
    expect(v.end).toBe(44);
  });

  it('says incomplete at every cut of 4.1.1, with offsets absolute', () => {
    expectIncompleteAtEveryCut(decodeConnectionRequest, CR_4_1_1, 5);
  });

  it('accepts an old client: no cookie, no RDP_NEG_REQ', () => {
    const b = cr(new Uint8Array(0));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.cookie).toBeNull();
    expect(v.negReq).toBeNull();
    expect(v.negotiationError).toBeNull();
  });

  it('accepts a cookie without RDP_NEG_REQ (rdp3 / RDP-003 style)', () => {
    const b = cr(ascii('Cookie: mstshash=Administr\r\n'));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.cookie).toBe('Administr');
    expect(v.negReq).toBeNull();
  });

  it.each([
    [0x00, ['RDP']],
    [0x01, ['SSL']],
    [0x03, ['SSL', 'HYBRID']],
    [0x0b, ['SSL', 'HYBRID', 'HYBRID_EX']],
    [0x04, ['RDSTLS']],
    [0x1f, ['SSL', 'HYBRID', 'RDSTLS', 'HYBRID_EX', 'RDSAAD']],
    [0x40, ['unknown (0x00000040)']],
  ])('requestedProtocols 0x%s', (bits, names) => {
    const b = cr(negReq(0, bits));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.negReq?.requestedProtocols).toBe(bits);
    expect(protocolNames(bits)).toEqual(names);
  });

  it.each([
    [0x01, 'RESTRICTED_ADMIN_MODE_REQUIRED'],
    [0x02, 'REDIRECTED_AUTHENTICATION_MODE_REQUIRED'],
  ])('RDP_NEG_REQ flag 0x%s is kept and named', (flag, name) => {
    const b = cr(negReq(flag, 3));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.negReq?.flags).toBe(flag);
    expect(flagNames(NEG_REQ_FLAGS, flag, 2)).toEqual([name]);
  });

  it('decodes RDP_CORRELATION_INFO when CORRELATION_INFO_PRESENT is set', () => {
    const id = hex('00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff');
    const corr = cat([6, 0, ...le16(36)], id, new Uint8Array(16));
    const b = cr(cat(ascii('Cookie: mstshash=a\r\n'), negReq(0x08, 0x0b), corr));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.negReq?.flags).toBe(0x08);
    expect(v.correlationInfo?.correlationId).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(v.negotiationError).toBeNull();
    expect(flagNames(NEG_REQ_FLAGS, 0x08, 2)).toEqual(['CORRELATION_INFO_PRESENT']);
  });

  it('reports a correlation info with a wrong length, keeping the request', () => {
    const corr = cat([6, 0, ...le16(30)], new Uint8Array(32));
    const b = cr(cat(negReq(0x08, 1), corr));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.negReq?.requestedProtocols).toBe(1);
    expect(v.correlationInfo).toBeNull();
    expect(v.negotiationError?.reason).toMatch(/RDP_Correlation_Info:length 30/);
    expect(v.negotiationError?.at).toBe(11 + 8);
  });

  it('reads a routing token (any other Cookie: line)', () => {
    const b = cr(cat(ascii('Cookie: msts=3640205228.15629.0000\r\n'), negReq(0, 3)));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.cookie).toBeNull();
    expect(v.routingToken).toBe('Cookie: msts=3640205228.15629.0000');
    expect(v.negReq?.requestedProtocols).toBe(3);
  });

  describe('cookie edge cases', () => {
    it('empty identifier', () => {
      const b = cr(cat(ascii('Cookie: mstshash=\r\n'), negReq(0, 1)));
      const v = ok(decodeConnectionRequest(b, 0, b.length));
      expect(v.cookie).toBe('');
      expect(v.negReq?.requestedProtocols).toBe(1);
    });
    it('trailing spaces are kept (rdp-x509: "JOHN-PC  ")', () => {
      const b = cr(cat(ascii('Cookie: mstshash=JOHN-PC  \r\n'), negReq(0, 0)));
      expect(ok(decodeConnectionRequest(b, 0, b.length)).cookie).toBe('JOHN-PC  ');
    });
    it('no CR LF: the text to the end of the TPDU, flagged', () => {
      const b = cr(ascii('Cookie: mstshash=nocrlf'));
      const v = ok(decodeConnectionRequest(b, 0, b.length));
      expect(v.cookie).toBe('nocrlf');
      expect(v.tokenUnterminated).toBe(true);
      expect(v.negotiationError).toEqual({ at: 11, reason: 'cookie not terminated by CR LF' });
      expect(v.negReq).toBeNull();
    });
    it('a lone CR at the end is not a terminator', () => {
      const b = cr(ascii('Cookie: mstshash=x\r'));
      const v = ok(decodeConnectionRequest(b, 0, b.length));
      expect(v.tokenUnterminated).toBe(true);
      expect(v.cookie).toBe('x\r');
    });
    it('very long (the largest the length indicator allows)', () => {
      const id = 'A'.repeat(255 - 6 - 17 - 2 - 8);
      const b = cr(cat(ascii(`Cookie: mstshash=${id}\r\n`), negReq(0, 3)));
      expect(b[4]).toBe(255);
      const v = ok(decodeConnectionRequest(b, 0, b.length));
      expect(v.cookie).toBe(id);
      expect(v.negReq?.requestedProtocols).toBe(3);
    });
    it('non-ASCII bytes are read as latin1, one character per byte', () => {
      const b = cr(cat(ascii('Cookie: mstshash='), [0xe9, 0x41, 0xff], ascii('\r\n')));
      expect(ok(decodeConnectionRequest(b, 0, b.length)).cookie).toBe('\u00e9A\u00ff');
    });
  });

  it('reports an RDP_NEG_REQ with a wrong length at its offset, keeping the cookie', () => {
    const b = cr(cat(ascii('Cookie: mstshash=u\r\n'), negReq(0, 3, 9)));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.cookie).toBe('u');
    expect(v.negReq).toBeNull();
    expect(v.negotiationError).toEqual({ at: 11 + 20, reason: 'RDP_Negotiation_Request:length 9 (expected 8)' });
  });

  it('reports an RDP_NEG_REQ cut by the length indicator', () => {
    const b = cr(Uint8Array.from([1, 0, 8, 0, 3]));
    const v = ok(decodeConnectionRequest(b, 0, b.length));
    expect(v.negotiationError?.reason).toMatch(/truncated/);
  });

  it('is malformed for a bad TPKT version, a wrong code, a length indicator past the TPKT', () => {
    const bad = Uint8Array.from(CR_4_1_1);
    bad[0] = 4;
    expect(decodeConnectionRequest(bad, 0, bad.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    const notCr = Uint8Array.from(CR_4_1_1);
    notCr[5] = 0xd0;
    expect(decodeConnectionRequest(notCr, 0, notCr.length)).toMatchObject({ ok: false, kind: 'malformed', at: 5 });
    const li = Uint8Array.from(CR_4_1_1);
    li[4] = 0x40;
    expect(decodeConnectionRequest(li, 0, li.length)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    const short = hex('03 00 00 08 03 e0 00 00');
    expect(decodeConnectionRequest(short, 0, short.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConnectionRequest, [CR_4_1_1.subarray(0, 11), hex('03 00 00 40 3b e0 00 00 00 00 00')]);
  });
});

describe('looksLikeConnectionRequest', () => {
  it('recognises TPKT + CR and nothing else', () => {
    expect(looksLikeConnectionRequest(CR_4_1_1, 0, CR_4_1_1.length)).toBe(true);
    expect(looksLikeConnectionRequest(CR_4_1_1, 0, 6)).toBe(true);
    expect(looksLikeConnectionRequest(CR_4_1_1, 0, 5)).toBe(false);
    expect(looksLikeConnectionRequest(CC_4_1_2, 0, CC_4_1_2.length)).toBe(false);
    expect(looksLikeConnectionRequest(ascii('GET / HTTP/1.1\r\n'), 0, 16)).toBe(false);
    expect(looksLikeConnectionRequest(hex('16 03 01 02 00 01'), 0, 6)).toBe(false);
    expect(looksLikeConnectionRequest(hex('03 00 00 2c ff e0'), 0, 6)).toBe(false);
  });
});

describe('connectionRequestFailsAt: where looksLikeConnectionRequest fails', () => {
  it('names the field: TPKT version, reserved octet, length, X.224 code, length indicator', () => {
    expect(connectionRequestFailsAt(CR_4_1_1, 0, CR_4_1_1.length)).toBe(-1);
    expect(connectionRequestFailsAt(hex('16 03 01 02 00 01'), 0, 6)).toBe(0);
    expect(connectionRequestFailsAt(hex('03 01 00 2c 27 e0'), 0, 6)).toBe(1);
    expect(connectionRequestFailsAt(hex('03 00 00 0a 27 e0'), 0, 6)).toBe(2);
    expect(connectionRequestFailsAt(hex('03 00 00 2c 27 d0'), 0, 6)).toBe(5);
    expect(connectionRequestFailsAt(hex('03 00 00 2c 05 e0'), 0, 6)).toBe(4);
    expect(connectionRequestFailsAt(hex('03 00 00 2c c8 e0'), 0, 6)).toBe(4);
    expect(connectionRequestFailsAt(CC_4_1_2, 0, CC_4_1_2.length)).toBe(5);
  });

  it('is relative to the buffer, and says `end` when too few bytes tell', () => {
    const b = cat(hex('ff ff ff'), CR_4_1_1);
    expect(connectionRequestFailsAt(b, 3, b.length)).toBe(-1);
    expect(connectionRequestFailsAt(b, 3, 5)).toBe(5);
    expect(connectionRequestFailsAt(b, 3, 7)).toBe(7);
    expect(connectionRequestFailsAt(b, 3, 3)).toBe(3);
    expect(connectionRequestFailsAt(hex('03 00 00 05'), 0, 4)).toBe(2);
  });

  it('property: -1 exactly when looksLikeConnectionRequest holds, else an offset within the first 6 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 12 }), fc.boolean(), (b, tpktLike) => {
        if (tpktLike && b.length >= 2) {
          b[0] = 3;
          b[1] = 0;
        }
        const at = connectionRequestFailsAt(b, 0, b.length);
        expect(at === -1).toBe(looksLikeConnectionRequest(b, 0, b.length));
        if (at !== -1) {
          expect(at).toBeGreaterThanOrEqual(0);
          expect(at).toBeLessThanOrEqual(Math.min(b.length, 5));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('X.224 Connection Confirm (MS-RDPBCGR 2.2.1.2)', () => {
  it('decodes the 4.1.2 example', () => {
    const v = ok(decodeConnectionConfirm(CC_4_1_2, 0, CC_4_1_2.length));
    expect(v.srcRef).toBe(0x1234);
    // The dump's bytes say 01 00 00 00 (PROTOCOL_SSL) although its annotation reads PROTOCOL_RDP: bytes win.
    expect(v.negRsp).toEqual({ at: 11, flags: 0, length: 8, selectedProtocol: 1 });
    expect(v.negFailure).toBeNull();
    expect(v.negotiationError).toBeNull();
  });

  it('says incomplete at every cut', () => {
    expectIncompleteAtEveryCut(decodeConnectionConfirm, CC_4_1_2, 3);
  });

  it('accepts an old server: no RDP_NEG_RSP', () => {
    const b = cc(new Uint8Array(0));
    const v = ok(decodeConnectionConfirm(b, 0, b.length));
    expect(v.negRsp).toBeNull();
    expect(v.negFailure).toBeNull();
    expect(v.negotiationError).toBeNull();
  });

  it.each([1, 2, 3, 4, 5, 6])('RDP_NEG_FAILURE code %i', (code) => {
    const b = cc(Uint8Array.from([3, 0, 8, 0, ...le32(code)]));
    const v = ok(decodeConnectionConfirm(b, 0, b.length));
    expect(v.negFailure).toEqual({ at: 11, flags: 0, length: 8, failureCode: code });
    expect(v.negRsp).toBeNull();
  });

  it('names every failure code, and unknown ones as such', () => {
    expect([1, 2, 3, 4, 5, 6].map(failureCodeName)).toEqual([
      'SSL_REQUIRED_BY_SERVER',
      'SSL_NOT_ALLOWED_BY_SERVER',
      'SSL_CERT_NOT_ON_SERVER',
      'INCONSISTENT_FLAGS',
      'HYBRID_REQUIRED_BY_SERVER',
      'SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER',
    ]);
    expect(failureCodeName(7)).toBe('unknown (0x00000007)');
  });

  it.each([
    [0x01, 'EXTENDED_CLIENT_DATA_SUPPORTED'],
    [0x02, 'DYNVC_GFX_PROTOCOL_SUPPORTED'],
    [0x08, 'RESTRICTED_ADMIN_MODE_SUPPORTED'],
    [0x10, 'REDIRECTED_AUTHENTICATION_MODE_SUPPORTED'],
  ])('RDP_NEG_RSP flag 0x%s', (flag, name) => {
    const b = cc(Uint8Array.from([2, flag, 8, 0, ...le32(8)]));
    const v = ok(decodeConnectionConfirm(b, 0, b.length));
    expect(v.negRsp?.flags).toBe(flag);
    expect(v.negRsp?.selectedProtocol).toBe(8);
    expect(flagNames(NEG_RSP_FLAGS, flag, 2)).toEqual([name]);
  });

  it('reports a wrong negotiation length as Zeek does, keeping the header (rdp-invalid-length)', () => {
    const b = hex('03 00 00 13 0e d0 00 00 12 34 00 02 03 00 00 01 00 00 02');
    const v = ok(decodeConnectionConfirm(b, 0, b.length));
    expect(v.code).toBe(0xd0);
    expect(v.negRsp).toBeNull();
    expect(v.negotiationError).toEqual({ at: 11, reason: 'RDP_Negotiation_Response:length 0 (expected 8)' });
  });

  it('reports an unknown negotiation type', () => {
    const b = cc(Uint8Array.from([9, 0, 8, 0, 0, 0, 0, 0]));
    expect(ok(decodeConnectionConfirm(b, 0, b.length)).negotiationError?.reason).toMatch(/negotiation type 0x9/);
  });

  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeConnectionConfirm, [CC_4_1_2.subarray(0, 11)]);
  });
});

describe('X.224 Disconnect Request and Data TPDU', () => {
  const DR = hex('03 00 00 0b 06 80 00 00 12 34 00');
  it('decodes a Disconnect Request', () => {
    const v = ok(decodeDisconnectRequest(DR, 0, DR.length));
    expect(v.code).toBe(0x80);
    expect(v.srcRef).toBe(0x1234);
    expectIncompleteAtEveryCut(decodeDisconnectRequest, DR);
    expectSurvivesRandomBytes(decodeDisconnectRequest, [DR.subarray(0, 6)]);
  });
  it('decodes the Data TPDU header 02 f0 80', () => {
    const b = hex('03 00 00 08 02 f0 80 28');
    const v = ok(decodeDataHeader(b, 0, b.length));
    expect(v).toEqual({ tpktLength: 8, lengthIndicator: 2, eot: true, payloadOff: 7, end: 8 });
    expectIncompleteAtEveryCut(decodeDataHeader, b);
    const bad = hex('03 00 00 08 03 f0 80 28');
    expect(decodeDataHeader(bad, 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    expectSurvivesRandomBytes(decodeDataHeader, [hex('03 00 00 10 02 f0 80')]);
  });
  it('dispatches on the code', () => {
    expect(ok(decodeX224(CR_4_1_1, 0, CR_4_1_1.length)).type).toBe('CR');
    expect(ok(decodeX224(CC_4_1_2, 0, CC_4_1_2.length)).type).toBe('CC');
    expect(ok(decodeX224(DR, 0, DR.length)).type).toBe('DR');
    expect(ok(decodeX224(hex('03 00 00 08 02 f0 80 28'), 0, 8)).type).toBe('DT');
    expect(decodeX224(hex('03 00 00 08 02 70 80 28'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 5 });
    expectIncompleteAtEveryCut(decodeX224, CR_4_1_1);
    expectSurvivesRandomBytes(decodeX224, [hex('03 00 00 20')]);
  });
});
