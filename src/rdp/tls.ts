// TLS decoders (RFC 5246 SSL3.0..TLS1.2, RFC 8446 TLS1.3) for what a capture shows in the clear:
// records, handshake messages (hellos, certificate list, presence of the others), alerts, and the
// record-size arithmetic that lets the state machine recognise encrypted alerts by their shape.
// Every decoder is pure over (buf, off, end); offsets in results and in `at` are absolute.
import { type Decoded, type Failure, done, incomplete, malformed } from './result.js';
import { alertName, type CipherSuiteInfo, cipherSuiteInfo, isGrease, TLS1_1, TLS1_3, versionName } from './tls-codes.js';

/** RFC 5246 6.2.1 / RFC 8446 5.1 ContentType values. */
export const CONTENT_CHANGE_CIPHER_SPEC = 20;
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;
export const CONTENT_HEARTBEAT = 24;

/** RFC 5246 7.4 HandshakeType values the state machine looks for. */
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_NEW_SESSION_TICKET = 4;
export const HS_CERTIFICATE = 11;
export const HS_SERVER_KEY_EXCHANGE = 12;
export const HS_CERTIFICATE_REQUEST = 13;
export const HS_SERVER_HELLO_DONE = 14;
export const HS_CERTIFICATE_VERIFY = 15;
export const HS_CLIENT_KEY_EXCHANGE = 16;
export const HS_FINISHED = 20;

/** RFC 5246 6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048 (RFC 8446 5.2 allows only 2^14 + 256). */
export const TLS_MAX_RECORD_LENGTH = 16384 + 2048;
/** Record header size (RFC 5246 6.2.1). */
export const TLS_RECORD_HEADER = 5;
/**
 * Largest handshake message we accept (the 24-bit length allows 16 MiB). A certificate chain of a
 * real RDP server is a few KiB; 256 KiB is the per-flow reassembly bound of the design.
 */
export const TLS_MAX_HANDSHAKE_MESSAGE = 256 * 1024;

/** One TLS record header (RFC 5246 6.2.1 TLSPlaintext / 6.2.3 TLSCiphertext, RFC 8446 5.1). */
export interface TlsRecord {
  contentType: number;
  /** legacy_record_version (0x0301 in most ClientHellos, the negotiated version afterwards). */
  version: number;
  /** Length of the fragment. */
  length: number;
  /** Absolute offset of the first fragment byte. */
  fragmentOff: number;
  /** Absolute offset just past the record. */
  end: number;
}

/**
 * True when the bytes at `off` start like a TLS record: content type 20..24 and a version
 * 0x0300..0x0304 (RFC 5246 6.2.1). Tells TLS from cleartext TPKT (03 00 ..., RFC 1006) after
 * the X.224 exchange. Needs 3 bytes; with 5 it also checks the length limit.
 */
export function looksLikeTlsRecord(buf: Uint8Array, off: number, end: number): boolean {
  if (off < 0 || end - off < 3 || end > buf.length) return false;
  const ct = buf[off]!;
  if (ct < CONTENT_CHANGE_CIPHER_SPEC || ct > CONTENT_HEARTBEAT) return false;
  if (buf[off + 1] !== 3 || buf[off + 2]! > 4) return false;
  if (end - off >= 5) {
    const len = (buf[off + 3]! << 8) | buf[off + 4]!;
    if (len > TLS_MAX_RECORD_LENGTH) return false;
  }
  return true;
}

/**
 * Reads one record header and checks that the whole fragment is present (RFC 5246 6.2,
 * RFC 8446 5.1). Incomplete when the header or fragment is cut; malformed for a content type
 * outside 20..24, a version whose major byte is not 3, or a length over 2^14 + 2048.
 */
export function readTlsRecord(buf: Uint8Array, off: number, end: number): Decoded<TlsRecord> {
  if (end - off < TLS_RECORD_HEADER) {
    // Check what is there already, so garbage is named at once rather than "incomplete".
    if (end > off) {
      const ct = buf[off]!;
      if (ct < CONTENT_CHANGE_CIPHER_SPEC || ct > CONTENT_HEARTBEAT) return malformed(off, `not a TLS record: content type ${ct}`);
      if (end - off >= 2 && buf[off + 1] !== 3) return malformed(off + 1, `not a TLS record: version major ${buf[off + 1]}`);
    }
    return incomplete(TLS_RECORD_HEADER - Math.max(0, end - off));
  }
  const contentType = buf[off]!;
  if (contentType < CONTENT_CHANGE_CIPHER_SPEC || contentType > CONTENT_HEARTBEAT) {
    const hint = contentType & 0x80 ? ' (an SSLv2-style hello?)' : contentType === 3 ? ' (a TPKT header?)' : '';
    return malformed(off, `not a TLS record: content type ${contentType}${hint}`);
  }
  const version = (buf[off + 1]! << 8) | buf[off + 2]!;
  if (buf[off + 1] !== 3 || buf[off + 2]! > 4) return malformed(off + 1, `not a TLS record: version 0x${version.toString(16).padStart(4, '0')}`);
  const length = (buf[off + 3]! << 8) | buf[off + 4]!;
  if (length > TLS_MAX_RECORD_LENGTH) return malformed(off + 3, `TLS record of ${length} bytes (limit ${TLS_MAX_RECORD_LENGTH}, RFC 5246 6.2.3)`);
  const recEnd = off + TLS_RECORD_HEADER + length;
  if (recEnd > end) return incomplete(recEnd - end);
  return done({ contentType, version, length, fragmentOff: off + TLS_RECORD_HEADER, end: recEnd }, recEnd - off);
}

