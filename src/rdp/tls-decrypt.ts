// TLS record decryption with keys from a key log (keylog.ts), node:crypto only. A layer about TLS
// alone (what a record's plaintext is, given the secrets), used for RDP's TLS and reusable for any
// other TLS connection (RD Gateway on 443). Pure functions: the sequence numbers and the state of
// a connection live in src/handshake/tls-track.ts.
//
// - TLS 1.2 (RFC 5246 5 PRF with the suite's hash, 6.3 key block; the master secret itself comes
//   from the key log's CLIENT_RANDOM line, with or without the extended master secret of RFC 7627);
// - TLS 1.0 / 1.1 (RFC 2246 5 / RFC 4346 5: the PRF is P_MD5 xor P_SHA-1 over the two halves of the
//   secret), CBC suites only: TLS 1.0's IV is implicit (the key block's, then each record's last
//   ciphertext block, RFC 2246 6.2.3.2), TLS 1.1's explicit (RFC 4346 6.2.3.2) as in TLS 1.2;
// - AEAD records: AES-GCM (RFC 5288 3: 4-byte salt + 8-byte explicit nonce) and ChaCha20-Poly1305
//   (RFC 7905 2: IV xor sequence number), additional data of RFC 5246 6.2.3.3;
// - CBC records with HMAC (RFC 5246 6.2.3.2, explicit IV), MAC-then-encrypt or encrypt-then-MAC
//   (RFC 7366 3);
// - TLS 1.3 (RFC 8446 7.1 HKDF-Expand-Label, 7.3 traffic keys, 5.2 / 5.3 record protection).
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { type Decoded, done, malformed } from './result.js';

export type RecordCipher = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-128-cbc' | 'aes-256-cbc';
export type HashName = 'sha1' | 'sha256' | 'sha384';

/** What a cipher suite needs for record protection (IANA TLS Cipher Suites registry). */
export interface SuiteParams {
  cipher: RecordCipher;
  keyLength: number;
  /** TLS 1.2 AEAD: implicit IV bytes in the key block (GCM 4, ChaCha20 12); CBC: 0 (explicit IV). */
  fixedIvLength: number;
  /** CBC: the HMAC hash and its length; AEAD: null. */
  mac: HashName | null;
  macLength: number;
  /** The PRF hash (TLS 1.2) or HKDF hash (TLS 1.3). */
  prf: 'sha256' | 'sha384';
  tls13: boolean;
}

const gcm128: Omit<SuiteParams, 'prf'> = { cipher: 'aes-128-gcm', keyLength: 16, fixedIvLength: 4, mac: null, macLength: 0, tls13: false };
const gcm256: Omit<SuiteParams, 'prf'> = { cipher: 'aes-256-gcm', keyLength: 32, fixedIvLength: 4, mac: null, macLength: 0, tls13: false };
const chacha: Omit<SuiteParams, 'prf'> = { cipher: 'chacha20-poly1305', keyLength: 32, fixedIvLength: 12, mac: null, macLength: 0, tls13: false };
const cbc = (keyLength: 16 | 32, mac: HashName, prf: 'sha256' | 'sha384'): SuiteParams => ({
  cipher: keyLength === 16 ? 'aes-128-cbc' : 'aes-256-cbc',
  keyLength,
  fixedIvLength: 0,
  mac,
  macLength: mac === 'sha1' ? 20 : mac === 'sha256' ? 32 : 48,
  prf,
  tls13: false,
});

