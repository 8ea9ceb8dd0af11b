// Test helper (not a test): mints certificates for the X.509 and live TLS tests.
// RSA certificates with node-forge (keys from node:crypto, which is much faster); EC P-256
// certificates with a small DER writer and node:crypto's signer (node-forge has no ECDSA).
import { createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import forge from 'node-forge';

export interface Minted {
  der: Uint8Array;
  pem: string;
  keyPem: string;
}

export interface MintOptions {
  subject?: { name: string; value: string }[];
  issuer?: { name: string; value: string }[];
  /** The signer (for CA-issued certificates); self-signed when absent. */
  signer?: { keyPem: string };
  notBefore?: Date;
  notAfter?: Date;
  dns?: string[];
  ip?: string[];
  serial?: string;
  isCa?: boolean;
}

const keyCache = new Map<number, string>();

/** An RSA key of `bits` (cached per size within one test run). */
export function rsaKeyPem(bits: number): string {
  let k = keyCache.get(bits);
  if (!k) {
    k = generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    keyCache.set(bits, k);
  }
  return k;
}

/** An RSA certificate signed with `md` by its own key or by opts.signer. */
export function mintRsa(bits: number, md: 'md5' | 'sha1' | 'sha256', opts: MintOptions = {}): Minted {
  const keyPem = rsaKeyPem(bits);
  const priv = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  c.serialNumber = opts.serial ?? '01';
  c.validity.notBefore = opts.notBefore ?? new Date('2020-01-01T00:00:00Z');
  c.validity.notAfter = opts.notAfter ?? new Date('2040-01-01T00:00:00Z');
  const subject = opts.subject ?? [{ name: 'commonName', value: 'rdp.test' }];
  c.setSubject(subject);
  c.setIssuer(opts.issuer ?? subject);
  const exts: unknown[] = [];
  if (opts.isCa) exts.push({ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true });
  const alt = [...(opts.dns ?? []).map((value) => ({ type: 2, value })), ...(opts.ip ?? []).map((ip) => ({ type: 7, ip }))];
  if (alt.length) exts.push({ name: 'subjectAltName', altNames: alt });
  if (exts.length) c.setExtensions(exts as never);
  const signKey = opts.signer ? (forge.pki.privateKeyFromPem(opts.signer.keyPem) as forge.pki.rsa.PrivateKey) : priv;
  c.sign(signKey, forge.md[md].create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(c)).getBytes(), 'binary');
  return { der: new Uint8Array(der), pem: forge.pki.certificateToPem(c), keyPem };
}

// --- minimal DER writer (X.690) for the EC certificate ---
function len(n: number): number[] {
  if (n < 0x80) return [n];
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return [0x80 | b.length, ...b];
}
function tlv(tag: number, ...content: (number[] | Uint8Array)[]): number[] {
  const body = content.flatMap((c) => Array.from(c));
  return [tag, ...len(body.length), ...body];
}
function oid(dotted: string): number[] {
  const p = dotted.split('.').map(Number);
  const out = [p[0]! * 40 + p[1]!];
  for (const v of p.slice(2)) {
    const b: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, out);
}
function utc(d: Date): number[] {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Array.from(Buffer.from(s, 'latin1')));
}
function name(cn: string): number[] {
  return tlv(0x30, tlv(0x31, tlv(0x30, oid('2.5.4.3'), tlv(0x0c, Array.from(Buffer.from(cn, 'utf8'))))));
}

/** A self-signed EC P-256 certificate with ecdsa-with-SHA256 (RFC 5480, RFC 5758). */
export function mintEcP256(cn: string, dns: string[] = []): Minted & { key: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const sigAlg = tlv(0x30, oid('1.2.840.10045.4.3.2'));
  const exts = dns.length
    ? tlv(0xa3, tlv(0x30, tlv(0x30, oid('2.5.29.17'), tlv(0x04, tlv(0x30, ...dns.map((d) => tlv(0x82, Array.from(Buffer.from(d, 'latin1')))))))))
    : [];
  const tbs = tlv(
    0x30,
    tlv(0xa0, tlv(0x02, [2])),
    tlv(0x02, [0x0b, 0xad]),
    sigAlg,
    name(cn),
    tlv(0x30, utc(new Date('2024-01-01T00:00:00Z')), utc(new Date('2034-01-01T00:00:00Z'))),
    name(cn),
    spki,
    exts,
  );
  const sig = sign('sha256', Uint8Array.from(tbs), privateKey);
  const der = Uint8Array.from(tlv(0x30, tbs, sigAlg, tlv(0x03, [0], sig)));
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  return { der, pem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), key: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}
