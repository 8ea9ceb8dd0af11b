// The TLS part of a connection (design.md phase 3, and the encrypted phases after it): records
// by content type, the handshake messages (ClientHello, ServerHello, Certificate, ...), clear and
// encrypted alerts, Finished by position, TLS 1.3's encrypted flight, then the shape of the
// encrypted application records, from which later phases are inferred (tls-shape).
// Decoding is src/rdp/tls.ts, x509.ts, tls-shape.ts; this file keeps the state.
import type { Dir } from '../flow/types.js';
import type { CertificateInfo, TlsDecryption, TlsInfo } from './types.js';
import type { StreamBuf } from './stream.js';
import {
  CONTENT_ALERT,
  HS_CERTIFICATE,
  HS_CERTIFICATE_REQUEST,
  HS_CLIENT_HELLO,
  HS_CLIENT_KEY_EXCHANGE,
  HS_FINISHED,
  HS_SERVER_HELLO,
  HS_SERVER_HELLO_DONE,
  HandshakeDefragmenter,
  certificateIsEncrypted,
  encryptedAlertShape,
  looksLikeTlsRecord,
  parseAlert,
  parseCertificateList,
  parseCertificateList13,
  parseClientHello,
  parseServerHello,
  readTlsRecord,
  tls13AlertGuess,
  tlsRecordKind,
  type HandshakeMessage,
  type ServerHello,
  type TlsRecord,
} from '../rdp/tls.js';
import { clientRandomKey } from '../rdp/keylog.js';
import { decryptRecord, suiteParams, tls10Prf, tls12Keys, tls12Prf, tls13Keys, type PlainRecord, type RecordKeys, type SuiteParams } from '../rdp/tls-decrypt.js';
import { createHash } from 'node:crypto';
import type { Failure } from '../rdp/result.js';
import { cipherSuiteName, handshakeTypeName, versionName } from '../rdp/tls-codes.js';
import { parseCertificateDetailed } from '../rdp/x509.js';
import { ShapeTracker } from './shape.js';
import type { MachineSink } from './machine.js';

const SIDE = ['client', 'server'] as const;
/** Application-data records shown in the timeline per direction (the rest are counted). */
const MAX_APP_RECORD_EVENTS = 4;
/** Certificates decoded from one Certificate message (a chain is 1-4). */
const MAX_CERTIFICATES = 8;
/** RFC 7366 encrypt_then_mac extension. */
const EXT_ENCRYPT_THEN_MAC = 22;
const CONTENT_HANDSHAKE = 22;
/** RFC 7627 extended_master_secret extension. */
const EXT_EXTENDED_MASTER_SECRET = 23;
/** Cipher suites with the RSA key exchange (RFC 5246 A.5, RFC 5288): the ClientKeyExchange carries the encrypted pre-master. */
const RSA_KEY_EXCHANGE = new Set([0x002f, 0x0035, 0x003c, 0x003d, 0x009c, 0x009d]);
/** Handshake bytes kept for an RSA line's extended master secret (RFC 7627 3: the session hash); a real one is a few KB. */
const MAX_TRANSCRIPT = 256 * 1024;
const CONTENT_APPLICATION_DATA = 23;

/** One direction's record protection while decrypting: its keys and the next record's sequence number (RFC 5246 6.1). */
interface DirDecrypt {
  keys: RecordKeys;
  seq: number;
}

export function emptyTls(): TlsInfo {
  return {
    version: null,
    clientVersions: [],
    cipherSuite: null,
    cipherSuiteName: null,
    clientCipherSuites: [],
    sni: null,
    clientHelloFrame: null,
    serverHelloFrame: null,
    certificateFrame: null,
    certificateEncrypted: false,
    certificates: [],
    serverHelloDoneFrame: null,
    clientFinishedFrame: null,
    serverFinishedFrame: null,
    establishedFrame: null,
    alerts: [],
    appRecords: { client: 0, server: 0 },
  };
}

