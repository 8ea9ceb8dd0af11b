// The parse cache of parseCertificateDetailed (by the DER's SHA-256) and the lazy node-forge load:
// a cached answer is the uncached answer, shared, frozen, and the cache stays bounded.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { certificateCacheSize, clearCertificateCache, parseCertificateDetailed, parseCertificateUncached } from '../../src/rdp/x509.js';
import { mintEcP256, mintRsa } from './x509-mint.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function fixtureDer(name: string): Uint8Array {
  const pem = readFileSync(path.join(repoRoot, 'fixtures/lib/certs', `${name}.cert.pem`), 'latin1');
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
}

/** A copy of the value as plain JSON (drops frozenness and identity). */
function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

describe('parseCertificateDetailed cache', () => {
  beforeEach(() => clearCertificateCache());

  const samples = (): [string, Uint8Array][] => {
    const rsa = mintRsa(1024, 'sha256', { subject: [{ name: 'commonName', value: 'cache.rdp.test' }], dns: ['cache.rdp.test'], ip: ['10.0.0.1'] });
    const cut = rsa.der.subarray(0, 200);
    const badSig = rsa.der.slice();
    badSig[badSig.length - 5]! ^= 0xff;
    return [
      ['RSA self-signed with SANs', rsa.der],
      ['EC P-256', mintEcP256('ec.cache.test', ['ec.cache.test']).der],
      ['512-bit md5WithRSA', mintRsa(512, 'md5').der],
      ['truncated at 200 bytes', cut],
      ['signature corrupted', badSig],
      ['garbage', new Uint8Array([0x30, 0x82, 0x01, 0x00, 9, 9, 9])],
      ['fixture selfsigned', fixtureDer('selfsigned')],
      ['fixture chain (CA-issued)', fixtureDer('chain')],
      ['fixture expired', fixtureDer('expired')],
    ];
  };

  it('the first and the cached answer equal the uncached parse, for every kind of certificate', () => {
    for (const [name, der] of samples()) {
      const want = plain(parseCertificateUncached(der));
      expect(plain(parseCertificateDetailed(der)), `${name}, first`).toEqual(want);
      expect(plain(parseCertificateDetailed(der)), `${name}, cached`).toEqual(want);
      expect(plain(parseCertificateDetailed(Buffer.from(der))), `${name}, same bytes in another buffer`).toEqual(want);
    }
    expect(certificateCacheSize()).toBe(samples().length);
  });

  it('a hit shares the frozen info; problems are the caller\'s own copy', () => {
    const der = mintRsa(1024, 'sha256').der.subarray(0, 300);
    const a = parseCertificateDetailed(der);
    const b = parseCertificateDetailed(der);
    expect(b.info).toBe(a.info);
    expect(Object.isFrozen(a.info)).toBe(true);
    expect(Object.isFrozen(a.info.san)).toBe(true);
    expect(a.problems.length).toBeGreaterThan(0);
    expect(b.problems).not.toBe(a.problems);
    a.problems.push('changed by the first caller');
    expect(parseCertificateDetailed(der).problems).toEqual(b.problems);
    expect(parseCertificateDetailed(der).problems).not.toContain('changed by the first caller');
  });

  it('different bytes never share an entry (one flipped signature bit changes selfSigned)', () => {
    const m = mintRsa(1024, 'sha256');
    const flipped = m.der.slice();
    flipped[flipped.length - 1]! ^= 0x01;
    expect(parseCertificateDetailed(m.der).info.selfSigned).toBe(true);
    expect(parseCertificateDetailed(flipped).info.selfSigned).toBe(false);
    expect(parseCertificateDetailed(m.der).info.selfSigned).toBe(true);
    expect(certificateCacheSize()).toBe(2);
  });

  it('two DERs of the same length and 32-bit FNV-1a hash (the cache key) each get their own answer', () => {
    const a = Uint8Array.from(Buffer.from('300640322e0b94a9', 'hex'));
    const b = Uint8Array.from(Buffer.from('3006883f3e48fecd', 'hex'));
    const wantA = plain(parseCertificateUncached(a));
    const wantB = plain(parseCertificateUncached(b));
    expect(wantA).not.toEqual(wantB);
    for (let k = 0; k < 3; k++) {
      expect(plain(parseCertificateDetailed(a))).toEqual(wantA);
      expect(plain(parseCertificateDetailed(b))).toEqual(wantB);
    }
    expect(certificateCacheSize()).toBe(1);
  });

  it('a hit does not depend on the caller\'s buffer staying unchanged (the key bytes are copied)', () => {
    const m = mintRsa(1024, 'sha256');
    const buf = Uint8Array.from(m.der);
    const want = plain(parseCertificateUncached(m.der));
    expect(plain(parseCertificateDetailed(buf))).toEqual(want);
    buf.fill(0);
    expect(plain(parseCertificateDetailed(m.der))).toEqual(want);
    expect(parseCertificateDetailed(buf).info).not.toBe(parseCertificateDetailed(m.der).info);
  });

  it('bounded: 1000 distinct certificates leave at most 256 entries, oldest out first', () => {
    const first = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]);
    const firstInfo = parseCertificateDetailed(first).info;
    const last = new Uint8Array([0x30, 0x04, 0x02, 0x02, 999 >> 8, 999 & 0xff]);
    let lastInfo = null;
    for (let i = 0; i < 1000; i++) {
      const p = parseCertificateDetailed(i === 999 ? last : new Uint8Array([0x30, 0x04, 0x02, 0x02, i >> 8, i & 0xff]));
      if (i === 999) lastInfo = p.info;
    }
    expect(certificateCacheSize()).toBe(256);
    expect(parseCertificateDetailed(last).info).toBe(lastInfo);
    // The first one was evicted: a new parse, equal but not the shared object.
    const again = parseCertificateDetailed(first).info;
    expect(again).not.toBe(firstInfo);
    expect(again).toEqual(firstInfo);
    expect(certificateCacheSize()).toBe(256);
    clearCertificateCache();
    expect(certificateCacheSize()).toBe(0);
  });

  it('a certificate larger than 8 KiB is parsed every time, never kept', () => {
    const big = new Uint8Array(9000);
    big[0] = 0x30;
    big[1] = 0x82;
    big[2] = (8996 >> 8) & 0xff;
    big[3] = 8996 & 0xff;
    const a = parseCertificateDetailed(big);
    expect(plain(a)).toEqual(plain(parseCertificateUncached(big)));
    expect(certificateCacheSize()).toBe(0);
  });

  it('property: on hostile bytes, cached and uncached answers are equal and nothing throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const want = plain(parseCertificateUncached(bytes));
        expect(plain(parseCertificateDetailed(bytes))).toEqual(want);
        expect(plain(parseCertificateDetailed(bytes))).toEqual(want);
        expect(certificateCacheSize()).toBeLessThanOrEqual(256);
      }),
      { numRuns: 300 },
    );
  });
});

describe('node-forge is loaded only when OpenSSL cannot read a certificate', () => {
  it('not loaded by importing x509.ts or parsing a readable certificate; loaded by the fallback', () => {
    const der = Buffer.from(fixtureDer('selfsigned')).toString('base64');
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require('node:module')._cache).some((k) => k.includes('node-forge'));
      const m = await import(${JSON.stringify(path.join(repoRoot, 'src/rdp/x509.ts'))});
      const a = loaded();
      const p = m.parseCertificateDetailed(Buffer.from(${JSON.stringify(der)}, 'base64'));
      const b = loaded();
      const g = m.parseCertificateDetailed(new Uint8Array([1, 2, 3]));
      const c = loaded();
      console.log(JSON.stringify({ a, b, c, reader: p.reader, garbage: g.problems.some((x) => x.startsWith('node-forge cannot read')) }));
    `;
    const r = spawnSync(path.join(repoRoot, 'node_modules/.bin/tsx'), ['--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim())).toEqual({ a: false, b: false, c: true, reader: 'node', garbage: true });
  });
});
