// CredSSP (MS-CSSP 2.2.1 TSRequest) and the Early User Authorization Result PDU
// (MS-RDPBCGR 2.2.10.2). Both travel inside TLS: they are readable only from a decrypted
// stream (key log) or a test vector; without keys tls-shape.ts infers them from record sizes.
import { berIdentifier, berInt, readTlv } from './ber.js';
import { identifyNegoToken, type NegoTokenInfo } from './ntlm.js';
import { codeName, type Decoded, done, incomplete, malformed } from './result.js';

/** NTSTATUS (MS-ERREF 2.3.1) and SSPI SEC_E_* (MS-ERREF 2.1.1) values a TSRequest errorCode carries. */
export const CREDSSP_ERROR_NAMES: Readonly<Record<number, string>> = {
  0x00000000: 'STATUS_SUCCESS',
  0xc000000d: 'STATUS_INVALID_PARAMETER',
  0xc0000016: 'STATUS_MORE_PROCESSING_REQUIRED',
  0xc0000022: 'STATUS_ACCESS_DENIED',
  0xc000005e: 'STATUS_NO_LOGON_SERVERS',
  0xc000005f: 'STATUS_NO_SUCH_LOGON_SESSION',
  0xc0000064: 'STATUS_NO_SUCH_USER',
  0xc000006a: 'STATUS_WRONG_PASSWORD',
  0xc000006c: 'STATUS_PASSWORD_RESTRICTION',
  0xc000006d: 'STATUS_LOGON_FAILURE',
  0xc000006e: 'STATUS_ACCOUNT_RESTRICTION',
  0xc000006f: 'STATUS_INVALID_LOGON_HOURS',
  0xc0000070: 'STATUS_INVALID_WORKSTATION',
  0xc0000071: 'STATUS_PASSWORD_EXPIRED',
  0xc0000072: 'STATUS_ACCOUNT_DISABLED',
  0xc000009a: 'STATUS_INSUFFICIENT_RESOURCES',
  0xc00000bb: 'STATUS_NOT_SUPPORTED',
  0xc0000133: 'STATUS_TIME_DIFFERENCE_AT_DC',
  0xc000015b: 'STATUS_LOGON_TYPE_NOT_GRANTED',
  0xc000018b: 'STATUS_NO_TRUST_SAM_ACCOUNT',
  0xc000018d: 'STATUS_TRUSTED_RELATIONSHIP_FAILURE',
  0xc0000193: 'STATUS_ACCOUNT_EXPIRED',
  0xc0000224: 'STATUS_PASSWORD_MUST_CHANGE',
  0xc0000234: 'STATUS_ACCOUNT_LOCKED_OUT',
  0xc0000413: 'STATUS_AUTHENTICATION_FIREWALL_FAILED',
  0x80090300: 'SEC_E_INSUFFICIENT_MEMORY',
  0x80090301: 'SEC_E_INVALID_HANDLE',
  0x80090302: 'SEC_E_UNSUPPORTED_FUNCTION',
  0x80090303: 'SEC_E_TARGET_UNKNOWN',
  0x80090304: 'SEC_E_INTERNAL_ERROR',
  0x80090305: 'SEC_E_SECPKG_NOT_FOUND',
  0x80090308: 'SEC_E_INVALID_TOKEN',
  0x8009030c: 'SEC_E_LOGON_DENIED',
  0x8009030d: 'SEC_E_UNKNOWN_CREDENTIALS',
  0x8009030e: 'SEC_E_NO_CREDENTIALS',
  0x8009030f: 'SEC_E_MESSAGE_ALTERED',
  0x80090310: 'SEC_E_OUT_OF_SEQUENCE',
  0x80090311: 'SEC_E_NO_AUTHENTICATING_AUTHORITY',
  0x80090317: 'SEC_E_CONTEXT_EXPIRED',
  0x80090318: 'SEC_E_INCOMPLETE_MESSAGE',
  0x80090322: 'SEC_E_WRONG_PRINCIPAL',
  0x80090324: 'SEC_E_TIME_SKEW',
  0x80090325: 'SEC_E_UNTRUSTED_ROOT',
  0x80090326: 'SEC_E_ILLEGAL_MESSAGE',
  0x80090327: 'SEC_E_CERT_UNKNOWN',
  0x80090328: 'SEC_E_CERT_EXPIRED',
  0x80090331: 'SEC_E_ALGORITHM_MISMATCH',
  0x80090346: 'SEC_E_BAD_BINDINGS',
  0x80090350: 'SEC_E_DOWNGRADE_DETECTED',
};

/** Name of an errorCode, with the "unknown (0x........)" fallback. */
export function credsspErrorName(code: number): string {
  return codeName(CREDSSP_ERROR_NAMES, code >>> 0);
}

