// Naming the security token inside a CredSSP negoToken (MS-CSSP 2.2.1.1): an NTLM message
// (MS-NLMP 2.2.1), a SPNEGO token (RFC 4178 4.2), or a Kerberos GSS-API token (RFC 4121 4.1).
// Pure decoders over (buf, off, end); strings are bounded and read only inside the message.
import { type Decoded, done, incomplete, malformed } from './result.js';
import { berInt, readTlv } from './ber.js';

/** "NTLMSSP\0" (MS-NLMP 2.2.1.1). */
const NTLMSSP = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00];

export const NTLM_NEGOTIATE = 1;
export const NTLM_CHALLENGE = 2;
export const NTLM_AUTHENTICATE = 3;

/** MS-NLMP 2.2.2.5 NEGOTIATE flags used to read strings. */
const NTLMSSP_NEGOTIATE_UNICODE = 0x00000001;
const NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x00001000;
const NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x00002000;
const NTLMSSP_NEGOTIATE_VERSION = 0x02000000;

/** Longest string we return, in bytes of the message (a longer field is cut and flagged). */
export const NTLM_MAX_STRING_BYTES = 512;

/** MS-NLMP 2.2.2.10 VERSION: the sender's Windows version. */
export interface NtlmVersion {
  major: number;
  minor: number;
  build: number;
  /** NTLMSSP_REVISION_W2K3 = 15. */
  ntlmRevision: number;
}

/** An NTLM message header and the names it carries (MS-NLMP 2.2.1.1-2.2.1.3). */
export interface NtlmMessage {
  messageType: number;
  /** "NEGOTIATE" | "CHALLENGE" | "AUTHENTICATE" | "unknown (n)". */
  messageName: string;
  negotiateFlags: number | null;
  /** NEGOTIATE: DomainName (OEM); AUTHENTICATE: DomainName. */
  domain: string | null;
  /** AUTHENTICATE: UserName. */
  user: string | null;
  /** NEGOTIATE / AUTHENTICATE: Workstation. */
  workstation: string | null;
  /** CHALLENGE: TargetName. */
  targetName: string | null;
  /** CHALLENGE TargetInfo AV pairs (MS-NLMP 2.2.2.1): MsvAvNbDomainName, MsvAvNbComputerName, MsvAvDnsDomainName, MsvAvDnsComputerName. */
  nbDomain: string | null;
  nbComputer: string | null;
  dnsDomain: string | null;
  dnsComputer: string | null;
  version: NtlmVersion | null;
  /** Fields that pointed outside the message or were cut at NTLM_MAX_STRING_BYTES. */
  problems: string[];
}

function u16le(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8);
}

function u32le(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** True when buf[off..] starts with "NTLMSSP\0". */
export function isNtlmssp(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 8) return false;
  for (let i = 0; i < 8; i++) if (buf[off + i] !== NTLMSSP[i]) return false;
  return true;
}

function text(buf: Uint8Array, off: number, len: number, unicode: boolean): string {
  let s = '';
  if (unicode) for (let i = 0; i + 1 < len; i += 2) s += String.fromCharCode(u16le(buf, off + i));
  else for (let i = 0; i < len; i++) s += String.fromCharCode(buf[off + i]!);
  return s;
}

/**
 * Reads a field described by a (Len, MaxLen, BufferOffset) triple at `fieldAt` (MS-NLMP 2.2.1).
 * Offsets are relative to the message start. Null when empty or outside the message.
 */
function field(buf: Uint8Array, msgOff: number, msgEnd: number, fieldAt: number, unicode: boolean, name: string, problems: string[]): string | null {
  if (fieldAt + 8 > msgEnd) return null;
  const len = u16le(buf, fieldAt);
  const rel = u32le(buf, fieldAt + 4);
  if (len === 0) return null;
  if (rel > msgEnd - msgOff || msgOff + rel + len > msgEnd) {
    problems.push(`${name} (${len} bytes at offset ${rel}) lies outside the message`);
    return null;
  }
  let n = len;
  if (n > NTLM_MAX_STRING_BYTES) {
    problems.push(`${name} of ${len} bytes cut to ${NTLM_MAX_STRING_BYTES}`);
    n = NTLM_MAX_STRING_BYTES;
  }
  return text(buf, msgOff + rel, n, unicode);
}

function version(buf: Uint8Array, p: number, end: number): NtlmVersion | null {
  if (p + 8 > end) return null;
  return { major: buf[p]!, minor: buf[p + 1]!, build: u16le(buf, p + 2), ntlmRevision: buf[p + 7]! };
}

/**
 * Decodes an NTLM message at `off` (MS-NLMP 2.2.1.1 NEGOTIATE, 2.2.1.2 CHALLENGE,
 * 2.2.1.3 AUTHENTICATE). `end` is the end of the token (the message's payload lies before it).
 * Incomplete when shorter than the fixed header of its type; malformed when the signature is wrong.
 */
