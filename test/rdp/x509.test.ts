import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../../src/handshake/types.js';
import { certificateValidAt, nameMatches, parseCertificate, parseCertificateDetailed } from '../../src/rdp/x509.js';
import { mintEcP256, mintRsa, rsaKeyPem } from './x509-mint.js';
import { tlsRecordsOfPcap } from './tls-pcap.js';
import { HandshakeDefragmenter, parseCertificateList } from '../../src/rdp/tls.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const captures = path.resolve(repoRoot, '../shared/captures');

describe('parseCertificate (RFC 5280 4.1)', () => {
  it('a self-signed RDP-style certificate: every CertificateInfo field', () => {
    const m = mintRsa(2048, 'sha256', {
      subject: [{ name: 'commonName', value: 'WIN2K8R2.example.com' }],
      notBefore: new Date('2011-02-12T21:37:35Z'),
      notAfter: new Date('2021-02-12T00:00:00Z'),
      serial: '00a1b2c3',
    });
    const info = parseCertificate(m.der);
    expect(info).toEqual({
      subject: 'CN=WIN2K8R2.example.com',
      issuer: 'CN=WIN2K8R2.example.com',
      san: [],
      notBefore: '2011-02-12T21:37:35Z',
      notAfter: '2021-02-12T00:00:00Z',
      selfSigned: true,
      keyType: 'RSA',
      keyBits: 2048,
      signatureAlgorithm: 'sha256WithRSAEncryption',
      serialNumber: 'a1b2c3',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    } satisfies Record<keyof CertificateInfo, unknown>);
  });

  it('subject and issuer in RFC 4514 order, one line, special characters escaped, control characters kept', () => {
    const m = mintRsa(1024, 'sha256', {
      subject: [
        { name: 'countryName', value: 'US' },
        { name: 'organizationName', value: 'Acme, Inc' },
        { name: 'commonName', value: 'host\u0007+x' },
      ],
    });
    const d = parseCertificateDetailed(m.der);
    expect(d.info.subject).toBe('CN=host\u0007\\+x,O=Acme\\, Inc,C=US');
    expect(d.info.subject.includes('\n')).toBe(false);
    expect(d.reader).toBe('node');
    expect(d.problems).toEqual([]);
    expect(d.info.keyBits).toBe(1024);
  });

  it('CA-issued: not self-signed; issuer names the CA', () => {
    const ca = mintRsa(2048, 'sha256', { subject: [{ name: 'commonName', value: 'Corp Root CA' }], isCa: true });
    const leafKey = rsaKeyPem(1024);
    expect(leafKey).toBeTruthy();
    const leaf = mintRsa(1024, 'sha256', {
      subject: [{ name: 'commonName', value: 'rdp.corp.example' }],
      issuer: [{ name: 'commonName', value: 'Corp Root CA' }],
      signer: { keyPem: ca.keyPem },
      dns: ['rdp.corp.example'],
    });
    const info = parseCertificate(leaf.der);
    expect(info.issuer).toBe('CN=Corp Root CA');
    expect(info.selfSigned).toBe(false);
    expect(parseCertificate(ca.der).selfSigned).toBe(true);
  });

  it('self-issued but signed by another key is not self-signed', () => {
    const other = mintRsa(2048, 'sha256');
    const m = mintRsa(1024, 'sha256', { signer: { keyPem: other.keyPem } });
    const d = parseCertificateDetailed(m.der);
    expect(d.selfIssued).toBe(true);
    expect(d.info.selfSigned).toBe(false);
  });

  it('EC P-256 with ecdsa-with-SHA256', () => {
    const m = mintEcP256('ec.rdp.test', ['ec.rdp.test']);
    const info = parseCertificate(m.der);
    expect(info).toMatchObject({ keyType: 'EC', keyBits: 256, signatureAlgorithm: 'ecdsaWithSHA256', selfSigned: true, serialNumber: '0bad', san: ['DNS:ec.rdp.test'] });
    expect(info.notBefore).toBe('2024-01-01T00:00:00Z');
  });

  it('512-bit RSA with md5WithRSAEncryption (the kind of rdp-x509.pcap)', () => {
    const m = mintRsa(512, 'md5', { subject: [{ name: 'commonName', value: 'TS-LEGACY' }] });
    const info = parseCertificate(m.der);
    expect(info).toMatchObject({ keyType: 'RSA', keyBits: 512, signatureAlgorithm: 'md5WithRSAEncryption', subject: 'CN=TS-LEGACY' });
  });

  it('SANs: DNS and IP (v4, v6 compressed)', () => {
    const m = mintRsa(1024, 'sha256', { dns: ['rdp.example.com', '*.farm.example.com'], ip: ['10.1.2.3', '2001:db8::5'] });
    expect(parseCertificate(m.der).san).toEqual(['DNS:rdp.example.com', 'DNS:*.farm.example.com', 'IP:10.1.2.3', 'IP:2001:db8::5']);
  });

  it('never throws: garbage, truncation, corrupted signature', () => {
    const m = mintRsa(1024, 'sha256');
    const garbage = parseCertificateDetailed(new Uint8Array([1, 2, 3]));
    expect(garbage.reader).toBe('none');
    expect(garbage.info.sha256).toBe('039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81');
    expect(garbage.problems.length).toBeGreaterThan(0);
    const cut = parseCertificateDetailed(m.der.subarray(0, 200));
    expect(cut.problems[0]).toMatch(/^DER: .*truncated at byte \d+$|^DER: /);
    // What the DER walk read before the cut is kept.
    expect(cut.info.serialNumber).toBe('01');
    const bad = m.der.slice();
    bad[bad.length - 5]! ^= 0xff; // inside the signature
    const d = parseCertificateDetailed(bad);
    expect(d.info.selfSigned).toBe(false);
    expect(d.info.subject).toBe('CN=rdp.test');
  });

  it('property: random and mutated DER never throw', () => {
    const m = mintRsa(512, 'sha256', { dns: ['a.b.c'] });
    fc.assert(
      fc.property(fc.nat(m.der.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const b = m.der.slice();
        b[i] = v;
        const info = parseCertificate(b);
        expect(typeof info.subject).toBe('string');
        expect(info.sha256).toHaveLength(64);
      }),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void parseCertificate(b)), { numRuns: 300 });
  });
});

