// X.509 certificates (RFC 5280 4.1) as the TLS Certificate message or the MCS server security
// data carry them, turned into the report's CertificateInfo. Three readers, in order:
// 1. our own DER walk (ber.ts) for the fields that must be exact and one-line: subject, issuer
//    (RFC 4514 order and escaping), validity, serial, signature algorithm OID, SANs, key size;
// 2. node:crypto's X509Certificate (OpenSSL) for the key and the self-signature check;
// 3. node-forge when OpenSSL cannot read the certificate (old 512-bit md5WithRSA, odd encodings).
// Never throws: what could not be read is null / empty and `problems` says why.
//
// Untrusted strings: subject and issuer values are returned as the certificate carries them,
// control characters included (only RFC 4514's special characters are backslash-escaped, so the
// RDN structure stays unambiguous on one line). Escaping for display is the report's job.
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import type forgeType from 'node-forge';
import type { CertificateInfo } from '../handshake/types.js';
import { type BerTlv, readTlv } from './ber.js';

/** RFC 5280 4.1.1.2 / RFC 3279 / RFC 4055 / RFC 5758 / RFC 8410 signature algorithm OIDs. */
const SIGNATURE_OIDS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.3.14.3.2.3': 'md5WithRSA',
  '1.3.14.3.2.29': 'sha1WithRSA',
  '1.2.840.10040.4.3': 'dsaWithSHA1',
  '2.16.840.1.101.3.4.3.2': 'dsaWithSHA256',
  '1.2.840.10045.4.1': 'ecdsaWithSHA1',
  '1.2.840.10045.4.3.2': 'ecdsaWithSHA256',
  '1.2.840.10045.4.3.3': 'ecdsaWithSHA384',
  '1.2.840.10045.4.3.4': 'ecdsaWithSHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Hash used by a signature algorithm, for the last-resort self-signature check. */
const SIGNATURE_HASH: Readonly<Record<string, string | null>> = {
  md5WithRSAEncryption: 'md5',
  md5WithRSA: 'md5',
  sha1WithRSAEncryption: 'sha1',
  sha1WithRSA: 'sha1',
  sha224WithRSAEncryption: 'sha224',
  sha256WithRSAEncryption: 'sha256',
  sha384WithRSAEncryption: 'sha384',
  sha512WithRSAEncryption: 'sha512',
  ecdsaWithSHA1: 'sha1',
  ecdsaWithSHA256: 'sha256',
  ecdsaWithSHA384: 'sha384',
  ecdsaWithSHA512: 'sha512',
  dsaWithSHA1: 'sha1',
  dsaWithSHA256: 'sha256',
  Ed25519: null,
  Ed448: null,
};

/** SubjectPublicKeyInfo algorithms (RFC 3279 2.3, RFC 5480 2.1.1, RFC 8410 3). */
const KEY_OIDS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'RSA',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10045.2.1': 'EC',
  '1.2.840.10040.4.1': 'DSA',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** Named curves (RFC 5480 2.1.1.1, SEC 2) and their sizes in bits. */
const CURVE_BITS: Readonly<Record<string, number>> = {
  '1.2.840.10045.3.1.1': 192,
  '1.3.132.0.33': 224,
  '1.2.840.10045.3.1.7': 256,
  '1.3.132.0.10': 256,
  '1.3.132.0.34': 384,
  '1.3.132.0.35': 521,
  '1.3.36.3.3.2.8.1.1.7': 256,
  '1.3.36.3.3.2.8.1.1.11': 384,
  '1.3.36.3.3.2.8.1.1.13': 512,
};

/** Attribute type short names (RFC 4514 3, plus the ones OpenSSL prints for common types). */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

const OID_SAN = '2.5.29.17';

/**
 * node-forge, loaded on first use: only certificates OpenSSL cannot read need it, and importing
 * it costs ~64 ms of start-up (docs/architecture.md, Performance).
 */
