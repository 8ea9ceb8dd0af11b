import { describe, expect, it } from 'vitest';
import { guidString, readTpkt, utf16leZ } from '../../src/rdp/tpkt.js';
import { isFastPath, readFastPathHeader, readFrame } from '../../src/rdp/fastpath.js';
import { cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, ok } from './tpkt-helpers.js';

describe('TPKT (RFC 1006 section 6)', () => {
  it('reads version, length and the PDU extent (absolute offsets)', () => {
    const b = cat([0xee, 0xee], hex('03 00 00 08 02 f0 80 28'));
    expect(ok(readTpkt(b, 2, b.length))).toEqual({ version: 3, reserved: 0, length: 8, payloadOff: 6, end: 10 });
  });
  it('accepts the minimal length 7 and rejects 0..6', () => {
    expect(ok(readTpkt(hex('03 00 00 07 02 f0 80'), 0, 7)).length).toBe(7);
    for (let l = 0; l < 7; l++) {
      expect(readTpkt(Uint8Array.of(3, 0, 0, l, 0, 0, 0), 0, 7)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
    }
  });
  it('rejects another version', () => {
    expect(readTpkt(hex('02 00 00 08 02 f0 80 28'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('says how many bytes are missing', () => {
    expect(readTpkt(hex('03 00 ff ff'), 0, 4)).toEqual({ ok: false, kind: 'incomplete', needed: 0xffff - 4 });
    expect(readTpkt(hex('03 00'), 0, 2)).toEqual({ ok: false, kind: 'incomplete', needed: 2 });
    expectIncompleteAtEveryCut(readTpkt, hex('03 00 00 0b 02 f0 80 2e 00 00 06'));
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(readTpkt, [hex('03 00')]);
  });
  it('helpers: GUID text and UTF-16 up to NUL', () => {
    expect(guidString(hex('33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff'), 0)).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(utf16leZ(hex('41 00 42 00 00 00 43 00'), 0, 8)).toBe('AB');
  });
});

describe('fast-path header (MS-RDPBCGR 2.2.9.1.2 / 2.2.8.1.2)', () => {
  it('tells fast-path from TPKT by the action bits', () => {
    expect(isFastPath(0x03)).toBe(false);
    expect(isFastPath(0x00)).toBe(true);
    expect(isFastPath(0x80)).toBe(true);
    expect(isFastPath(0x44)).toBe(true);
    expect(isFastPath(0x01)).toBe(false);
  });
  it('reads a 1-byte length', () => {
    const b = hex('44 05 aa bb cc');
    expect(ok(readFastPathHeader(b, 0, 5))).toEqual({ action: 0, numEvents: 1, flags: 1, encrypted: false, length: 5, headerLength: 2, bodyOff: 2, end: 5 });
  });
  it('reads a 2-byte length and the encrypted flag', () => {
    const b = cat(hex('80 81 00'), new Uint8Array(0x100 - 3));
    const v = ok(readFastPathHeader(b, 0, b.length));
    expect(v).toMatchObject({ length: 0x100, headerLength: 3, encrypted: true, bodyOff: 3 });
    expectIncompleteAtEveryCut(readFastPathHeader, b);
  });
  it('rejects a length below its own header, or a TPKT', () => {
    expect(readFastPathHeader(hex('00 02'), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', at: 1 });
    expect(readFastPathHeader(hex('03 00 00 08'), 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
  it('cuts a stream into slow-path and fast-path frames', () => {
    const s = cat(hex('03 00 00 08 02 f0 80 28'), hex('44 04 01 02'), hex('03 00 00 09 02 f0 80 21 80'));
    const a = ok(readFrame(s, 0, s.length));
    const b = ok(readFrame(s, a.end, s.length));
    const c = ok(readFrame(s, b.end, s.length));
    expect([a.kind, b.kind, c.kind]).toEqual(['tpkt', 'fastpath', 'tpkt']);
    expect(c.end).toBe(s.length);
    expect(readFrame(s, 0, 0)).toMatchObject({ ok: false, kind: 'incomplete' });
    expect(readFrame(hex('17 03 03 00 10'), 0, 5)).toMatchObject({ ok: false, kind: 'malformed' });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(readFastPathHeader, [hex('80'), hex('44')]);
    expectSurvivesRandomBytes(readFrame, [hex('03 00'), hex('80')]);
  });
});