/** What a record is, given its position relative to the sender's ChangeCipherSpec. */
export type TlsRecordKind =
  | 'handshake'
  | 'encrypted_handshake'
  | 'change_cipher_spec'
  | 'alert'
  | 'encrypted_alert'
  | 'application_data'
  | 'heartbeat';

/**
 * Names a record by content type and position (RFC 5246 7.1: after a side's ChangeCipherSpec its
 * records are protected, so a handshake record is its Finished by position, RFC 5246 7.4.9).
 * An alert record is encrypted when it follows the sender's ChangeCipherSpec or is not the
 * 2 bytes of a clear alert (RFC 8446 6). TLS 1.3 hides everything after ServerHello in
 * application_data records (RFC 8446 5.1): see `tls13AlertGuess`.
 */
export function tlsRecordKind(contentType: number, length: number, afterChangeCipherSpec: boolean): TlsRecordKind {
  switch (contentType) {
    case CONTENT_CHANGE_CIPHER_SPEC:
      return 'change_cipher_spec';
    case CONTENT_ALERT:
      return afterChangeCipherSpec || length !== 2 ? 'encrypted_alert' : 'alert';
    case CONTENT_HANDSHAKE:
      return afterChangeCipherSpec ? 'encrypted_handshake' : 'handshake';
    case CONTENT_HEARTBEAT:
      return 'heartbeat';
    default:
      return 'application_data';
  }
}

/** A handshake message header (RFC 5246 7.4 / RFC 8446 4: msg_type, uint24 length). */
export interface HandshakeHeader {
  msgType: number;
  length: number;
  /** Absolute offset of the body. */
  bodyOff: number;
  /** Absolute offset just past the body. */
  end: number;
}

/**
 * Reads one handshake message header over a handshake byte stream (records already unwrapped,
 * see HandshakeDefragmenter). Malformed when the 24-bit length exceeds TLS_MAX_HANDSHAKE_MESSAGE
 * ("TLS handshake message of 16777215 bytes"): nothing is allocated from it.
 */
export function readHandshake(buf: Uint8Array, off: number, end: number): Decoded<HandshakeHeader> {
  if (end - off < 4) return incomplete(4 - Math.max(0, end - off));
  const msgType = buf[off]!;
  const length = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  if (length > TLS_MAX_HANDSHAKE_MESSAGE) {
    return malformed(off + 1, `TLS handshake message of ${length} bytes (limit ${TLS_MAX_HANDSHAKE_MESSAGE})`);
  }
  const msgEnd = off + 4 + length;
  if (msgEnd > end) return incomplete(msgEnd - end);
  return done({ msgType, length, bodyOff: off + 4, end: msgEnd }, msgEnd - off);
}

/** A complete handshake message taken out of the defragmenter (its own copy of the bytes, or a view: next(true)). */
export interface HandshakeMessage {
  msgType: number;
  /** Header + body, a copy owned by the caller (a view with next(true)); `body` is a view into it. */
  bytes: Uint8Array;
  body: Uint8Array;
  /** Frame of the record holding the message's first byte, and of the one holding its last. */
  firstFrame: number;
  lastFrame: number;
  /** Offset of the message in this direction's handshake stream (for error messages). */
  streamOffset: number;
}

/**
 * Reassembles the handshake byte stream of ONE direction (RFC 5246 6.2.1: handshake messages
 * may span records, and a record may carry several messages). Holds only bytes and the frame
 * of each pushed fragment; bounded by `maxBytes` of pending data. Feed it only the plaintext
 * handshake records (before that side's ChangeCipherSpec).
 */
export class HandshakeDefragmenter {
  private data: Uint8Array;
  private start = 0;
  private stop = 0;
  /** Stream offset of data[0]. */
  private base = 0;
  /**
   * Per pushed fragment: handshake-stream offsets of its start and end, its frame, and the offset
   * of its first byte in the TCP stream it came from (-1 when not given). Bounded with the bytes.
   */
  private fragStarts: number[] = [];
  private fragEnds: number[] = [];
  private fragFrames: number[] = [];
  private fragTcp: number[] = [];

