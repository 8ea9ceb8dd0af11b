import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifyNegoToken, isNtlmssp, readKrbError, readNtlmMessage } from '../../src/rdp/ntlm.js';

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const utf16 = (s: string) => Buffer.from(s, 'utf16le').toString('hex');

// NTLM AUTHENTICATE (MS-NLMP 2.2.1.3) from wallix/redemption tests/core/RDP/nla/test_nla.cpp:
// domain "Ithaque", user "Ulysse", workstation "Télémaque" (UTF-16LE), version 6.1.7601.
const AUTHENTICATE = h(`4e 54 4c 4d 53 53 50 00 03 00 00 00 18 00 18 00 58 00 00
  00 70 00 70 00 70 00 00 00 0e 00 0e 00 e0 00 00
  00 0c 00 0c 00 ee 00 00 00 12 00 12 00 fa 00 00
  00 10 00 10 00 0c 01 00 00 35 a2 88 e2 06 01 b1
  1d 00 00 00 0f 2e 5b e2 1f 57 20 79 a8 5c 70 2d
  3d b6 46 81 9a 34 be b5 6e ce ec 0a 50 2d 29 63
  7f cc 5e e7 18 b8 6c da a6 f0 f6 30 8d a6 41 cc
  7a 52 8e 7a b3 06 7d 0b e0 00 d5 f6 13 01 01 00
  00 00 00 00 00 67 95 0e 5a 4e 56 76 d6 b8 6c da
  a6 f0 f6 30 8d 00 00 00 00 01 00 08 00 57 00 49
  00 4e 00 37 00 02 00 08 00 57 00 49 00 4e 00 37
  00 03 00 08 00 77 00 69 00 6e 00 37 00 04 00 08
  00 77 00 69 00 6e 00 37 00 07 00 08 00 67 95 0e
  5a 4e 56 76 d6 00 00 00 00 00 00 00 00 49 00 74
  00 68 00 61 00 71 00 75 00 65 00 55 00 6c 00 79
  00 73 00 73 00 65 00 54 00 e9 00 6c 00 e9 00 6d
  00 61 00 71 00 75 00 65 00 44 bc 4d 7a 13 3f 6b
  81 db 1d 2b 7b bf 1e 18 0f`);