describe('certificateValidAt (RFC 5280 4.1.2.5)', () => {
  const info = parseCertificate(mintRsa(512, 'sha256', { notBefore: new Date('2024-07-26T06:03:40Z'), notAfter: new Date('2025-01-25T06:03:40Z') }).der);
  it('valid, expired, not yet valid (Date or capture seconds)', () => {
    expect(certificateValidAt(info, new Date('2024-10-18T19:53:41Z'))).toBe('valid');
    expect(certificateValidAt(info, Date.parse('2025-01-25T06:03:41Z') / 1000)).toBe('expired');
    expect(certificateValidAt(info, Date.parse('2024-07-26T06:03:39Z') / 1000)).toBe('not_yet_valid');
    expect(certificateValidAt(info, Date.parse('2025-01-25T06:03:40Z') / 1000)).toBe('valid');
  });
});

describe('nameMatches (RFC 6125 6.4)', () => {
  const withSan = parseCertificate(mintRsa(512, 'sha256', { subject: [{ name: 'commonName', value: 'ignored.example.com' }], dns: ['rdp.example.com', '*.farm.example.com'], ip: ['10.1.2.3', '2001:db8::5'] }).der);
  const cnOnly = parseCertificate(mintRsa(512, 'sha256', { subject: [{ name: 'commonName', value: 'WIN-SRV01' }] }).der);
  const cnIp = parseCertificate(mintRsa(512, 'sha256', { subject: [{ name: 'commonName', value: '192.168.1.150' }] }).der);
  it('DNS SANs, case-insensitive, trailing dot', () => {
    expect(nameMatches(withSan, 'rdp.example.com')).toBe(true);
    expect(nameMatches(withSan, 'RDP.Example.COM.')).toBe(true);
    expect(nameMatches(withSan, 'other.example.com')).toBe(false);
  });
  it('wildcard: exactly one left-most label', () => {
    expect(nameMatches(withSan, 'host1.farm.example.com')).toBe(true);
    expect(nameMatches(withSan, 'a.host1.farm.example.com')).toBe(false);
    expect(nameMatches(withSan, 'farm.example.com')).toBe(false);
  });
  it('CN is ignored when a DNS SAN exists, used otherwise', () => {
    expect(nameMatches(withSan, 'ignored.example.com')).toBe(false);
    expect(nameMatches(cnOnly, 'win-srv01')).toBe(true);
    expect(nameMatches(cnOnly, 'win-srv01.corp.example')).toBe(false);
  });
  it('IP literals match IP SANs (v6 in any spelling), and a CN holding the IP when there is no DNS SAN', () => {
    expect(nameMatches(withSan, '10.1.2.3')).toBe(true);
    expect(nameMatches(withSan, '2001:DB8:0:0::5')).toBe(true);
    expect(nameMatches(withSan, '[2001:db8::5]')).toBe(true);
    expect(nameMatches(withSan, '10.1.2.4')).toBe(false);
    expect(nameMatches(cnIp, '192.168.1.150')).toBe(true);
    expect(nameMatches(cnOnly, '192.168.1.150')).toBe(false);
  });
  it('a wildcard too wide never matches', () => {
    const wide = parseCertificate(mintRsa(512, 'sha256', { dns: ['*.com'] }).der);
    expect(nameMatches(wide, 'example.com')).toBe(false);
  });
});

