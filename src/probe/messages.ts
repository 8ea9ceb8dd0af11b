// The client PDUs a probe sends, built byte for byte: the X.224 Connection Request with its
// routing cookie and RDP_NEG_REQ, and the CredSSP TSRequest carrying an NTLM NEGOTIATE.

/** The user hint every probe connection carries, so a probe capture says what made it. */
export const PROBE_COOKIE = 'rdp-autopsy-probe';

/**
 * TPKT (RFC 1006 6) + X.224 Connection Request (X.224 13.3, class 0) + "Cookie: mstshash=" line
 * + RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1, 2.2.1.1.1) when requestedProtocols is not null.
 */
export function connectionRequest(requestedProtocols: number | null, cookie = PROBE_COOKIE): Buffer {
  const cookieLine = Buffer.from(`Cookie: mstshash=${cookie}\r\n`, 'latin1');
  const neg = Buffer.alloc(requestedProtocols === null ? 0 : 8);
  if (requestedProtocols !== null) {
    neg[0] = 0x01; // TYPE_RDP_NEG_REQ
    neg[1] = 0x00; // flags
    neg.writeUInt16LE(8, 2);
    neg.writeUInt32LE(requestedProtocols >>> 0, 4);
  }
  const li = 6 + cookieLine.length + neg.length;
  const total = 4 + 1 + li;
  const b = Buffer.alloc(total);
  b[0] = 3;
  b.writeUInt16BE(total, 2);
  b[4] = li;
  b[5] = 0xe0; // CR, CDT 0
  // DST-REF 0, SRC-REF 0, class 0 (bytes 6..10 already zero)
  cookieLine.copy(b, 11);
  neg.copy(b, 11 + cookieLine.length);
  return b;
}

/** Bytes of a whole TPKT at the start of b, or null while it is cut (RFC 1006 6: length in bytes 2..3). */
export function tpktComplete(b: Buffer): number | null {
  if (b.length < 4) return null;
  if (b[0] !== 3) return b.length; // not a TPKT: hand everything back, the decoder will say why
  const n = b.readUInt16BE(2);
  return n < 4 ? b.length : n;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  if (n < 0x100) return Buffer.of(0x81, n);
  return Buffer.of(0x82, n >> 8, n & 0xff);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.of(tag), derLength(content.length), content]);
}

/** Bytes of a whole DER TLV at the start of b (definite lengths up to 4 bytes), or null while cut. */
export function derComplete(b: Buffer): number | null {
  if (b.length < 2) return null;
  const l0 = b[1]!;
  if (l0 < 0x80) return 2 + l0;
  const k = l0 & 0x7f;
  if (k === 0 || k > 4) return b.length;
  if (b.length < 2 + k) return null;
  let n = 0;
  for (let i = 0; i < k; i++) n = n * 256 + b[2 + i]!;
  return 2 + k + n;
}

/**
 * NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): no domain, no workstation, flags asking for the
 * target's names (REQUEST_TARGET, and TargetInfo comes with EXTENDED_SESSIONSECURITY), VERSION.
 */
export function ntlmNegotiate(): Buffer {
  const b = Buffer.alloc(40);
  b.write('NTLMSSP\0', 0, 'latin1');
  b.writeUInt32LE(1, 8);
  // 56 | KEY_EXCH | 128 | VERSION | TARGET_INFO | EXTENDED_SESSIONSECURITY | ALWAYS_SIGN | NTLM | SEAL | SIGN | REQUEST_TARGET | UNICODE
  b.writeUInt32LE(0xe2888235, 12);
  // DomainNameFields, WorkstationFields: empty, offset = end of the header (40)
  b.writeUInt32LE(40, 20);
  b.writeUInt32LE(40, 28);
  // VERSION (MS-NLMP 2.2.2.10): 10.0, build 0, NTLMSSP_REVISION_W2K3
  b[32] = 10;
  b[33] = 0;
  b.writeUInt16LE(0, 34);
  b[39] = 15;
  return b;
}

/** TSRequest (MS-CSSP 2.2.1) with version and one negoToken. */
export function tsRequest(version: number, negoToken: Buffer): Buffer {
  const ver = tlv(0xa0, tlv(0x02, Buffer.of(version)));
  const nego = tlv(0xa1, tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0x04, negoToken)))));
  return tlv(0x30, Buffer.concat([ver, nego]));
}
