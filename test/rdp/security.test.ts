import { describe, expect, it } from 'vitest';
import {
  SEC_ENCRYPT,
  SEC_EXCHANGE_PKT,
  SEC_INFO_PKT,
  SEC_LICENSE_PKT,
  SECURITY_FLAGS,
  classifySendData,
  decodeClientInfo,
  decodeSecurityExchange,
  readSecurityHeader,
} from '../../src/rdp/security.js';
import { flagNames } from '../../src/rdp/codes.js';
import { cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, le16, le32, ok, utf16le } from './tpkt-helpers.js';

const random = Uint8Array.from({ length: 72 }, (_, i) => i);
const EXCHANGE = cat(le16(SEC_EXCHANGE_PKT), le16(0), le32(72), random);

function infoPacket(domain: string, user: string, password: string, flags = 0x10 | 0x40): Uint8Array {
  const str = (s: string): Uint8Array => cat(utf16le(s), [0, 0]);
  return cat(
    le16(SEC_INFO_PKT), le16(0),
    le32(0), le32(flags),
    le16(domain.length * 2), le16(user.length * 2), le16(password.length * 2), le16(0), le16(0),
    str(domain), str(user), str(password), str(''), str(''),
  );
}

describe('Basic Security Header (MS-RDPBCGR 2.2.8.1.1.2.1)', () => {
  it('reads flags and flagsHi, and names them', () => {
    expect(ok(readSecurityHeader(hex('48 00 00 00'), 0, 4))).toEqual({ flags: 0x48, flagsHi: 0 });
    expect(flagNames(SECURITY_FLAGS, 0x0048, 4)).toEqual(['SEC_ENCRYPT', 'SEC_INFO_PKT']);
    expect(flagNames(SECURITY_FLAGS, 0x8000 | 0x4000 | 0x0200, 4)).toEqual(['SEC_LICENSE_ENCRYPT', 'SEC_HEARTBEAT', 'SEC_FLAGSHI_VALID']);
    expectIncompleteAtEveryCut(readSecurityHeader, hex('48 00 00 00'));
  });
});

describe('classifySendData', () => {
  const c = (b: Uint8Array, h: boolean | 'auto') => ok(classifySendData(b, 0, b.length, h)).kind;
  it('classifies by security header flags', () => {
    expect(c(EXCHANGE, true)).toBe('security_exchange');
    expect(c(infoPacket('', 'u', ''), 'auto')).toBe('client_info');
    expect(c(hex('80 00 00 00 ff 03 10 00'), 'auto')).toBe('licensing');
    expect(c(hex('08 00 00 00 11 22 33 44 55 66 77 88'), true)).toBe('encrypted');
    expect(c(hex('00 40 00 00 00 00'), 'auto')).toBe('heartbeat');
    expect(c(hex('00 10 00 00 00 00'), 'auto')).toBe('autodetect');
    expect(c(hex('02 00 00 00 00 00'), 'auto')).toBe('multitransport');
    expect(c(hex('00 04 00 00 00 00'), 'auto')).toBe('redirection');
  });
  it('tells a Share Control PDU without a security header under TLS', () => {
    const share = cat(le16(22), le16(0x17), le16(1002), le32(0x103ea), [0, 1], le16(4), [47, 0], le16(0), le32(0x1));
    expect(c(share, 'auto')).toBe('share_control');
    expect(c(share, false)).toBe('share_control');
    expect(ok(classifySendData(share, 0, share.length, false)).bodyOff).toBe(0);
    // Standard RDP Security, level > NONE: header without SEC_ENCRYPT then share control
    expect(ok(classifySendData(cat(le16(0), le16(0), share), 0, share.length + 4, true))).toEqual({ kind: 'share_control', flags: 0, bodyOff: 4 });
  });
  it('survives random bytes in every mode', () => {
    for (const m of [true, false, 'auto'] as const) expectSurvivesRandomBytes((b, o, e) => classifySendData(b, o, e, m), [], 200);
  });
});

describe('Security Exchange PDU (MS-RDPBCGR 2.2.1.10)', () => {
  it('reads the encrypted client random extent', () => {
    const v = ok(decodeSecurityExchange(EXCHANGE, 0, EXCHANGE.length));
    expect(v).toEqual({ flags: SEC_EXCHANGE_PKT, length: 72, encryptedClientRandomOff: 8, end: 80 });
    expectIncompleteAtEveryCut(decodeSecurityExchange, EXCHANGE, 2);
  });
  it('rejects a header without SEC_EXCHANGE_PKT and an absurd length (no allocation)', () => {
    expect(decodeSecurityExchange(cat(le16(0), le16(0), le32(8), new Uint8Array(8)), 0, 16)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(decodeSecurityExchange(cat(le16(1), le16(0), le32(0x80000000)), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeSecurityExchange, [hex('01 00 00 00')]);
  });
});

describe('Client Info PDU (MS-RDPBCGR 2.2.1.11)', () => {
  it('decodes domain and user in the clear (under TLS), never the password', () => {
    const b = infoPacket('CONTOSO', 'alice', 'S3cret!');
    const v = ok(decodeClientInfo(b, 0, b.length));
    expect(v).toEqual({
      securityFlags: SEC_INFO_PKT,
      encrypted: false,
      codePage: 0,
      infoFlags: 0x50,
      domain: 'CONTOSO',
      userName: 'alice',
      cbPassword: 14,
      alternateShell: '',
      workingDir: '',
    });
    expect(JSON.stringify(v)).not.toContain('S3cret');
    expectIncompleteAtEveryCut(decodeClientInfo, b);
  });
  it('decodes ANSI strings when INFO_UNICODE is clear', () => {
    const b = cat(le16(SEC_INFO_PKT), le16(0), le32(0), le32(0), le16(2), le16(3), le16(0), le16(0), le16(0), [0x44, 0x4f, 0], [0x62, 0x6f, 0x62, 0], [0], [0], [0]);
    expect(ok(decodeClientInfo(b, 0, b.length))).toMatchObject({ domain: 'DO', userName: 'bob' });
  });
  it('only says "encrypted" under Standard RDP Security', () => {
    const b = cat(le16(SEC_INFO_PKT | SEC_ENCRYPT), le16(0), new Uint8Array(40));
    expect(ok(decodeClientInfo(b, 0, b.length))).toMatchObject({ encrypted: true, userName: null });
  });
  it('rejects a header without SEC_INFO_PKT and string lengths over 512', () => {
    expect(decodeClientInfo(cat(le16(SEC_LICENSE_PKT), le16(0)), 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    const b = cat(le16(SEC_INFO_PKT), le16(0), le32(0), le32(0x10), le16(0xfffe), le16(0), le16(0), le16(0), le16(0));
    expect(decodeClientInfo(b, 0, b.length)).toMatchObject({ ok: false, kind: 'malformed', at: 12 });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeClientInfo, [hex('40 00 00 00'), hex('40 00 00 00 00 00 00 00 10 00 00 00')]);
  });
});