  constructor(private readonly maxBytes = TLS_MAX_HANDSHAKE_MESSAGE + 4) {
    this.data = new Uint8Array(0);
  }

  /** Bytes held that do not yet form a complete message. */
  get pending(): number {
    return this.stop - this.start;
  }

  /**
   * Appends buf[off, end) (the fragment of one handshake record) seen in `frame`, whose first byte
   * is at `tcpOffset` in the TCP stream (-1 when unknown; see tcpOffset()). Returns a malformed
   * Failure (`at` = handshake-stream offset) when the pending bytes would exceed the bound; the
   * fragment is then not kept.
   */
  push(buf: Uint8Array, off: number, end: number, frame: number, tcpOffset = -1): Failure | null {
    const n = end - off;
    if (n <= 0) return null;
    if (this.pending + n > this.maxBytes) {
      return malformed(this.base + this.start, `TLS handshake data of more than ${this.maxBytes} bytes pending without a complete message`);
    }
    if (this.stop + n > this.data.length) {
      // Compact, then grow (doubling, capped) only when needed.
      const live = this.data.subarray(this.start, this.stop);
      const cap = Math.min(Math.max(this.data.length * 2, live.length + n, 1024), this.maxBytes);
      const next = cap > this.data.length ? new Uint8Array(cap) : this.data;
      if (next === this.data) this.data.copyWithin(0, this.start, this.stop);
      else next.set(live, 0);
      this.data = next;
      this.base += this.start;
      this.stop -= this.start;
      this.start = 0;
    }
    this.data.set(buf.subarray(off, end), this.stop);
    this.fragStarts.push(this.base + this.stop);
    this.stop += n;
    this.fragEnds.push(this.base + this.stop);
    this.fragFrames.push(frame);
    this.fragTcp.push(tcpOffset);
    return null;
  }

  /**
   * The TCP-stream offset of the byte at handshake-stream offset `hsOffset` (a Failure's `at`, a
   * message's streamOffset + 4 + an offset in its body), through the record fragment that carried
   * it; null when that fragment was pushed without its TCP offset or is no longer known. Known:
   * every pending byte and, until the next call of next(), the bytes of the message it returned.
   */
  tcpOffset(hsOffset: number): number | null {
    const ends = this.fragEnds;
    for (let i = 0; i < ends.length; i++) {
      if (hsOffset >= ends[i]!) continue;
      const start = this.fragStarts[i]!;
      const tcp = this.fragTcp[i]!;
      return hsOffset < start || tcp < 0 ? null : tcp + hsOffset - start;
    }
    return null;
  }

  /**
   * The next complete message, incomplete (with bytes still needed) or malformed (`at` = stream offset).
   * With `view`, the message's bytes are a view into the defragmenter's buffer instead of a copy:
   * valid only until the next push() (which may move or overwrite them), for a caller that reads the
   * message at once and keeps none of its bytes (a copy per message was an ArrayBuffer allocated per
   * handshake message of every connection).
   */
  next(view = false): Decoded<HandshakeMessage> {
    const h = readHandshake(this.data, this.start, this.stop);
    if (!h.ok) {
      if (h.kind === 'malformed') return malformed(this.base + h.at, h.reason);
      return h;
    }
    const streamOffset = this.base + this.start;
    // Forget the fragments wholly before this message (those of the message are kept until the
    // next call, for tcpOffset() of a field in it).
    let drop = 0;
    while (drop < this.fragEnds.length - 1 && this.fragEnds[drop]! <= streamOffset) drop++;
    if (drop > 0) {
      this.fragStarts.splice(0, drop);
      this.fragEnds.splice(0, drop);
      this.fragFrames.splice(0, drop);
      this.fragTcp.splice(0, drop);
    }
    const bytes = view ? this.data.subarray(this.start, h.value.end) : this.data.slice(this.start, h.value.end);
    const firstFrame = this.frameAt(streamOffset);
    const lastFrame = this.frameAt(this.base + h.value.end - 1);
    this.start = h.value.end;
    return done({ msgType: h.value.msgType, bytes, body: bytes.subarray(4), firstFrame, lastFrame, streamOffset }, bytes.length);
  }

  private frameAt(streamPos: number): number {
    for (let i = 0; i < this.fragEnds.length; i++) if (streamPos < this.fragEnds[i]!) return this.fragFrames[i]!;
    return this.fragFrames[this.fragEnds.length - 1] ?? 0;
  }
}

/** A TLS extension as found in a hello (RFC 8446 4.2): type and the absolute span of its data. */
export interface TlsExtension {
  type: number;
  dataOff: number;
  length: number;
}

