// Real TLS handshakes (OpenSSL via node:tls and the openssl CLI) over loopback, recorded by a relay
// and decoded with our decoders: what a capture of a real stack shows.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/rdp/x509.js';
import {
  certificateIsEncrypted,
  encryptedAlertShape,
  HandshakeDefragmenter,
  parseAlert,
  parseCertificateList,
  parseClientHello,
  parseServerHello,
  readTlsRecord,
  tls13AlertGuess,
  tlsRecordKind,
  type TlsRecord,
} from '../../src/rdp/tls.js';
import { recordTls, nodeClient, opensslClient, type Recorded } from './tls-relay.js';
import { mintRsa, type Minted } from './x509-mint.js';

interface Rec extends TlsRecord {
  kind: string;
  bytes: Uint8Array;
}

/** All records of one direction; every record must decode. */
function records(stream: Uint8Array): Rec[] {
  const out: Rec[] = [];
  let p = 0;
  let afterCcs = false;
  while (p < stream.length) {
    const r = readTlsRecord(stream, p, stream.length);
    if (!r.ok) throw new Error(`record at ${p}: ${JSON.stringify(r)}`);
    const kind = tlsRecordKind(r.value.contentType, r.value.length, afterCcs);
    if (r.value.contentType === 20) afterCcs = true;
    out.push({ ...r.value, kind, bytes: stream.subarray(r.value.fragmentOff, r.value.end) });
    p = r.value.end;
  }
  return out;
}

/** Handshake messages of the clear part of one direction. */
function messages(recs: Rec[]) {
  const d = new HandshakeDefragmenter();
  const out: { type: number; body: Uint8Array }[] = [];
  recs.forEach((r, i) => {
    if (r.kind !== 'handshake') return;
    d.push(r.bytes, 0, r.bytes.length, i + 1);
    for (let m = d.next(); m.ok; m = d.next()) out.push({ type: m.value.msgType, body: m.value.body });
  });
  return out;
}

let cert: Minted;
let expired: Minted;
let dir: string;
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

beforeAll(() => {
  cert = mintRsa(2048, 'sha256', { subject: [{ name: 'commonName', value: 'rdp.test' }], dns: ['rdp.test'] });
  expired = mintRsa(2048, 'sha256', { subject: [{ name: 'commonName', value: 'rdp.test' }], dns: ['rdp.test'], notBefore: new Date('2015-01-01T00:00:00Z'), notAfter: new Date('2016-01-01T00:00:00Z') });
  dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-tls-'));
  writeFileSync(path.join(dir, 'expired.pem'), expired.pem);
  writeFileSync(path.join(dir, 'cert.pem'), cert.pem);
  const other = mintRsa(1024, 'sha256', { subject: [{ name: 'commonName', value: 'Other CA' }], isCa: true });
  writeFileSync(path.join(dir, 'other.pem'), other.pem);
});

