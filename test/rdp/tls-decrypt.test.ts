// TLS record decryption (src/rdp/tls-decrypt.ts): published vectors for the PRF and the TLS 1.3
// key schedule, then real sessions (node:tls on both ends, its 'keylog' event giving the NSS key
// log) decrypted with our code and compared with the bytes the applications wrote.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { recordTlsSession, type TlsSessionResult } from '../../fixtures/lib/tls-session.js';
import { KeyLog, clientRandomKey } from '../../src/rdp/keylog.js';
import { parseClientHello, parseServerHello, readTlsRecord } from '../../src/rdp/tls.js';
import { decryptRecord, encryptRecord, suiteParams, tls12Keys, tls12Prf, tls13Keys, type RecordKeys } from '../../src/rdp/tls-decrypt.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('TLS 1.2 PRF (RFC 5246 5)', () => {
  it('P_SHA256 matches the published test vector', () => {
    // The TLS 1.2 PRF vector from the IETF TLS working group (secret, seed, "test label", 100 bytes).
    const out = tls12Prf('sha256', hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    expect(out.subarray(0, 32).toString('hex')).toBe('e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a');
    expect(out.length).toBe(100);
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
        if (!p.tls13) keys = tls12Keys(p, log.master.get(crk)!, ch.value.random, sh.value.random, etm)[dir === 'c2s' ? 'client' : 'server'];
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
  const cases: { name: string; max: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string; suite: number; etm?: boolean }[] = [
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
        server: { cert: 'selfsigned', maxVersion: c.max, ...(c.ciphers ? { ciphers: c.ciphers } : {}) },
        client: { maxVersion: c.max, ...(c.ciphers ? { ciphers: c.ciphers } : {}) },
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
      expect(d.ems).toBe(c.max === 'TLSv1.2');
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
