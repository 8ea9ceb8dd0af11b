// Code tables of TLS (RFC 5246, RFC 8446, IANA "TLS Parameters" registry): versions, content
// types, handshake types, alerts, extensions, named groups, and cipher suites with a
// classification used by the tls_mismatch diagnosis and by the record-size inference
// (tls.ts encryptedAlertShape, tls-shape.ts). Every lookup has Zeek's "unknown (0x..)" fallback.
import { codeName } from './result.js';

/**
 * GREASE (RFC 8701 2): 0x0a0a, 0x1a1a ... 0xfafa. Clients put them in version, cipher suite,
 * group, extension and signature lists to keep servers tolerant; we recognise and ignore them.
 */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/** RFC 5246 6.2.1 / RFC 8446 4.2.1 ProtocolVersion values. */
const VERSION_NAMES: Readonly<Record<number, string>> = {
  0x0002: 'SSL2.0',
  0x0300: 'SSL3.0',
  0x0301: 'TLS1.0',
  0x0302: 'TLS1.1',
  0x0303: 'TLS1.2',
  0x0304: 'TLS1.3',
};

export const TLS1_0 = 0x0301;
export const TLS1_1 = 0x0302;
export const TLS1_2 = 0x0303;
export const TLS1_3 = 0x0304;

/** "SSL3.0", "TLS1.0".."TLS1.3", "TLS1.3-draft-NN" (0x7fNN), "GREASE", or "unknown (0x....)". */
export function versionName(v: number): string {
  if (isGrease(v)) return 'GREASE';
  if ((v & 0xff00) === 0x7f00) return `TLS1.3-draft-${v & 0xff}`;
  return codeName(VERSION_NAMES, v, 4);
}

/** RFC 8446 5.1 ContentType. */
export const CONTENT_TYPE_NAMES: Readonly<Record<number, string>> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
  24: 'heartbeat', // RFC 6520
};

export function contentTypeName(t: number): string {
  return codeName(CONTENT_TYPE_NAMES, t, 2);
}

/** RFC 5246 7.4 / RFC 8446 4 HandshakeType. */
export const HANDSHAKE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'hello_request',
  1: 'client_hello',
  2: 'server_hello',
  4: 'new_session_ticket',
  5: 'end_of_early_data',
  8: 'encrypted_extensions',
  11: 'certificate',
  12: 'server_key_exchange',
  13: 'certificate_request',
  14: 'server_hello_done',
  15: 'certificate_verify',
  16: 'client_key_exchange',
  20: 'finished',
  22: 'certificate_status', // RFC 6066 8
  24: 'key_update',
  254: 'message_hash',
};

export function handshakeTypeName(t: number): string {
  return codeName(HANDSHAKE_TYPE_NAMES, t, 2);
}

/** RFC 8446 6 AlertLevel. */
export function alertLevelName(level: number): string {
  return level === 1 ? 'warning' : level === 2 ? 'fatal' : codeName({}, level, 2);
}

/** RFC 8446 6 AlertDescription, plus the TLS 1.0-1.2 values RFC 8446 keeps reserved (RFC 5246 7.2). */
export const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable', // RFC 6066 (reserved in RFC 8446)
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value', // RFC 6066 (reserved in RFC 8446)
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

export function alertName(description: number): string {
  return codeName(ALERT_NAMES, description, 2);
}

/** IANA ExtensionType values we decode or name (RFC 8446 4.2 and the registry). */
export const EXTENSION_NAMES: Readonly<Record<number, string>> = {
  0: 'server_name',
  1: 'max_fragment_length',
  5: 'status_request',
  10: 'supported_groups',
  11: 'ec_point_formats',
  13: 'signature_algorithms',
  16: 'application_layer_protocol_negotiation',
  18: 'signed_certificate_timestamp',
  21: 'padding',
  22: 'encrypt_then_mac',
  23: 'extended_master_secret',
  35: 'session_ticket',
  41: 'pre_shared_key',
  42: 'early_data',
  43: 'supported_versions',
  44: 'cookie',
  45: 'psk_key_exchange_modes',
  47: 'certificate_authorities',
  49: 'post_handshake_auth',
  50: 'signature_algorithms_cert',
  51: 'key_share',
  0xff01: 'renegotiation_info',
};

export function extensionName(t: number): string {
  if (isGrease(t)) return 'GREASE';
  return codeName(EXTENSION_NAMES, t, 4);
}

