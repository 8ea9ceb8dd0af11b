import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  certificateIsEncrypted,
  HELLO_RETRY_REQUEST_RANDOM,
  parseCertificateList,
  parseCertificateList13,
  parseClientHello,
  parseServerHello,
  readHandshake,
} from '../../src/rdp/tls.js';
import { cipherSuiteInfo, cipherSuiteName, isGrease, versionName, alertName, groupName } from '../../src/rdp/tls-codes.js';

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0');
const vec = (lenBytes: number, body: string) => hex(body.replace(/\s+/g, '').length / 2, lenBytes) + body.replace(/\s+/g, '');
const ext = (type: number, body: string) => hex(type, 2) + vec(2, body);
const RANDOM = '00'.repeat(31) + '01';

// A ClientHello built by hand, field by field (RFC 8446 4.1.2): GREASE in suites, groups, versions.
const sni = vec(2, '00' + vec(2, Buffer.from('rdp.example.com').toString('hex')));
const CH_EXTS =
  ext(0x0a0a, '') +
  ext(0, sni) +
  ext(43, vec(1, '3a3a 0304 0303')) +
  ext(13, vec(2, '0804 0403 0401')) +
  ext(10, vec(2, '2a2a 001d 0017')) +
  ext(51, vec(2, '2a2a' + vec(2, '00') + '001d' + vec(2, '11'.repeat(32)))) +
  ext(16, vec(2, vec(1, Buffer.from('h2').toString('hex')) + vec(1, Buffer.from('http/1.1').toString('hex')))) +
  ext(0xff01, '00') +
  ext(23, '') +
  ext(22, '');
const CH_BODY = '0303' + RANDOM + vec(1, 'ab'.repeat(32)) + vec(2, '1a1a 1301 c030 002f 00ff') + vec(1, '00') + vec(2, CH_EXTS);
const CLIENT_HELLO = h('01' + vec(3, CH_BODY));

