// An NLA logon test (MS-CSSP 3.1.5 steps 1-3): NTLMv2 AUTHENTICATE (MS-NLMP 3.1.5.1.2, 3.3.2) and the
// pubKeyAuth that binds it to the TLS server's public key, sealed with the NTLM session keys
// (MS-NLMP 3.4.4). The server answers with its own pubKeyAuth (the logon was accepted) or with an
// errorCode (MS-CSSP 2.2.1, version 3 and later). The credentials themselves (TSCredentials) are
// never sent: the probe stops once the server has judged the password.
// Node 20's OpenSSL 3 keeps MD4 and RC4 in its legacy provider (createHash('md4') throws), so both
// are written here (RFC 1320, and RC4 as in RFC 6229's test vectors).
import { createHash, createHmac, randomBytes } from 'node:crypto';

// ---------------------------------------------------------------- MD4 (RFC 1320)

function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

export function md4(data: Uint8Array): Buffer {
  const len = data.length;
  const padded = Buffer.alloc(((len + 8) >> 6) * 64 + 64);
  padded.set(data);
  padded[len] = 0x80;
  padded.writeUInt32LE((len * 8) >>> 0, padded.length - 8);
  padded.writeUInt32LE(Math.floor((len * 8) / 2 ** 32), padded.length - 4);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const x = new Array<number>(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = padded.readUInt32LE(off + 4 * i);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const f = (p: number, q: number, r: number): number => (p & q) | (~p & r);
    const g = (p: number, q: number, r: number): number => (p & q) | (p & r) | (q & r);
    const h = (p: number, q: number, r: number): number => p ^ q ^ r;
    // Round 1 (RFC 1320 3.4)
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + x[i]!) >>> 0, 3);
      d = rotl((d + f(a, b, c) + x[i + 1]!) >>> 0, 7);
      c = rotl((c + f(d, a, b) + x[i + 2]!) >>> 0, 11);
      b = rotl((b + f(c, d, a) + x[i + 3]!) >>> 0, 19);
    }
    // Round 2
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + x[i]! + 0x5a827999) >>> 0, 3);
      d = rotl((d + g(a, b, c) + x[i + 4]! + 0x5a827999) >>> 0, 5);
      c = rotl((c + g(d, a, b) + x[i + 8]! + 0x5a827999) >>> 0, 9);
      b = rotl((b + g(c, d, a) + x[i + 12]! + 0x5a827999) >>> 0, 13);
    }
    // Round 3
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + x[i]! + 0x6ed9eba1) >>> 0, 3);
      d = rotl((d + h(a, b, c) + x[i + 8]! + 0x6ed9eba1) >>> 0, 9);
      c = rotl((c + h(d, a, b) + x[i + 4]! + 0x6ed9eba1) >>> 0, 11);
      b = rotl((b + h(c, d, a) + x[i + 12]! + 0x6ed9eba1) >>> 0, 15);
    }
    a = (a + aa) >>> 0;
    b = (b + bb) >>> 0;
    c = (c + cc) >>> 0;
    d = (d + dd) >>> 0;
  }
  const out = Buffer.alloc(16);
  out.writeUInt32LE(a, 0);
  out.writeUInt32LE(b, 4);
  out.writeUInt32LE(c, 8);
  out.writeUInt32LE(d, 12);
  return out;
}

// ---------------------------------------------------------------- RC4

/** An RC4 keystream whose state carries over between calls (MS-NLMP 3.4.4.2: one handle per direction). */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    for (let k = 0; k < 256; k++) this.s[k] = k;
    let j = 0;
    for (let k = 0; k < 256; k++) {
      j = (j + this.s[k]! + key[k % key.length]!) & 0xff;
      const t = this.s[k]!;
      this.s[k] = this.s[j]!;
      this.s[j] = t;
    }
  }

  update(data: Uint8Array): Buffer {
    const out = Buffer.alloc(data.length);
    for (let k = 0; k < data.length; k++) {
      this.i = (this.i + 1) & 0xff;
      this.j = (this.j + this.s[this.i]!) & 0xff;
      const t = this.s[this.i]!;
      this.s[this.i] = this.s[this.j]!;
      this.s[this.j] = t;
      out[k] = data[k]! ^ this.s[(this.s[this.i]! + this.s[this.j]!) & 0xff]!;
    }
    return out;
  }
}