/** RFC 8446 4.2.7 NamedGroup (and the RFC 4492 curves still seen from old stacks). */
export const GROUP_NAMES: Readonly<Record<number, string>> = {
  0x0017: 'secp256r1',
  0x0018: 'secp384r1',
  0x0019: 'secp521r1',
  0x001d: 'x25519',
  0x001e: 'x448',
  0x0100: 'ffdhe2048',
  0x0101: 'ffdhe3072',
  0x0102: 'ffdhe4096',
  0x0103: 'ffdhe6144',
  0x0104: 'ffdhe8192',
  0x11ec: 'X25519MLKEM768',
};

export function groupName(g: number): string {
  if (isGrease(g)) return 'GREASE';
  return codeName(GROUP_NAMES, g, 4);
}

/** RFC 8446 4.2.3 SignatureScheme (and the RFC 5246 7.4.1.4.1 hash/signature pairs by their usual names). */
export const SIGNATURE_SCHEME_NAMES: Readonly<Record<number, string>> = {
  0x0201: 'rsa_pkcs1_sha1',
  0x0203: 'ecdsa_sha1',
  0x0401: 'rsa_pkcs1_sha256',
  0x0403: 'ecdsa_secp256r1_sha256',
  0x0501: 'rsa_pkcs1_sha384',
  0x0503: 'ecdsa_secp384r1_sha384',
  0x0601: 'rsa_pkcs1_sha512',
  0x0603: 'ecdsa_secp521r1_sha512',
  0x0804: 'rsa_pss_rsae_sha256',
  0x0805: 'rsa_pss_rsae_sha384',
  0x0806: 'rsa_pss_rsae_sha512',
  0x0807: 'ed25519',
  0x0808: 'ed448',
  0x0809: 'rsa_pss_pss_sha256',
  0x080a: 'rsa_pss_pss_sha384',
  0x080b: 'rsa_pss_pss_sha512',
};

export function signatureSchemeName(s: number): string {
  if (isGrease(s)) return 'GREASE';
  return codeName(SIGNATURE_SCHEME_NAMES, s, 4);
}

/**
 * IANA cipher suite names: the suites real RDP stacks (Schannel on Windows XP..2025,
 * FreeRDP/OpenSSL, Java and Go clients, scanners) offer or select. The classification of
 * each is derived from its name by `cipherSuiteInfo`, so the table holds names only.
 */
