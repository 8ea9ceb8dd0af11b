import { describe, expect, it } from 'vitest';
import { perChoice, perEnumerated, perInteger, perInteger16, perLength, perNumericString, perObjectIdentifier, perOctetString } from '../../src/rdp/per.js';
import { type Decoder, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, ok } from './tpkt-helpers.js';

describe('PER aligned (X.691) helpers', () => {
  it('length determinant at the 127/128 and 16383/16384 boundaries', () => {
    expect(perLength(hex('7f'), 0, 1)).toEqual({ ok: true, value: 127, consumed: 1 });
    expect(perLength(hex('80 80'), 0, 2)).toEqual({ ok: true, value: 128, consumed: 2 });
    expect(perLength(hex('bf ff'), 0, 2)).toEqual({ ok: true, value: 16383, consumed: 2 });
    expect(perLength(hex('c1'), 0, 1)).toMatchObject({ ok: false, kind: 'malformed', at: 0 }); // 16384 needs the fragmented form
    expect(perLength(hex('00'), 0, 1)).toEqual({ ok: true, value: 0, consumed: 1 });
    expect(perLength(hex('81'), 0, 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    expect(perLength(hex(''), 0, 0)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });
  it('integer with a length prefix and a lower bound', () => {
    expect(perInteger(hex('01 00'), 0, 2)).toEqual({ ok: true, value: 0, consumed: 2 });
    expect(perInteger(hex('02 01 00'), 0, 3, 1)).toEqual({ ok: true, value: 257, consumed: 3 });
    expect(perInteger(hex('04 ff ff ff ff'), 0, 5)).toEqual({ ok: true, value: 0xffffffff, consumed: 5 });
    expect(perInteger(hex('05 00 00 00 00 00'), 0, 6)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(perInteger(hex('00'), 0, 1)).toMatchObject({ ok: false, kind: 'malformed' });
    expectIncompleteAtEveryCut(perInteger, hex('03 01 02 03'));
  });
  it('16-bit integer (UserId 1001..)', () => {
    expect(perInteger16(hex('00 06'), 0, 2, 1001)).toEqual({ ok: true, value: 1007, consumed: 2 });
    expectIncompleteAtEveryCut(perInteger16, hex('00 06'));
  });
  it('enumerated within its count', () => {
    expect(perEnumerated(hex('0f'), 0, 1, 16)).toEqual({ ok: true, value: 15, consumed: 1 });
    expect(perEnumerated(hex('10'), 0, 1, 16)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('choice / selection octet', () => {
    expect(perChoice(hex('c0'), 0, 1)).toEqual({ ok: true, value: 0xc0, consumed: 1 });
  });
  it('object identifier (t124Identifier)', () => {
    expect(perObjectIdentifier(hex('05 00 14 7c 00 01'), 0, 6)).toEqual({ ok: true, value: '0.0.20.124.0.1', consumed: 6 });
    expect(perObjectIdentifier(hex('02 2a 86'), 0, 3)).toMatchObject({ ok: false, kind: 'malformed' }); // ends inside an arc
    expect(perObjectIdentifier(hex('06 2a 86 48 86 f7 0d'), 0, 7)).toEqual({ ok: true, value: '1.2.840.113549', consumed: 7 });
    expectIncompleteAtEveryCut(perObjectIdentifier, hex('05 00 14 7c 00 01'));
  });
  it('octet string with a minimum size', () => {
    expect(ok(perOctetString(hex('00 44 75 63 61'), 0, 5, 4))).toEqual({ valueOff: 1, length: 4 });
    expectIncompleteAtEveryCut((b, o, e) => perOctetString(b, o, e, 4), hex('00 44 75 63 61'));
    const long = new Uint8Array(2 + 300);
    long[0] = 0x81;
    long[1] = 0x2c;
    expect(ok(perOctetString(long, 0, long.length))).toEqual({ valueOff: 2, length: 300 });
  });
  it('numeric string (conferenceName "1")', () => {
    expect(perNumericString(hex('00 10'), 0, 2, 1)).toEqual({ ok: true, value: '1', consumed: 2 });
    expect(perNumericString(hex('02 12 30'), 0, 3, 1)).toEqual({ ok: true, value: '123', consumed: 3 });
    expect(perNumericString(hex('00 f0'), 0, 2, 1)).toMatchObject({ ok: false, kind: 'malformed', at: 1 });
  });
  it('every helper survives random bytes', () => {
    const helpers: Decoder[] = [
      perLength,
      perChoice,
      (b, o, e) => perEnumerated(b, o, e, 16),
      perInteger,
      perInteger16,
      perObjectIdentifier,
      (b, o, e) => perOctetString(b, o, e, 4),
      (b, o, e) => perNumericString(b, o, e, 1),
    ];
    for (const h of helpers) expectSurvivesRandomBytes(h, [], 200);
  });
});