const SUITES: ReadonlyMap<number, SuiteParams> = new Map<number, SuiteParams>([
  // TLS 1.3 (RFC 8446 B.4)
  [0x1301, { cipher: 'aes-128-gcm', keyLength: 16, fixedIvLength: 12, mac: null, macLength: 0, prf: 'sha256', tls13: true }],
  [0x1302, { cipher: 'aes-256-gcm', keyLength: 32, fixedIvLength: 12, mac: null, macLength: 0, prf: 'sha384', tls13: true }],
  [0x1303, { cipher: 'chacha20-poly1305', keyLength: 32, fixedIvLength: 12, mac: null, macLength: 0, prf: 'sha256', tls13: true }],
  // AES-GCM (RFC 5288, RFC 5289)
  [0x009c, { ...gcm128, prf: 'sha256' }],
  [0x009d, { ...gcm256, prf: 'sha384' }],
  [0x009e, { ...gcm128, prf: 'sha256' }],
  [0x009f, { ...gcm256, prf: 'sha384' }],
  [0xc02b, { ...gcm128, prf: 'sha256' }],
  [0xc02c, { ...gcm256, prf: 'sha384' }],
  [0xc02f, { ...gcm128, prf: 'sha256' }],
  [0xc030, { ...gcm256, prf: 'sha384' }],
  // ChaCha20-Poly1305 (RFC 7905)
  [0xcca8, { ...chacha, prf: 'sha256' }],
  [0xcca9, { ...chacha, prf: 'sha256' }],
  [0xccaa, { ...chacha, prf: 'sha256' }],
  // AES-CBC with HMAC (RFC 5246 A.5, RFC 4492, RFC 5289); under TLS 1.2 the PRF is SHA-256 unless the suite says SHA-384
  [0x002f, cbc(16, 'sha1', 'sha256')],
  [0x0035, cbc(32, 'sha1', 'sha256')],
  [0x003c, cbc(16, 'sha256', 'sha256')],
  [0x003d, cbc(32, 'sha256', 'sha256')],
  [0x0033, cbc(16, 'sha1', 'sha256')],
  [0x0039, cbc(32, 'sha1', 'sha256')],
  [0x0067, cbc(16, 'sha256', 'sha256')],
  [0x006b, cbc(32, 'sha256', 'sha256')],
  [0xc009, cbc(16, 'sha1', 'sha256')],
  [0xc00a, cbc(32, 'sha1', 'sha256')],
  [0xc013, cbc(16, 'sha1', 'sha256')],
  [0xc014, cbc(32, 'sha1', 'sha256')],
  [0xc023, cbc(16, 'sha256', 'sha256')],
  [0xc024, cbc(32, 'sha384', 'sha384')],
  [0xc027, cbc(16, 'sha256', 'sha256')],
  [0xc028, cbc(32, 'sha384', 'sha384')],
]);

/** The record protection of a cipher suite, or null when we cannot decrypt it. */
export function suiteParams(cipherSuite: number): SuiteParams | null {
  return SUITES.get(cipherSuite) ?? null;
}

/** Keys of one direction of one connection (RFC 5246 6.3 / RFC 8446 7.3). */
export interface RecordKeys {
  params: SuiteParams;
  key: Buffer;
  /** AEAD: the implicit IV (GCM 4 bytes under TLS 1.2, else 12); CBC: empty. */
  iv: Buffer;
  macKey: Buffer;
  /** RFC 7366 encrypt_then_mac negotiated (CBC only). */
  encryptThenMac: boolean;
  /**
   * TLS 1.0 CBC (RFC 2246 6.2.3.2): no explicit IV; `iv` is the IV of the next record (the key
   * block's, then the last ciphertext block of the record before), and decryptRecord moves it on.
   */
  chainedIv?: true;
}

/** RFC 5246 5: P_hash(secret, seed) for `length` bytes. */
export function pHash(hash: HashName | 'md5', secret: Uint8Array, prfSeed: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let a: Buffer = createHmac(hash, secret).update(prfSeed).digest();
  let n = 0;
  while (n < length) {
    const block = createHmac(hash, secret).update(a).update(prfSeed).digest();
    n += block.copy(out, n);
    a = createHmac(hash, secret).update(a).digest();
  }
  return out;
}

/** RFC 5246 5: PRF(secret, label, seed) = P_<hash>(secret, label + seed). */
export function tls12Prf(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, prfSeed: Uint8Array, length: number): Buffer {
  return pHash(hash, secret, Buffer.concat([Buffer.from(label, 'latin1'), prfSeed]), length);
}

/**
 * RFC 2246 5 / RFC 4346 5: PRF(secret, label, seed) = P_MD5(S1, label + seed) xor P_SHA-1(S2, label + seed),
 * S1 and S2 the first and second halves of the secret (sharing its middle byte when its length is odd).
 */
export function tls10Prf(secret: Uint8Array, label: string, prfSeed: Uint8Array, length: number): Buffer {
  const half = Math.ceil(secret.length / 2);
  const s = Buffer.concat([Buffer.from(label, 'latin1'), prfSeed]);
  const a = pHash('md5', secret.subarray(0, half), s, length);
  const b = pHash('sha1', secret.subarray(secret.length - half), s, length);
  for (let i = 0; i < length; i++) a[i]! ^= b[i]!;
  return a;
}

