import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credsspErrorMeaning, credsspErrorName, looksLikeTsRequest, readEarlyUserAuthResult, readTsRequest } from '../../src/rdp/credssp.js';

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// TSRequest vectors (CredSSP version 6, NTLM) as published in wallix/redemption
// tests/core/RDP/nla/test_nla.cpp (TestNlaserver): client NEGOTIATE, server CHALLENGE, server pubKeyAuth.
const NEGOTIATE = h(`30 37 a0 03 02 01 06 a1 30 30 2e 30 2c a0 2a 04 28 4e 54 4c 4d 53 53 50 00 01 00 00 00 b7 82 08
  e2 00 00 00 00 28 00 00 00 00 00 00 00 28 00 00 00 06 01 b1 1d 00 00 00 0f`);
const CHALLENGE = h(`30 81 88 a0 03 02 01 06 a1 81 80 30 7e 30 7c a0 7a 04 78 4e 54 4c 4d 53 53 50 00 02 00 00 00 00
  00 00 00 38 00 00 00 b7 82 08 e2 b8 6c da a6 f0 f6 30 8d 00 00 00 00 00 00 00 00 40 00 40 00 38
  00 00 00 06 01 b1 1d 00 00 00 0f 01 00 08 00 57 00 49 00 4e 00 37 00 02 00 08 00 57 00 49 00 4e
  00 37 00 03 00 08 00 77 00 69 00 6e 00 37 00 04 00 08 00 77 00 69 00 6e 00 37 00 07 00 08 00 67
  95 0e 5a 4e 56 76 d6 00 00 00 00`);
const PUBKEYAUTH = h(`30 29 a0 03 02 01 06 a3 22 04 20 01 00 00 00 a2 e0 5b 50 97 8e 99 27 00 00 00 00 dc a7 0b fe 37
  45 3d 1b 05 15 ce 56 0a 54 a1 f1`);