// ---------------------------------------------------------------- NTLMv2 (MS-NLMP 3.3.2)

const hmacMd5 = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = createHmac('md5', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');

/** NTOWFv2(Passwd, User, UserDom) = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User), UserDom))). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(md4(utf16(password)), utf16(user.toUpperCase() + domain));
}

export interface Ntlmv2Response {
  ntChallengeResponse: Buffer;
  ntProofStr: Buffer;
  sessionBaseKey: Buffer;
}

/** MS-NLMP 3.3.2: temp, NTProofStr, NtChallengeResponse and SessionBaseKey. `time`: FILETIME, 8 bytes LE. */
export function ntlmv2Response(responseKeyNt: Buffer, serverChallenge: Uint8Array, clientChallenge: Uint8Array, time: Uint8Array, targetInfo: Uint8Array): Ntlmv2Response {
  const temp = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), time, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(responseKeyNt, serverChallenge, temp);
  return { ntChallengeResponse: Buffer.concat([ntProofStr, temp]), ntProofStr, sessionBaseKey: hmacMd5(responseKeyNt, ntProofStr) };
}

/** MS-NLMP 3.4.5.2 / 3.4.5.3: client-to-server signing and sealing keys (128-bit, extended session security). */
export function clientKeys(exportedSessionKey: Uint8Array): { signing: Buffer; sealing: Buffer } {
  const md5 = (s: string): Buffer => createHash('md5').update(exportedSessionKey).update(Buffer.from(s, 'latin1')).digest();
  return {
    signing: md5('session key to client-to-server signing key magic constant\0'),
    sealing: md5('session key to client-to-server sealing key magic constant\0'),
  };
}

/** MS-NLMP 3.4.4.2 / 2.2.2.9.1: the sealed message and its 16-byte signature (version 1, RC4'd checksum, seqnum). */
export function seal(rc4: Rc4, signingKey: Uint8Array, seqNum: number, message: Uint8Array): { signature: Buffer; sealed: Buffer } {
  const sealed = rc4.update(message);
  const seq = Buffer.alloc(4);
  seq.writeUInt32LE(seqNum >>> 0, 0);
  const checksum = rc4.update(hmacMd5(signingKey, seq, message).subarray(0, 8));
  return { signature: Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seq]), sealed };
}

// ---------------------------------------------------------------- CHALLENGE and AUTHENTICATE

export interface ChallengeFields {
  flags: number;
  serverChallenge: Buffer;
  targetInfo: Buffer;
}

/** The fields of a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) an AUTHENTICATE needs; null when the bytes are not one. */
export function challengeFields(msg: Buffer): ChallengeFields | null {
  if (msg.length < 48 || msg.toString('latin1', 0, 8) !== 'NTLMSSP\0' || msg.readUInt32LE(8) !== 2) return null;
  const tiLen = msg.readUInt16LE(40);
  const tiOff = msg.readUInt32LE(44);
  if (tiOff + tiLen > msg.length) return null;
  return { flags: msg.readUInt32LE(20), serverChallenge: Buffer.from(msg.subarray(24, 32)), targetInfo: Buffer.from(msg.subarray(tiOff, tiOff + tiLen)) };
}

