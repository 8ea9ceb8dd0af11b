// Kerberos KRB-ERROR (RFC 4120 5.9.1), the clear-text answer a KDC gives on port 88 (UDP, or TCP
// with a 4-byte record mark, RFC 4120 7.2.2) when it refuses a request: a pure DER decoder
// (X.690 8, 10) over (bytes, offset, length), reading fields in place.
//
//   KRB-ERROR ::= [APPLICATION 30] SEQUENCE {
//     pvno [0] INTEGER (5), msg-type [1] INTEGER (30),
//     ctime [2] KerberosTime OPTIONAL, cusec [3] Microseconds OPTIONAL,
//     stime [4] KerberosTime, susec [5] Microseconds, error-code [6] Int32,
//     crealm [7] Realm OPTIONAL, cname [8] PrincipalName OPTIONAL,
//     realm [9] Realm, sname [10] PrincipalName,
//     e-text [11] KerberosString OPTIONAL, e-data [12] OCTET STRING OPTIONAL }
//   PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }

/** The result of a pure decoder (the same shape as src/rdp/result.ts, which this stage may not import). */
export type KrbDecoded<T> =
  | { ok: true; value: T; consumed: number }
  | { ok: false; kind: 'incomplete'; needed: number }
  | { ok: false; kind: 'malformed'; at: number; reason: string };

type Failure = Extract<KrbDecoded<unknown>, { ok: false }>;

export const KERBEROS_PORT = 88;
/** [APPLICATION 30] constructed (X.690 8.1.2): 0x40 | 0x20 | 30. */
export const KRB_ERROR_TAG = 0x7e;
const MSG_TYPE_KRB_ERROR = 30;

export interface PrincipalName {
  nameType: number;
  nameString: string[];
}

export interface KrbError {
  pvno: number;
  msgType: number;
  /** KerberosTime (GeneralizedTime, "YYYYMMDDHHMMSSZ") as sent, or null. */
  ctime: string | null;
  stime: string;
  errorCode: number;
  crealm: string | null;
  cname: PrincipalName | null;
  realm: string;
  sname: PrincipalName;
  eText: string | null;
  /** Length of e-data (METHOD-DATA / KERB-ERROR-DATA), or null when absent. */
  eDataLength: number | null;
}

