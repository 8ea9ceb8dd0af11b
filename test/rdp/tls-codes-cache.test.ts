// cipherSuiteInfo's per-code cache: the same classification as the derivation, for every 16-bit
// code, shared and frozen.
import { describe, expect, it } from 'vitest';
import { CIPHER_SUITE_NAMES, cipherSuiteInfo, deriveCipherSuiteInfo } from '../../src/rdp/tls-codes.js';
import { plaintextRange, protectedRecordLength } from '../../src/rdp/tls.js';

describe('cipherSuiteInfo cache', () => {
  it('every code 0x0000..0xffff: cached (twice) equals derived', () => {
    let known = 0;
    for (let code = 0; code <= 0xffff; code++) {
      const want = deriveCipherSuiteInfo(code);
      const first = cipherSuiteInfo(code);
      const second = cipherSuiteInfo(code);
      if (want === null) {
        if (first !== null || second !== null) expect.fail(`0x${code.toString(16)}: cached is not null`);
        continue;
      }
      known++;
      expect(first).toEqual(want);
      expect(second).toBe(first);
    }
    const named = Object.values(CIPHER_SUITE_NAMES).filter((n) => !n.endsWith('_SCSV')).length;
    expect(known).toBe(named);
  });

  it('the shared result is frozen (a caller cannot change what the next one sees)', () => {
    const s = cipherSuiteInfo(0x0003)!;
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.insecureReasons)).toBe(true);
    expect(() => (s.insecureReasons as string[]).push('x')).toThrow(TypeError);
    expect(cipherSuiteInfo(0x0003)!.insecureReasons).toEqual(['RC4 (RFC 7465 prohibits it)', 'export-grade key exchange', 'MD5 MAC']);
  });

  it('derive returns a fresh object each call; the record arithmetic is unchanged by the cache', () => {
    expect(deriveCipherSuiteInfo(0xc030)).not.toBe(deriveCipherSuiteInfo(0xc030));
    // RFC 5246 6.2.3.3: AES-256-GCM adds an 8-byte explicit nonce and a 16-byte tag.
    expect(protectedRecordLength(100, 0xc030, 0x0303)).toBe(124);
    expect(protectedRecordLength(100, 0xc030, 0x0303)).toBe(124);
    // RFC 5246 6.2.3.2: AES-128-CBC-SHA in TLS 1.2, 48 bytes = 16 IV + 32; 32 - 20 MAC - 1 = 11 at most, one block of padding doubt.
    expect(plaintextRange(48, 0x002f, 0x0303)).toEqual({ min: 0, max: 11 });
    expect(plaintextRange(48, 0x002f, 0x0303)).toEqual({ min: 0, max: 11 });
  });
});