let forgeModule: typeof forgeType | null = null;
function loadForge(): typeof forgeType {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof forgeType;
  return forgeModule;
}

/**
 * Parses by DER bytes: a server presents the same certificate on every connection, and the
 * OpenSSL parse and self-signature check cost ~1 ms. Keyed by the DER's length and a 32-bit FNV-1a
 * hash of it (a SHA-256 through node:crypto cost ~30 us per connection, more than the rest of the
 * lookup), and a hit is the same bytes (compared in full): a colliding certificate replaces the
 * entry. Bounded in entries and in the size of a cached certificate (larger ones are parsed every
 * time), so hostile captures cannot grow it; oldest entry out first.
 */
const CACHE_MAX_ENTRIES = 256;
const CACHE_MAX_DER_BYTES = 8192;
const parseCache = new Map<number, { der: Uint8Array; parse: CertificateParse }>();

/** Cache key: FNV-1a of the bytes (32 bits) and the length (<= CACHE_MAX_DER_BYTES, 14 bits): exact in a double. */
function cacheKey(der: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < der.length; i++) h = Math.imul(h ^ der[i]!, 0x01000193);
  return (h >>> 0) * 16384 + der.length;
}

/** Entries in the parse cache (for tests and the benchmark). */
export function certificateCacheSize(): number {
  return parseCache.size;
}

/** Empties the parse cache (tests). */
export function clearCertificateCache(): void {
  parseCache.clear();
}

/** What parseCertificateDetailed found, and how. */
export interface CertificateParse {
  info: CertificateInfo;
  /** The reader that supplied the key and self-signature facts: OpenSSL, node-forge, our DER walk, or none. */
  reader: 'node' | 'forge' | 'der' | 'none';
  /** DER of the subject Name and issuer Name equal (RFC 5280 6.1: the self-issued test). */
  selfIssued: boolean;
  /** Why fields are missing, one line each (empty when everything was read). */
  problems: string[];
}

/** Dotted text of an OBJECT IDENTIFIER's content (X.690 8.19), or null if malformed. */
export function oidText(buf: Uint8Array, off: number, len: number): string | null {
  if (len < 1 || len > 64) return null;
  const parts: number[] = [];
  let v = 0;
  let bytes = 0;
  for (let i = off; i < off + len; i++) {
    const b = buf[i]!;
    if (bytes === 0 && b === 0x80) return null;
    v = v * 128 + (b & 0x7f);
    bytes++;
    if (bytes > 8) return null;
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
      bytes = 0;
    }
  }
  if (bytes !== 0) return null;
  return parts.join('.');
}