export const CIPHER_SUITE_NAMES: Readonly<Record<number, string>> = {
  0x0000: 'TLS_NULL_WITH_NULL_NULL',
  0x0001: 'TLS_RSA_WITH_NULL_MD5',
  0x0002: 'TLS_RSA_WITH_NULL_SHA',
  0x0003: 'TLS_RSA_EXPORT_WITH_RC4_40_MD5',
  0x0004: 'TLS_RSA_WITH_RC4_128_MD5',
  0x0005: 'TLS_RSA_WITH_RC4_128_SHA',
  0x0006: 'TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5',
  0x0007: 'TLS_RSA_WITH_IDEA_CBC_SHA',
  0x0008: 'TLS_RSA_EXPORT_WITH_DES40_CBC_SHA',
  0x0009: 'TLS_RSA_WITH_DES_CBC_SHA',
  0x000a: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  0x0011: 'TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA',
  0x0012: 'TLS_DHE_DSS_WITH_DES_CBC_SHA',
  0x0013: 'TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA',
  0x0014: 'TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA',
  0x0015: 'TLS_DHE_RSA_WITH_DES_CBC_SHA',
  0x0016: 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA',
  0x0018: 'TLS_DH_anon_WITH_RC4_128_MD5',
  0x001b: 'TLS_DH_anon_WITH_3DES_EDE_CBC_SHA',
  0x002f: 'TLS_RSA_WITH_AES_128_CBC_SHA',
  0x0032: 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA',
  0x0033: 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA',
  0x0034: 'TLS_DH_anon_WITH_AES_128_CBC_SHA',
  0x0035: 'TLS_RSA_WITH_AES_256_CBC_SHA',
  0x0038: 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA',
  0x0039: 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA',
  0x003a: 'TLS_DH_anon_WITH_AES_256_CBC_SHA',
  0x003b: 'TLS_RSA_WITH_NULL_SHA256',
  0x003c: 'TLS_RSA_WITH_AES_128_CBC_SHA256',
  0x003d: 'TLS_RSA_WITH_AES_256_CBC_SHA256',
  0x0040: 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA256',
  0x0041: 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA',
  0x0045: 'TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA',
  0x0067: 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256',
  0x006a: 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA256',
  0x006b: 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256',
  0x0084: 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA',
  0x0088: 'TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA',
  0x009c: 'TLS_RSA_WITH_AES_128_GCM_SHA256',
  0x009d: 'TLS_RSA_WITH_AES_256_GCM_SHA384',
  0x009e: 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256',
  0x009f: 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384',
  0x00a2: 'TLS_DHE_DSS_WITH_AES_128_GCM_SHA256',
  0x00a3: 'TLS_DHE_DSS_WITH_AES_256_GCM_SHA384',
  0x00ff: 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV',
  0x1301: 'TLS_AES_128_GCM_SHA256',
  0x1302: 'TLS_AES_256_GCM_SHA384',
  0x1303: 'TLS_CHACHA20_POLY1305_SHA256',
  0x1304: 'TLS_AES_128_CCM_SHA256',
  0x1305: 'TLS_AES_128_CCM_8_SHA256',
  0x5600: 'TLS_FALLBACK_SCSV',
  0xc002: 'TLS_ECDH_ECDSA_WITH_RC4_128_SHA',
  0xc004: 'TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA',
  0xc005: 'TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA',
  0xc007: 'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA',
  0xc008: 'TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA',
  0xc009: 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  0xc00a: 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
  0xc00c: 'TLS_ECDH_RSA_WITH_RC4_128_SHA',
  0xc00e: 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA',
  0xc00f: 'TLS_ECDH_RSA_WITH_AES_256_CBC_SHA',
  0xc011: 'TLS_ECDHE_RSA_WITH_RC4_128_SHA',
  0xc012: 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
  0xc013: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  0xc014: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
  0xc023: 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256',
  0xc024: 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384',
  0xc025: 'TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256',
  0xc026: 'TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384',
  0xc027: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
  0xc028: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384',
  0xc029: 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256',
  0xc02a: 'TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384',
  0xc02b: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  0xc02c: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  0xc02d: 'TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256',
  0xc02e: 'TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384',
  0xc02f: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  0xc030: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  0xc031: 'TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256',
  0xc032: 'TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384',
  0xc09c: 'TLS_RSA_WITH_AES_128_CCM',
  0xc09d: 'TLS_RSA_WITH_AES_256_CCM',
  0xc0a0: 'TLS_RSA_WITH_AES_128_CCM_8',
  0xc0a1: 'TLS_RSA_WITH_AES_256_CCM_8',
  0xc0ac: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM',
  0xc0ad: 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM',
  0xc0ae: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
  0xc0af: 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8',
  0xcca8: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  0xcca9: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  0xccaa: 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
};

/** IANA name, "GREASE", or "unknown (0x....)". */
export function cipherSuiteName(code: number): string {
  if (isGrease(code)) return 'GREASE';
  return codeName(CIPHER_SUITE_NAMES, code, 4);
}

/** How the record protection of a suite shapes a record (RFC 5246 6.2.3, RFC 8446 5.2). */
export type CipherMode = 'null' | 'stream' | 'cbc' | 'aead';

/** Classification of one cipher suite, derived from its IANA name. */
export interface CipherSuiteInfo {
  code: number;
  name: string;
  /** Key exchange (and authentication) part of the name: "RSA", "ECDHE_RSA", "DHE_DSS", "DH_anon"; "TLS1.3" for RFC 8446 B.4 suites. */
  keyExchange: string;
  /** Bulk cipher: "AES_128_GCM", "3DES_EDE_CBC", "RC4_128", "CHACHA20_POLY1305", "NULL" ... */
  cipher: string;
  /** Record MAC: "MD5", "SHA", "SHA256", "SHA384", or "AEAD" (the trailing hash is then the PRF hash). */
  mac: string;
  mode: CipherMode;
  /** CBC block size (8 for 3DES/DES/IDEA/RC2, 16 for AES/Camellia), else 0. */
  blockSize: number;
  /** HMAC output length for non-AEAD suites (MD5 16, SHA 20, SHA256 32, SHA384 48), else 0. */
  macLength: number;
  /** AEAD authentication tag length (16; 8 for CCM_8), else 0. */
  tagLength: number;
  /** TLS 1.2 AEAD explicit nonce carried in each record (8 for GCM/CCM, 0 for ChaCha20, RFC 7905 2). */
  explicitNonceLength: number;
  /** ECDHE / DHE / TLS 1.3: the session keys do not depend on the server's long-term key. */
  forwardSecrecy: boolean;
  /** Considered insecure (RC4, 3DES, DES, RC2, IDEA, export, NULL cipher, anonymous, MD5 MAC). */
  insecure: boolean;
  /** Why it is insecure; empty when it is not. */
  insecureReasons: string[];
}