/** "Certificate Expired" from "certificate_expired" (Wireshark's alert wording). */
function title(name: string): string {
  return name
    .split('_')
    .map((w) => (w.length > 0 ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/**
 * The timeline's event for a clear alert (RFC 5246 7.2: level 1 or 2, description 0..255: at most
 * 512), made once per level and description: an attempt storm's thousands of alerts say the same few things.
 */
const alertEvents = new Map<number, string>();

/** Hello details made once per value (a storm's clients and servers send the same few); bounded. */
const MAX_HELLO_TEXTS = 256;
const clientHelloTexts = new Map<number, string>();
const serverHelloTexts = new Map<number, string>();

/** A ClientHello's detail without SNI: "up to TLS1.2, 9 cipher suites" (version and count: 16 bits each). */
function clientHelloText(maxVersion: number, suites: number): string {
  const key = maxVersion * 65536 + suites;
  let t = clientHelloTexts.get(key);
  if (t === undefined) {
    t = `up to ${versionName(maxVersion)}, ${suites} cipher suites`;
    if (clientHelloTexts.size < MAX_HELLO_TEXTS) clientHelloTexts.set(key, t);
  }
  return t;
}

/** A ServerHello's detail: "TLS1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" (version and suite: 16 bits each). */
function serverHelloText(version: number, suite: number, encrypted: boolean): string {
  const key = (version * 65536 + suite) * 2 + (encrypted ? 1 : 0);
  let t = serverHelloTexts.get(key);
  if (t === undefined) {
    t = `${versionName(version)}, ${cipherSuiteName(suite)}${encrypted ? ' (certificate encrypted)' : ''}`;
    if (serverHelloTexts.size < MAX_HELLO_TEXTS) serverHelloTexts.set(key, t);
  }
  return t;
}

/** "Server Key Exchange" for a handshake type (0..255), made once per type. */
const handshakeTitles: (string | undefined)[] = [];
function handshakeTitle(msgType: number): string {
  return (handshakeTitles[msgType] ??= title(handshakeTypeName(msgType)));
}
function alertEvent(level: number, levelName: string, description: number, descriptionName: string): string {
  const key = level * 256 + description;
  let e = alertEvents.get(key);
  if (e === undefined) {
    e = `Alert (Level: ${title(levelName)}, Description: ${title(descriptionName)})`;
    alertEvents.set(key, e);
  }
  return e;
}

/** The report's line for a decryption that found its keys (no_key / unsupported have theirs already). */
function decryptionReason(d: TlsDecryption): string {
  const n = `${d.records.client} client and ${d.records.server} server records`;
  const f = d.failure;
  if (f === null) return d.records.client + d.records.server > 0 ? `decrypted with the given TLS secrets (${n})` : 'secrets found, but no protected record was seen';
  if (d.status === 'failed') return `the ${f.by}'s first protected record (frame ${f.frame}) does not decrypt with the secrets given for this session (${f.reason}): the key log is not this capture's, or the record is damaged`;
  return `decrypted (${n}) until frame ${f.frame}, where the ${f.by}'s record did not (${f.reason})`;
}

export class TlsTrack {
  private ccs: [boolean, boolean] = [false, false];
  private defrag: [HandshakeDefragmenter | null, HandshakeDefragmenter | null] = [null, null];
  private version: number | null = null;
  private cipherSuite: number | null = null;
  private tls13 = false;
  private finished: [boolean, boolean] = [false, false];
  private appEvents: [number, number] = [0, 0];
  /** Last record of each side (TLS 1.3: an alert is only guessable from the last record's size). */
  private lastRecord: [{ length: number; frame: number; time: number; contentType: number } | null, null | { length: number; frame: number; time: number; contentType: number }] = [null, null];
  readonly shape: ShapeTracker;
  /** Time of the record being decoded (a handshake message is credited to the record completing it). */
  private now = 0;
  /** Decryption (only when the machine has keys): the randoms, the keys waiting for a side's Change Cipher Spec, each side's state. */
  private clientRandom: Buffer | null = null;
  private pending12: { client: RecordKeys; server: RecordKeys } | null = null;
  private dec: [DirDecrypt | null, DirDecrypt | null] = [null, null];
  /** TLS 1.3: the decrypted handshake messages of each side, and whether a Certificate is being read from them. */
  private hs13: [HandshakeDefragmenter | null, HandshakeDefragmenter | null] = [null, null];
  private innerHandshake = false;
  /**
   * Only when the key log has RSA lines: the clear handshake messages up to the ClientKeyExchange
   * (RFC 7627 3 session hash), and the session waiting for its pre-master there.
   */
  private transcript: Buffer[] | null = null;
  private transcriptBytes = 0;
  private rsaPending: { p: SuiteParams; serverRandom: Buffer; etm: boolean; ems: boolean; version: number } | null = null;

  constructor(private readonly m: MachineSink) {
    this.shape = new ShapeTracker(m);
  }

  /** A side's records are being decrypted. */
  get decrypting(): boolean {
    return this.dec[0] !== null || this.dec[1] !== null;
  }

  get established(): boolean {
    return this.finished[0] && this.finished[1];
  }

  /**
   * The capture began inside a running TLS session (issue 18: no SYN, no X.224, and the first record
   * is not a handshake one): its records are those of an established session (cipher unknown), so
   * application data is counted (its shape not read: the phases it shows start at the handshake), and alerts are taken as encrypted ones.
   */
  joinEstablished(): void {
    this.ccs = [true, true];
    this.finished = [true, true];
    this.midSession = true;
  }
  /** Joined inside a running session: the shape of its records says nothing of the phases (tls-shape reads from the handshake on). */
  private midSession = false;

  isRecordStart(buf: Uint8Array, off: number, end: number): boolean {
    return looksLikeTlsRecord(buf, off, end) || (end - off < 3 && end > off && buf[off]! >= 20 && buf[off]! <= 24);
  }

  private info(): TlsInfo {
    if (this.m.rec.tls === null) this.m.rec.tls = emptyTls();
    return this.m.rec.tls;
  }

  /** One TLS record. Returns bytes used, 0 when incomplete, -1 to stop. */
  record(dir: Dir, s: StreamBuf): number {
    const buf = s.bytes;
    const off = s.off;
    const r = readTlsRecord(buf, off, s.end);
    if (!r.ok) {
      if (r.kind === 'incomplete') return 0;
      this.m.warn(s.frameOfStart(), s.position + r.at - off, `${SIDE[dir]} TLS: ${r.reason}`);
      return -1;
    }
    const rec = r.value;
    const frame = s.frameOfEnd(r.consumed);
    const time = s.timeOfEnd(r.consumed);
    const t = this.info();
    this.now = time;
    this.lastRecord[dir] = { length: rec.length, frame, time, contentType: rec.contentType };
    if (this.dec[dir] !== null && (this.tls13 ? rec.contentType === CONTENT_APPLICATION_DATA : this.ccs[dir] && rec.contentType >= CONTENT_ALERT && rec.contentType <= CONTENT_APPLICATION_DATA)) {
      if (this.decrypted(dir, rec, buf, frame, time, s.position + rec.fragmentOff - off)) return r.consumed;
    }
    const kind = tlsRecordKind(rec.contentType, rec.length, this.ccs[dir]);
    switch (kind) {
      case 'change_cipher_spec':
        if (!this.ccs[dir]) this.m.event(dir, frame, time, 'Change Cipher Spec');
        // TLS 1.3 middlebox-compatibility CCS (RFC 8446 D.4) changes nothing.
        if (!this.tls13) {
          this.ccs[dir] = true;
          // RFC 5246 7.1: the side's next record is protected with the new keys, sequence number 0.
          if (this.pending12 !== null && this.dec[dir] === null && this.info().decryption?.failure == null) this.dec[dir] = { keys: dir === 0 ? this.pending12.client : this.pending12.server, seq: 0 };
        }
        break;
      case 'handshake':
        this.handshakeRecord(dir, buf, rec.fragmentOff, rec.end, frame, s.position + rec.fragmentOff - off);
        break;
      case 'encrypted_handshake':
        this.m.event(dir, frame, time, 'Encrypted Handshake Message', dir === 0 ? 'client Finished' : 'server Finished');
        this.finish(dir, frame, time);
        break;
      case 'alert':
        if (!this.clearAlert(dir, buf, rec.fragmentOff, rec.end, frame, time, false)) this.encryptedAlert(dir, rec.length, frame, time);
        break;
      case 'encrypted_alert':
        this.encryptedAlert(dir, rec.length, frame, time);
        break;
      case 'application_data':
        this.applicationData(dir, rec.length, frame, time);
        break;
      case 'heartbeat':
        this.m.event(dir, frame, time, 'Heartbeat');
        break;
    }
    return r.consumed;
  }

  /** An alert in the clear or decrypted (RFC 5246 7.2 / RFC 8446 6). False when its bytes are not an alert. */
  private clearAlert(dir: Dir, buf: Uint8Array, off: number, end: number, frame: number, time: number, decrypted: boolean): boolean {
    // The phase the alert ends is the one reached with every record before it.
    this.shape.flush();
    const a = parseAlert(buf, off, end);
    if (!a.ok) return false;
    const v = a.value;
    this.info().alerts.push({ frame, by: SIDE[dir], level: v.levelName, description: v.descriptionName, code: v.description, encrypted: decrypted });
    this.m.event(dir, frame, time, alertEvent(v.level, v.levelName, v.description, v.descriptionName));
    this.m.end({
      phase: this.m.reached(),
      how: decrypted ? 'encrypted_alert' : 'tls_alert',
      by: SIDE[dir],
      frame,
      time,
      detail: `${SIDE[dir]} sent ${decrypted ? 'an encrypted (decrypted) ' : ''}TLS alert ${v.levelName} ${v.descriptionName} (${v.description})`,
      normal: this.m.reached() === 'active' && v.description === 0,
    });
    return true;
  }

  // ---- decryption with a key log (src/rdp/keylog.ts, tls-decrypt.ts)

  /** At the ServerHello: finds this session's secrets and prepares the record keys, or says why not. */
  private setupDecryption(sh: ServerHello): void {
    const keys = this.m.keys;
    const random = this.clientRandom;
    if (keys === null || random === null) return;
    const cr = clientRandomKey(random);
    const d: TlsDecryption = { status: 'no_key', reason: '', clientRandom: cr, records: { client: 0, server: 0 }, failure: null };
    this.info().decryption = d;
    const p = suiteParams(sh.cipherSuite);
    if (this.tls13) {
      let s = keys.tls13.get(cr);
      if ((s === undefined || s.clientHandshake === null || s.serverHandshake === null) && keys.refresh?.()) s = keys.tls13.get(cr);
      if (s === undefined || s.clientHandshake === null || s.serverHandshake === null) {
        d.reason = `the key log has no TLS 1.3 handshake traffic secrets for this session's client random ${cr.slice(0, 16)}…`;
        return;
      }
      if (p === null || !p.tls13) {
        d.status = 'unsupported';
        d.reason = `cipher suite ${cipherSuiteName(sh.cipherSuite)} is not one we decrypt`;
        return;
      }
      this.dec = [{ keys: tls13Keys(p, s.clientHandshake), seq: 0 }, { keys: tls13Keys(p, s.serverHandshake), seq: 0 }];
    } else {
      // TLS 1.0 / 1.1 carry only CBC suites (RFC 2246, RFC 4346); SSL 3.0 is not decrypted.
      const legacyCbc = (sh.version === 0x0301 || sh.version === 0x0302) && p !== null && !p.tls13 && p.mac !== null;
      if (sh.version !== 0x0303 && !legacyCbc) {
        d.status = 'unsupported';
        d.reason = `${versionName(sh.version)} records${p === null ? '' : ` with ${cipherSuiteName(sh.cipherSuite)}`} are not decrypted (TLS 1.0 / 1.1 CBC suites, TLS 1.2 and 1.3 are)`;
        return;
      }
      let ms = keys.master.get(cr);
      if (ms === undefined && keys.refresh?.()) ms = keys.master.get(cr);
      if (ms === undefined && keys.rsa.size > 0 && p !== null && !p.tls13 && RSA_KEY_EXCHANGE.has(sh.cipherSuite) && this.transcript !== null) {
        // RSA key exchange: the key log's RSA line is found by the ClientKeyExchange (rsaKeys).
        const etm = sh.extensions.some((e) => e.type === EXT_ENCRYPT_THEN_MAC);
        this.rsaPending = { p, serverRandom: Buffer.from(sh.random), etm, ems: sh.extensions.some((e) => e.type === EXT_EXTENDED_MASTER_SECRET), version: sh.version };
        d.reason = `the key log has no CLIENT_RANDOM line for this session's client random ${cr.slice(0, 16)}…, and the ClientKeyExchange (for an RSA line) was not seen`;
        return;
      }
      if (ms === undefined) {
        d.reason = `the key log has no CLIENT_RANDOM line for this session's client random ${cr.slice(0, 16)}…`;
        return;
      }
      if (p === null || p.tls13) {
        d.status = 'unsupported';
        d.reason = `cipher suite ${cipherSuiteName(sh.cipherSuite)} is not one we decrypt`;
        return;
      }
      const etm = sh.extensions.some((e) => e.type === EXT_ENCRYPT_THEN_MAC);
      this.pending12 = tls12Keys(p, ms, random, sh.random, etm, sh.version);
    }
    d.status = 'decrypted';
  }

  /**
   * RSA key exchange (RFC 5246 7.4.7.1): the ClientKeyExchange's EncryptedPreMasterSecret (a 2-byte
   * length, then the RSA-encrypted pre-master) names its key log line by its first 8 bytes; the master
   * secret is PRF(pre_master, "master secret", client + server random) (8.1), or with the extended
   * master secret PRF(pre_master, "extended master secret", session_hash) (RFC 7627 4), the session
   * hash being the PRF hash of the handshake messages up to this one (MD5 + SHA-1 before TLS 1.2).
   */
  private rsaKeys(body: Uint8Array): void {
    const pend = this.rsaPending!;
    this.rsaPending = null;
    const transcript = this.transcript;
    this.transcript = null;
    const d = this.info().decryption;
    const keys = this.m.keys;
    const random = this.clientRandom;
    if (d === undefined || keys === null || random === null || body.length < 2 + 8) return;
    const n = (body[0]! << 8) | body[1]!;
    if (n + 2 !== body.length) return;
    const id = Buffer.from(body.subarray(2, 10)).toString('hex');
    const pms = keys.rsa.get(id);
    if (pms === undefined) {
      d.reason = `the key log has no CLIENT_RANDOM line for this session's client random ${d.clientRandom?.slice(0, 16) ?? ''}…, nor an RSA line for its encrypted pre-master ${id}…`;
      return;
    }
    const legacy = pend.version < 0x0303;
    let ms: Buffer;
    if (pend.ems) {
      if (transcript === null) return;
      const all = Buffer.concat(transcript);
      const hash = legacy ? Buffer.concat([createHash('md5').update(all).digest(), createHash('sha1').update(all).digest()]) : createHash(pend.p.prf).update(all).digest();
      ms = legacy ? tls10Prf(pms, 'extended master secret', hash, 48) : tls12Prf(pend.p.prf, pms, 'extended master secret', hash, 48);
    } else {
      const prfSeed = Buffer.concat([random, pend.serverRandom]);
      ms = legacy ? tls10Prf(pms, 'master secret', prfSeed, 48) : tls12Prf(pend.p.prf, pms, 'master secret', prfSeed, 48);
    }
    d.rsaKey = id;
    this.pending12 = tls12Keys(pend.p, ms, random, pend.serverRandom, pend.etm, pend.version);
    d.status = 'decrypted';
    d.reason = '';
  }

  /**
   * Decrypts a protected record and handles its plaintext. False when it does not authenticate:
   * that side is not decrypted any further (its sequence is lost) and the record is handled as an
   * encrypted one.
   */
  private decrypted(dir: Dir, rec: TlsRecord, buf: Uint8Array, frame: number, time: number, streamOff: number): boolean {
    const st = this.dec[dir]!;
    const d = this.info().decryption!;
    const r = decryptRecord(st.keys, st.seq, rec.contentType, rec.version, buf, rec.fragmentOff, rec.end);
    if (!r.ok) {
      this.dec[dir] = null;
      if (d.failure === null) {
        d.failure = { frame, by: SIDE[dir], reason: r.kind === 'malformed' ? r.reason : 'truncated' };
        d.status = d.records.client + d.records.server > 0 ? 'partial' : 'failed';
        this.m.warn(frame, streamOff, `${SIDE[dir]}'s TLS record of ${rec.length} bytes does not decrypt with the key log's secrets for this session (${d.failure.reason}): that side is not decrypted from here on`);
      }
      return false;
    }
    st.seq++;
    if (dir === 0) d.records.client++;
    else d.records.server++;
    const was = this.m.plain;
    this.m.plain = true;
    try {
      this.plainRecord(dir, r.value, rec.length, frame, time);
    } finally {
      this.m.plain = was;
    }
    return true;
  }

  /** The content of a decrypted record, by its (inner) content type. */
  private plainRecord(dir: Dir, pt: PlainRecord, length: number, frame: number, time: number): void {
    switch (pt.contentType) {
      case CONTENT_HANDSHAKE:
        if (this.tls13) this.handshake13(dir, pt.plaintext, frame);
        else {
          this.m.event(dir, frame, time, pt.plaintext[0] === HS_FINISHED ? 'Finished' : handshakeTitle(pt.plaintext[0] ?? 0));
          if (pt.plaintext[0] === HS_FINISHED) this.finish(dir, frame, time);
        }
        return;
      case CONTENT_ALERT:
        if (!this.clearAlert(dir, pt.plaintext, 0, pt.plaintext.length, frame, time, true)) this.encryptedAlert(dir, length, frame, time);
        return;
      case CONTENT_APPLICATION_DATA: {
        if (!this.plainDecoded()) {
          // RDSTLS / RDSAAD (MS-RDPBCGR 2.2.17, 5.4.5.3) or an unknown security: its PDUs are not read
          // here; the records are inferred from their shape as without keys.
          this.m.plain = false;
          this.applicationData(dir, length, frame, time);
          return;
        }
        const t = this.info();
        if (dir === 0) t.appRecords.client++;
        else t.appRecords.server++;
        if (!this.established) this.m.event(dir, frame, time, 'Application Data', `${pt.plaintext.length} bytes before the handshake finished`);
        this.m.plaintext(dir, pt.plaintext, frame, time);
        return;
      }
      default:
        this.m.event(dir, frame, time, `TLS record of content type ${pt.contentType}`);
        return;
    }
  }

  /** The decrypted application data is decoded (CredSSP, then TPKT / fast-path): for the TLS and HYBRID security protocols. */
  private plainDecoded(): boolean {
    const sec = this.m.rec.security;
    return sec === 'tls' || sec === 'credssp';
  }

  /** TLS 1.3 handshake messages from decrypted records (RFC 8446 4.3-4.6); Finished switches to the traffic keys (7.1). */
  private handshake13(dir: Dir, plain: Buffer, frame: number): void {
    let d = this.hs13[dir];
    if (d === null) d = this.hs13[dir] = new HandshakeDefragmenter();
    const err = d.push(plain, 0, plain.length, frame);
    if (err) {
      this.m.warn(frame, null, `${SIDE[dir]} TLS handshake (decrypted): ${err.kind === 'malformed' ? err.reason : 'too much pending data'}`);
      this.hs13[dir] = null;
      return;
    }
    for (;;) {
      const msg = d.next();
      if (!msg.ok) {
        if (msg.kind === 'malformed') {
          this.m.warn(frame, null, `${SIDE[dir]} TLS handshake (decrypted): ${msg.reason}`);
          this.hs13[dir] = null;
        }
        return;
      }
      const h = msg.value;
      this.innerHandshake = true;
      try {
        this.handshakeMessage(dir, h, this.now, d);
      } finally {
        this.innerHandshake = false;
      }
      if (h.msgType === HS_FINISHED) this.finished13(dir, h.lastFrame);
    }
  }

  /** A side's decrypted TLS 1.3 Finished: its handshake is done and its records switch to the application traffic keys. */
  private finished13(dir: Dir, frame: number): void {
    const t = this.info();
    const keys = this.m.keys;
    const cr = t.decryption?.clientRandom ?? '';
    const p = this.cipherSuite !== null ? suiteParams(this.cipherSuite) : null;
    let s = keys?.tls13.get(cr);
    if ((dir === 0 ? s?.clientTraffic0 : s?.serverTraffic0) == null && keys?.refresh?.()) s = keys.tls13.get(cr);
    const secret = dir === 0 ? s?.clientTraffic0 : s?.serverTraffic0;
    if (dir === 1) {
      t.serverFinishedFrame = frame;
      this.finished[1] = true;
      if (this.established) t.establishedFrame ??= frame;
    } else this.finish(0, frame, this.now);
    if (p === null || secret == null) {
      this.dec[dir] = null;
      const d = t.decryption!;
      d.failure ??= { frame, by: SIDE[dir], reason: `the key log has no ${dir === 0 ? 'CLIENT' : 'SERVER'}_TRAFFIC_SECRET_0 for this session` };
      d.status = 'partial';
      return;
    }
    this.dec[dir] = { keys: tls13Keys(p, secret), seq: 0 };
  }

  private finish(dir: Dir, frame: number, time: number): void {
    const t = this.info();
    if (this.finished[dir]) return;
    this.finished[dir] = true;
    if (dir === 0) t.clientFinishedFrame = frame;
    else t.serverFinishedFrame = frame;
    if (this.established) {
      t.establishedFrame = frame;
      this.shape.established(this.cipherSuite, this.version);
    }
  }

  private encryptedAlert(dir: Dir, length: number, frame: number, time: number): void {
    this.shape.flush();
    const t = this.info();
    const shape = encryptedAlertShape(length, this.cipherSuite, this.version);
    t.alerts.push({ frame, by: SIDE[dir], level: null, description: 'encrypted', code: null, encrypted: true });
    this.m.event(dir, frame, time, 'Encrypted Alert', shape.reason);
    this.m.end({
      phase: this.m.reached(),
      how: 'encrypted_alert',
      by: SIDE[dir],
      frame,
      time,
      detail: `${SIDE[dir]} sent an encrypted TLS alert (${length} bytes)`,
      // In the active phase an encrypted alert is the close_notify of a normal close.
      normal: this.m.reached() === 'active',
    });
  }

  private applicationData(dir: Dir, length: number, frame: number, time: number): void {
    const t = this.info();
    if (!this.established) {
      if (this.tls13 && t.serverHelloFrame !== null) {
        // RFC 8446 5: after ServerHello the handshake travels in application_data records.
        if (dir === 1 && !this.finished[0]) {
          if (t.serverFinishedFrame === null) this.m.event(1, frame, time, 'Application Data', 'encrypted server handshake flight (EncryptedExtensions, Certificate, CertificateVerify, Finished)');
          t.serverFinishedFrame = frame;
          t.certificateFrame ??= frame;
          this.finished[1] = true;
          return;
        }
        if (dir === 0 && !this.finished[0]) {
          this.m.event(0, frame, time, 'Application Data', 'encrypted client Finished');
          this.finish(0, frame, time);
          return;
        }
      }
      // Application data before both Finished: not a normal handshake; counted, not inferred.
      this.m.event(dir, frame, time, 'Application Data', `${length} bytes before the handshake finished`);
      return;
    }
    if (dir === 0) t.appRecords.client++;
    else t.appRecords.server++;
    if (this.appEvents[dir] < MAX_APP_RECORD_EVENTS) {
      this.appEvents[dir]++;
      this.m.event(dir, frame, time, 'Application Data', `${length} bytes`);
    }
    if (this.midSession) this.m.activeUnit(); // counted: the machine stops asking for bytes after a few
    else this.shape.record(dir, length, frame, time);
  }

  /** A handshake record's fragment buf[off, end), whose first byte is at `streamOff` in the TCP stream. */
  private handshakeRecord(dir: Dir, buf: Uint8Array, off: number, end: number, frame: number, streamOff: number): void {
    let d = this.defrag[dir];
    if (d === null) d = this.defrag[dir] = new HandshakeDefragmenter();
    const err = d.push(buf, off, end, frame, streamOff);
    if (err) {
      // The pending bytes that would not fit start in an earlier record: name where they start.
      const at = err.kind === 'malformed' ? d.tcpOffset(err.at) : null;
      this.m.warn(frame, at ?? streamOff, `${SIDE[dir]} TLS handshake: ${err.kind === 'malformed' ? err.reason : 'too much pending data'}`);
      this.defrag[dir] = new HandshakeDefragmenter();
      return;
    }
    for (;;) {
      // A view, not a copy: the message is read at once and none of its bytes is kept (the hello
      // randoms, the transcript and the certificate cache copy what they keep).
      const msg = d.next(true);
      if (!msg.ok) {
        if (msg.kind === 'malformed') {
          // `at` is in the handshake stream: the defragmenter maps it to the TCP stream.
          this.m.warn(frame, d.tcpOffset(msg.at), `${SIDE[dir]} TLS handshake: ${msg.reason}`);
          this.defrag[dir] = new HandshakeDefragmenter();
        }
        return;
      }
      this.handshakeMessage(dir, msg.value, this.now, d);
    }
  }

  /**
   * The TCP-stream offset of a failure in the body of `h` (decoded from `h.body` at 0), or of the
   * message's start for a truncated body.
   */
  private bodyOffset(d: HandshakeDefragmenter, h: HandshakeMessage, f: Failure): number | null {
    return d.tcpOffset(h.streamOffset + (f.kind === 'malformed' ? 4 + f.at : 0));
  }

  private handshakeMessage(dir: Dir, h: HandshakeMessage, time: number, d: HandshakeDefragmenter): void {
    const t = this.info();
    const frame = h.lastFrame;
    const body = h.body;
    if (h.msgType === HS_CLIENT_HELLO && dir === 0 && this.transcript === null && (this.m.keys?.rsa.size ?? 0) > 0 && !this.innerHandshake) this.transcript = [];
    if (this.transcript !== null && !this.innerHandshake) {
      const len = body.length;
      this.transcriptBytes += 4 + len;
      if (this.transcriptBytes > MAX_TRANSCRIPT) this.transcript = null;
      else this.transcript.push(Buffer.from([h.msgType, len >> 16, (len >> 8) & 0xff, len & 0xff]), Buffer.from(body));
    }
    switch (h.msgType) {
      case HS_CLIENT_HELLO: {
        this.m.reach('tls', frame, time);
        const c = parseClientHello(body, 0, body.length);
        t.clientHelloFrame ??= frame;
        if (!c.ok) {
          this.m.event(dir, frame, time, 'Client Hello', 'unreadable');
          this.m.warn(frame, this.bodyOffset(d, h, c), `ClientHello: ${c.kind === 'malformed' ? c.reason : 'truncated'}`);
          return;
        }
        const v = c.value;
        if (dir === 0 && this.m.keys !== null && (this.m.keys.size > 0 || this.m.keys.refresh !== null)) this.clientRandom = Buffer.from(v.random);
        t.clientVersions = (v.supportedVersions.length > 0 ? v.supportedVersions : [v.legacyVersion]).map(versionName);
        t.clientCipherSuites = v.cipherSuites;
        t.sni = v.sni;
        this.m.event(dir, frame, time, 'Client Hello', v.sni !== null ? `up to ${versionName(v.maxVersion)}, ${v.cipherSuites.length} cipher suites, SNI ${v.sni}` : clientHelloText(v.maxVersion, v.cipherSuites.length));
        return;
      }
      case HS_SERVER_HELLO: {
        this.m.reach('tls', frame, time);
        const sh = parseServerHello(body, 0, body.length);
        t.serverHelloFrame ??= frame;
        if (!sh.ok) {
          this.m.event(dir, frame, time, 'Server Hello', 'unreadable');
          this.m.warn(frame, this.bodyOffset(d, h, sh), `ServerHello: ${sh.kind === 'malformed' ? sh.reason : 'truncated'}`);
          return;
        }
        const v = sh.value;
        if (v.helloRetryRequest) {
          this.m.event(dir, frame, time, 'Hello Retry Request');
          return;
        }
        this.version = v.version;
        this.cipherSuite = v.cipherSuite;
        t.version = versionName(v.version);
        t.cipherSuite = v.cipherSuite;
        t.cipherSuiteName = cipherSuiteName(v.cipherSuite);
        if (certificateIsEncrypted(v.version)) {
          this.tls13 = true;
          t.certificateEncrypted = true;
        }
        this.m.event(dir, frame, time, 'Server Hello', serverHelloText(v.version, v.cipherSuite, this.tls13));
        if (dir === 1 && this.clientRandom !== null && t.decryption === undefined) this.setupDecryption(v);
        return;
      }
      case HS_CERTIFICATE: {
        t.certificateFrame ??= frame;
        const l = this.innerHandshake ? parseCertificateList13(body, 0, body.length) : parseCertificateList(body, 0, body.length);
        if (!l.ok) {
          this.m.event(dir, frame, time, 'Certificate', 'unreadable');
          this.m.warn(frame, this.bodyOffset(d, h, l), `Certificate: ${l.kind === 'malformed' ? l.reason : 'truncated'}`);
          return;
        }
        const certs: CertificateInfo[] = [];
        for (const der of l.value.certificates.slice(0, MAX_CERTIFICATES)) {
          const c = parseCertificateDetailed(der);
          certs.push(c.info);
          // The certificate is a view into the body: name where its DER starts.
          if (c.problems.length > 0) this.m.warn(frame, d.tcpOffset(h.streamOffset + 4 + der.byteOffset - body.byteOffset), `certificate ${certs.length}: ${c.problems[0]}`);
        }
        if (dir === 1) t.certificates = certs;
        // TLS 1.3's certificate, read from the decrypted flight: no longer hidden.
        if (dir === 1 && this.innerHandshake) t.certificateEncrypted = false;
        const first = certs[0];
        this.m.event(dir, frame, time, 'Certificate', first ? `${first.subject}, valid ${first.notBefore} .. ${first.notAfter}${first.selfSigned ? ', self-signed' : ''}` : `${l.value.certificates.length} certificates`);
        return;
      }
      case HS_SERVER_HELLO_DONE:
        t.serverHelloDoneFrame = frame;
        this.m.event(dir, frame, time, 'Server Hello Done');
        return;
      case HS_CLIENT_KEY_EXCHANGE:
        this.m.event(dir, frame, time, 'Client Key Exchange');
        if (dir === 0 && this.rsaPending !== null) this.rsaKeys(body);
        return;
      case HS_CERTIFICATE_REQUEST:
        this.m.event(dir, frame, time, 'Certificate Request');
        return;
      default:
        this.m.event(dir, frame, time, handshakeTitle(h.msgType));
        return;
    }
  }

  /** At the end of the flow: TLS 1.3 alerts can only be guessed from the last record's size. */
  end(closeDir: Dir | null): void {
    this.shape.flush();
    const d = this.m.rec.tls?.decryption;
    if (d !== undefined && d.reason === '') {
      d.reason = decryptionReason(d);
      if (!this.plainDecoded() && d.records.client + d.records.server > 0) d.reason += `; the application data of security ${this.m.rec.security ?? 'unknown'} is not decoded: its phases are inferred from the records' shape`;
    }
    if (!this.tls13 || closeDir === null || this.m.rec.tls === null) return;
    const last = this.lastRecord[closeDir];
    if (!last || last.contentType === CONTENT_ALERT) return;
    const g = tls13AlertGuess(last.length, this.cipherSuite, true);
    if (!g.likely) return;
    this.m.rec.tls.alerts.push({ frame: last.frame, by: SIDE[closeDir], level: null, description: 'encrypted', code: null, encrypted: true });
    this.m.event(closeDir, last.frame, last.time, 'Encrypted Alert', g.reason, true);
    this.m.end({
      phase: this.m.reached(),
      how: 'encrypted_alert',
      by: SIDE[closeDir],
      frame: last.frame,
      time: last.time,
      detail: `${SIDE[closeDir]}'s last record before closing has the size of an encrypted TLS 1.3 alert`,
      normal: this.m.reached() === 'active',
    });
  }
}