/**
 * RFC 5246 6.3: the key block from the master secret, split into both directions' keys.
 * client_write_MAC_key, server_write_MAC_key, client_write_key, server_write_key,
 * client_write_IV, server_write_IV, in that order.
 */
export function tls12Keys(
  p: SuiteParams,
  masterSecret: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  encryptThenMac: boolean,
  /** The ServerHello's version: below 0x0303 (TLS 1.0 / 1.1) the key block comes from their PRF (CBC suites only). */
  version = 0x0303,
): { client: RecordKeys; server: RecordKeys } {
  const legacy = version < 0x0303;
  // RFC 2246 6.3: TLS 1.0's key block also holds each side's first CBC IV (one block); TLS 1.1's does not.
  const ivLength = version === 0x0301 && p.mac !== null ? 16 : p.fixedIvLength;
  const len = 2 * (p.macLength + p.keyLength + ivLength);
  const prfSeed = Buffer.concat([serverRandom, clientRandom]);
  const kb = legacy ? tls10Prf(masterSecret, 'key expansion', prfSeed, len) : tls12Prf(p.prf, masterSecret, 'key expansion', prfSeed, len);
  let o = 0;
  const take = (n: number): Buffer => {
    const b = kb.subarray(o, o + n);
    o += n;
    return b;
  };
  const cMac = take(p.macLength);
  const sMac = take(p.macLength);
  const cKey = take(p.keyLength);
  const sKey = take(p.keyLength);
  const cIv = Buffer.from(take(ivLength));
  const sIv = Buffer.from(take(ivLength));
  const etm = encryptThenMac && p.mac !== null;
  const chained = version === 0x0301 && p.mac !== null ? { chainedIv: true as const } : {};
  return {
    client: { params: p, key: cKey, iv: cIv, macKey: cMac, encryptThenMac: etm, ...chained },
    server: { params: p, key: sKey, iv: sIv, macKey: sMac, encryptThenMac: etm, ...chained },
  };
}

/** RFC 5869 2.3 HKDF-Expand. */
export function hkdfExpand(hash: 'sha256' | 'sha384', prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let t: Buffer = Buffer.alloc(0);
  let n = 0;
  for (let i = 1; n < length; i++) {
    t = createHmac(hash, prk).update(t).update(info).update(Uint8Array.of(i)).digest();
    n += t.copy(out, n);
  }
  return out;
}

/** RFC 8446 7.1 HKDF-Expand-Label(Secret, Label, Context, Length). */
export function hkdfExpandLabel(hash: 'sha256' | 'sha384', secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Uint8Array.of(length >> 8, length & 0xff, full.length), full, Uint8Array.of(context.length), context]);
  return hkdfExpand(hash, secret, info, length);
}

/** RFC 8446 7.3: a traffic secret's write key and IV. */
export function tls13Keys(p: SuiteParams, trafficSecret: Uint8Array): RecordKeys {
  const empty = Buffer.alloc(0);
  return {
    params: p,
    key: hkdfExpandLabel(p.prf, trafficSecret, 'key', empty, p.keyLength),
    iv: hkdfExpandLabel(p.prf, trafficSecret, 'iv', empty, 12),
    macKey: empty,
    encryptThenMac: false,
  };
}

/** A decrypted record: its (inner, for TLS 1.3) content type and plaintext. */
export interface PlainRecord {
  contentType: number;
  plaintext: Buffer;
}

const TAG = 16;

function seqBytes(seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(seq / 0x1_0000_0000) >>> 0, 0);
  b.writeUInt32BE(seq >>> 0, 4);
  return b;
}

/** The 12-byte nonce of RFC 7905 2 / RFC 8446 5.3: the IV xor the sequence number, left-padded. */
function xorNonce(iv: Buffer, seq: number): Buffer {
  const n = Buffer.from(iv);
  const s = seqBytes(seq);
  for (let i = 0; i < 8; i++) n[4 + i]! ^= s[i]!;
  return n;
}

/** RFC 5246 6.2.3.3 additional_data: seq_num + type + version + length. */
function aad12(seq: number, contentType: number, version: number, length: number): Buffer {
  const a = Buffer.allocUnsafe(13);
  seqBytes(seq).copy(a, 0);
  a[8] = contentType;
  a[9] = version >> 8;
  a[10] = version & 0xff;
  a[11] = length >> 8;
  a[12] = length & 0xff;
  return a;
}