function hex(buf: Uint8Array, off: number, end: number): string {
  let s = '';
  for (let i = off; i < end; i++) s += buf[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Reads a TLV that must lie within [off, end); throws a one-line DerError otherwise (internal). */
class DerError extends Error {}

function tlv(buf: Uint8Array, off: number, end: number, what: string, expectId?: number): BerTlv {
  const r = readTlv(buf, off, end);
  if (!r.ok) {
    throw new DerError(r.kind === 'incomplete' ? `${what} truncated at byte ${off}` : `${what}: ${r.reason} at byte ${r.at}`);
  }
  const t = r.value;
  if (expectId !== undefined) {
    const id = buf[off]!;
    if (id !== expectId) throw new DerError(`${what}: tag 0x${id.toString(16)} at byte ${off}, expected 0x${expectId.toString(16)}`);
  }
  return t;
}

/** A SEQUENCE header whose content may run past `end` (then clamped to it). */
function outerTlv(buf: Uint8Array, off: number, end: number, what: string): BerTlv {
  const r = readTlv(buf, off, end);
  if (r.ok) {
    if (buf[off] !== 0x30) throw new DerError(`${what}: tag 0x${buf[off]!.toString(16)} at byte ${off}, expected 0x30`);
    return r.value;
  }
  if (r.kind === 'malformed' || end - off < 2 || buf[off] !== 0x30) return tlv(buf, off, end, what, 0x30);
  const l0 = buf[off + 1]!;
  const n = l0 < 0x80 ? 0 : l0 & 0x7f;
  const valueOff = off + 2 + n;
  if (valueOff > end) return tlv(buf, off, end, what, 0x30);
  return { cls: 0, constructed: true, tag: 16, valueOff, length: end - valueOff, end };
}

/** Decodes a directory string value (X.520) by its tag: UTF8, Printable, IA5, Teletex, BMP, Universal. */
function directoryString(buf: Uint8Array, id: number, t: BerTlv): string {
  const v = buf.subarray(t.valueOff, t.end);
  switch (id) {
    case 0x0c: // UTF8String
      return Buffer.from(v).toString('utf8');
    case 0x1e: {
      // BMPString: UCS-2 big-endian
      let s = '';
      for (let i = 0; i + 1 < v.length; i += 2) s += String.fromCharCode((v[i]! << 8) | v[i + 1]!);
      return s;
    }
    case 0x1c: {
      // UniversalString: UCS-4 big-endian
      let s = '';
      for (let i = 0; i + 3 < v.length; i += 4) {
        const cp = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (treated as Latin-1, as OpenSSL does)
    case 0x1a: // VisibleString
    default:
      return Buffer.from(v).toString('latin1');
  }
}

/** RFC 4514 2.4 escaping of a value: only the special characters, control characters kept. */
function escapeRfc4514(v: string): string {
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.length > 1 && s.endsWith(' ')) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** RFC 4514 2.1-2.3: RDNs in reverse order joined by ",", multi-valued RDNs by "+". */
function nameText(buf: Uint8Array, t: BerTlv): { text: string; cn: string[] } {
  const rdns: string[] = [];
  const cn: string[] = [];
  let p = t.valueOff;
  let guard = 0;
  while (p < t.end) {
    if (++guard > 256) throw new DerError(`Name with more than 256 RDNs at byte ${t.valueOff}`);
    const set = tlv(buf, p, t.end, 'RDN', 0x31);
    const avas: string[] = [];
    let q = set.valueOff;
    while (q < set.end) {
      const seq = tlv(buf, q, set.end, 'AttributeTypeAndValue', 0x30);
      const oidT = tlv(buf, seq.valueOff, seq.end, 'attribute type', 0x06);
      const oid = oidText(buf, oidT.valueOff, oidT.length) ?? '?';
      const valT = tlv(buf, oidT.end, seq.end, 'attribute value');
      const known = ATTRIBUTE_NAMES[oid];
      let text: string;
      if (known !== undefined) {
        const v = directoryString(buf, buf[oidT.end]!, valT);
        if (known === 'CN') cn.push(v);
        text = `${known}=${escapeRfc4514(v)}`;
      } else {
        // RFC 4514 2.4: unknown types as dotted OID and '#' + hex of the BER value.
        text = `${oid}=#${hex(buf, oidT.end, valT.end)}`;
      }
      avas.push(text);
      q = seq.end;
    }
    rdns.push(avas.join('+'));
    p = set.end;
  }
  return { text: rdns.reverse().join(','), cn };
}

/** RFC 5280 4.1.2.5: UTCTime (YYMMDDHHMM[SS]Z, YY >= 50 is 19YY) or GeneralizedTime, to ISO-8601 UTC. */
function timeText(buf: Uint8Array, id: number, t: BerTlv): string {
  const s = Buffer.from(buf.subarray(t.valueOff, t.end)).toString('latin1');
  const m =
    id === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:Z|([+-])(\d{2})(\d{2}))$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(?:Z|([+-])(\d{2})(\d{2}))?$/.exec(s);
  if (!m) throw new DerError(`unreadable time "${s.replace(/[^\x20-\x7e]/g, '?')}" at byte ${t.valueOff}`);
  let year = Number(m[1]);
  if (id === 0x17) year += year >= 50 ? 1900 : 2000;
  let ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  if (m[7]) ms -= (m[7] === '+' ? 1 : -1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  if (!Number.isFinite(ms)) throw new DerError(`unreadable time at byte ${t.valueOff}`);
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** RFC 5952-style text of a 16-byte address (lowercase, longest zero run compressed). */
function ipv6Text(b: Uint8Array, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const h = w.map((x) => x.toString(16));
  if (bestAt < 0) return h.join(':');
  return `${h.slice(0, bestAt).join(':')}::${h.slice(bestAt + bestLen).join(':')}`;
}

/** GeneralNames (RFC 5280 4.2.1.6): "DNS:name" for dNSName [2], "IP:addr" for iPAddress [7]. */
function sanList(buf: Uint8Array, off: number, end: number): string[] {
  const seq = tlv(buf, off, end, 'subjectAltName', 0x30);
  const out: string[] = [];
  let p = seq.valueOff;
  while (p < seq.end && out.length < 1024) {
    const g = tlv(buf, p, seq.end, 'GeneralName');
    const id = buf[p]!;
    if (id === 0x82) out.push(`DNS:${Buffer.from(buf.subarray(g.valueOff, g.end)).toString('latin1')}`);
    else if (id === 0x87 && g.length === 4) out.push(`IP:${buf[g.valueOff]}.${buf[g.valueOff + 1]}.${buf[g.valueOff + 2]}.${buf[g.valueOff + 3]}`);
    else if (id === 0x87 && g.length === 16) out.push(`IP:${ipv6Text(buf, g.valueOff)}`);
    p = g.end;
  }
  return out;
}

/** Bits of an unsigned big-endian INTEGER content (the RSA modulus). */
function integerBits(buf: Uint8Array, off: number, end: number): number {
  let p = off;
  while (p < end && buf[p] === 0) p++;
  if (p === end) return 0;
  return (end - p - 1) * 8 + (32 - Math.clz32(buf[p]!));
}

/** Fields of the DER walk of a Certificate (RFC 5280 4.1). */
interface DerFields {
  subject: string | null;
  issuer: string | null;
  subjectCn: string[];
  selfIssued: boolean;
  notBefore: string | null;
  notAfter: string | null;
  serialNumber: string | null;
  signatureAlgorithm: string | null;
  san: string[];
  keyType: string | null;
  keyBits: number | null;
  tbs: Uint8Array | null;
  signature: Uint8Array | null;
  spki: Uint8Array | null;
}

function emptyFields(): DerFields {
  return {
    subject: null,
    issuer: null,
    subjectCn: [],
    selfIssued: false,
    notBefore: null,
    notAfter: null,
    serialNumber: null,
    signatureAlgorithm: null,
    san: [],
    keyType: null,
    keyBits: null,
    tbs: null,
    signature: null,
    spki: null,
  };
}

/** Walks the DER; fills `f` as it goes, so a failure keeps what was read before it. */
function walkDer(der: Uint8Array, f: DerFields): void {
  const end = der.length;
  // The two outer SEQUENCEs are read leniently: a truncated certificate still yields the fields
  // before the cut (each inner field is then checked strictly).
  const cert = outerTlv(der, 0, end, 'Certificate');
  const tbs = outerTlv(der, cert.valueOff, cert.end, 'TBSCertificate');
  f.tbs = der.subarray(cert.valueOff, tbs.end);
  let p = tbs.valueOff;
  let t = tlv(der, p, tbs.end, 'TBSCertificate field');
  if (der[p] === 0xa0) {
    p = t.end;
    t = tlv(der, p, tbs.end, 'serialNumber', 0x02);
  } else if (der[p] !== 0x02) throw new DerError(`serialNumber: tag 0x${der[p]!.toString(16)} at byte ${p}`);
  // RFC 5280 4.1.2.2: hex without the sign octet.
  let s0 = t.valueOff;
  if (t.length > 1 && der[s0] === 0) s0++;
  f.serialNumber = hex(der, s0, t.end);
  p = t.end;
  const sigAlg = tlv(der, p, tbs.end, 'signature', 0x30);
  const sigOid = tlv(der, sigAlg.valueOff, sigAlg.end, 'signature algorithm', 0x06);
  const so = oidText(der, sigOid.valueOff, sigOid.length);
  f.signatureAlgorithm = so === null ? null : SIGNATURE_OIDS[so] ?? so;
  p = sigAlg.end;
  const issuer = tlv(der, p, tbs.end, 'issuer', 0x30);
  f.issuer = nameText(der, issuer).text;
  p = issuer.end;
  const validity = tlv(der, p, tbs.end, 'validity', 0x30);
  const nb = tlv(der, validity.valueOff, validity.end, 'notBefore');
  f.notBefore = timeText(der, der[validity.valueOff]!, nb);
  const na = tlv(der, nb.end, validity.end, 'notAfter');
  f.notAfter = timeText(der, der[nb.end]!, na);
  p = validity.end;
  const subject = tlv(der, p, tbs.end, 'subject', 0x30);
  const sn = nameText(der, subject);
  f.subject = sn.text;
  f.subjectCn = sn.cn;
  f.selfIssued = issuer.end - issuer.valueOff === subject.end - subject.valueOff && Buffer.compare(der.subarray(issuer.valueOff, issuer.end), der.subarray(subject.valueOff, subject.end)) === 0;
  p = subject.end;
  const spki = tlv(der, p, tbs.end, 'subjectPublicKeyInfo', 0x30);
  f.spki = der.subarray(p, spki.end);
  const kAlg = tlv(der, spki.valueOff, spki.end, 'key algorithm', 0x30);
  const kOid = tlv(der, kAlg.valueOff, kAlg.end, 'key algorithm OID', 0x06);
  const ko = oidText(der, kOid.valueOff, kOid.length) ?? '?';
  f.keyType = KEY_OIDS[ko] ?? ko;
  const bits = tlv(der, kAlg.end, spki.end, 'subjectPublicKey', 0x03);
  if (f.keyType === 'RSA' || f.keyType === 'RSA-PSS') {
    // RFC 3279 2.3.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
    const rsa = tlv(der, bits.valueOff + 1, bits.end, 'RSAPublicKey', 0x30);
    const mod = tlv(der, rsa.valueOff, rsa.end, 'modulus', 0x02);
    f.keyBits = integerBits(der, mod.valueOff, mod.end);
  } else if (f.keyType === 'EC' && kOid.end < kAlg.end && der[kOid.end] === 0x06) {
    const c = tlv(der, kOid.end, kAlg.end, 'namedCurve', 0x06);
    const co = oidText(der, c.valueOff, c.length);
    f.keyBits = co === null ? null : CURVE_BITS[co] ?? null;
  } else if (f.keyType === 'Ed25519' || f.keyType === 'X25519') f.keyBits = 256;
  else if (f.keyType === 'Ed448' || f.keyType === 'X448') f.keyBits = 448;
  p = spki.end;
  // [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
  while (p < tbs.end) {
    const x = tlv(der, p, tbs.end, 'TBSCertificate optional field');
    if (der[p] === 0xa3) {
      const exts = tlv(der, x.valueOff, x.end, 'extensions', 0x30);
      let q = exts.valueOff;
      while (q < exts.end) {
        const ext = tlv(der, q, exts.end, 'extension', 0x30);
        const id = tlv(der, ext.valueOff, ext.end, 'extnID', 0x06);
        let r = id.end;
        if (der[r] === 0x01) r = tlv(der, r, ext.end, 'critical').end;
        const val = tlv(der, r, ext.end, 'extnValue', 0x04);
        if (oidText(der, id.valueOff, id.length) === OID_SAN) f.san = sanList(der, val.valueOff, val.end);
        q = ext.end;
      }
    }
    p = x.end;
  }
  const outerSig = tlv(der, tbs.end, cert.end, 'signatureAlgorithm', 0x30);
  const sigBits = tlv(der, outerSig.end, cert.end, 'signatureValue', 0x03);
  f.signature = der.subarray(sigBits.valueOff + 1, sigBits.end);
}

/** Converts Node's multi-line "CN=x\nO=y" (DER order) to one RFC 4514-ordered line (fallback only). */
function nodeNameLine(s: string): string {
  return s.split('\n').filter((x) => x.length > 0).reverse().join(',');
}

/**
 * Reads a certificate into CertificateInfo, with the reader used and what could not be read. Never
 * throws. Results are cached by the DER's SHA-256: the returned info (and its san) is frozen and
 * shared by every caller that passes the same bytes; `problems` is the caller's own copy.
 */
export function parseCertificateDetailed(der: Uint8Array): CertificateParse {
  const cacheable = der.length <= CACHE_MAX_DER_BYTES;
  const key = cacheable ? cacheKey(der) : -1;
  if (cacheable) {
    const e = parseCache.get(key);
    if (e !== undefined && Buffer.compare(e.der, der) === 0) {
      const hit = e.parse;
      return { info: hit.info, reader: hit.reader, selfIssued: hit.selfIssued, problems: hit.problems.slice() };
    }
  }
  const p = parseUncached(der, createHash('sha256').update(der).digest('hex'));
  Object.freeze(p.info.san);
  Object.freeze(p.info);
  if (cacheable) {
    if (parseCache.has(key)) parseCache.delete(key);
    else if (parseCache.size >= CACHE_MAX_ENTRIES) parseCache.delete(parseCache.keys().next().value!);
    parseCache.set(key, { der: new Uint8Array(der), parse: { info: p.info, reader: p.reader, selfIssued: p.selfIssued, problems: p.problems.slice() } });
  }
  return p;
}

/** parseCertificateDetailed without the cache (exported for the tests that compare the two). */
export function parseCertificateUncached(der: Uint8Array): CertificateParse {
  return parseUncached(der, createHash('sha256').update(der).digest('hex'));
}

function parseUncached(der: Uint8Array, sha256: string): CertificateParse {
  const problems: string[] = [];
  const f = emptyFields();
  let derOk = true;
  try {
    walkDer(der, f);
    const outer = readTlv(der, 0, der.length);
    if (!outer.ok) throw new DerError(`certificate truncated: ${der.length} bytes, the DER header says more`);
  } catch (e) {
    derOk = false;
    problems.push(`DER: ${e instanceof DerError ? e.message : String(e)}`);
  }
  let reader: CertificateParse['reader'] = 'none';
  let selfSigned = false;
  let keyType = f.keyType;
  let keyBits = f.keyBits;
  let subject = f.subject;
  let issuer = f.issuer;
  let notBefore = f.notBefore;
  let notAfter = f.notAfter;
  const san = f.san;
  let serial = f.serialNumber;
  let sigAlg = f.signatureAlgorithm;

  // 2. OpenSSL through node:crypto.
  try {
    const x = new X509Certificate(der);
    reader = 'node';
    const k = x.publicKey;
    const d = k.asymmetricKeyDetails;
    if (keyType === null) keyType = (k.asymmetricKeyType ?? '').toUpperCase() || null;
    if (keyBits === null && d?.modulusLength) keyBits = d.modulusLength;
    subject ??= nodeNameLine(x.subject);
    issuer ??= nodeNameLine(x.issuer);
    notBefore ??= new Date(x.validFrom).toISOString().replace('.000Z', 'Z');
    notAfter ??= new Date(x.validTo).toISOString().replace('.000Z', 'Z');
    serial ??= x.serialNumber.toLowerCase();
    let verified = false;
    try {
      // Not checkIssued: it also demands keyCertSign, which the keyEncipherment-only self-signed
      // certificates Windows makes for RDP lack (zeek rdp-to-ssl.pcap). Self-issued is tested on the DER.
      verified = (derOk ? f.selfIssued : x.subject === x.issuer) && x.verify(k);
    } catch (e) {
      problems.push(`self-signature not checked by OpenSSL: ${(e as Error).message}`);
    }
    selfSigned = verified;
  } catch (e) {
    problems.push(`OpenSSL cannot read the certificate: ${(e as Error).message}`);
    // 3. node-forge.
    try {
      const forge = loadForge();
      const c = forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary'))));
      reader = 'forge';
      const pk = c.publicKey as forgeType.pki.rsa.PublicKey;
      if (keyType === null && pk && pk.n) keyType = 'RSA';
      if (keyBits === null && pk && pk.n) keyBits = pk.n.bitLength();
      const forgeName = (attrs: forgeType.pki.CertificateField[]) =>
        attrs.map((a) => `${a.shortName ?? a.type}=${String(a.value)}`).reverse().join(',');
      subject ??= forgeName(c.subject.attributes);
      issuer ??= forgeName(c.issuer.attributes);
      notBefore ??= c.validity.notBefore.toISOString().replace('.000Z', 'Z');
      notAfter ??= c.validity.notAfter.toISOString().replace('.000Z', 'Z');
      serial ??= c.serialNumber.toLowerCase();
      sigAlg ??= forge.pki.oids[c.signatureOid] ?? c.signatureOid;
      try {
        selfSigned = c.isIssuer(c) && c.verify(c);
      } catch (e2) {
        problems.push(`self-signature not checked by node-forge: ${(e2 as Error).message}`);
      }
    } catch (e2) {
      problems.push(`node-forge cannot read the certificate: ${(e2 as Error).message}`);
      // 4. Our own DER walk, with node:crypto's verify on the raw TBS bytes.
      if (derOk && f.tbs && f.signature && f.spki) {
        reader = 'der';
        if (f.selfIssued) {
          try {
            const key = createPublicKey({ key: Buffer.from(f.spki), format: 'der', type: 'spki' });
            const hash = f.signatureAlgorithm ? SIGNATURE_HASH[f.signatureAlgorithm] : undefined;
            if (hash !== undefined) selfSigned = cryptoVerify(hash, f.tbs, key, f.signature);
            else problems.push(`self-signature not checked: signature algorithm ${f.signatureAlgorithm ?? '?'} not supported`);
          } catch (e3) {
            problems.push(`self-signature not checked: ${(e3 as Error).message}`);
          }
        }
      }
    }
  }
  // RFC 5280 6.1: self-signed = self-issued (issuer DN = subject DN) and verifiable with its own key.
  if (derOk && !f.selfIssued) selfSigned = false;
  const info: CertificateInfo = {
    subject: subject ?? '',
    issuer: issuer ?? '',
    san,
    notBefore: notBefore ?? '',
    notAfter: notAfter ?? '',
    selfSigned,
    keyType,
    keyBits,
    signatureAlgorithm: sigAlg,
    serialNumber: serial,
    sha256,
  };
  return { info, reader, selfIssued: f.selfIssued, problems };
}

/** RFC 5280 4.1: the CertificateInfo of a DER certificate. Never throws (see parseCertificateDetailed). */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  return parseCertificateDetailed(der).info;
}

/**
 * RFC 5280 4.1.2.5: 'valid' when notBefore <= time <= notAfter. `time` is a Date or seconds
 * since the epoch (a capture timestamp). Unreadable dates count as valid (nothing to assert).
 */
export function certificateValidAt(cert: CertificateInfo, time: Date | number): 'valid' | 'expired' | 'not_yet_valid' {
  const t = typeof time === 'number' ? time * 1000 : time.getTime();
  const nb = Date.parse(cert.notBefore);
  const na = Date.parse(cert.notAfter);
  if (Number.isFinite(nb) && t < nb) return 'not_yet_valid';
  if (Number.isFinite(na) && t > na) return 'expired';
  return 'valid';
}

/** Parses "a.b.c.d" to 4 bytes, or null. */
function ipv4Bytes(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

/** Canonical text of an IPv6 literal (brackets allowed), or null. */
function ipv6Canonical(s: string): string | null {
  const h = s.replace(/^\[|\]$/g, '').toLowerCase();
  if (!h.includes(':') || !/^[0-9a-f:.]+$/.test(h)) return null;
  const halves = h.split('::');
  if (halves.length > 2) return null;
  const parse = (x: string): number[] | null => {
    if (x === '') return [];
    const out: number[] = [];
    const parts = x.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = ipv4Bytes(part);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(part)) return null;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const a = parse(halves[0]!);
  const b = halves.length === 2 ? parse(halves[1]!) : [];
  if (!a || !b) return null;
  const fill = halves.length === 2 ? 8 - a.length - b.length : 0;
  if (fill < (halves.length === 2 ? 1 : 0) || a.length + b.length + fill !== 8) return null;
  const words = [...a, ...new Array<number>(fill).fill(0), ...b];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return ipv6Text(bytes, 0);
}

/** RFC 6125 6.4.1 / 6.4.3: one DNS pattern (wildcard only as the whole left-most label) against a host. */
function dnsMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p === host) return true;
  if (!p.startsWith('*.')) return false;
  const rest = p.slice(2);
  // A wildcard needs at least two labels after it ("*.com" never matches) and stands for one label.
  if (rest.split('.').length < 2 || rest.includes('*')) return false;
  const dot = host.indexOf('.');
  if (dot <= 0) return false;
  return host.slice(dot + 1) === rest;
}

/** Subject CN values parsed back from the RFC 4514 text this module produced. */
function subjectCns(subject: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < subject.length) {
    // Read one AVA "type=value" up to an unescaped ',' or '+'.
    let j = i;
    let val = '';
    let type = '';
    let inValue = false;
    while (j < subject.length) {
      const c = subject[j]!;
      if (c === '\\' && j + 1 < subject.length) {
        if (inValue) val += subject[j + 1];
        j += 2;
        continue;
      }
      if (!inValue && c === '=') {
        inValue = true;
        j++;
        continue;
      }
      if (c === ',' || c === '+') break;
      if (inValue) val += c;
      else type += c;
      j++;
    }
    if (type === 'CN') out.push(val);
    i = j + 1;
  }
  return out;
}

/**
 * RFC 6125 6.4: does `host` (a DNS name or an IP literal) match the certificate? DNS names are
 * compared case-insensitively against DNS SANs (wildcard: whole left-most label, one label);
 * IP literals against IP SANs. The subject CN is used only when there is no DNS SAN
 * (RFC 6125 6.4.4), for DNS names and, as Windows clients do, for IP literals.
 */
export function nameMatches(cert: CertificateInfo, host: string): boolean {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h === '') return false;
  const dns = cert.san.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  const ips = cert.san.filter((s) => s.startsWith('IP:')).map((s) => s.slice(3));
  const v4 = ipv4Bytes(h);
  const v6 = v4 ? null : ipv6Canonical(h);
  if (v4 || v6) {
    const want = v4 ? v4.join('.') : v6!;
    if (ips.some((ip) => (ipv6Canonical(ip) ?? ip) === want)) return true;
    if (dns.length === 0) return subjectCns(cert.subject).some((cn) => cn.trim().toLowerCase() === want || ipv6Canonical(cn) === want);
    return false;
  }
  if (dns.length > 0) return dns.some((d) => dnsMatches(d, h));
  return subjectCns(cert.subject).some((cn) => dnsMatches(cn, h));
}