/** AV pairs (MS-NLMP 2.2.2.1) with MsvAvFlags (6) set to 0x2 (a MIC follows) and MsvAvEOL last. */
function withMicFlag(targetInfo: Buffer): { info: Buffer; hasTimestamp: boolean } {
  const pairs: Buffer[] = [];
  let flags = 0;
  let hasTimestamp = false;
  for (let p = 0; p + 4 <= targetInfo.length; ) {
    const id = targetInfo.readUInt16LE(p);
    const len = targetInfo.readUInt16LE(p + 2);
    if (id === 0 || p + 4 + len > targetInfo.length) break;
    if (id === 6 && len === 4) flags = targetInfo.readUInt32LE(p + 4);
    else pairs.push(targetInfo.subarray(p, p + 4 + len));
    if (id === 7) hasTimestamp = true;
    p += 4 + len;
  }
  const f = Buffer.alloc(8);
  f.writeUInt16LE(6, 0);
  f.writeUInt16LE(4, 2);
  f.writeUInt32LE((flags | 0x2) >>> 0, 4);
  return { info: Buffer.concat([...pairs, f, Buffer.alloc(4)]), hasTimestamp };
}

/** FILETIME now (100 ns since 1601-01-01), 8 bytes LE. */
function fileTimeNow(): Buffer {
  const t = BigInt(Date.now()) * 10000n + 116444736000000000n;
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(t, 0);
  return b;
}

export interface Authenticated {
  message: Buffer;
  exportedSessionKey: Buffer;
}

/**
 * AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) with an NTLMv2 response, an encrypted random session key
 * (KEY_EXCH) and a MIC over NEGOTIATE + CHALLENGE + AUTHENTICATE (3.1.5.1.2).
 */
export function authenticateMessage(
  o: { user: string; domain: string; password: string; workstation?: string },
  negotiate: Buffer,
  challenge: Buffer,
  fields: ChallengeFields,
  entropy: { clientChallenge?: Buffer; exportedSessionKey?: Buffer; time?: Buffer } = {},
): Authenticated {
  const { info } = withMicFlag(fields.targetInfo);
  const ts = (() => {
    for (let p = 0; p + 4 <= fields.targetInfo.length; ) {
      const id = fields.targetInfo.readUInt16LE(p);
      const len = fields.targetInfo.readUInt16LE(p + 2);
      if (id === 0) break;
      if (id === 7 && len === 8) return Buffer.from(fields.targetInfo.subarray(p + 4, p + 12));
      p += 4 + len;
    }
    return null;
  })();
  const time = entropy.time ?? ts ?? fileTimeNow();
  const clientChallenge = entropy.clientChallenge ?? randomBytes(8);
  const key = ntowfv2(o.password, o.user, o.domain);
  const r = ntlmv2Response(key, fields.serverChallenge, clientChallenge, time, info);
  // With MsvAvTimestamp the LM response is Z(24) (MS-NLMP 3.1.5.1.2); else LMv2.
  const lm = ts ? Buffer.alloc(24) : Buffer.concat([hmacMd5(key, fields.serverChallenge, clientChallenge), clientChallenge]);
  const exportedSessionKey = entropy.exportedSessionKey ?? randomBytes(16);
  const encryptedKey = new Rc4(r.sessionBaseKey).update(exportedSessionKey);
  const domain = utf16(o.domain);
  const user = utf16(o.user);
  const ws = utf16(o.workstation ?? '');
  const HEADER = 88; // 64 + VERSION (8) + MIC (16)
  const payload = [lm, r.ntChallengeResponse, domain, user, ws, encryptedKey];
  const msg = Buffer.alloc(HEADER + payload.reduce((a, b) => a + b.length, 0));
  msg.write('NTLMSSP\0', 0, 'latin1');
  msg.writeUInt32LE(3, 8);
  let off = HEADER;
  payload.forEach((p, i) => {
    const at = 12 + i * 8; // Lm, Nt, Domain, User, Workstation, EncryptedRandomSessionKey fields
    msg.writeUInt16LE(p.length, at);
    msg.writeUInt16LE(p.length, at + 2);
    msg.writeUInt32LE(off, at + 4);
    p.copy(msg, off);
    off += p.length;
  });
  // Flags: what the CHALLENGE granted, with KEY_EXCH, SIGN and SEAL kept (CredSSP seals pubKeyAuth).
  msg.writeUInt32LE((fields.flags | 0x40000000 | 0x20 | 0x10 | 0x02000000) >>> 0, 60);
  msg[64] = 10;
  msg[65] = 0;
  msg.writeUInt16LE(0, 66);
  msg[71] = 15;
  const mic = hmacMd5(exportedSessionKey, negotiate, challenge, msg);
  mic.copy(msg, 72);
  return { message: msg, exportedSessionKey };
}