function aeadOpen(cipher: RecordCipher, key: Buffer, nonce: Buffer, aad: Buffer, ct: Uint8Array, tag: Uint8Array): Buffer | null {
  try {
    const d = createDecipheriv(cipher as 'aes-128-gcm', key, nonce, { authTagLength: TAG });
    d.setAAD(aad, { plaintextLength: ct.length });
    d.setAuthTag(tag);
    const a = d.update(ct);
    const b = d.final();
    return b.length === 0 ? a : Buffer.concat([a, b]);
  } catch {
    return null;
  }
}

/**
 * Decrypts one protected record whose fragment is buf[off, end) (its header gave contentType and
 * version), as record number `seq` of its direction. Malformed (at = off) when the record is too
 * short for the cipher, or does not authenticate: with the right keys every record does, so a
 * failure says the keys are not this session's (a wrong key log) or a record was damaged.
 */
export function decryptRecord(
  k: RecordKeys,
  seq: number,
  contentType: number,
  version: number,
  buf: Uint8Array,
  off: number,
  end: number,
): Decoded<PlainRecord> {
  const p = k.params;
  const len = end - off;
  if (p.tls13) {
    if (len < TAG + 1) return malformed(off, `protected record of ${len} bytes is shorter than its ${TAG}-byte tag and content type`);
    // RFC 8446 5.2: additional_data is the record header.
    const aad = Buffer.from([contentType, version >> 8, version & 0xff, len >> 8, len & 0xff]);
    const pt = aeadOpen(p.cipher, k.key, xorNonce(k.iv, seq), aad, buf.subarray(off, end - TAG), buf.subarray(end - TAG, end));
    if (pt === null) return malformed(off, 'record does not authenticate with these keys');
    // RFC 8446 5.4: TLSInnerPlaintext = content || ContentType || zeros.
    let i = pt.length - 1;
    while (i >= 0 && pt[i] === 0) i--;
    if (i < 0) return malformed(off, 'decrypted record has no content type (all padding)');
    return done({ contentType: pt[i]!, plaintext: pt.subarray(0, i) }, len);
  }
  if (p.mac === null) {
    if (p.cipher === 'chacha20-poly1305') {
      if (len < TAG) return malformed(off, `protected record of ${len} bytes is shorter than its ${TAG}-byte tag`);
      const n = len - TAG;
      const pt = aeadOpen(p.cipher, k.key, xorNonce(k.iv, seq), aad12(seq, contentType, version, n), buf.subarray(off, off + n), buf.subarray(off + n, end));
      if (pt === null) return malformed(off, 'record does not authenticate with these keys');
      return done({ contentType, plaintext: pt }, len);
    }
    // RFC 5288 3: GCMNonce = salt (4, implicit) + nonce_explicit (8, in the record).
    if (len < 8 + TAG) return malformed(off, `protected record of ${len} bytes is shorter than its explicit nonce and tag`);
    const n = len - 8 - TAG;
    const nonce = Buffer.concat([k.iv, buf.subarray(off, off + 8)]);
    const pt = aeadOpen(p.cipher, k.key, nonce, aad12(seq, contentType, version, n), buf.subarray(off + 8, off + 8 + n), buf.subarray(end - TAG, end));
    if (pt === null) return malformed(off, 'record does not authenticate with these keys');
    return done({ contentType, plaintext: pt }, len);
  }
  return decryptCbc(k, seq, contentType, version, buf, off, end);
}

/**
 * RFC 5246 6.2.3.2 (MAC then encrypt) and RFC 7366 3 (encrypt then MAC), explicit IV (TLS 1.1, 1.2);
 * TLS 1.0's implicit, chained IV (RFC 2246 6.2.3.2) when the keys say so (k.iv moves on).
 */
