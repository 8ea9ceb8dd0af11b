// TLS record decryption (src/rdp/tls-decrypt.ts): published vectors for the PRF and the TLS 1.3
// key schedule, then real sessions (node:tls on both ends, its 'keylog' event giving the NSS key
// log) decrypted with our code and compared with the bytes the applications wrote.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { recordTlsSession, type TlsSessionResult } from '../../fixtures/lib/tls-session.js';
import { KeyLog, clientRandomKey } from '../../src/rdp/keylog.js';
import { parseClientHello, parseServerHello, readTlsRecord } from '../../src/rdp/tls.js';
import { decryptRecord, encryptRecord, suiteParams, tls10Prf, tls12Keys, tls12Prf, tls13Keys, type RecordKeys } from '../../src/rdp/tls-decrypt.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('TLS 1.2 PRF (RFC 5246 5)', () => {
  it('P_SHA256 matches the published test vector', () => {
    // The TLS 1.2 PRF vector from the IETF TLS working group (secret, seed, "test label", 100 bytes).
    const out = tls12Prf('sha256', hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    expect(out.subarray(0, 32).toString('hex')).toBe('e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a');
    expect(out.length).toBe(100);
  });
});

describe('TLS 1.0 / 1.1 PRF (RFC 2246 5): P_MD5 xor P_SHA-1 over the halves of the secret', () => {
  // Expected bytes from OpenSSL's TLS1-PRF (`openssl kdf -kdfopt digest:MD5-SHA1 ... TLS1-PRF`).
  it('matches OpenSSL on the "PRF Testvector" (48-byte secret of 0xab, 64-byte seed of 0xcd)', () => {
    const out = tls10Prf(Buffer.alloc(48, 0xab), 'PRF Testvector', Buffer.alloc(64, 0xcd), 104);
    expect(out.toString('hex')).toBe(
      'd3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754443bcf9a296519bc289abcbc1187e4ebd31e602353776c408aafb74cbc85eff69255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f1afbc655a8c9a013',
    );
  });
  it('shares the middle byte of an odd-length secret between the halves', () => {
    const secret = Buffer.concat([Buffer.from('0102030405'.repeat(9), 'hex'), Buffer.from('010203', 'hex')]);
    const out = tls10Prf(secret, 'key expansion', Buffer.concat([Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)]), 40);
    expect(out.toString('hex')).toBe('23f5576c838fe5e9c932df4a07c2ee5ec4f77712975774e7f2faef1295a41019f13767529ca3bb85');
  });
});

describe('TLS 1.0 / 1.1 CBC records (RFC 2246 6.2.3.2, RFC 4346 6.2.3.2)', () => {
  const p = suiteParams(0xc014)!;
  const master = Buffer.alloc(48, 7);
  const cr = Buffer.alloc(32, 1);
  const sr = Buffer.alloc(32, 2);
  it('TLS 1.0: the key block holds the first IV, each record chains the next (its last ciphertext block)', () => {
    const enc = tls12Keys(p, master, cr, sr, false, 0x0301).client;
    const dec = tls12Keys(p, master, cr, sr, false, 0x0301).client;
    expect(enc.chainedIv).toBe(true);
    expect(enc.iv.length).toBe(16);
    const msgs = ['first', 'a second, longer record of the same direction', 'third'].map((t) => Buffer.from(t));
    const recs = msgs.map((m, i) => encryptRecord(enc, i, 23, 0x0301, m));
    // No explicit IV: the records are whole blocks of MAC'd, padded plaintext (5 + 20 MAC + pad = 32).
    expect(recs[0]!.length).toBe(32);
    recs.forEach((r, i) => {
      const d = decryptRecord(dec, i, 23, 0x0301, r, 0, r.length);
      expect(d.ok && d.value.plaintext.equals(msgs[i]!)).toBe(true);
      expect(dec.iv.equals(r.subarray(r.length - 16))).toBe(true);
    });
    // Out of order (the IV chain broken): the record does not decrypt.
    const fresh = tls12Keys(p, master, cr, sr, false, 0x0301).client;
    expect(decryptRecord(fresh, 1, 23, 0x0301, recs[1]!, 0, recs[1]!.length).ok).toBe(false);
  });
  it('TLS 1.1: explicit IVs, and keys from the TLS 1.0 PRF (not TLS 1.2\'s)', () => {
    const k11 = tls12Keys(p, master, cr, sr, false, 0x0302).server;
    const k12 = tls12Keys(p, master, cr, sr, false, 0x0303).server;
    expect(k11.chainedIv).toBeUndefined();
    expect(k11.iv.length).toBe(0);
    expect(k11.key.equals(k12.key)).toBe(false);
    const pt = Buffer.from('TSRequest bytes');
    const ct = encryptRecord(k11, 3, 23, 0x0302, pt, Buffer.alloc(16, 0x5a));
    expect(ct.subarray(0, 16).equals(Buffer.alloc(16, 0x5a))).toBe(true);
    const d = decryptRecord(k11, 3, 23, 0x0302, ct, 0, ct.length);
    expect(d.ok && d.value.plaintext.equals(pt)).toBe(true);
    expect(decryptRecord(k12, 3, 23, 0x0302, ct, 0, ct.length).ok).toBe(false);
  });
});