// ---------------------------------------------------------------- CredSSP pubKeyAuth (MS-CSSP 3.1.5)

/** The subjectPublicKey BIT STRING's bytes (after the unused-bits octet) from a SubjectPublicKeyInfo DER. */
export function subjectPublicKey(spki: Buffer): Buffer | null {
  const hdr = (p: number): { tag: number; len: number; body: number } | null => {
    if (p + 2 > spki.length) return null;
    const l0 = spki[p + 1]!;
    if (l0 < 0x80) return { tag: spki[p]!, len: l0, body: p + 2 };
    const n = l0 & 0x7f;
    if (n === 0 || n > 3 || p + 2 + n > spki.length) return null;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + spki[p + 2 + i]!;
    return { tag: spki[p]!, len, body: p + 2 + n };
  };
  const outer = hdr(0);
  if (!outer || outer.tag !== 0x30) return null;
  const alg = hdr(outer.body);
  if (!alg || alg.tag !== 0x30) return null;
  const bits = hdr(alg.body + alg.len);
  if (!bits || bits.tag !== 0x03 || bits.body + bits.len > spki.length) return null;
  return Buffer.from(spki.subarray(bits.body + 1, bits.body + bits.len));
}

/** What pubKeyAuth seals: SHA-256 of the binding magic, nonce and key (version 5+), or the key (2-4). */
export function clientPubKeyAuthInput(serverVersion: number, clientNonce: Buffer, publicKey: Buffer): Buffer {
  if (serverVersion >= 5) {
    return createHash('sha256').update(Buffer.from('CredSSP Client-To-Server Binding Hash\0', 'latin1')).update(clientNonce).update(publicKey).digest();
  }
  return publicKey;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.of(tag), derLength(content.length), content]);
}

/** TSRequest (MS-CSSP 2.2.1) with version, negoTokens [AUTHENTICATE], pubKeyAuth and (version 5+) clientNonce. */
export function authenticateTsRequest(version: number, authenticate: Buffer, pubKeyAuth: Buffer, clientNonce: Buffer | null): Buffer {
  const parts = [
    tlv(0xa0, tlv(0x02, Buffer.of(version))),
    tlv(0xa1, tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0x04, authenticate))))),
    tlv(0xa3, tlv(0x04, pubKeyAuth)),
  ];
  if (clientNonce) parts.push(tlv(0xa5, tlv(0x04, clientNonce)));
  return tlv(0x30, Buffer.concat(parts));
}

/** The client's second TSRequest of an NLA logon. */
export function logonTsRequest(
  creds: { user: string; domain: string; password: string },
  negotiate: Buffer,
  challenge: Buffer,
  serverVersion: number,
  spki: Buffer,
): Buffer | string {
  const fields = challengeFields(challenge);
  if (!fields) return 'the CHALLENGE could not be read';
  const pub = subjectPublicKey(spki);
  if (!pub) return "the server's public key could not be read";
  const auth = authenticateMessage(creds, negotiate, challenge, fields);
  const keys = clientKeys(auth.exportedSessionKey);
  const nonce = serverVersion >= 5 ? randomBytes(32) : null;
  const sealedInput = clientPubKeyAuthInput(serverVersion, nonce ?? Buffer.alloc(0), pub);
  const s = seal(new Rc4(keys.sealing), keys.signing, 0, sealedInput);
  return authenticateTsRequest(6, auth.message, Buffer.concat([s.signature, s.sealed]), nonce);
}