function decryptCbc(k: RecordKeys, seq: number, contentType: number, version: number, buf: Uint8Array, off: number, end: number): Decoded<PlainRecord> {
  const p = k.params;
  const len = end - off;
  const ml = p.macLength;
  const etm = k.encryptThenMac;
  const cbcLen = etm ? len - ml : len;
  const ivLen = k.chainedIv ? 0 : 16;
  if (cbcLen < ivLen + 16 || cbcLen % 16 !== 0) return malformed(off, `CBC record of ${len} bytes is not ${ivLen > 0 ? 'an IV plus ' : ''}whole blocks${etm ? ' plus its MAC' : ''}`);
  if (etm) {
    const mac = createHmac(p.mac!, k.macKey).update(aad12(seq, contentType, version, cbcLen)).update(buf.subarray(off, off + cbcLen)).digest();
    if (!timingSafeEqual(mac, buf.subarray(off + cbcLen, end))) return malformed(off, 'record does not authenticate with these keys');
  }
  let dec: Buffer;
  try {
    const d = createDecipheriv(p.cipher, k.key, ivLen > 0 ? buf.subarray(off, off + 16) : k.iv);
    d.setAutoPadding(false);
    dec = Buffer.concat([d.update(buf.subarray(off + ivLen, off + cbcLen)), d.final()]);
  } catch {
    return malformed(off, 'record does not decrypt with these keys');
  }
  // TLS 1.0: the next record's IV is this record's last ciphertext block.
  if (k.chainedIv) k.iv = Buffer.from(buf.subarray(off + cbcLen - 16, off + cbcLen));
  const pad = dec[dec.length - 1]!;
  const contentEnd = dec.length - 1 - pad - (etm ? 0 : ml);
  if (contentEnd < 0) return malformed(off, 'record does not decrypt with these keys (bad padding)');
  for (let i = dec.length - 1 - pad; i < dec.length - 1; i++) if (dec[i] !== pad) return malformed(off, 'record does not decrypt with these keys (bad padding)');
  const plaintext = dec.subarray(0, contentEnd);
  if (!etm) {
    const mac = createHmac(p.mac!, k.macKey).update(aad12(seq, contentType, version, contentEnd)).update(plaintext).digest();
    if (!timingSafeEqual(mac, dec.subarray(contentEnd, contentEnd + ml))) return malformed(off, 'record does not authenticate with these keys');
  }
  return done({ contentType, plaintext }, len);
}

/**
 * Encrypts one record the way decryptRecord reads it (for test vectors and fixtures; the analysis
 * never encrypts). CBC uses the given IV (16 bytes) or zeros.
 */
export function encryptRecord(k: RecordKeys, seq: number, contentType: number, version: number, plaintext: Uint8Array, explicit?: Uint8Array): Buffer {
  const p = k.params;
  if (p.tls13) {
    const inner = Buffer.concat([plaintext, Uint8Array.of(contentType)]);
    const len = inner.length + TAG;
    const c = createCipheriv(p.cipher as 'aes-128-gcm', k.key, xorNonce(k.iv, seq), { authTagLength: TAG });
    c.setAAD(Buffer.from([23, 3, 3, len >> 8, len & 0xff]), { plaintextLength: inner.length });
    return Buffer.concat([c.update(inner), c.final(), c.getAuthTag()]);
  }
  if (p.mac === null) {
    const aad = aad12(seq, contentType, version, plaintext.length);
    if (p.cipher === 'chacha20-poly1305') {
      const c = createCipheriv(p.cipher as 'aes-128-gcm', k.key, xorNonce(k.iv, seq), { authTagLength: TAG });
      c.setAAD(aad, { plaintextLength: plaintext.length });
      return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    }
    const ex = explicit ?? seqBytes(seq);
    const c = createCipheriv(p.cipher as 'aes-128-gcm', k.key, Buffer.concat([k.iv, ex]), { authTagLength: TAG });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    return Buffer.concat([ex, c.update(plaintext), c.final(), c.getAuthTag()]);
  }
  const iv = Buffer.from(k.chainedIv ? k.iv : (explicit ?? Buffer.alloc(16)));
  const ml = p.macLength;
  const body = k.encryptThenMac ? Buffer.from(plaintext) : Buffer.concat([plaintext, createHmac(p.mac, k.macKey).update(aad12(seq, contentType, version, plaintext.length)).update(plaintext).digest()]);
  const pad = 15 - (body.length % 16);
  const padded = Buffer.concat([body, Buffer.alloc(pad + 1, pad)]);
  const c = createCipheriv(p.cipher, k.key, iv);
  c.setAutoPadding(false);
  const blocks = Buffer.concat([c.update(padded), c.final()]);
  if (k.chainedIv) k.iv = Buffer.from(blocks.subarray(blocks.length - 16));
  const ct = k.chainedIv ? blocks : Buffer.concat([iv, blocks]);
  if (!k.encryptThenMac) return ct;
  void ml;
  return Buffer.concat([ct, createHmac(p.mac, k.macKey).update(aad12(seq, contentType, version, ct.length)).update(ct).digest()]);
}