/** ClientHello (RFC 5246 7.4.1.2 / RFC 8446 4.1.2) with the extensions RDP diagnosis needs decoded. */
export interface ClientHello {
  legacyVersion: number;
  /** Views into the input buffer. */
  random: Uint8Array;
  sessionId: Uint8Array;
  /** Offered suites in order, GREASE values removed (RFC 8701). */
  cipherSuites: number[];
  /** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (0x00ff, RFC 5746 3.3) or TLS_FALLBACK_SCSV (0x5600, RFC 7507) offered. */
  renegotiationScsv: boolean;
  fallbackScsv: boolean;
  compressionMethods: number[];
  extensions: TlsExtension[];
  /** server_name (RFC 6066 3) host_name, as sent (untrusted: the report escapes it). */
  sni: string | null;
  /** supported_versions (RFC 8446 4.2.1) client list, GREASE removed; empty when absent. */
  supportedVersions: number[];
  /** signature_algorithms (RFC 8446 4.2.3), GREASE removed. */
  signatureAlgorithms: number[];
  /** supported_groups (RFC 8446 4.2.7), GREASE removed. */
  supportedGroups: number[];
  /** key_share (RFC 8446 4.2.8) groups the client sent shares for, GREASE removed. */
  keyShareGroups: number[];
  /** ALPN protocol names (RFC 7301 3.1). */
  alpn: string[];
  /** renegotiation_info extension present (RFC 5746 3.2). */
  renegotiationInfo: boolean;
  extendedMasterSecret: boolean;
  encryptThenMac: boolean;
  /** Highest version offered: max of supported_versions, else legacyVersion. */
  maxVersion: number;
}

/** RFC 8446 4.1.3: the random of a HelloRetryRequest is SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** ServerHello (RFC 5246 7.4.1.3 / RFC 8446 4.1.3). */
export interface ServerHello {
  legacyVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: TlsExtension[];
  /** supported_versions selected_version (RFC 8446 4.2.1), or null. */
  selectedVersion: number | null;
  /** The negotiated version: selectedVersion when present, else legacyVersion. */
  version: number;
  /** The random is the HelloRetryRequest value (RFC 8446 4.1.3): the server wants another ClientHello. */
  helloRetryRequest: boolean;
  /** RFC 8446 4.1.3 downgrade sentinel in the random's last 8 bytes: "TLS1.2" or "TLS1.1", else null. */
  downgradeSentinel: string | null;
  /** key_share group (ServerHello KeyShareEntry or HRR selected_group). */
  keyShareGroup: number | null;
  alpn: string | null;
  renegotiationInfo: boolean;
  extendedMasterSecret: boolean;
  encryptThenMac: boolean;
}

const EXT_SERVER_NAME = 0;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_ALPN = 16;
const EXT_ENCRYPT_THEN_MAC = 22;
const EXT_EXTENDED_MASTER_SECRET = 23;
const EXT_SUPPORTED_VERSIONS = 43;
const EXT_KEY_SHARE = 51;
const EXT_RENEGOTIATION_INFO = 0xff01;

function u16(buf: Uint8Array, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}