/**
 * One classification per 16-bit code, derived on first use: cipherSuiteInfo runs per encrypted
 * record (tls.ts plaintextRange / protectedRecordLength), the derivation below uses regular
 * expressions. Bounded by the 65 536 codes; only codes of CIPHER_SUITE_NAMES are stored.
 */
const SUITE_CACHE = new Map<number, Readonly<CipherSuiteInfo>>();

/**
 * Classifies a suite by its IANA name (RFC 5246 A.5 naming: TLS_<kx>_WITH_<cipher>_<mac>;
 * RFC 8446 B.4: TLS_<AEAD>_<hash>). Returns null for unknown codes, GREASE and the
 * signalling values (TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV).
 * The result is shared between calls and frozen (it and its insecureReasons): copy before changing it.
 */
export function cipherSuiteInfo(code: number): Readonly<CipherSuiteInfo> | null {
  const hit = SUITE_CACHE.get(code);
  if (hit !== undefined) return hit;
  const info = deriveCipherSuiteInfo(code);
  if (info === null) return null;
  Object.freeze(info.insecureReasons);
  SUITE_CACHE.set(code, Object.freeze(info));
  return info;
}

/** cipherSuiteInfo without the cache (exported for the tests that compare the two). */
export function deriveCipherSuiteInfo(code: number): CipherSuiteInfo | null {
  const name = CIPHER_SUITE_NAMES[code];
  if (name === undefined || name.endsWith('_SCSV')) return null;
  let keyExchange: string;
  let rest: string;
  const w = name.indexOf('_WITH_');
  if (w >= 0) {
    keyExchange = name.slice(4, w);
    rest = name.slice(w + 6);
  } else {
    keyExchange = 'TLS1.3';
    rest = name.slice(4);
  }
  const parts = rest.split('_');
  const last = parts[parts.length - 1]!;
  let mac: string;
  let cipher: string;
  const aead = /GCM|CCM|CHACHA20_POLY1305/.test(rest);
  if (aead) {
    mac = 'AEAD';
    // TLS 1.3 and GCM/ChaCha names end with the PRF hash; TLS 1.2 CCM names do not.
    cipher = /^(SHA|SHA256|SHA384)$/.test(last) ? parts.slice(0, -1).join('_') : rest;
  } else {
    mac = last;
    cipher = parts.slice(0, -1).join('_');
  }
  const mode: CipherMode = aead ? 'aead' : cipher === 'NULL' ? 'null' : cipher.startsWith('RC4') ? 'stream' : 'cbc';
  const blockSize = mode !== 'cbc' ? 0 : /^(AES|CAMELLIA)/.test(cipher) ? 16 : 8;
  const macLength = aead ? 0 : ({ MD5: 16, SHA: 20, SHA256: 32, SHA384: 48, NULL: 0 } as Record<string, number>)[mac] ?? 0;
  const tagLength = !aead ? 0 : cipher.endsWith('CCM_8') ? 8 : 16;
  const explicitNonceLength = aead && keyExchange !== 'TLS1.3' && !cipher.startsWith('CHACHA20') ? 8 : 0;
  const forwardSecrecy = keyExchange === 'TLS1.3' || /^(ECDHE|DHE)_/.test(keyExchange);
  const reasons: string[] = [];
  if (cipher === 'NULL') reasons.push('NULL cipher (no encryption)');
  if (cipher.startsWith('RC4')) reasons.push('RC4 (RFC 7465 prohibits it)');
  if (cipher.startsWith('3DES')) reasons.push('3DES (64-bit block, Sweet32)');
  if (/^DES(40)?_/.test(cipher)) reasons.push('DES (56-bit key or less)');
  if (cipher.startsWith('RC2') || cipher.startsWith('IDEA')) reasons.push(`${cipher.split('_')[0]} (obsolete cipher)`);
  if (keyExchange.includes('EXPORT')) reasons.push('export-grade key exchange');
  if (keyExchange.includes('anon')) reasons.push('anonymous key exchange (no server authentication)');
  if (keyExchange === 'NULL') reasons.push('NULL key exchange');
  if (mac === 'MD5') reasons.push('MD5 MAC');
  return {
    code,
    name,
    keyExchange: keyExchange.replace('_EXPORT', ''),
    cipher,
    mac,
    mode,
    blockSize,
    macLength,
    tagLength,
    explicitNonceLength,
    forwardSecrecy,
    insecure: reasons.length > 0,
    insecureReasons: reasons,
  };
}