describe('TLS 1.3 traffic keys (RFC 8446 7.3, RFC 8448 3)', () => {
  it('derives the server handshake write key and IV of RFC 8448', () => {
    const k = tls13Keys(suiteParams(0x1301)!, hex('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38'));
    expect(k.key.toString('hex')).toBe('3fce516009c21727d0f2e4e86ee403bc');
    expect(k.iv.toString('hex')).toBe('5d313eb2671276ee13000b30');
  });
});

describe('decryptRecord round trips and rejects', () => {
  const suites = [0xc030, 0xc02f, 0xcca8, 0xc014, 0xc028, 0x1301, 0x1302, 0x1303];
  const master = Buffer.alloc(48, 7);
  const cr = Buffer.alloc(32, 1);
  const sr = Buffer.alloc(32, 2);
  for (const suite of suites) {
    for (const etm of suiteParams(suite)!.mac !== null ? [false, true] : [false]) {
      it(`suite 0x${suite.toString(16)}${etm ? ' (encrypt-then-MAC)' : ''}`, () => {
        const p = suiteParams(suite)!;
        const k: RecordKeys = p.tls13 ? tls13Keys(p, Buffer.alloc(p.prf === 'sha384' ? 48 : 32, 9)) : tls12Keys(p, master, cr, sr, etm).client;
        const pt = Buffer.from('TSRequest bytes would be here');
        const ct = encryptRecord(k, 5, 23, 0x0303, pt);
        const r = decryptRecord(k, 5, 23, 0x0303, ct, 0, ct.length);
        expect(r.ok && r.value.plaintext.equals(pt) && r.value.contentType === 23).toBe(true);
        // The wrong sequence number (a lost record) or a flipped bit does not authenticate.
        const w = decryptRecord(k, 6, 23, 0x0303, ct, 0, ct.length);
        expect(w.ok).toBe(false);
        const bad = Buffer.from(ct);
        bad[bad.length - 1]! ^= 1;
        const b = decryptRecord(k, 5, 23, 0x0303, bad, 0, bad.length);
        expect(b).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
        // Cut short: malformed, never a throw.
        for (const n of [0, 1, 8, 16, 17, 31]) expect(decryptRecord(k, 5, 23, 0x0303, ct, 0, Math.min(n, ct.length)).ok).toBe(false);
      });
    }
  }

  it('never throws on hostile records', () => {
    const ks = suites.map((s) => {
      const p = suiteParams(s)!;
      return p.tls13 ? tls13Keys(p, Buffer.alloc(32, 3)) : tls12Keys(p, master, cr, sr, false).server;
    });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: ks.length - 1 }), fc.nat(), (bytes, i, seq) => {
        const r = decryptRecord(ks[i]!, seq, 23, 0x0303, bytes, 0, bytes.length);
        return r.ok === false;
      }),
      { numRuns: 300 },
    );
  });
});