function latin1(buf: Uint8Array, off: number, end: number): string {
  let s = '';
  for (let i = off; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** Reads a list of uint16 values of `len` bytes at p (GREASE removed). */
function u16List(buf: Uint8Array, p: number, len: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < len; i += 2) {
    const v = u16(buf, p + i);
    if (!isGrease(v)) out.push(v);
  }
  return out;
}

/** Splits the extensions block (RFC 8446 4.2) at p..end. */
function readExtensions(buf: Uint8Array, p: number, end: number): Decoded<TlsExtension[]> {
  if (p === end) return done([], 0);
  if (end - p < 2) return malformed(p, `truncated extensions length`);
  const total = u16(buf, p);
  if (p + 2 + total !== end) return malformed(p, `extensions length ${total} does not match the ${end - p - 2} bytes left`);
  const out: TlsExtension[] = [];
  let q = p + 2;
  while (q < end) {
    if (end - q < 4) return malformed(q, `truncated extension header`);
    const type = u16(buf, q);
    const length = u16(buf, q + 2);
    if (q + 4 + length > end) return malformed(q + 2, `extension 0x${type.toString(16).padStart(4, '0')} of ${length} bytes runs past the message`);
    out.push({ type, dataOff: q + 4, length });
    q += 4 + length;
  }
  return done(out, end - p);
}

/** Checks an inner vector length (RFC 8446 3.4) inside an extension; returns the vector end or -1. */
function vec(buf: Uint8Array, p: number, end: number, lenBytes: 1 | 2): number {
  if (end - p < lenBytes) return -1;
  const len = lenBytes === 1 ? buf[p]! : u16(buf, p);
  const e = p + lenBytes + len;
  return e > end ? -1 : e;
}

/**
 * Decodes a ClientHello body (the bytes after the 4-byte handshake header, `end` = body end).
 * A body is complete by construction (readHandshake), so short fields are malformed.
 */
export function parseClientHello(buf: Uint8Array, off: number, end: number): Decoded<ClientHello> {
  let p = off;
  if (end - p < 35) return malformed(p, `body of ${end - p} bytes is too short`);
  const legacyVersion = u16(buf, p);
  const random = buf.subarray(p + 2, p + 34);
  p += 34;
  const sidLen = buf[p]!;
  if (sidLen > 32 || p + 1 + sidLen > end) return malformed(p, `session id length ${sidLen}`);
  const sessionId = buf.subarray(p + 1, p + 1 + sidLen);
  p += 1 + sidLen;
  if (end - p < 2) return malformed(p, `truncated cipher_suites`);
  const csLen = u16(buf, p);
  if (csLen % 2 !== 0 || csLen < 2 || p + 2 + csLen > end) return malformed(p, `cipher_suites length ${csLen}`);
  const cipherSuites: number[] = [];
  let renegotiationScsv = false;
  let fallbackScsv = false;
  for (let i = 0; i < csLen; i += 2) {
    const cs = u16(buf, p + 2 + i);
    if (cs === 0x00ff) renegotiationScsv = true;
    if (cs === 0x5600) fallbackScsv = true;
    if (!isGrease(cs)) cipherSuites.push(cs);
  }
  p += 2 + csLen;
  if (end - p < 1) return malformed(p, `truncated compression_methods`);
  const cmLen = buf[p]!;
  if (cmLen < 1 || p + 1 + cmLen > end) return malformed(p, `compression_methods length ${cmLen}`);
  const compressionMethods = Array.from(buf.subarray(p + 1, p + 1 + cmLen));
  p += 1 + cmLen;
  const ex = readExtensions(buf, p, end);
  if (!ex.ok) return ex;
  const hello: ClientHello = {
    legacyVersion,
    random,
    sessionId,
    cipherSuites,
    renegotiationScsv,
    fallbackScsv,
    compressionMethods,
    extensions: ex.value,
    sni: null,
    supportedVersions: [],
    signatureAlgorithms: [],
    supportedGroups: [],
    keyShareGroups: [],
    alpn: [],
    renegotiationInfo: false,
    extendedMasterSecret: false,
    encryptThenMac: false,
    maxVersion: legacyVersion,
  };
  for (const e of ex.value) {
    const d = e.dataOff;
    const de = d + e.length;
    switch (e.type) {
      case EXT_SERVER_NAME: {
        // RFC 6066 3: ServerNameList <1..2^16-1> of { name_type, HostName <1..2^16-1> }.
        const le = vec(buf, d, de, 2);
        if (le < 0) return malformed(d, `server_name list length`);
        let q = d + 2;
        while (q < le) {
          if (le - q < 3) return malformed(q, `truncated server_name entry`);
          const type = buf[q]!;
          const ne = vec(buf, q + 1, le, 2);
          if (ne < 0) return malformed(q + 1, `server_name entry length`);
          if (type === 0 && hello.sni === null) hello.sni = latin1(buf, q + 3, ne);
          q = ne;
        }
        break;
      }
      case EXT_SUPPORTED_VERSIONS: {
        const le = vec(buf, d, de, 1);
        if (le < 0 || (le - d - 1) % 2 !== 0) return malformed(d, `supported_versions length`);
        hello.supportedVersions = u16List(buf, d + 1, le - d - 1);
        break;
      }
      case EXT_SIGNATURE_ALGORITHMS:
      case EXT_SUPPORTED_GROUPS: {
        const le = vec(buf, d, de, 2);
        if (le < 0 || (le - d - 2) % 2 !== 0) return malformed(d, `extension 0x${e.type.toString(16)} list length`);
        const list = u16List(buf, d + 2, le - d - 2);
        if (e.type === EXT_SIGNATURE_ALGORITHMS) hello.signatureAlgorithms = list;
        else hello.supportedGroups = list;
        break;
      }
      case EXT_KEY_SHARE: {
        // RFC 8446 4.2.8: client_shares <0..2^16-1> of { group, key_exchange <1..2^16-1> }.
        const le = vec(buf, d, de, 2);
        if (le < 0) return malformed(d, `key_share length`);
        let q = d + 2;
        while (q < le) {
          if (le - q < 4) return malformed(q, `truncated key_share entry`);
          const g = u16(buf, q);
          const ke = vec(buf, q + 2, le, 2);
          if (ke < 0) return malformed(q + 2, `key_share entry length`);
          if (!isGrease(g)) hello.keyShareGroups.push(g);
          q = ke;
        }
        break;
      }
      case EXT_ALPN: {
        const le = vec(buf, d, de, 2);
        if (le < 0) return malformed(d, `ALPN length`);
        let q = d + 2;
        while (q < le) {
          const ne = vec(buf, q, le, 1);
          if (ne < 0) return malformed(q, `ALPN protocol name length`);
          hello.alpn.push(latin1(buf, q + 1, ne));
          q = ne;
        }
        break;
      }
      case EXT_RENEGOTIATION_INFO:
        hello.renegotiationInfo = true;
        break;
      case EXT_EXTENDED_MASTER_SECRET:
        hello.extendedMasterSecret = true;
        break;
      case EXT_ENCRYPT_THEN_MAC:
        hello.encryptThenMac = true;
        break;
    }
  }
  for (const v of hello.supportedVersions) if (v > hello.maxVersion && v <= TLS1_3) hello.maxVersion = v;
  return done(hello, end - off);
}

function randomEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Decodes a ServerHello (or HelloRetryRequest) body. */
export function parseServerHello(buf: Uint8Array, off: number, end: number): Decoded<ServerHello> {
  let p = off;
  if (end - p < 38) return malformed(p, `body of ${end - p} bytes is too short`);
  const legacyVersion = u16(buf, p);
  const random = buf.subarray(p + 2, p + 34);
  p += 34;
  const sidLen = buf[p]!;
  if (sidLen > 32 || p + 1 + sidLen + 3 > end) return malformed(p, `session id length ${sidLen}`);
  const sessionId = buf.subarray(p + 1, p + 1 + sidLen);
  p += 1 + sidLen;
  const cipherSuite = u16(buf, p);
  const compressionMethod = buf[p + 2]!;
  p += 3;
  const ex = readExtensions(buf, p, end);
  if (!ex.ok) return ex;
  const helloRetryRequest = randomEquals(random, HELLO_RETRY_REQUEST_RANDOM);
  // RFC 8446 4.1.3: 44 4F 57 4E 47 52 44 01 (TLS 1.2 server) or ... 00 (TLS 1.1 or below).
  let downgradeSentinel: string | null = null;
  if (random[24] === 0x44 && random[25] === 0x4f && random[26] === 0x57 && random[27] === 0x4e && random[28] === 0x47 && random[29] === 0x52 && random[30] === 0x44) {
    downgradeSentinel = random[31] === 1 ? 'TLS1.2' : random[31] === 0 ? 'TLS1.1' : null;
  }
  const hello: ServerHello = {
    legacyVersion,
    random,
    sessionId,
    cipherSuite,
    compressionMethod,
    extensions: ex.value,
    selectedVersion: null,
    version: legacyVersion,
    helloRetryRequest,
    downgradeSentinel,
    keyShareGroup: null,
    alpn: null,
    renegotiationInfo: false,
    extendedMasterSecret: false,
    encryptThenMac: false,
  };
  for (const e of ex.value) {
    const d = e.dataOff;
    const de = d + e.length;
    switch (e.type) {
      case EXT_SUPPORTED_VERSIONS:
        if (e.length !== 2) return malformed(d, `supported_versions of ${e.length} bytes (expected 2)`);
        hello.selectedVersion = u16(buf, d);
        break;
      case EXT_KEY_SHARE:
        // ServerHello: KeyShareEntry; HelloRetryRequest: selected_group only (RFC 8446 4.2.8).
        if (e.length < 2) return malformed(d, `key_share of ${e.length} bytes`);
        hello.keyShareGroup = u16(buf, d);
        break;
      case EXT_ALPN: {
        const le = vec(buf, d, de, 2);
        const ne = le < 0 ? -1 : vec(buf, d + 2, le, 1);
        if (ne < 0) return malformed(d, `ALPN length`);
        hello.alpn = latin1(buf, d + 3, ne);
        break;
      }
      case EXT_RENEGOTIATION_INFO:
        hello.renegotiationInfo = true;
        break;
      case EXT_EXTENDED_MASTER_SECRET:
        hello.extendedMasterSecret = true;
        break;
      case EXT_ENCRYPT_THEN_MAC:
        hello.encryptThenMac = true;
        break;
    }
  }
  if (hello.selectedVersion !== null) hello.version = hello.selectedVersion;
  return done(hello, end - off);
}

/** RFC 8446 4.4.2: from TLS 1.3 on, the server's Certificate travels encrypted and is never seen. */
export function certificateIsEncrypted(negotiatedVersion: number): boolean {
  return negotiatedVersion >= TLS1_3 && negotiatedVersion <= 0x03ff || (negotiatedVersion & 0xff00) === 0x7f00;
}

/** Certificate message of TLS <= 1.2 (RFC 5246 7.4.2): the DER certificates, as views into the input. */
export interface CertificateList {
  certificates: Uint8Array[];
}

/** Decodes a TLS <= 1.2 Certificate body: certificate_list <0..2^24-1> of ASN.1Cert <1..2^24-1>. */
export function parseCertificateList(buf: Uint8Array, off: number, end: number): Decoded<CertificateList> {
  if (end - off < 3) return malformed(off, `body of ${end - off} bytes is too short`);
  const total = (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]!;
  if (off + 3 + total !== end) return malformed(off, `certificate_list length ${total} does not match the ${end - off - 3} bytes of the body`);
  const certificates: Uint8Array[] = [];
  let p = off + 3;
  while (p < end) {
    if (end - p < 3) return malformed(p, 'truncated certificate length');
    const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
    if (len === 0 || p + 3 + len > end) return malformed(p, `certificate of ${len} bytes runs past the list`);
    certificates.push(buf.subarray(p + 3, p + 3 + len));
    p += 3 + len;
  }
  return done({ certificates }, end - off);
}

/**
 * Decodes a TLS 1.3 Certificate body (RFC 8446 4.4.2): certificate_request_context <0..2^8-1>, then
 * certificate_list <0..2^24-1> of CertificateEntry { cert_data <1..2^24-1>, extensions <0..2^16-1> }.
 * Readable only once decrypted (the message travels in the encrypted server flight).
 */
export function parseCertificateList13(buf: Uint8Array, off: number, end: number): Decoded<CertificateList> {
  if (end - off < 4) return malformed(off, `body of ${end - off} bytes is too short`);
  const ctx = buf[off]!;
  let p = off + 1 + ctx;
  if (end - p < 3) return malformed(off, `certificate_request_context of ${ctx} bytes runs past the body`);
  const total = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
  if (p + 3 + total !== end) return malformed(p, `certificate_list length ${total} does not match the ${end - p - 3} bytes of the body`);
  p += 3;
  const certificates: Uint8Array[] = [];
  while (p < end) {
    if (end - p < 3) return malformed(p, 'truncated cert_data length');
    const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
    if (len === 0 || p + 3 + len + 2 > end) return malformed(p, `certificate of ${len} bytes runs past the list`);
    certificates.push(buf.subarray(p + 3, p + 3 + len));
    p += 3 + len;
    const ext = (buf[p]! << 8) | buf[p + 1]!;
    if (p + 2 + ext > end) return malformed(p, `certificate extensions of ${ext} bytes run past the list`);
    p += 2 + ext;
  }
  return done({ certificates }, end - off);
}

/** A clear alert (RFC 8446 6 / RFC 5246 7.2). */
export interface TlsAlert {
  /** 1 warning, 2 fatal. */
  level: number;
  levelName: string;
  description: number;
  descriptionName: string;
}

/** Decodes a 2-byte clear alert at off. Malformed when the level is not 1 or 2 (then it is likely encrypted). */
export function parseAlert(buf: Uint8Array, off: number, end: number): Decoded<TlsAlert> {
  if (end - off < 2) return incomplete(2 - Math.max(0, end - off));
  const level = buf[off]!;
  const description = buf[off + 1]!;
  if (level !== 1 && level !== 2) return malformed(off, `alert level ${level} is neither 1 (warning) nor 2 (fatal)`);
  return done({ level, levelName: level === 1 ? 'warning' : 'fatal', description, descriptionName: alertName(description) }, 2);
}

/**
 * Record protection arithmetic (RFC 5246 6.2.3.1-3, RFC 4346 6.2.3.2 explicit IV, RFC 8446 5.2)
 * for a suite and negotiated version: the record length of `plaintext` bytes, assuming the
 * minimal CBC padding and no TLS 1.3 padding (what Schannel, OpenSSL and Go send). Null when the
 * suite is unknown.
 */
export function protectedRecordLength(plaintext: number, cipherSuite: number, version: number, encryptThenMac = false): number | null {
  const s = cipherSuiteInfo(cipherSuite);
  if (!s) return null;
  return protectedLength(plaintext, s, version, encryptThenMac);
}

function protectedLength(pt: number, s: CipherSuiteInfo, version: number, etm: boolean): number {
  if (version >= TLS1_3 && version <= 0x03ff) return pt + 1 + s.tagLength; // inner content type + tag
  switch (s.mode) {
    case 'aead':
      return pt + s.explicitNonceLength + s.tagLength;
    case 'cbc': {
      const iv = version >= TLS1_1 ? s.blockSize : 0;
      // RFC 7366 3: with encrypt_then_mac the MAC follows the padded ciphertext.
      if (etm) return iv + Math.ceil((pt + 1) / s.blockSize) * s.blockSize + s.macLength;
      const body = pt + s.macLength + 1; // at least one padding_length byte
      return iv + Math.ceil(body / s.blockSize) * s.blockSize;
    }
    default:
      return pt + s.macLength;
  }
}

/**
 * The plaintext range a protected record of `recordLength` can hold (inverse of
 * protectedRecordLength). CBC gives a range of one block (padding unknown, assumed minimal);
 * pass `encryptThenMac` when the ServerHello echoed the RFC 7366 extension (OpenSSL does, Schannel does not);
 * the others are exact. Null when the suite is unknown or the record is too short to be protected.
 */
export function plaintextRange(recordLength: number, cipherSuite: number, version: number, encryptThenMac = false): { min: number; max: number } | null {
  const s = cipherSuiteInfo(cipherSuite);
  if (!s) return null;
  let max: number;
  let min: number;
  if (version >= TLS1_3 && version <= 0x03ff) {
    max = recordLength - 1 - s.tagLength;
    min = max;
  } else if (s.mode === 'aead') {
    max = recordLength - s.explicitNonceLength - s.tagLength;
    min = max;
  } else if (s.mode === 'cbc') {
    const iv = version >= TLS1_1 ? s.blockSize : 0;
    const body = recordLength - iv - (encryptThenMac ? s.macLength : 0);
    if (body <= 0 || body % s.blockSize !== 0) return null;
    max = body - (encryptThenMac ? 0 : s.macLength) - 1;
    min = Math.max(0, max - (s.blockSize - 1));
  } else {
    max = recordLength - s.macLength;
    min = max;
  }
  if (max < 0) return null;
  return { min, max };
}

/** Whether a protected alert record's length fits one encrypted 2-byte alert. */
export interface EncryptedAlertShape {
  consistent: boolean;
  /** The record length one 2-byte alert gives with this suite and version (minimal padding), or null. */
  expectedLength: number | null;
  reason: string;
}

/**
 * An alert record after ChangeCipherSpec (content type 21, length not 2) is encrypted: is its
 * length that of one 2-byte alert under the negotiated suite? E.g. 26 for AES-GCM in TLS 1.2
 * (8 nonce + 2 + 16 tag), 32 for AES-CBC-SHA in TLS 1.0, 48 in TLS 1.1/1.2 (16 IV + 32),
 * 19 in TLS 1.3 (2 + 1 content type + 16 tag, RFC 8446 5.2); 52 for AES-CBC-SHA in TLS 1.2 with
 * encrypt_then_mac (RFC 7366: 16 IV + 16 + 20 MAC). CBC with extra padding is accepted.
 */
export function encryptedAlertShape(recordLength: number, cipherSuite: number | null, version: number | null, encryptThenMac = false): EncryptedAlertShape {
  const s = cipherSuite === null ? null : cipherSuiteInfo(cipherSuite);
  if (!s || version === null) {
    const ok = recordLength >= 18 && recordLength <= 64;
    return {
      consistent: ok,
      expectedLength: null,
      reason: `suite or version unknown: ${recordLength} bytes ${ok ? 'is' : 'is not'} within 18..64, the sizes of one protected alert under common suites`,
    };
  }
  const expected = protectedLength(2, s, version, encryptThenMac && s.mode === 'cbc');
  const vn = versionName(version) + (encryptThenMac && s.mode === 'cbc' ? ' with encrypt_then_mac' : '');
  if (recordLength === expected) {
    return { consistent: true, expectedLength: expected, reason: `${recordLength} bytes = one 2-byte alert under ${s.name} in ${vn}` };
  }
  if (s.mode === 'cbc' && version < TLS1_3 && recordLength > expected && (recordLength - expected) % s.blockSize === 0 && recordLength - expected <= 255) {
    return { consistent: true, expectedLength: expected, reason: `${recordLength} bytes = one 2-byte alert with extra CBC padding under ${s.name} in ${vn}` };
  }
  return {
    consistent: false,
    expectedLength: expected,
    reason: `${recordLength} bytes, but one 2-byte alert under ${s.name} in ${vn} is ${expected} bytes`,
  };
}

/** The TLS 1.3 alert guess (RFC 8446 5.1: alerts after ServerHello are application_data records). */
export interface Tls13AlertGuess {
  likely: boolean;
  /** 0..1, never 1: the content type is encrypted. */
  confidence: number;
  reason: string;
}

/**
 * In TLS 1.3 an encrypted alert is an application_data record whose inner plaintext is
 * 2 bytes + 1 content type byte: 19 bytes with a 16-byte tag (11 with CCM_8), unless padded.
 * What CAN be said: the LAST record of a side, of that size, right before that side's FIN/RST,
 * is likely a close_notify or fatal alert. A record of that size in mid-stream is not evidence.
 */
export function tls13AlertGuess(recordLength: number, cipherSuite: number | null, lastBeforeClose: boolean): Tls13AlertGuess {
  const s = cipherSuite === null ? null : cipherSuiteInfo(cipherSuite);
  const tag = s ? s.tagLength : 16;
  const expected = 2 + 1 + tag;
  if (recordLength !== expected) {
    return { likely: false, confidence: 0, reason: `${recordLength} bytes is not the ${expected} bytes of an encrypted TLS 1.3 alert` };
  }
  if (!lastBeforeClose) {
    return { likely: false, confidence: 0.2, reason: `${recordLength} bytes fits an encrypted alert, but more data followed it` };
  }
  return {
    likely: true,
    confidence: s ? 0.7 : 0.6,
    reason: `last record before the close is ${recordLength} bytes = 2-byte alert + content type + ${tag}-byte tag (RFC 8446 5.2)`,
  };
}