describe('readNtlmMessage (MS-NLMP 2.2.1)', () => {
  it('AUTHENTICATE: domain, user, workstation, version', () => {
    const r = readNtlmMessage(AUTHENTICATE, 0, AUTHENTICATE.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ messageType: 3, messageName: 'AUTHENTICATE', domain: 'Ithaque', user: 'Ulysse', workstation: 'Télémaque', negotiateFlags: 0xe288a235 });
    expect(r.value.version).toEqual({ major: 6, minor: 1, build: 7601, ntlmRevision: 15 });
    expect(r.value.problems).toEqual([]);
  });

  it('NEGOTIATE with OEM domain and workstation supplied', () => {
    // flags: OEM_DOMAIN_SUPPLIED | OEM_WORKSTATION_SUPPLIED | OEM (0x3002); domain "CORP" at 32, workstation "PC1" at 36.
    const v = h(`4e544c4d53535000 01000000 02300000 0400 0400 20000000 0300 0300 24000000 434f5250 504331`);
    const r = readNtlmMessage(v, 0, v.length);
    expect(r.ok && r.value).toMatchObject({ messageType: 1, domain: 'CORP', workstation: 'PC1', version: null });
  });

  it('CHALLENGE with a Unicode TargetName', () => {
    const name = utf16('CORP');
    const v = h(`4e544c4d53535000 02000000 0800 0800 30000000 01000000 1122334455667788 0000000000000000 0000 0000 00000000 ${name}`);
    const r = readNtlmMessage(v, 0, v.length);
    expect(r.ok && r.value).toMatchObject({ messageType: 2, targetName: 'CORP', negotiateFlags: 1 });
  });

  it('a field pointing outside the message is dropped and reported, not read', () => {
    const v = AUTHENTICATE.slice();
    v[0x28] = 0xff; // UserName BufferOffset far away
    v[0x29] = 0xff;
    const r = readNtlmMessage(v, 0, v.length);
    expect(r.ok && r.value.user).toBeNull();
    expect(r.ok && r.value.problems[0]).toMatch(/^UserName \(12 bytes at offset 65535\) lies outside the message$/);
  });

  it('incomplete below the fixed header, malformed without the signature', () => {
    expect(readNtlmMessage(AUTHENTICATE, 0, 40)).toEqual({ ok: false, kind: 'incomplete', needed: 24 });
    expect(readNtlmMessage(AUTHENTICATE, 0, 5)).toEqual({ ok: false, kind: 'incomplete', needed: 7 });
    expect(readNtlmMessage(h('4e544c4d5353'), 0, 6)).toMatchObject({ ok: false, kind: 'incomplete' });
    expect(readNtlmMessage(h('4e544c4d53535001 01000000'), 0, 12)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(isNtlmssp(AUTHENTICATE, 0, AUTHENTICATE.length)).toBe(true);
  });

  it('random bytes after the signature never throw; strings stay bounded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 3 }), (tail, type) => {
        const v = new Uint8Array(12 + tail.length);
        v.set(h('4e544c4d53535000'), 0);
        v[8] = type;
        v.set(tail, 12);
        const r = readNtlmMessage(v, 0, v.length);
        if (r.ok) for (const s of [r.value.domain, r.value.user, r.value.workstation, r.value.targetName]) expect((s ?? '').length).toBeLessThanOrEqual(512);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('identifyNegoToken', () => {
  it('names bare NTLM messages', () => {
    expect(identifyNegoToken(AUTHENTICATE, 0, AUTHENTICATE.length)).toMatchObject({ kind: 'ntlm', name: 'NTLM AUTHENTICATE', label: '3' });
  });
  it('SPNEGO negTokenInit (0x60 + 1.3.6.1.5.5.2) with NTLM inside', () => {
    const ntlm = '4e544c4d53535000 01000000 07820860';
    const v = h(`60 1c 06 06 2b 06 01 05 05 02 a0 12 30 10 a2 0e 04 0c ${ntlm}`);
    expect(identifyNegoToken(v, 0, v.length)).toMatchObject({ kind: 'spnego', name: 'SPNEGO negTokenInit (NTLM NEGOTIATE)', label: '1' });
  });
  it('SPNEGO negTokenResp (0xa1)', () => {
    const v = h('a1 07 30 05 a0 03 0a 01 00');
    expect(identifyNegoToken(v, 0, v.length)).toMatchObject({ kind: 'spnego', name: 'SPNEGO negTokenResp', label: 'spnego' });
  });
  it('Kerberos GSS-API AP-REQ (1.2.840.113554.1.2.2, TOK_ID 01 00) and MS OID AP-REP', () => {
    const req = h('60 0f 06 09 2a 86 48 86 f7 12 01 02 02 01 00 6e 00');
    expect(identifyNegoToken(req, 0, req.length)).toMatchObject({ kind: 'kerberos', name: 'Kerberos AP-REQ', label: 'kerberos' });
    const rep = h('60 0f 06 09 2a 86 48 82 f7 12 01 02 02 02 00 6f 00');
    expect(identifyNegoToken(rep, 0, rep.length)).toMatchObject({ kind: 'kerberos', name: 'Kerberos AP-REP' });
  });
  it('raw Kerberos KRB-ERROR and PKU2U', () => {
    expect(identifyNegoToken(h('7e 03 30 01 00'), 0, 5)).toMatchObject({ kind: 'kerberos', name: 'Kerberos KRB-ERROR' });
    const p = h('60 0a 06 06 2b 06 01 05 02 07 01 00');
    expect(identifyNegoToken(p, 0, p.length)).toMatchObject({ kind: 'pku2u' });
  });
  it('unknown', () => {
    expect(identifyNegoToken(h('00 01 02'), 0, 3)).toMatchObject({ kind: 'unknown', label: 'unknown' });
    expect(identifyNegoToken(h(''), 0, 0)).toMatchObject({ kind: 'unknown' });
  });
  it('random tokens never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x60, 0xa0, 0xa1, 0x4e, 0x6e), (b, first) => {
        const v = new Uint8Array(b.length + 1);
        v[0] = first;
        v.set(b, 1);
        const t = identifyNegoToken(v, 0, v.length);
        expect(typeof t.name).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Kerberos KRB-ERROR (RFC 4120 5.9.1) in negoTokens', () => {
  const der = (tag: number, ...content: Buffer[]): Buffer => {
    const c = Buffer.concat(content);
    const len = c.length < 0x80 ? Buffer.of(c.length) : Buffer.of(0x81, c.length);
    return Buffer.concat([Buffer.of(tag), len, c]);
  };
  const int = (v: number): Buffer => der(0x02, Buffer.of(v));
  // pvno 5, msg-type 30, stime, susec, error-code 24 (KDC_ERR_PREAUTH_FAILED), realm, sname.
  const krbError = der(
    0x7e,
    der(
      0x30,
      der(0xa0, int(5)),
      der(0xa1, int(30)),
      der(0xa4, der(0x18, Buffer.from('20260310090000Z'))),
      der(0xa5, int(0)),
      der(0xa6, int(24)),
      der(0xa9, der(0x1b, Buffer.from('CORP.EXAMPLE'))),
      der(0xaa, der(0x30, der(0xa0, int(2)), der(0xa1, der(0x30, der(0x1b, Buffer.from('TERMSRV')))))),
    ),
  );
  const krb5Oid = Buffer.from('06092a864886f712010202', 'hex');

  it('reads the error-code of a bare KRB-ERROR', () => {
    expect(readKrbError(krbError, 0, krbError.length)).toEqual({ code: 24, name: 'KDC_ERR_PREAUTH_FAILED' });
    const t = identifyNegoToken(krbError, 0, krbError.length);
    expect(t).toMatchObject({ kind: 'kerberos', name: 'Kerberos KRB-ERROR', krbError: { code: 24 } });
  });

  it('finds it in a GSS-API token and inside a SPNEGO negTokenResp', () => {
    const gss = der(0x60, krb5Oid, Buffer.of(0x03, 0x00), krbError);
    expect(identifyNegoToken(gss, 0, gss.length)).toMatchObject({ name: 'Kerberos KRB-ERROR', krbError: { code: 24, name: 'KDC_ERR_PREAUTH_FAILED' } });
    // negTokenResp { negState reject (2), responseToken }.
    const resp = der(0xa1, der(0x30, der(0xa0, der(0x0a, Buffer.of(2))), der(0xa2, der(0x04, gss))));
    expect(identifyNegoToken(resp, 0, resp.length)).toMatchObject({ kind: 'spnego', name: 'SPNEGO negTokenResp', krbError: { code: 24 } });
  });

  it('an unknown code keeps its number; cut or wrong bytes give null, never a throw', () => {
    const odd = Buffer.from(krbError);
    odd[odd.indexOf(Buffer.from([0xa6, 0x03, 0x02, 0x01, 24])) + 4] = 99;
    expect(readKrbError(odd, 0, odd.length)).toEqual({ code: 99, name: 'unknown (99)' });
    for (let n = 0; n < krbError.length; n++) expect(readKrbError(krbError, 0, n)).toBeNull();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        identifyNegoToken(b, 0, b.length);
        return readKrbError(b, 0, b.length) === null || b[0] === 0x7e;
      }),
      { numRuns: 2000 },
    );
  });
});