describe('readTsRequest (MS-CSSP 2.2.1)', () => {
  it('decodes a client NEGOTIATE TSRequest', () => {
    const r = readTsRequest(NEGOTIATE, 0, NEGOTIATE.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.consumed).toBe(57);
    expect(r.value.version).toBe(6);
    expect(r.value.negoTokens).toHaveLength(1);
    expect(r.value.negoTokens[0]!.off).toBe(17);
    expect(r.value.negoTokens[0]!.length).toBe(40);
    expect(r.value.negoTokens[0]!.token.name).toBe('NTLM NEGOTIATE');
    expect(r.value.negoTokens[0]!.token.label).toBe('1');
    expect(r.value.negoTokens[0]!.token.ntlm!.version).toEqual({ major: 6, minor: 1, build: 7601, ntlmRevision: 15 });
    expect(r.value.authInfo).toBeNull();
    expect(r.value.errorCode).toBeNull();
  });

  it('decodes a server CHALLENGE TSRequest with TargetInfo names', () => {
    const r = readTsRequest(CHALLENGE, 0, CHALLENGE.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const t = r.value.negoTokens[0]!.token;
    expect(t.name).toBe('NTLM CHALLENGE');
    expect(t.ntlm!.nbComputer).toBe('WIN7');
    expect(t.ntlm!.nbDomain).toBe('WIN7');
    expect(t.ntlm!.dnsComputer).toBe('win7');
    expect(t.ntlm!.dnsDomain).toBe('win7');
    expect(t.ntlm!.targetName).toBeNull();
  });

  it('decodes pubKeyAuth as a span, not a copy', () => {
    const r = readTsRequest(PUBKEYAUTH, 0, PUBKEYAUTH.length);
    expect(r.ok && r.value.pubKeyAuth).toEqual({ off: 11, length: 32 });
    expect(r.ok && r.value.negoTokens).toEqual([]);
  });

  it('decodes at an offset inside a larger buffer (absolute offsets)', () => {
    const buf = new Uint8Array(10 + PUBKEYAUTH.length + 3);
    buf.set(PUBKEYAUTH, 10);
    const r = readTsRequest(buf, 10, buf.length);
    expect(r.ok && r.consumed).toBe(43);
    expect(r.ok && r.value.pubKeyAuth).toEqual({ off: 21, length: 32 });
  });

  it('reads a 5-byte errorCode (00 C0 00 00 6D) as STATUS_LOGON_FAILURE', () => {
    const v = h('30 0c a0 03 02 01 06 a4 07 02 05 00 c0 00 00 6d');
    // outer length must cover the 14 bytes after it
    v[1] = v.length - 2;
    const r = readTsRequest(v, 0, v.length);
    expect(r.ok && r.value.errorCode).toBe(0xc000006d);
    expect(r.ok && r.value.errorName).toBe('STATUS_LOGON_FAILURE');
  });

  it('reads a 4-byte negative errorCode (C0 00 02 34) as STATUS_ACCOUNT_LOCKED_OUT', () => {
    const v = h('30 0d a0 03 02 01 05 a4 06 02 04 c0 00 02 34');
    v[1] = v.length - 2;
    const r = readTsRequest(v, 0, v.length);
    expect(r.ok && r.value.errorCode).toBe(0xc0000234);
    expect(r.ok && r.value.errorName).toBe('STATUS_ACCOUNT_LOCKED_OUT');
  });

  it('reads authInfo [2] and clientNonce [5]', () => {
    const nonce = '11'.repeat(32);
    const v = h(`30 00 a0 03 02 01 06 a2 06 04 04 de ad be ef a5 22 04 20 ${nonce}`);
    v[1] = v.length - 2;
    const r = readTsRequest(v, 0, v.length);
    expect(r.ok && r.value.authInfo).toEqual({ off: 11, length: 4 });
    expect(r.ok && r.value.clientNonce).toEqual({ off: 19, length: 32 });
  });

  it('is incomplete (never malformed) when cut anywhere', () => {
    for (let cut = 0; cut < CHALLENGE.length; cut++) {
      const r = readTsRequest(CHALLENGE, 0, cut);
      expect(r.ok, `cut ${cut}`).toBe(false);
      if (!r.ok) expect(r.kind, `cut ${cut}`).toBe('incomplete');
    }
  });

  it('rejects a missing version, fields out of order, wrong inner types', () => {
    const noVersion = h('30 06 a3 04 04 02 00 00');
    expect(readTsRequest(noVersion, 0, noVersion.length)).toMatchObject({ ok: false, kind: 'malformed', reason: 'TSRequest: version [0] missing' });
    const order = h('30 0a a0 03 02 01 06 a0 03 02 01 06');
    expect(readTsRequest(order, 0, order.length)).toMatchObject({ ok: false, kind: 'malformed', at: 7 });
    const badInt = h('30 05 a0 03 04 01 06');
    expect(readTsRequest(badInt, 0, badInt.length)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    const notSeq = h('31 05 a0 03 02 01 06');
    expect(readTsRequest(notSeq, 0, notSeq.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });

  it('looksLikeTsRequest', () => {
    expect(looksLikeTsRequest(NEGOTIATE, 0, NEGOTIATE.length)).toBe(true);
    expect(looksLikeTsRequest(CHALLENGE, 0, CHALLENGE.length)).toBe(true);
    expect(looksLikeTsRequest(h('16 03 01 00 10 01 00 00'), 0, 8)).toBe(false);
  });

  it('random bytes never throw and keep `at` in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, pad) => {
        const buf = new Uint8Array(pad + bytes.length);
        buf.set(bytes, pad);
        const r = readTsRequest(buf, pad, buf.length);
        if (!r.ok && r.kind === 'malformed') expect(r.at >= pad && r.at <= buf.length).toBe(true);
        if (r.ok) {
          expect(r.consumed).toBeLessThanOrEqual(bytes.length);
          for (const t of r.value.negoTokens) expect(t.off + t.length).toBeLessThanOrEqual(buf.length);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated real TSRequests never throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(NEGOTIATE, CHALLENGE, PUBKEYAUTH), fc.nat(200), fc.integer({ min: 0, max: 255 }), (base, i, v) => {
        const b = base.slice();
        b[i % b.length] = v;
        const r = readTsRequest(b, 0, b.length);
        if (!r.ok && r.kind === 'malformed') expect(r.at >= 0 && r.at <= b.length).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('errorCode names (MS-ERREF)', () => {
  it.each([
    [0xc000006d, 'STATUS_LOGON_FAILURE'],
    [0xc000006e, 'STATUS_ACCOUNT_RESTRICTION'],
    [0xc0000071, 'STATUS_PASSWORD_EXPIRED'],
    [0xc0000072, 'STATUS_ACCOUNT_DISABLED'],
    [0xc0000224, 'STATUS_PASSWORD_MUST_CHANGE'],
    [0xc000005e, 'STATUS_NO_LOGON_SERVERS'],
    [0xc0000133, 'STATUS_TIME_DIFFERENCE_AT_DC'],
    [0xc000006a, 'STATUS_WRONG_PASSWORD'],
    [0xc0000064, 'STATUS_NO_SUCH_USER'],
    [0xc000015b, 'STATUS_LOGON_TYPE_NOT_GRANTED'],
    [0xc0000022, 'STATUS_ACCESS_DENIED'],
    [0xc000000d, 'STATUS_INVALID_PARAMETER'],
    [0x8009030c, 'SEC_E_LOGON_DENIED'],
    [0x80090302, 'SEC_E_UNSUPPORTED_FUNCTION'],
    [0x8009030e, 'SEC_E_NO_CREDENTIALS'],
    [0x80090322, 'SEC_E_WRONG_PRINCIPAL'],
    [0x80090311, 'SEC_E_NO_AUTHENTICATING_AUTHORITY'],
    [0x80090324, 'SEC_E_TIME_SKEW'],
  ])('0x%s', (code, name) => {
    expect(credsspErrorName(code)).toBe(name);
    expect(credsspErrorName(code | 0)).toBe(name); // signed form too
  });
  it('unknown codes keep their value', () => {
    expect(credsspErrorName(0xc0001234)).toBe('unknown (0xc0001234)');
  });
});

describe('Early User Authorization Result (MS-RDPBCGR 2.2.10.2)', () => {
  it('AUTHZ_SUCCESS and AUTHZ_ACCESS_DENIED', () => {
    expect(readEarlyUserAuthResult(h('00000000'), 0, 4)).toEqual({ ok: true, value: { result: 0, name: 'AUTHZ_SUCCESS' }, consumed: 4 });
    expect(readEarlyUserAuthResult(h('05000000'), 0, 4)).toEqual({ ok: true, value: { result: 5, name: 'AUTHZ_ACCESS_DENIED' }, consumed: 4 });
    expect(readEarlyUserAuthResult(h('01000080'), 0, 4)).toMatchObject({ ok: true, value: { result: 0x80000001, name: 'unknown (0x80000001)' } });
  });
  it('incomplete below 4 bytes', () => {
    for (let n = 0; n < 4; n++) expect(readEarlyUserAuthResult(h('05000000'), 0, n)).toEqual({ ok: false, kind: 'incomplete', needed: 4 - n });
  });
});

describe('credsspErrorMeaning', () => {
  it('says what the logon statuses of the issue mean, and nothing for an unknown code', () => {
    expect(credsspErrorMeaning(0xc000006d)).toBe('the user name or the password is wrong');
    expect(credsspErrorMeaning(0xc000006e)).toContain('account restriction');
    expect(credsspErrorMeaning(0xc0000071)).toBe('the password has expired');
    expect(credsspErrorMeaning(0xc0000234)).toBe('the account is locked out');
    expect(credsspErrorMeaning(0x80090302)).toContain('NTLM refused');
    // A negative INTEGER as BER decodes it (-1073741715) is the same code.
    expect(credsspErrorMeaning(-1073741715)).toBe('the user name or the password is wrong');
    expect(credsspErrorMeaning(0x12345678)).toBeNull();
  });
});