describe('parseClientHello (RFC 5246 7.4.1.2 / RFC 8446 4.1.2)', () => {
  it('decodes every field the diagnosis needs, GREASE ignored', () => {
    const hs = readHandshake(CLIENT_HELLO, 0, CLIENT_HELLO.length);
    expect(hs.ok && hs.value.msgType).toBe(1);
    if (!hs.ok) return;
    const r = parseClientHello(CLIENT_HELLO, hs.value.bodyOff, hs.value.end);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const c = r.value;
    expect(c.legacyVersion).toBe(0x0303);
    expect(c.random[31]).toBe(1);
    expect(c.sessionId.length).toBe(32);
    expect(c.cipherSuites).toEqual([0x1301, 0xc030, 0x002f, 0x00ff]);
    expect(c.renegotiationScsv).toBe(true);
    expect(c.fallbackScsv).toBe(false);
    expect(c.compressionMethods).toEqual([0]);
    expect(c.sni).toBe('rdp.example.com');
    expect(c.supportedVersions).toEqual([0x0304, 0x0303]);
    expect(c.maxVersion).toBe(0x0304);
    expect(c.signatureAlgorithms).toEqual([0x0804, 0x0403, 0x0401]);
    expect(c.supportedGroups).toEqual([0x001d, 0x0017]);
    expect(c.keyShareGroups).toEqual([0x001d]);
    expect(c.alpn).toEqual(['h2', 'http/1.1']);
    expect(c.renegotiationInfo).toBe(true);
    expect(c.extendedMasterSecret).toBe(true);
    expect(c.encryptThenMac).toBe(true);
    expect(c.extensions.map((e) => e.type)).toEqual([0x0a0a, 0, 43, 13, 10, 51, 16, 0xff01, 23, 22]);
    // Spans are absolute.
    expect(CLIENT_HELLO[c.extensions[1]!.dataOff + 5]).toBe('r'.charCodeAt(0));
  });

  it('an SSL 3.0 style hello without extensions', () => {
    const body = h('0300' + RANDOM + '00' + vec(2, '000a 0005') + vec(1, '00'));
    const r = parseClientHello(body, 0, body.length);
    expect(r.ok && r.value).toMatchObject({ legacyVersion: 0x0300, cipherSuites: [0x000a, 0x0005], extensions: [], sni: null, maxVersion: 0x0300 });
  });

  it('rejects inconsistent lengths with the offset', () => {
    const body = h(CH_BODY);
    const bad = body.slice();
    bad[34] = 33; // session id length 33
    expect(parseClientHello(bad, 0, bad.length)).toMatchObject({ ok: false, kind: 'malformed', at: 34 });
    expect(parseClientHello(body, 0, body.length - 1)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(parseClientHello(body, 0, 20)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });

  it('reasons name the field, not the message: the caller prefixes "ClientHello: " once', () => {
    const body = h(CH_BODY);
    const bad = body.slice();
    bad[67] = 0xff; // cipher_suites length 0xff?? (RFC 8446 4.1.2: even, within the body)
    bad[68] = 0xff;
    expect(parseClientHello(bad, 0, bad.length)).toEqual({ ok: false, kind: 'malformed', at: 67, reason: 'cipher_suites length 65535' });
    const noExt = h('0303' + RANDOM + '00' + vec(2, '002f') + vec(1, '00') + '0009');
    expect(parseClientHello(noExt, 0, noExt.length)).toMatchObject({ ok: false, reason: 'extensions length 9 does not match the 0 bytes left' });
    expect(parseServerHello(h('0303'), 0, 2)).toMatchObject({ ok: false, reason: 'body of 2 bytes is too short' });
    expect(parseCertificateList(h('000005 000009 3003'), 0, 8)).toMatchObject({ ok: false, reason: 'certificate of 9 bytes runs past the list' });
  });

  it('property: random and mutated bodies never throw, `at` in bounds', () => {
    const body = h(CH_BODY);
    fc.assert(
      fc.property(fc.nat(body.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(body.length), (i, v, cut) => {
        const b = body.slice(0, Math.max(cut, 1));
        b[i % b.length] = v;
        const r = parseClientHello(b, 0, b.length);
        if (!r.ok && r.kind === 'malformed') expect(r.at >= 0 && r.at <= b.length).toBe(true);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        parseClientHello(b, 0, b.length);
        parseServerHello(b, 0, b.length);
        parseCertificateList(b, 0, b.length);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseServerHello (RFC 5246 7.4.1.3 / RFC 8446 4.1.3)', () => {
  it('TLS 1.2: version, suite, renegotiation_info, EMS', () => {
    const body = h('0303' + RANDOM + vec(1, '') + 'c030' + '00' + vec(2, ext(0xff01, '00') + ext(23, '')));
    const r = parseServerHello(body, 0, body.length);
    expect(r.ok && r.value).toMatchObject({ version: 0x0303, selectedVersion: null, cipherSuite: 0xc030, helloRetryRequest: false, renegotiationInfo: true, extendedMasterSecret: true, downgradeSentinel: null });
  });

  it('TLS 1.3 via supported_versions, with key_share', () => {
    const body = h('0303' + RANDOM + vec(1, 'cd'.repeat(32)) + '1302' + '00' + vec(2, ext(43, '0304') + ext(51, '001d' + vec(2, '22'.repeat(32)))));
    const r = parseServerHello(body, 0, body.length);
    expect(r.ok && r.value).toMatchObject({ legacyVersion: 0x0303, selectedVersion: 0x0304, version: 0x0304, cipherSuite: 0x1302, keyShareGroup: 0x001d });
    expect(certificateIsEncrypted(0x0304)).toBe(true);
    expect(certificateIsEncrypted(0x0303)).toBe(false);
    expect(certificateIsEncrypted(0x0301)).toBe(false);
  });

  it('HelloRetryRequest special random and selected_group', () => {
    const body = h('0303' + Buffer.from(HELLO_RETRY_REQUEST_RANDOM).toString('hex') + '00' + '1301' + '00' + vec(2, ext(43, '0304') + ext(51, '0017')));
    const r = parseServerHello(body, 0, body.length);
    expect(r.ok && r.value).toMatchObject({ helloRetryRequest: true, keyShareGroup: 0x0017, version: 0x0304 });
  });

  it('downgrade sentinel (RFC 8446 4.1.3)', () => {
    const rnd = '00'.repeat(24) + '444f574e47524401';
    const body = h('0303' + rnd + '00' + 'c02f' + '00');
    expect(parseServerHello(body, 0, body.length)).toMatchObject({ ok: true, value: { downgradeSentinel: 'TLS1.2' } });
  });

  it('malformed supported_versions length', () => {
    const body = h('0303' + RANDOM + '00' + '1301' + '00' + vec(2, ext(43, '030403')));
    expect(parseServerHello(body, 0, body.length)).toMatchObject({ ok: false, kind: 'malformed' });
  });
});

describe('parseCertificateList (RFC 5246 7.4.2)', () => {
  it('returns each DER certificate as a view', () => {
    const body = h(vec(3, vec(3, '3003020101') + vec(3, '300100')));
    const r = parseCertificateList(body, 0, body.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.certificates.map((c) => Buffer.from(c).toString('hex'))).toEqual(['3003020101', '300100']);
    expect(r.value.certificates[0]!.buffer).toBe(body.buffer);
  });
  it('empty list (a client with no certificate) and bad lengths', () => {
    expect(parseCertificateList(h('000000'), 0, 3)).toEqual({ ok: true, value: { certificates: [] }, consumed: 3 });
    expect(parseCertificateList(h('000005 000009 3003'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 3 });
    expect(parseCertificateList(h('000004 000000 30'), 0, 7)).toMatchObject({ ok: false, kind: 'malformed' });
  });
});

describe('tls-codes', () => {
  it('version names, GREASE', () => {
    expect([0x0300, 0x0301, 0x0302, 0x0303, 0x0304].map(versionName)).toEqual(['SSL3.0', 'TLS1.0', 'TLS1.1', 'TLS1.2', 'TLS1.3']);
    expect(versionName(0x7f17)).toBe('TLS1.3-draft-23');
    expect(versionName(0xfafa)).toBe('GREASE');
    expect(versionName(0x0305)).toBe('unknown (0x0305)');
    expect([0x0a0a, 0x1a1a, 0xfafa].every(isGrease)).toBe(true);
    expect([0x0a1a, 0x0303, 0x0b0b].some(isGrease)).toBe(false);
  });
  it('cipher suite names and fallback', () => {
    expect(cipherSuiteName(0x002f)).toBe('TLS_RSA_WITH_AES_128_CBC_SHA');
    expect(cipherSuiteName(0xc030)).toBe('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
    expect(cipherSuiteName(0x1303)).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(cipherSuiteName(0x1234)).toBe('unknown (0x1234)');
    expect(alertName(116)).toBe('certificate_required');
    expect(groupName(0x001d)).toBe('x25519');
  });
  it('classification', () => {
    expect(cipherSuiteInfo(0xc030)).toMatchObject({ keyExchange: 'ECDHE_RSA', cipher: 'AES_256_GCM', mac: 'AEAD', mode: 'aead', tagLength: 16, explicitNonceLength: 8, forwardSecrecy: true, insecure: false });
    expect(cipherSuiteInfo(0x002f)).toMatchObject({ keyExchange: 'RSA', cipher: 'AES_128_CBC', mac: 'SHA', blockSize: 16, macLength: 20, forwardSecrecy: false, insecure: false });
    expect(cipherSuiteInfo(0x0005)).toMatchObject({ mode: 'stream', insecure: true, insecureReasons: ['RC4 (RFC 7465 prohibits it)'] });
    expect(cipherSuiteInfo(0x000a)).toMatchObject({ cipher: '3DES_EDE_CBC', blockSize: 8, insecure: true });
    expect(cipherSuiteInfo(0x0003)!.insecureReasons).toEqual(['RC4 (RFC 7465 prohibits it)', 'export-grade key exchange', 'MD5 MAC']);
    expect(cipherSuiteInfo(0x0002)).toMatchObject({ mode: 'null', insecure: true });
    expect(cipherSuiteInfo(0x0018)!.insecureReasons).toContain('anonymous key exchange (no server authentication)');
    expect(cipherSuiteInfo(0x1301)).toMatchObject({ keyExchange: 'TLS1.3', cipher: 'AES_128_GCM', explicitNonceLength: 0, forwardSecrecy: true });
    expect(cipherSuiteInfo(0x1305)).toMatchObject({ cipher: 'AES_128_CCM_8', tagLength: 8 });
    expect(cipherSuiteInfo(0xcca8)).toMatchObject({ cipher: 'CHACHA20_POLY1305', explicitNonceLength: 0 });
    expect(cipherSuiteInfo(0xc09c)).toMatchObject({ cipher: 'AES_128_CCM', mac: 'AEAD', explicitNonceLength: 8 });
    expect(cipherSuiteInfo(0x00ff)).toBeNull();
    expect(cipherSuiteInfo(0x5600)).toBeNull();
    expect(cipherSuiteInfo(0x1234)).toBeNull();
  });
});

describe('parseCertificateList13 (RFC 8446 4.4.2)', () => {
  it('reads cert_data of each CertificateEntry, skipping the context and the entry extensions', () => {
    // context of 2 bytes, list of 2 entries: 3-byte cert + 4 bytes of extensions, 2-byte cert + none.
    const body = h('02 abcd  000013  000003 300100 0004 00050000  000002 3000 0000');
    const r = parseCertificateList13(body, 0, body.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.consumed).toBe(body.length);
    expect(r.value.certificates.map((c) => Buffer.from(c).toString('hex'))).toEqual(['300100', '3000']);
  });
  it('names what does not fit', () => {
    expect(parseCertificateList13(h('00 000005 000009 3003'), 0, 10)).toMatchObject({ ok: false, reason: 'certificate_list length 5 does not match the 6 bytes of the body' });
    expect(parseCertificateList13(h('00 000006 000001 30 0005'), 0, 10)).toMatchObject({ ok: false, reason: 'certificate extensions of 5 bytes run past the list' });
    expect(parseCertificateList13(h('09 00'), 0, 2)).toMatchObject({ ok: false, reason: 'body of 2 bytes is too short' });
    // The TLS 1.2 reader does not read a TLS 1.3 body (and the reverse).
    const body = h('00 000008 000003 300100 0000');
    expect(parseCertificateList(body, 0, body.length).ok).toBe(false);
  });
  it('property: hostile bodies never throw, `at` in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = parseCertificateList13(b, 0, b.length);
        if (!r.ok && r.kind === 'malformed') expect(r.at >= 0 && r.at <= b.length).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