export function readNtlmMessage(buf: Uint8Array, off: number, end: number): Decoded<NtlmMessage> {
  if (end - off < 12) {
    for (let i = 0; i < Math.min(8, end - off); i++) if (buf[off + i] !== NTLMSSP[i]) return malformed(off + i, 'not an NTLMSSP message');
    return incomplete(12 - Math.max(0, end - off));
  }
  if (!isNtlmssp(buf, off, end)) return malformed(off, 'not an NTLMSSP message (signature "NTLMSSP\\0" missing)');
  const messageType = u32le(buf, off + 8);
  const problems: string[] = [];
  const m: NtlmMessage = {
    messageType,
    messageName: messageType === 1 ? 'NEGOTIATE' : messageType === 2 ? 'CHALLENGE' : messageType === 3 ? 'AUTHENTICATE' : `unknown (${messageType})`,
    negotiateFlags: null,
    domain: null,
    user: null,
    workstation: null,
    targetName: null,
    nbDomain: null,
    nbComputer: null,
    dnsDomain: null,
    dnsComputer: null,
    version: null,
    problems,
  };
  const fixed = messageType === 1 ? 16 : messageType === 2 ? 32 : messageType === 3 ? 64 : 12;
  if (end - off < fixed) return incomplete(fixed - (end - off));
  if (messageType === NTLM_NEGOTIATE) {
    const flags = u32le(buf, off + 12);
    m.negotiateFlags = flags;
    // DomainNameFields @16, WorkstationFields @24, Version @32 (when present): OEM strings.
    if (flags & NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED) m.domain = field(buf, off, end, off + 16, false, 'DomainName', problems);
    if (flags & NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED) m.workstation = field(buf, off, end, off + 24, false, 'Workstation', problems);
    if (flags & NTLMSSP_NEGOTIATE_VERSION) m.version = version(buf, off + 32, end);
  } else if (messageType === NTLM_CHALLENGE) {
    // TargetNameFields @12, NegotiateFlags @20, ServerChallenge @24, Reserved @32, TargetInfoFields @40, Version @48.
    const flags = u32le(buf, off + 20);
    m.negotiateFlags = flags;
    const unicode = (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
    m.targetName = field(buf, off, end, off + 12, unicode, 'TargetName', problems);
    if (end - off >= 48) {
      const len = u16le(buf, off + 40);
      const rel = u32le(buf, off + 44);
      if (len > 0 && (rel > end - off || off + rel + len > end)) problems.push(`TargetInfo (${len} bytes at offset ${rel}) lies outside the message`);
      else if (len > 0) readAvPairs(buf, off + rel, off + rel + len, m);
    }
    if (flags & NTLMSSP_NEGOTIATE_VERSION) m.version = version(buf, off + 48, end);
  } else if (messageType === NTLM_AUTHENTICATE) {
    // Lm @12, Nt @20, DomainName @28, UserName @36, Workstation @44, EncryptedRandomSessionKey @52, NegotiateFlags @60, Version @64.
    const flags = u32le(buf, off + 60);
    m.negotiateFlags = flags;
    const unicode = (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
    m.domain = field(buf, off, end, off + 28, unicode, 'DomainName', problems);
    m.user = field(buf, off, end, off + 36, unicode, 'UserName', problems);
    m.workstation = field(buf, off, end, off + 44, unicode, 'Workstation', problems);
    if (flags & NTLMSSP_NEGOTIATE_VERSION) m.version = version(buf, off + 64, end);
  }
  return done(m, end - off);
}

/** MS-NLMP 2.2.2.1 AV_PAIR list (AvId, AvLen, Value; ends with MsvAvEOL). Names are UTF-16LE. */
function readAvPairs(buf: Uint8Array, p: number, end: number, m: NtlmMessage): void {
  let guard = 0;
  while (p + 4 <= end && guard++ < 64) {
    const id = u16le(buf, p);
    const len = u16le(buf, p + 2);
    if (id === 0) return; // MsvAvEOL
    if (p + 4 + len > end) {
      m.problems.push(`TargetInfo AV pair ${id} runs past TargetInfo`);
      return;
    }
    const v = text(buf, p + 4, Math.min(len, NTLM_MAX_STRING_BYTES), true);
    if (id === 1) m.nbComputer = v;
    else if (id === 2) m.nbDomain = v;
    else if (id === 3) m.dnsComputer = v;
    else if (id === 4) m.dnsDomain = v;
    p += 4 + len;
  }
}

/** What a negoToken is. */
export type NegoTokenKind = 'ntlm' | 'spnego' | 'kerberos' | 'pku2u' | 'unknown';

export interface NegoTokenInfo {
  kind: NegoTokenKind;
  /** One line, e.g. "NTLM NEGOTIATE", "SPNEGO negTokenInit (NTLM NEGOTIATE)", "Kerberos AP-REQ". */
  name: string;
  /** The NTLM message, bare or found inside SPNEGO. */
  ntlm: NtlmMessage | null;
  /** Label for CredsspInfo.tokens: "1" / "2" / "3" for NTLM types, else "kerberos" / "spnego" / "pku2u" / "unknown". */
  label: string;
  /** A Kerberos KRB-ERROR (RFC 4120 5.9.1), bare, in a GSS-API token or in a SPNEGO negTokenResp: its error-code. */
  krbError: KrbError | null;
}

/** KRB-ERROR error-code (RFC 4120 7.5.9) and its name. */
export interface KrbError {
  code: number;
  name: string;
}

/** RFC 4120 7.5.9 error codes seen when Kerberos fails for Remote Desktop (and MS-KILE's usage). */
export const KRB_ERROR_NAMES: Readonly<Record<number, string>> = {
  6: 'KDC_ERR_C_PRINCIPAL_UNKNOWN',
  7: 'KDC_ERR_S_PRINCIPAL_UNKNOWN',
  12: 'KDC_ERR_POLICY',
  14: 'KDC_ERR_ETYPE_NOSUPP',
  18: 'KDC_ERR_CLIENT_REVOKED',
  23: 'KDC_ERR_KEY_EXPIRED',
  24: 'KDC_ERR_PREAUTH_FAILED',
  25: 'KDC_ERR_PREAUTH_REQUIRED',
  31: 'KRB_AP_ERR_BAD_INTEGRITY',
  32: 'KRB_AP_ERR_TKT_EXPIRED',
  34: 'KRB_AP_ERR_REPEAT',
  35: 'KRB_AP_ERR_NOT_US',
  37: 'KRB_AP_ERR_SKEW',
  41: 'KRB_AP_ERR_MODIFIED',
  60: 'KRB_ERR_GENERIC',
  68: 'KDC_ERR_WRONG_REALM',
};

/**
 * KRB-ERROR ::= [APPLICATION 30] SEQUENCE { pvno [0], msg-type [1], ctime [2] OPTIONAL, cusec [3]
 * OPTIONAL, stime [4], susec [5], error-code [6] Int32, ... } (RFC 4120 5.9.1) at off: its error-code,
 * or null when the bytes are not one.
 */
export function readKrbError(buf: Uint8Array, off: number, end: number): KrbError | null {
  if (buf[off] !== 0x7e) return null;
  const app = readTlv(buf, off, end);
  if (!app.ok) return null;
  const seq = readTlv(buf, app.value.valueOff, app.value.end);
  if (!seq.ok || buf[app.value.valueOff] !== 0x30) return null;
  let p = seq.value.valueOff;
  while (p < seq.value.end) {
    const f = readTlv(buf, p, seq.value.end);
    if (!f.ok) return null;
    if (buf[p] === 0xa6) {
      const i = readTlv(buf, f.value.valueOff, f.value.end);
      if (!i.ok || buf[f.value.valueOff] !== 0x02) return null;
      const code = berInt(buf, i.value.valueOff, i.value.length);
      if (code === null) return null;
      return { code, name: KRB_ERROR_NAMES[code] ?? `unknown (${code})` };
    }
    p = f.value.end;
  }
  return null;
}

/** The KRB-ERROR of a GSS-API Kerberos token (tok_id 03 00, RFC 4121 4.1) inside a SPNEGO message (bounded scan), or null. */
function findKrbError(buf: Uint8Array, off: number, end: number): KrbError | null {
  for (let p = off; p + 12 <= end; p++) {
    if (buf[p] !== 0x06 || buf[p + 1] !== 9) continue;
    if (!bytesAt(buf, p + 2, end, OID_KRB5) && !bytesAt(buf, p + 2, end, OID_MS_KRB5)) continue;
    if (buf[p + 11] === 0x03 && buf[p + 12] === 0x00) return readKrbError(buf, p + 13, end);
  }
  return null;
}

// DER OIDs (content bytes): SPNEGO 1.3.6.1.5.5.2, Kerberos 1.2.840.113554.1.2.2,
// MS Kerberos 1.2.840.48018.1.2.2, PKU2U 1.3.6.1.5.2.7, NTLM 1.3.6.1.4.1.311.2.2.10.
const OID_SPNEGO = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const OID_KRB5 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const OID_MS_KRB5 = [0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
const OID_PKU2U = [0x2b, 0x06, 0x01, 0x05, 0x02, 0x07];

function bytesAt(buf: Uint8Array, p: number, end: number, b: readonly number[]): boolean {
  if (p < 0 || end - p < b.length) return false;
  for (let i = 0; i < b.length; i++) if (buf[p + i] !== b[i]) return false;
  return true;
}

/** Offset of the first "NTLMSSP\0" in [off, end) (bounded linear scan), or -1. */
function findNtlmssp(buf: Uint8Array, off: number, end: number): number {
  for (let p = off; p + 8 <= end; p++) if (buf[p] === 0x4e && isNtlmssp(buf, p, end)) return p;
  return -1;
}

/** Skips a DER header (tag + definite length) at p; returns the content offset or -1. */
function skipHeader(buf: Uint8Array, p: number, end: number): number {
  if (end - p < 2) return -1;
  const l0 = buf[p + 1]!;
  if (l0 < 0x80) return p + 2;
  const n = l0 & 0x7f;
  if (n === 0 || n > 4 || p + 2 + n > end) return -1;
  return p + 2 + n;
}

const KRB_TOK: Readonly<Record<number, string>> = { 0x0100: 'AP-REQ', 0x0200: 'AP-REP', 0x0300: 'KRB-ERROR' };

/**
 * Names a negoToken by its first bytes: "NTLMSSP\0" (MS-NLMP), 0x60 + OID (RFC 2743 3.1
 * InitialContextToken: SPNEGO, Kerberos, PKU2U), 0xa0 / 0xa1 (RFC 4178 4.2 negTokenInit /
 * negTokenResp), 0x6e / 0x6f / 0x7e (raw Kerberos AP-REQ / AP-REP / KRB-ERROR, RFC 4120 5.5-5.9).
 * An NTLM message wrapped in SPNEGO is found and decoded too.
 */
export function identifyNegoToken(buf: Uint8Array, off: number, end: number): NegoTokenInfo {
  if (isNtlmssp(buf, off, end)) {
    const r = readNtlmMessage(buf, off, end);
    const ntlm = r.ok ? r.value : null;
    const t = ntlm ? ntlm.messageType : 0;
    return { kind: 'ntlm', name: ntlm ? `NTLM ${ntlm.messageName}` : 'NTLM (truncated)', ntlm, label: t >= 1 && t <= 3 ? String(t) : 'unknown', krbError: null };
  }
  if (end - off < 2) return { kind: 'unknown', name: 'unknown token', ntlm: null, label: 'unknown', krbError: null };
  const b0 = buf[off]!;
  const inner = (kind: NegoTokenKind, name: string): NegoTokenInfo => {
    const at = findNtlmssp(buf, off, end);
    if (at >= 0 && kind === 'spnego') {
      const r = readNtlmMessage(buf, at, end);
      if (r.ok) return { kind, name: `${name} (NTLM ${r.value.messageName})`, ntlm: r.value, label: String(r.value.messageType), krbError: null };
    }
    return { kind, name, ntlm: null, label: kind, krbError: kind === 'spnego' ? findKrbError(buf, off, end) : null };
  };
  if (b0 === 0x60) {
    const c = skipHeader(buf, off, end);
    if (c >= 0 && buf[c] === 0x06) {
      const oidLen = buf[c + 1]!;
      const o = c + 2;
      if (oidLen === OID_SPNEGO.length && bytesAt(buf, o, end, OID_SPNEGO)) return inner('spnego', 'SPNEGO negTokenInit');
      if (oidLen === OID_PKU2U.length && bytesAt(buf, o, end, OID_PKU2U)) return inner('pku2u', 'PKU2U');
      if (oidLen === 9 && (bytesAt(buf, o, end, OID_KRB5) || bytesAt(buf, o, end, OID_MS_KRB5))) {
        const tokAt = o + 9;
        const tok = end - tokAt >= 2 ? (buf[tokAt]! << 8) | buf[tokAt + 1]! : -1;
        return { kind: 'kerberos', name: `Kerberos ${KRB_TOK[tok] ?? 'token'}`, ntlm: null, label: 'kerberos', krbError: tok === 0x0300 ? readKrbError(buf, tokAt + 2, end) : null };
      }
    }
    return { kind: 'unknown', name: 'GSS-API token with an unknown mechanism', ntlm: null, label: 'unknown', krbError: null };
  }
  if (b0 === 0xa0) return inner('spnego', 'SPNEGO negTokenInit');
  if (b0 === 0xa1) return inner('spnego', 'SPNEGO negTokenResp');
  if (b0 === 0x6e) return { kind: 'kerberos', name: 'Kerberos AP-REQ', ntlm: null, label: 'kerberos', krbError: null };
  if (b0 === 0x6f) return { kind: 'kerberos', name: 'Kerberos AP-REP', ntlm: null, label: 'kerberos', krbError: null };
  if (b0 === 0x7e) return { kind: 'kerberos', name: 'Kerberos KRB-ERROR', ntlm: null, label: 'kerberos', krbError: readKrbError(buf, off, end) };
  return { kind: 'unknown', name: 'unknown token', ntlm: null, label: 'unknown', krbError: null };
}