/** RFC 4120 7.5.9 error codes (and RFC 4556 / RFC 6113 additions Windows sends). */
export const KRB_ERROR_CODES: Readonly<Record<number, string>> = {
  0: 'KDC_ERR_NONE',
  1: 'KDC_ERR_NAME_EXP',
  2: 'KDC_ERR_SERVICE_EXP',
  3: 'KDC_ERR_BAD_PVNO',
  4: 'KDC_ERR_C_OLD_MAST_KVNO',
  5: 'KDC_ERR_S_OLD_MAST_KVNO',
  6: 'KDC_ERR_C_PRINCIPAL_UNKNOWN',
  7: 'KDC_ERR_S_PRINCIPAL_UNKNOWN',
  8: 'KDC_ERR_PRINCIPAL_NOT_UNIQUE',
  9: 'KDC_ERR_NULL_KEY',
  10: 'KDC_ERR_CANNOT_POSTDATE',
  11: 'KDC_ERR_NEVER_VALID',
  12: 'KDC_ERR_POLICY',
  13: 'KDC_ERR_BADOPTION',
  14: 'KDC_ERR_ETYPE_NOSUPP',
  15: 'KDC_ERR_SUMTYPE_NOSUPP',
  16: 'KDC_ERR_PADATA_TYPE_NOSUPP',
  17: 'KDC_ERR_TRTYPE_NOSUPP',
  18: 'KDC_ERR_CLIENT_REVOKED',
  19: 'KDC_ERR_SERVICE_REVOKED',
  20: 'KDC_ERR_TGT_REVOKED',
  21: 'KDC_ERR_CLIENT_NOTYET',
  22: 'KDC_ERR_SERVICE_NOTYET',
  23: 'KDC_ERR_KEY_EXPIRED',
  24: 'KDC_ERR_PREAUTH_FAILED',
  25: 'KDC_ERR_PREAUTH_REQUIRED',
  26: 'KDC_ERR_SERVER_NOMATCH',
  27: 'KDC_ERR_MUST_USE_USER2USER',
  28: 'KDC_ERR_PATH_NOT_ACCEPTED',
  29: 'KDC_ERR_SVC_UNAVAILABLE',
  31: 'KRB_AP_ERR_BAD_INTEGRITY',
  32: 'KRB_AP_ERR_TKT_EXPIRED',
  33: 'KRB_AP_ERR_TKT_NYV',
  34: 'KRB_AP_ERR_REPEAT',
  35: 'KRB_AP_ERR_NOT_US',
  36: 'KRB_AP_ERR_BADMATCH',
  37: 'KRB_AP_ERR_SKEW',
  38: 'KRB_AP_ERR_BADADDR',
  39: 'KRB_AP_ERR_BADVERSION',
  40: 'KRB_AP_ERR_MSG_TYPE',
  41: 'KRB_AP_ERR_MODIFIED',
  42: 'KRB_AP_ERR_BADORDER',
  44: 'KRB_AP_ERR_BADKEYVER',
  45: 'KRB_AP_ERR_NOKEY',
  46: 'KRB_AP_ERR_MUT_FAIL',
  47: 'KRB_AP_ERR_BADDIRECTION',
  48: 'KRB_AP_ERR_METHOD',
  49: 'KRB_AP_ERR_BADSEQ',
  50: 'KRB_AP_ERR_INAPP_CKSUM',
  51: 'KRB_AP_PATH_NOT_ACCEPTED',
  52: 'KRB_ERR_RESPONSE_TOO_BIG',
  60: 'KRB_ERR_GENERIC',
  61: 'KRB_ERR_FIELD_TOOLONG',
  62: 'KDC_ERR_CLIENT_NOT_TRUSTED',
  63: 'KDC_ERR_KDC_NOT_TRUSTED',
  64: 'KDC_ERR_INVALID_SIG',
  65: 'KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED',
  68: 'KDC_ERR_WRONG_REALM',
  93: 'KDC_ERR_PREAUTH_EXPIRED',
};

/** The code's name, or "unknown (N)" (an unknown code is shown, never dropped). */
export function krbErrorName(code: number): string {
  return KRB_ERROR_CODES[code] ?? `unknown (${code})`;
}

function incomplete(needed: number): Failure {
  return { ok: false, kind: 'incomplete', needed: needed > 0 ? needed : 1 };
}

function malformed(at: number, reason: string): Failure {
  return { ok: false, kind: 'malformed', at, reason };
}

/** A DER TLV header at `p` (before `end`): tag, content start and end, or a failure (offsets relative to `base`). */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(b: Uint8Array, p: number, end: number, base: number): Tlv | Failure {
  if (p + 2 > end) return incomplete(p + 2 - end);
  const tag = b[p]!;
  if ((tag & 0x1f) === 0x1f) return malformed(p - base, `multi-byte tag 0x${tag.toString(16)} is not used by KRB-ERROR`);
  let len = b[p + 1]!;
  let q = p + 2;
  if (len === 0x80) return malformed(p + 1 - base, 'indefinite length is not DER (X.690 10.1)');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 3) return malformed(p + 1 - base, `length of ${n} bytes is too large for a Kerberos message`);
    if (q + n > end) return incomplete(q + n - end);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[q + i]!;
    q += n;
  }
  if (q + len > end) return incomplete(q + len - end);
  return { tag, start: q, end: q + len };
}

function isFailure(x: Tlv | Failure): x is Failure {
  return (x as Failure).ok === false;
}

