import { describe, expect, it } from 'vitest';
import { ERRINFO_CODES, errinfoClass, errinfoDescription, errinfoName } from '../../src/rdp/errinfo.js';

describe('ERRINFO table (MS-RDPBCGR 2.2.5.1.1)', () => {
  it('names the codes the diagnosis relies on', () => {
    expect(errinfoName(0x1)).toBe('ERRINFO_RPC_INITIATED_DISCONNECT');
    expect(errinfoName(0x3)).toBe('ERRINFO_IDLE_TIMEOUT');
    expect(errinfoName(0x4)).toBe('ERRINFO_LOGON_TIMEOUT');
    expect(errinfoName(0x5)).toBe('ERRINFO_DISCONNECTED_BY_OTHERCONNECTION');
    expect(errinfoName(0x6)).toBe('ERRINFO_OUT_OF_MEMORY');
    expect(errinfoName(0x7)).toBe('ERRINFO_SERVER_DENIED_CONNECTION');
    expect(errinfoName(0x9)).toBe('ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES');
    expect(errinfoName(0xa)).toBe('ERRINFO_SERVER_FRESH_CREDENTIALS_REQUIRED');
    expect(errinfoName(0xb)).toBe('ERRINFO_RPC_INITIATED_DISCONNECT_BYUSER');
    expect(errinfoName(0xc)).toBe('ERRINFO_LOGOFF_BY_USER');
    expect(errinfoName(0x10)).toBe('ERRINFO_SERVER_DWM_CRASH');
    expect(errinfoName(0x101)).toBe('ERRINFO_LICENSE_NO_LICENSE_SERVER');
    expect(errinfoName(0x102)).toBe('ERRINFO_LICENSE_NO_LICENSE');
    expect(errinfoName(0x400)).toBe('ERRINFO_CB_DESTINATION_NOT_FOUND');
    expect(errinfoName(0x10c9)).toBe('ERRINFO_UNKNOWNPDUTYPE2');
    expect(errinfoName(0x1191)).toBe('ERRINFO_UPDATESESSIONKEYFAILED');
    expect(errinfoName(0x1195)).toBe('ERRINFO_DECRYPTFAILED2');
  });
  it('covers every group of the specification', () => {
    expect(ERRINFO_CODES.length).toBeGreaterThanOrEqual(120);
    for (let c = 0x100; c <= 0x10a; c++) expect(ERRINFO_CODES).toContain(c);
    for (let c = 0x1111; c <= 0x1126; c++) expect(ERRINFO_CODES).toContain(c);
    for (let c = 0x1191; c <= 0x1195; c++) expect(ERRINFO_CODES).toContain(c);
  });
  it('gives every code a name, one plain sentence, and a class', () => {
    for (const c of ERRINFO_CODES) {
      expect(errinfoName(c)).toMatch(/^ERRINFO_[A-Z0-9_]+$/);
      const d = errinfoDescription(c);
      expect(d).toMatch(/^[A-Z].*\.$/);
      expect(d.split('. ').length).toBe(1);
      expect(['normal_end', 'denied', 'timeout', 'protocol_error', 'other']).toContain(errinfoClass(c));
    }
  });
  it('classifies', () => {
    expect([0xb, 0xc].map(errinfoClass)).toEqual(['normal_end', 'normal_end']);
    expect([0x7, 0x9, 0xa, 0x101, 0x102, 0x10a].map(errinfoClass)).toEqual(Array(6).fill('denied'));
    expect([0x3, 0x4].map(errinfoClass)).toEqual(['timeout', 'timeout']);
    expect([0x10c9, 0x10d4, 0x1126, 0x1192].map(errinfoClass)).toEqual(Array(4).fill('protocol_error'));
    expect([0x5, 0x10, 0x19].map(errinfoClass)).toEqual(['other', 'other', 'other']);
  });
  it('shows unknown codes instead of dropping them', () => {
    expect(errinfoName(0xdead)).toBe('unknown (0x0000dead)');
    expect(errinfoDescription(0xdead)).toMatch(/0x0000dead is not in MS-RDPBCGR/);
    expect(errinfoClass(0xdead)).toBe('other');
    expect(errinfoName(-1)).toBe('unknown (0xffffffff)');
  });
});
