// NTLMv2 and CredSSP pieces of the NLA logon (src/probe/nla.ts) against the published vectors:
// MD4 (RFC 1320 A.5), RC4 (RFC 6229, 40-bit key), NTLMv2 (MS-NLMP 4.2.4: User / Domain / Password).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rc4, authenticateMessage, challengeFields, clientKeys, md4, ntlmv2Response, ntowfv2, seal, subjectPublicKey } from '../../src/probe/nla.js';
import { readNtlmMessage } from '../../src/rdp/ntlm.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('MD4 (RFC 1320 A.5)', () => {
  it.each([
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ])('MD4("%s")', (input, digest) => {
    expect(hex(md4(Buffer.from(input, 'latin1')))).toBe(digest);
  });
});

describe('RC4', () => {
  it('RFC 6229: key 0102030405, first keystream bytes', () => {
    expect(hex(new Rc4(h('0102030405')).update(Buffer.alloc(8)))).toBe('b2396305f03dc027');
  });
  it('keeps its state across calls', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), fc.nat(64), (key, data, cut) => {
        const one = new Rc4(key).update(data);
        const r = new Rc4(key);
        const k = Math.min(cut, data.length);
        expect(Buffer.concat([r.update(data.subarray(0, k)), r.update(data.subarray(k))])).toEqual(one);
      }),
    );
  });
});

describe('NTLMv2 (MS-NLMP 4.2.4)', () => {
  const serverChallenge = h('0123456789abcdef');
  const clientChallenge = h('aaaaaaaaaaaaaaaa');
  const time = Buffer.alloc(8);
  const targetInfo = h('02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000');

  it('MD4 of the password, NTOWFv2', () => {
    expect(hex(md4(Buffer.from('Password', 'utf16le')))).toBe('a4f49c406510bdcab6824ee7c30fd852');
    expect(hex(ntowfv2('Password', 'User', 'Domain'))).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
  });

  it('NTProofStr, SessionBaseKey, the response (4.2.4.2.2)', () => {
    const r = ntlmv2Response(ntowfv2('Password', 'User', 'Domain'), serverChallenge, clientChallenge, time, targetInfo);
    expect(hex(r.ntProofStr)).toBe('68cd0ab851e51c96aabc927bebef6a1c');
    expect(hex(r.sessionBaseKey)).toBe('8de40ccadbc14a82f15cb0ad0de95ca3');
    expect(hex(r.ntChallengeResponse)).toBe(
      '68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000' +
        '02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000',
    );
  });

  it('the encrypted random session key (4.2.4.2.3) and the client keys', () => {
    const exported = Buffer.alloc(16, 0x55);
    expect(hex(new Rc4(h('8de40ccadbc14a82f15cb0ad0de95ca3')).update(exported))).toBe('c5dad2544fc9799094ce1ce90bc9d03e');
    const k = clientKeys(exported);
    expect(hex(k.sealing)).toBe('59f600973cc4960a25480a7c196e4c58');
    expect(hex(k.signing)).toBe('4788dc861b4782f35d43fd98fe1a2d39');
  });

  it('seal: RC4 of the message, then of the checksum, seqnum last (2.2.2.9.1)', () => {
    const k = clientKeys(Buffer.alloc(16, 0x55));
    const msg = Buffer.from('Plaintext', 'utf16le');
    const s = seal(new Rc4(k.sealing), k.signing, 0, msg);
    // MS-NLMP 4.2.4.4: sealed "Plaintext" and its signature with extended session security.
    expect(hex(s.sealed)).toBe('54e50165bf1936dc996020c1811b0f06fb5f');
    expect(hex(s.signature)).toBe('010000007fb38ec5c55d497600000000');
  });

  it('an AUTHENTICATE that our own decoder reads back, with the MIC flag in the AV pairs', () => {
    const challenge = Buffer.alloc(48 + targetInfo.length);
    challenge.write('NTLMSSP\0', 0, 'latin1');
    challenge.writeUInt32LE(2, 8);
    challenge.writeUInt32LE(0xe28a8235, 20);
    serverChallenge.copy(challenge, 24);
    challenge.writeUInt16LE(targetInfo.length, 40);
    challenge.writeUInt16LE(targetInfo.length, 42);
    challenge.writeUInt32LE(48, 44);
    targetInfo.copy(challenge, 48);
    const f = challengeFields(challenge)!;
    expect(hex(f.serverChallenge)).toBe('0123456789abcdef');
    const a = authenticateMessage({ user: 'User', domain: 'Domain', password: 'Password' }, Buffer.alloc(40), challenge, f, { clientChallenge, time, exportedSessionKey: Buffer.alloc(16, 0x55) });
    const m = readNtlmMessage(a.message, 0, a.message.length);
    expect(m.ok && m.value.messageName).toBe('AUTHENTICATE');
    expect(m.ok && m.value.user).toBe('User');
    expect(m.ok && m.value.domain).toBe('Domain');
    // MsvAvFlags = 2 (MIC present) before MsvAvEOL in the response's AV pairs.
    expect(a.message.includes(h('0600040002000000'))).toBe(true);
  });
});

describe('subjectPublicKey', () => {
  it('reads the BIT STRING of a SubjectPublicKeyInfo', () => {
    const spki = h('30 0d 30 05 06 03 2a 03 04 03 04 00 01 02 03');
    expect(hex(subjectPublicKey(spki)!)).toBe('010203');
  });
  it('never throws on hostile bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      subjectPublicKey(Buffer.from(b));
    }));
  });
});