/**
 * What an errorCode means for a Remote Desktop logon, in a user's words (after MS-ERREF 2.3.1 /
 * 2.1.1 and Microsoft's documentation of the Security log's logon failure statuses, event 4625).
 */
const CREDSSP_ERROR_MEANINGS: Readonly<Record<number, string>> = {
  0xc0000022: 'the server denied access to the account',
  0xc000005e: 'no domain controller was available to check the credentials',
  0xc0000064: 'the user name does not exist',
  0xc000006a: 'the password is wrong',
  0xc000006c: 'the password does not meet the password policy',
  0xc000006d: 'the user name or the password is wrong',
  0xc000006e: 'an account restriction prevents this logon (for example a blank password, logon hours or a protected account)',
  0xc000006f: 'the account may not log on at this time of day',
  0xc0000070: 'the account may not log on from this workstation',
  0xc0000071: 'the password has expired',
  0xc0000072: 'the account is disabled',
  0xc0000133: 'the clocks of the host and the domain controller differ too much',
  0xc000015b: 'the user has not been granted the right to log on through Remote Desktop Services',
  0xc000018d: 'the host\'s trust relationship with the domain failed',
  0xc0000193: 'the account has expired',
  0xc0000224: 'the user must change the password before logging on, which NLA cannot prompt for',
  0xc0000234: 'the account is locked out',
  0xc0000413: 'the authentication firewall does not allow this account to authenticate to the host',
  0x80090302: 'the server refused the requested authentication function (for example NTLM refused by policy, or a CredSSP version / encryption oracle mismatch)',
  0x80090308: 'the server could not read the client\'s authentication token',
  0x8009030c: 'the logon was denied',
  0x8009030e: 'no credentials were available to the server\'s security package',
  0x8009030f: 'the TLS public key check of CredSSP failed: the channel may be intercepted',
  0x80090311: 'no authority (domain controller) could be contacted for authentication',
  0x80090322: 'the target principal name is wrong (Kerberos: the name connected to is not the host\'s)',
  0x80090324: 'the clocks of client and server differ too much',
  0x80090346: 'the channel bindings do not match',
  0x80090350: 'a downgrade of the security negotiation was detected',
};

/** The meaning of an errorCode, or null when we have none for it. */
export function credsspErrorMeaning(code: number): string | null {
  return CREDSSP_ERROR_MEANINGS[code >>> 0] ?? null;
}

/** A byte span inside the input buffer. */
export interface Span {
  off: number;
  length: number;
}

/** One NegoData entry (MS-CSSP 2.2.1.1): negoToken [0] OCTET STRING, and what it is. */
export interface NegoToken extends Span {
  token: NegoTokenInfo;
}

/** TSRequest (MS-CSSP 2.2.1). Encrypted fields are given as spans, never copied. */
export interface TsRequest {
  /** version [0] INTEGER: 2..6 in current stacks. */
  version: number;
  /** negoTokens [1] NegoData. */
  negoTokens: NegoToken[];
  /** authInfo [2] OCTET STRING (encrypted TSCredentials). */
  authInfo: Span | null;
  /** pubKeyAuth [3] OCTET STRING. */
  pubKeyAuth: Span | null;
  /** errorCode [4] INTEGER (NTSTATUS, version >= 3), as the unsigned 32-bit value. */
  errorCode: number | null;
  errorName: string | null;
  /** clientNonce [5] OCTET STRING (version >= 5), 32 bytes. */
  clientNonce: Span | null;
}

/** True when the bytes look like the start of a TSRequest: SEQUENCE then [0] { INTEGER }. */
export function looksLikeTsRequest(buf: Uint8Array, off: number, end: number): boolean {
  if (end - off < 7 || buf[off] !== 0x30) return false;
  const l0 = buf[off + 1]!;
  const p = l0 < 0x80 ? off + 2 : off + 2 + (l0 & 0x7f);
  if (l0 === 0x80 || l0 > 0x84) return false;
  return p + 3 <= end && buf[p] === 0xa0 && buf[p + 2] === 0x02;
}

/**
 * Decodes a TSRequest at `off` (MS-CSSP 2.2.1). Incomplete while the outer SEQUENCE is cut;
 * malformed (absolute `at`) for anything else the DER of MS-CSSP does not allow.
 */