/** INTEGER (X.690 8.3) of at most 4 content bytes, as a signed 32-bit value. */
function int32(b: Uint8Array, t: Tlv, base: number): number | Failure {
  if (t.tag !== 0x02) return malformed(t.start - 2 - base, `expected INTEGER, found tag 0x${t.tag.toString(16)}`);
  const n = t.end - t.start;
  if (n < 1 || n > 5) return malformed(t.start - base, `INTEGER of ${n} bytes is not an Int32`);
  let v = b[t.start]! & 0x80 ? -1 : 0;
  for (let i = t.start; i < t.end; i++) v = (v * 256 + b[i]!) | 0;
  return v;
}

/** KerberosString / Realm (GeneralString, IA5 in practice) or GeneralizedTime: the bytes as Latin-1 text. */
function text(b: Uint8Array, t: Tlv, tags: number[], base: number): string | Failure {
  if (!tags.includes(t.tag)) return malformed(t.start - 2 - base, `expected a string, found tag 0x${t.tag.toString(16)}`);
  let s = '';
  for (let i = t.start; i < t.end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

const STRING_TAGS = [0x1b, 0x16, 0x0c, 0x13]; // GeneralString, IA5String, UTF8String, PrintableString
const TIME_TAGS = [0x18]; // GeneralizedTime

/** The content of the explicit tag [n] at p: its inner TLV. */
function explicit(b: Uint8Array, outer: Tlv, base: number): Tlv | Failure {
  const inner = tlv(b, outer.start, outer.end, base);
  if (isFailure(inner)) return inner.kind === 'incomplete' ? malformed(outer.start - base, 'explicit tag content runs past its length') : inner;
  return inner;
}

function principalName(b: Uint8Array, t: Tlv, base: number): PrincipalName | Failure {
  if (t.tag !== 0x30) return malformed(t.start - 2 - base, 'PrincipalName is not a SEQUENCE');
  let nameType: number | null = null;
  const nameString: string[] = [];
  let p = t.start;
  while (p < t.end) {
    const f = tlv(b, p, t.end, base);
    if (isFailure(f)) return f.kind === 'incomplete' ? malformed(p - base, 'PrincipalName field runs past its SEQUENCE') : f;
    const inner = explicit(b, f, base);
    if (isFailure(inner)) return inner;
    if (f.tag === 0xa0) {
      const v = int32(b, inner, base);
      if (typeof v !== 'number') return v;
      nameType = v;
    } else if (f.tag === 0xa1) {
      if (inner.tag !== 0x30) return malformed(inner.start - 2 - base, 'name-string is not a SEQUENCE OF');
      let q = inner.start;
      while (q < inner.end) {
        const s = tlv(b, q, inner.end, base);
        if (isFailure(s)) return s.kind === 'incomplete' ? malformed(q - base, 'name-string element runs past its SEQUENCE') : s;
        const v = text(b, s, STRING_TAGS, base);
        if (typeof v !== 'string') return v;
        if (nameString.length < 8) nameString.push(v);
        q = s.end;
      }
    }
    p = f.end;
  }
  if (nameType === null) return malformed(t.start - base, 'PrincipalName without name-type');
  return { nameType, nameString };
}

/**
 * A KRB-ERROR starting at `off` (the [APPLICATION 30] tag). `at` of a malformed result and every
 * offset are relative to `off`.
 */
export function decodeKrbError(b: Uint8Array, off: number, len: number): KrbDecoded<KrbError> {
  const end = off + len;
  if (len < 1) return incomplete(1);
  if (b[off] !== KRB_ERROR_TAG) return malformed(0, `not a KRB-ERROR (tag 0x${b[off]!.toString(16)}, expected 0x7e)`);
  const app = tlv(b, off, end, off);
  if (isFailure(app)) return app;
  const seq = tlv(b, app.start, app.end, off);
  if (isFailure(seq)) return seq.kind === 'incomplete' ? malformed(app.start - off, 'SEQUENCE runs past the KRB-ERROR') : seq;
  if (seq.tag !== 0x30) return malformed(app.start - off, 'KRB-ERROR content is not a SEQUENCE');
  const v: Partial<KrbError> & { ctime: string | null; crealm: string | null; cname: PrincipalName | null; eText: string | null; eDataLength: number | null } = {
    ctime: null,
    crealm: null,
    cname: null,
    eText: null,
    eDataLength: null,
  };
  let p = seq.start;
  let last = -1;
  while (p < seq.end) {
    const f = tlv(b, p, seq.end, off);
    if (isFailure(f)) return f.kind === 'incomplete' ? malformed(p - off, 'field runs past the SEQUENCE') : f;
    if ((f.tag & 0xe0) !== 0xa0) return malformed(p - off, `expected a context tag, found 0x${f.tag.toString(16)}`);
    const n = f.tag & 0x1f;
    if (n <= last) return malformed(p - off, `field [${n}] out of order (DER, X.690 10.3)`);
    last = n;
    const inner = explicit(b, f, off);
    if (isFailure(inner)) return inner;
    let r: number | string | PrincipalName | Failure;
    switch (n) {
      case 0:
      case 1:
      case 3:
      case 5:
      case 6:
        r = int32(b, inner, off);
        if (typeof r !== 'number') return r;
        if (n === 0) v.pvno = r;
        else if (n === 1) v.msgType = r;
        else if (n === 6) v.errorCode = r;
        break;
      case 2:
      case 4:
        r = text(b, inner, TIME_TAGS, off);
        if (typeof r !== 'string') return r;
        if (n === 2) v.ctime = r;
        else v.stime = r;
        break;
      case 7:
      case 9:
      case 11:
        r = text(b, inner, STRING_TAGS, off);
        if (typeof r !== 'string') return r;
        if (n === 7) v.crealm = r;
        else if (n === 9) v.realm = r;
        else v.eText = r;
        break;
      case 8:
      case 10:
        r = principalName(b, inner, off);
        if ('ok' in r) return r;
        if (n === 8) v.cname = r;
        else v.sname = r;
        break;
      case 12:
        if (inner.tag !== 0x04) return malformed(inner.start - 2 - off, 'e-data is not an OCTET STRING');
        v.eDataLength = inner.end - inner.start;
        break;
      default:
        break; // a later extension: skipped
    }
    p = f.end;
  }
  if (v.pvno !== 5) return malformed(seq.start - off, `pvno ${v.pvno ?? 'missing'} (expected 5)`);
  if (v.msgType !== MSG_TYPE_KRB_ERROR) return malformed(seq.start - off, `msg-type ${v.msgType ?? 'missing'} (expected 30)`);
  if (v.errorCode === undefined) return malformed(seq.start - off, 'error-code missing');
  if (v.stime === undefined || v.realm === undefined || v.sname === undefined) return malformed(seq.start - off, 'stime, realm or sname missing');
  return { ok: true, value: v as KrbError, consumed: app.end - off };
}

/**
 * A KRB-ERROR as a UDP payload (`tcp` false) or as a TCP segment's payload starting with the 4-byte
 * record mark (RFC 4120 7.2.2: high bit reserved, the rest the length); offsets are relative to `off`.
 */
export function decodeKrbErrorMessage(b: Uint8Array, off: number, len: number, tcp: boolean): KrbDecoded<KrbError> {
  if (!tcp) return decodeKrbError(b, off, len);
  if (len < 4) return incomplete(4 - len);
  if (b[off]! & 0x80) return malformed(0, 'record mark with the reserved high bit set');
  const mark = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  if (mark > len - 4) return incomplete(mark - (len - 4));
  const r = decodeKrbError(b, off + 4, mark);
  if (!r.ok) return r.kind === 'malformed' ? { ...r, at: r.at + 4 } : r;
  return { ok: true, value: r.value, consumed: r.consumed + 4 };
}

/** Cheap test for the hot path: does this payload start like a KRB-ERROR (over UDP or TCP)? */
export function looksLikeKrbError(b: Uint8Array, off: number, len: number, tcp: boolean): boolean {
  const p = tcp ? off + 4 : off;
  return len > (tcp ? 6 : 2) && b[p] === KRB_ERROR_TAG;
}