describe('real OpenSSL handshakes over loopback', () => {
  it('TLS 1.2 with RSA key exchange (AES128-SHA, as Windows 7 offered it)', async () => {
    const rec: Recorded = await recordTls(
      { key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' },
      nodeClient({ servername: 'rdp.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' }),
    );
    expect(rec.clientError).toBeNull();
    const c = records(rec.c2s);
    const s = records(rec.s2c);
    const cm = messages(c);
    const sm = messages(s);
    expect(cm.map((m) => m.type)).toEqual([1, 16]); // ClientHello, ClientKeyExchange
    expect(sm.map((m) => m.type)).toEqual([2, 11, 14, 4]); // ServerHello, Certificate, ServerHelloDone (no ServerKeyExchange), NewSessionTicket before its CCS
    const ch = parseClientHello(cm[0]!.body, 0, cm[0]!.body.length);
    expect(ch.ok && ch.value.sni).toBe('rdp.test');
    expect(ch.ok && ch.value.cipherSuites).toContain(0x002f);
    const sh = parseServerHello(sm[0]!.body, 0, sm[0]!.body.length);
    expect(sh.ok && [sh.value.version, sh.value.cipherSuite]).toEqual([0x0303, 0x002f]);
    const list = parseCertificateList(sm[1]!.body, 0, sm[1]!.body.length);
    expect(list.ok && Buffer.from(list.value.certificates[0]!).equals(Buffer.from(cert.der))).toBe(true);
    expect(list.ok && parseCertificate(list.value.certificates[0]!).subject).toBe('CN=rdp.test');
    // Each side: ChangeCipherSpec then its encrypted Finished (a handshake record by position).
    expect(c.map((r) => r.kind)).toContain('encrypted_handshake');
    expect(s.map((r) => r.kind).slice(-4)).toContain('encrypted_handshake');
    // OpenSSL negotiates encrypt_then_mac (RFC 7366), so the client's close_notify is 16 IV +
    // 16 (2 + padding) + 20 MAC = 52 bytes, not the 48 of MAC-then-encrypt.
    expect(sh.ok && sh.value.encryptThenMac).toBe(true);
    const alert = c.find((r) => r.kind === 'encrypted_alert')!;
    expect(alert.length).toBe(52);
    expect(encryptedAlertShape(alert.length, 0x002f, 0x0303, true)).toMatchObject({ consistent: true, expectedLength: 52 });
    expect(encryptedAlertShape(alert.length, 0x002f, 0x0303, false).consistent).toBe(false);
  });

  it('TLS 1.2 ECDHE (ECDHE-RSA-AES256-GCM-SHA384, what Windows 10+ picks): ServerKeyExchange, 26-byte encrypted alert', async () => {
    const rec = await recordTls(
      { key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
      nodeClient({ rejectUnauthorized: false, maxVersion: 'TLSv1.2' }),
    );
    const s = records(rec.s2c);
    const c = records(rec.c2s);
    const sm = messages(s);
    expect(sm.map((m) => m.type)).toEqual([2, 11, 12, 14, 4]);
    const sh = parseServerHello(sm[0]!.body, 0, sm[0]!.body.length);
    expect(sh.ok && sh.value.cipherSuite).toBe(0xc030);
    expect(sh.ok && sh.value.renegotiationInfo).toBe(true);
    const alert = c.find((r) => r.kind === 'encrypted_alert')!;
    expect(alert.length).toBe(26);
    expect(encryptedAlertShape(26, 0xc030, 0x0303)).toMatchObject({ consistent: true, expectedLength: 26 });
  });

  it('TLS 1.3: version from supported_versions, certificate hidden, close_notify is a 19-byte application_data record', async () => {
    const rec = await recordTls(
      { key: cert.keyPem, cert: cert.pem, minVersion: 'TLSv1.3' },
      nodeClient({ rejectUnauthorized: false, minVersion: 'TLSv1.3' }),
    );
    const s = records(rec.s2c);
    const c = records(rec.c2s);
    const ch = messages(c)[0]!;
    const chv = parseClientHello(ch.body, 0, ch.body.length);
    expect(chv.ok && chv.value.supportedVersions).toContain(0x0304);
    expect(chv.ok && chv.value.keyShareGroups.length).toBeGreaterThan(0);
    // Only ServerHello is in the clear.
    const sm = messages(s);
    expect(sm.map((m) => m.type)).toEqual([2]);
    const sh = parseServerHello(sm[0]!.body, 0, sm[0]!.body.length);
    expect(sh.ok && [sh.value.legacyVersion, sh.value.version, sh.value.helloRetryRequest]).toEqual([0x0303, 0x0304, false]);
    expect(certificateIsEncrypted(0x0304)).toBe(true);
    expect(s.every((r) => r.contentType !== 21)).toBe(true);
    const last = c[c.length - 1]!;
    expect([last.contentType, last.length]).toEqual([23, 19]);
    expect(tls13AlertGuess(last.length, sh.ok ? sh.value.cipherSuite : null, true).likely).toBe(true);
  });

  it('no common cipher: the server sends a clear fatal handshake_failure', async () => {
    const rec = await recordTls(
      { key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' },
      nodeClient({ rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }),
    );
    expect(rec.clientError).not.toBeNull();
    const s = records(rec.s2c);
    expect(s).toHaveLength(1);
    expect(s[0]!.kind).toBe('alert');
    expect(parseAlert(s[0]!.bytes, 0, 2)).toMatchObject({ ok: true, value: { level: 2, descriptionName: 'handshake_failure' } });
  });

  it('a server that requires a client certificate the client does not have (TLS 1.2): clear handshake_failure', async () => {
    const rec = await recordTls(
      { key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: true },
      nodeClient({ rejectUnauthorized: false, maxVersion: 'TLSv1.2' }),
    );
    const sm = messages(records(rec.s2c));
    expect(sm.map((m) => m.type)).toContain(13); // CertificateRequest
    const alert = records(rec.s2c).find((r) => r.kind === 'alert');
    expect(alert && parseAlert(alert.bytes, 0, 2)).toMatchObject({ ok: true, value: { level: 2 } });
  });

  describe.skipIf(!hasOpenssl)('openssl s_client verifying the certificate (real client alerts)', () => {
    it('expired certificate: clear fatal certificate_expired from the client', async () => {
      const rec = await recordTls({ key: expired.keyPem, cert: expired.pem, maxVersion: 'TLSv1.2' }, opensslClient(path.join(dir, 'expired.pem')));
      const alert = records(rec.c2s).find((r) => r.kind === 'alert')!;
      expect(parseAlert(alert.bytes, 0, 2)).toMatchObject({ ok: true, value: { level: 2, description: 45, descriptionName: 'certificate_expired' } });
    });
    it('self-signed certificate not trusted: clear fatal unknown_ca from the client', async () => {
      const rec = await recordTls({ key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2' }, opensslClient(path.join(dir, 'other.pem')));
      const alert = records(rec.c2s).find((r) => r.kind === 'alert')!;
      expect(parseAlert(alert.bytes, 0, 2)).toMatchObject({ ok: true, value: { level: 2, description: 48, descriptionName: 'unknown_ca' } });
    });
    it('trusted certificate, wrong name (-verify_hostname): clear fatal alert from the client', async () => {
      const rec = await recordTls({ key: cert.keyPem, cert: cert.pem, maxVersion: 'TLSv1.2' }, opensslClient(path.join(dir, 'cert.pem'), ['-verify_hostname', 'other.test']));
      const alert = records(rec.c2s).find((r) => r.kind === 'alert')!;
      const a = parseAlert(alert.bytes, 0, 2);
      expect(a.ok && a.value.level).toBe(2);
      expect(a.ok && a.value.descriptionName).toBe('bad_certificate');
    });
  });
});