/** A fixture certificate (fixtures/lib/certs, minted with node-forge) as DER. */
function fixtureCert(name: string): X509Certificate {
  return new X509Certificate(readFileSync(path.join(repoRoot, 'fixtures/lib/certs', `${name}.cert.pem`)));
}

describe('selfSigned on the fixtures\' forge-minted certificates (RFC 5280 6.1: self-issued and verified by its own key)', () => {
  it('the self-signed RDP-style certificates are self-signed although OpenSSL\'s checkIssued says no (no keyCertSign)', () => {
    for (const name of ['selfsigned', 'expired', 'weak1024']) {
      const x = fixtureCert(name);
      // The cause of the old false: checkIssued also demands keyCertSign, which these (like Windows'
      // RDP certificates: digitalSignature, keyEncipherment) lack; the signature itself verifies.
      expect(x.checkIssued(x), name).toBe(false);
      expect(x.verify(x.publicKey), name).toBe(true);
      const d = parseCertificateDetailed(x.raw);
      expect(d.selfIssued, name).toBe(true);
      expect(d.info.selfSigned, name).toBe(true);
      expect(d.problems, name).toEqual([]);
    }
    expect(parseCertificate(fixtureCert('selfsigned').raw)).toMatchObject({ subject: 'CN=rdp-srv01.corp.example', issuer: 'CN=rdp-srv01.corp.example', keyType: 'RSA', keyBits: 2048 });
  });
  it('CA-issued certificates are not self-signed; the test root CA is', () => {
    for (const name of ['chain', 'wrongname']) {
      const d = parseCertificateDetailed(fixtureCert(name).raw);
      expect([d.selfIssued, d.info.selfSigned], name).toEqual([false, false]);
      expect(d.info.issuer, name).toBe('CN=rdp-autopsy Test Root CA');
    }
    expect(parseCertificate(fixtureCert('ca').raw).selfSigned).toBe(true);
  });
  it('a certificate whose issuer equals its subject but is signed by another key is not self-signed', () => {
    const other = fixtureCert('selfsigned');
    const forged = Buffer.from(fixtureCert('expired').raw);
    // Same DN as `other`, its own key: swap in the other certificate's signature value (same length, RSA-2048).
    const sigLen = 256;
    Buffer.from(other.raw).copy(forged, forged.length - sigLen, other.raw.length - sigLen);
    const d = parseCertificateDetailed(forged);
    expect(d.selfIssued).toBe(true);
    expect(d.info.selfSigned).toBe(false);
  });
});

describe.skipIf(!existsSync(captures))('real certificates from ../shared/captures', () => {
  it('rdp-to-ssl.pcap: CN=WIN2K8R2.awakecoding.ath.cx, 2011-02-12 21:37:35 .. 2021-02-12, SNI does not match', () => {
    const conn = tlsRecordsOfPcap(path.join(captures, 'zeek-zeek/rdp-to-ssl.pcap'))[0]!;
    const d = new HandshakeDefragmenter();
    for (const r of conn.records) if (r.dir === 's2c' && r.contentType === 22) d.push(r.fragment, 0, r.fragment.length, r.frame);
    let certs: Uint8Array[] = [];
    let frame = 0;
    for (let m = d.next(); m.ok; m = d.next()) {
      if (m.value.msgType === 11) {
        const l = parseCertificateList(m.value.body, 0, m.value.body.length);
        if (l.ok) certs = l.value.certificates;
        frame = m.value.firstFrame;
      }
      if (m.value.msgType === 14) break;
    }
    expect(frame).toBe(9);
    expect(certs).toHaveLength(1);
    const info = parseCertificate(certs[0]!);
    expect(info).toMatchObject({ subject: 'CN=WIN2K8R2.awakecoding.ath.cx', issuer: 'CN=WIN2K8R2.awakecoding.ath.cx', notBefore: '2011-02-12T21:37:35Z', notAfter: '2021-02-12T00:00:00Z', selfSigned: true, keyType: 'RSA' });
    // Windows' RDP certificate has no keyCertSign either: OpenSSL's checkIssued refuses it, its signature verifies.
    const x = new X509Certificate(certs[0]!);
    expect([x.checkIssued(x), x.verify(x.publicKey)]).toEqual([false, true]);
    expect(nameMatches(info, '192.168.1.150')).toBe(false);
    expect(certificateValidAt(info, Date.parse('2011-02-12T22:50:41Z') / 1000)).toBe('valid');
  });
});