export function readTsRequest(buf: Uint8Array, off: number, end: number): Decoded<TsRequest> {
  const outer = readTlv(buf, off, end);
  if (!outer.ok) return outer;
  const seq = outer.value;
  if (berIdentifier(seq) !== 0x30) return malformed(off, `TSRequest: tag 0x${buf[off]!.toString(16)} is not a SEQUENCE`);
  const req: TsRequest = { version: -1, negoTokens: [], authInfo: null, pubKeyAuth: null, errorCode: null, errorName: null, clientNonce: null };
  let p = seq.valueOff;
  let lastTag = -1;
  while (p < seq.end) {
    const f = readTlv(buf, p, seq.end);
    if (!f.ok) return f.kind === 'malformed' ? f : malformed(p, 'TSRequest: field runs past the SEQUENCE');
    const t = f.value;
    if (t.cls !== 0x80 || !t.constructed || t.tag > 5) return malformed(p, `TSRequest: unexpected field 0x${buf[p]!.toString(16)}`);
    if (t.tag <= lastTag) return malformed(p, `TSRequest: field [${t.tag}] out of order`);
    lastTag = t.tag;
    // Each field is EXPLICIT: one inner TLV.
    const innerR = readTlv(buf, t.valueOff, t.end);
    if (!innerR.ok) return innerR.kind === 'malformed' ? innerR : malformed(t.valueOff, `TSRequest: field [${t.tag}] content runs past the field`);
    const inner = innerR.value;
    const id = berIdentifier(inner);
    switch (t.tag) {
      case 0:
      case 4: {
        if (id !== 0x02) return malformed(t.valueOff, `TSRequest: [${t.tag}] is not an INTEGER`);
        const v = berInt(buf, inner.valueOff, inner.length);
        if (v === null) return malformed(t.valueOff, `TSRequest: [${t.tag}] INTEGER of ${inner.length} bytes`);
        if (t.tag === 0) {
          if (v < 0) return malformed(inner.valueOff, `TSRequest: version ${v}`);
          req.version = v;
        } else {
          // A 5-byte 00 C0 00 00 6D and a 4-byte C0 00 00 6D both mean 0xC000006D.
          req.errorCode = v >>> 0;
          req.errorName = credsspErrorName(req.errorCode);
        }
        break;
      }
      case 1: {
        // NegoData ::= SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING }
        if (id !== 0x30) return malformed(t.valueOff, 'TSRequest: negoTokens is not a SEQUENCE OF');
        let q = inner.valueOff;
        while (q < inner.end) {
          const itemR = readTlv(buf, q, inner.end);
          if (!itemR.ok || berIdentifier(itemR.value) !== 0x30) return malformed(q, 'TSRequest: NegoData item is not a SEQUENCE');
          const tokR = readTlv(buf, itemR.value.valueOff, itemR.value.end);
          if (!tokR.ok || berIdentifier(tokR.value) !== 0xa0) return malformed(itemR.value.valueOff, 'TSRequest: NegoData item has no negoToken [0]');
          const octR = readTlv(buf, tokR.value.valueOff, tokR.value.end);
          if (!octR.ok || berIdentifier(octR.value) !== 0x04) return malformed(tokR.value.valueOff, 'TSRequest: negoToken is not an OCTET STRING');
          const o = octR.value;
          req.negoTokens.push({ off: o.valueOff, length: o.length, token: identifyNegoToken(buf, o.valueOff, o.end) });
          q = itemR.value.end;
        }
        break;
      }
      case 2:
      case 3:
      case 5: {
        if (id !== 0x04) return malformed(t.valueOff, `TSRequest: [${t.tag}] is not an OCTET STRING`);
        const span = { off: inner.valueOff, length: inner.length };
        if (t.tag === 2) req.authInfo = span;
        else if (t.tag === 3) req.pubKeyAuth = span;
        else req.clientNonce = span;
        break;
      }
    }
    p = t.end;
  }
  if (req.version < 0) return malformed(seq.valueOff, 'TSRequest: version [0] missing');
  return done(req, seq.end - off);
}

/** MS-RDPBCGR 2.2.10.2 authorizationResult values. */
export const EARLY_USER_AUTH_RESULT_NAMES: Readonly<Record<number, string>> = {
  0x00000000: 'AUTHZ_SUCCESS',
  0x00000005: 'AUTHZ_ACCESS_DENIED',
};

/** Early User Authorization Result PDU (MS-RDPBCGR 2.2.10.2), sent by the server after CredSSP with HYBRID_EX. */
export interface EarlyUserAuthResult {
  result: number;
  name: string;
}

/** Decodes the 4-byte little-endian authorizationResult at off. */
export function readEarlyUserAuthResult(buf: Uint8Array, off: number, end: number): Decoded<EarlyUserAuthResult> {
  if (end - off < 4) return incomplete(4 - Math.max(0, end - off));
  const result = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  return done({ result, name: codeName(EARLY_USER_AUTH_RESULT_NAMES, result) }, 4);
}