/** Decrypts a recorded real session's application records with our code; returns each side's plaintext. */
export function decryptSession(s: TlsSessionResult, log: KeyLog): { client: Buffer; server: Buffer; failures: number; ems: boolean; etm: boolean } {
  const streams = {
    c2s: Buffer.concat(s.chunks.filter((c) => c.dir === 'c2s').map((c) => c.data)),
    s2c: Buffer.concat(s.chunks.filter((c) => c.dir === 's2c').map((c) => c.data)),
  };
  // ClientHello / ServerHello from the first records.
  const first = (b: Buffer): Buffer => {
    const r = readTlsRecord(b, 0, b.length);
    if (!r.ok) throw new Error('no record');
    return b.subarray(r.value.fragmentOff + 4, r.value.end);
  };
  const ch = parseClientHello(first(streams.c2s), 0, first(streams.c2s).length);
  const sh = parseServerHello(first(streams.s2c), 0, first(streams.s2c).length);
  if (!ch.ok || !sh.ok) throw new Error('hello');
  const p = suiteParams(sh.value.cipherSuite)!;
  const crk = clientRandomKey(ch.value.random);
  const etm = sh.value.extensions.some((e) => e.type === 22);
  // RFC 7627 extended_master_secret (23) and RFC 7366 encrypt_then_mac (22) as the server agreed.
  const out = { client: Buffer.alloc(0), server: Buffer.alloc(0), failures: 0, ems: sh.value.extensions.some((e) => e.type === 23), etm };
  for (const dir of ['c2s', 's2c'] as const) {
    const b = streams[dir];
    let keys: RecordKeys | null = null;
    let seq = 0;
    let phase = 0; // TLS 1.3: 0 handshake keys, 1 application keys
    const t13 = log.tls13.get(crk);
    if (p.tls13) keys = tls13Keys(p, dir === 'c2s' ? t13!.clientHandshake! : t13!.serverHandshake!);
    for (let o = 0; o < b.length; ) {
      const r = readTlsRecord(b, o, b.length);
      if (!r.ok) break;
      o += r.consumed;
      const v = r.value;
      if (v.contentType === 20) {
        if (!p.tls13) keys = tls12Keys(p, log.master.get(crk)!, ch.value.random, sh.value.random, etm, sh.value.version)[dir === 'c2s' ? 'client' : 'server'];
        continue;
      }
      if (keys === null || (p.tls13 && v.contentType !== 23)) continue;
      const d = decryptRecord(keys, seq++, v.contentType, v.version, b, v.fragmentOff, v.end);
      if (!d.ok) {
        out.failures++;
        continue;
      }
      if (p.tls13 && d.value.contentType === 22 && phase === 0 && d.value.plaintext.includes(Buffer.from([20, 0, 0]))) {
        // Finished (RFC 8446 4.4.4) ends the handshake keys.
        if (d.value.plaintext[d.value.plaintext.length - (p.prf === 'sha384' ? 52 : 36)] === 20) {
          phase = 1;
          seq = 0;
          keys = tls13Keys(p, dir === 'c2s' ? t13!.clientTraffic0! : t13!.serverTraffic0!);
        }
        continue;
      }
      if (d.value.contentType === 23) out[dir === 'c2s' ? 'client' : 'server'] = Buffer.concat([out[dir === 'c2s' ? 'client' : 'server'], d.value.plaintext]);
    }
  }
  return out;
}

describe('real sessions (node:tls, key log from its keylog event)', () => {
  const cases: { name: string; max: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; ciphers?: string; suite: number; etm?: boolean }[] = [
    { name: 'TLS 1.0 ECDHE-RSA-AES256-SHA (implicit, chained CBC IVs)', max: 'TLSv1', ciphers: 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0', suite: 0xc014 },
    { name: 'TLS 1.1 ECDHE-RSA-AES128-SHA (explicit CBC IVs)', max: 'TLSv1.1', ciphers: 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0', suite: 0xc013 },
    { name: 'ECDHE-RSA-AES256-GCM-SHA384 with EMS', max: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384', suite: 0xc030 },
    { name: 'ECDHE-RSA-AES128-GCM-SHA256', max: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', suite: 0xc02f },
    { name: 'ECDHE-RSA-CHACHA20-POLY1305', max: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', suite: 0xcca8 },
    { name: 'ECDHE-RSA-AES256-SHA (CBC, encrypt-then-MAC)', max: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA', suite: 0xc014, etm: true },
    { name: 'ECDHE-RSA-AES128-SHA256 (CBC)', max: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256', suite: 0xc027 },
    { name: 'TLS 1.3 AES-256-GCM', max: 'TLSv1.3', suite: 0x1302 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const fromClient = Buffer.from('0\x82client says hello to the server');
      const fromServer = Buffer.from('0\x82server answers the client');
      const s = await recordTlsSession({
        server: { cert: 'selfsigned', maxVersion: c.max, ...(c.max < 'TLSv1.2' ? { minVersion: c.max } : {}), ...(c.ciphers ? { ciphers: c.ciphers } : {}) },
        client: { maxVersion: c.max, ...(c.max < 'TLSv1.2' ? { minVersion: c.max } : {}), ...(c.ciphers ? { ciphers: c.ciphers } : {}) },
        steps: [
          { from: 'client', data: fromClient },
          { from: 'server', data: fromServer },
          { close: 'client', how: 'end' },
        ],
      });
      expect(s.established).toBe(true);
      const log = new KeyLog();
      log.add(s.keylog, 'node keylog');
      expect(log.problems).toEqual([]);
      const d = decryptSession(s, log);
      expect(d.failures).toBe(0);
      expect(d.ems).toBe(c.max !== 'TLSv1.3');
      if (c.etm) expect(d.etm).toBe(true);
      expect(d.client.toString('latin1')).toBe(fromClient.toString('latin1'));
      expect(d.server.toString('latin1').startsWith(fromServer.toString('latin1'))).toBe(true);
      // A wrong secret for this session's client random: every record fails to authenticate.
      const wrong = new KeyLog();
      wrong.add(s.keylog.replace(/ ([0-9a-f]+)$/gm, (_m, h: string) => ` ${'cd'.repeat(h.length / 2)}`), 'wrong');
      const w = decryptSession(s, wrong);
      expect(w.failures).toBeGreaterThan(0);
      expect(w.client.length + w.server.length).toBe(0);
    });
  }
});
