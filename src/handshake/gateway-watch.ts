// What the cleartext shows of a connection that may be an RD Gateway's (MS-TSGU): mstsc reaches a
// gateway over HTTPS (TCP 443; MS-TSGU 2.1 HTTP transport, 2.2.3.3 WebSocket) and optionally UDP
// 3391 (MS-TSGU 2.1 UDP transport), and the RDP connection it tunnels is inside that TLS. Without
// the gateway's TLS keys only the outer TLS handshake (RFC 5246 7.4 / RFC 8446 4: ClientHello SNI,
// ServerHello, the TLS 1.2 Certificate), the records' count and size and how the connection ended
// are visible. GatewayWatch keeps exactly that for one flow, reading at most WATCH_BYTES of each
// direction, and hands a GatewaySighting to `onSighting` when the flow ends. A TCP flow whose
// client does not start with a TLS handshake record is no gateway connection: it yields nothing.
// Decoding is src/rdp/tls.ts and x509.ts; what the sightings mean is src/diagnose/gateway.ts.
import type { Dir, Endpoint, FlowEndReason, FlowFacts, StreamConsumer, TcpEvent } from '../flow/types.js';
import {
  CONTENT_ALERT,
  CONTENT_APPLICATION_DATA,
  CONTENT_CHANGE_CIPHER_SPEC,
  CONTENT_HANDSHAKE,
  HS_CERTIFICATE,
  HS_CLIENT_HELLO,
  HS_FINISHED,
  HS_SERVER_HELLO,
  HandshakeDefragmenter,
  certificateIsEncrypted,
  looksLikeTlsRecord,
  parseAlert,
  parseCertificateList,
  parseCertificateList13,
  parseClientHello,
  parseServerHello,
  readTlsRecord,
} from '../rdp/tls.js';
import { alertName, versionName } from '../rdp/tls-codes.js';
import { clientRandomKey, type KeyLog } from '../rdp/keylog.js';
import { decryptRecord, suiteParams, tls12Keys, tls13Keys, type RecordKeys, type SuiteParams } from '../rdp/tls-decrypt.js';
import { GatewayPlainReader, type GatewayPlain } from './gateway-plain.js';
import { parseCertificateDetailed } from '../rdp/x509.js';
import type { CertificateInfo, ConnectionRecord } from './types.js';
import { ConnectionMachine } from './machine.js';
import { carriesBothDirections, gatewayRefusal, isLegacyChannel, isTunnelAttempt, tunnelRecord } from './gateway-tunnel.js';
import { joinLegacyPlain, type LegacyTunnel, type LegacyTunnels } from './gateway-legacy-tunnel.js';

/** TCP port of the RD Gateway's HTTPS transport (MS-TSGU 2.1: HTTPS on port 443). */
export const GATEWAY_TCP_PORT = 443;
/** UDP port of the RD Gateway's UDP transport (MS-TSGU 2.1: DTLS on port 3391). */
export const GATEWAY_UDP_PORT = 3391;
/** Bytes of each direction read for the TLS handshake; afterwards only counters (the flow table's). */
export const WATCH_BYTES = 64 * 1024;
/** Application-data records counted per direction before the watch stops asking for bytes. */
const WATCH_APP_RECORDS = 32;
/** With the session's keys: bytes of each direction read (the gateway's exchange and the first tunnelled bytes). */
export const WATCH_BYTES_DECRYPTED = 1024 * 1024;
/** Certificates of the gateway's chain kept (a leaf, intermediates and a root at most, as a server sends them). */
const MAX_CHAIN = 4;
/** RFC 7366 encrypt_then_mac extension. */
const EXT_ENCRYPT_THEN_MAC = 22;

export interface GatewayTls {
  clientHelloFrame: number;
  /** server_name (RFC 6066 3) as sent: untrusted text. */
  sni: string | null;
  /** ALPN protocol names the client offered (RFC 7301), e.g. "h2", "http/1.1". */
  alpn: string[];
  serverHelloFrame: number | null;
  /** The negotiated version ("TLS1.2"), null before a ServerHello. */
  version: string | null;
  certificateFrame: number | null;
  /** The server's leaf certificate (TLS 1.2 and below: TLS 1.3 encrypts it), or null. */
  certificate: CertificateInfo | null;
  /** The chain as the server sent it, leaf first (at most MAX_CHAIN; absent before a Certificate message). */
  certificates?: CertificateInfo[];
  certificateEncrypted: boolean;
  /** Frame of the first application-data record of each side (the handshake is over). */
  firstAppData: { client: number | null; server: number | null };
  /** Application-data records seen in the bytes read (at most WATCH_APP_RECORDS each). */
  appRecords: { client: number; server: number };
  /** Alerts in the clear (before a side's ChangeCipherSpec). */
  alerts: { frame: number; by: 'client' | 'server'; description: string }[];
  /**
   * With a key log: whether the records were decrypted ('decrypted'), the log had no secret for
   * this session ('no_key'), the version or suite is not one we decrypt ('unsupported': TLS 1.2
   * and 1.3 are), or a record did not authenticate ('failed'); null without a key log.
   */
  decryption: 'decrypted' | 'no_key' | 'unsupported' | 'failed' | null;
  /** What the decrypted HTTP transport said (gateway-plain.ts), or null. */
  plain: GatewayPlain | null;
}

/** One TCP connection to the gateway port whose client spoke TLS, or one UDP flow to GATEWAY_UDP_PORT. */
export interface GatewaySighting {
  /** "g1", "g2" ... in the order the flows ended (their own numbering: connection ids are not used up). */
  id: string;
  file: string;
  fileIndex: number;
  transport: 'tcp' | 'udp';
  client: Endpoint;
  server: Endpoint;
  firstFrame: number;
  lastFrame: number;
  start: number;
  end: number;
  packets: { client: number; server: number };
  /** Payload bytes on the wire each way (retransmissions included). */
  bytes: { client: number; server: number };
  /** TCP only. */
  tls: GatewayTls | null;
  /** TCP only: how the connection ended ('capture_end': still open when the capture stopped). */
  ended: { how: 'fin' | 'rst' | 'capture_end'; by: 'client' | 'server' | null; frame: number | null } | null;
}

const SIDE = ['client', 'server'] as const;

/**
 * With the key log: the connection the gateway tunnels becomes a ConnectionRecord of its own
 * (gateway-tunnel.ts), its DATA packets' bytes read by a ConnectionMachine as a direct flow's.
 */
export interface GatewayTunnelOptions {
  /** Bytes decoded per direction by the tunnelled connection's machine (machine.ts DEFAULT_BYTE_BUDGET). */
  byteBudget?: number;
  /** The tunnelled connection's record, when the outer flow ends (id "c" + the outer flow's id). */
  onRecord(rec: ConnectionRecord): void;
  /**
   * The run's legacy HTTP transport tunnels (gateway-legacy-tunnel.ts): the IN and OUT channels of
   * one tunnel find each other there and feed one machine. Without it each channel stays alone.
   */
  legacy?: LegacyTunnels;
}

/** TCP events of a legacy channel kept for its tunnel's machine: the three-way handshake (SYN, SYN-ACK, ACK). */
const HANDSHAKE_EVENTS = 4;

/** TCP events kept for the tunnelled connection's machine before the outer TLS is known to be decrypted. */
const HELD_TCP_EVENTS = 16;
/** Frames whose time is kept for the gateway phases (the outer exchange is a few dozen frames). */
const FRAME_TIMES = 256;

/** The StreamConsumer of a flow to the gateway port (TCP) or to GATEWAY_UDP_PORT (UDP). */
export class GatewayWatch implements StreamConsumer {
  private readonly held: [Buffer[], Buffer[]] = [[], []];
  private readonly heldBytes = [0, 0];
  private readonly read = [0, 0];
  private readonly defrag: [HandshakeDefragmenter | null, HandshakeDefragmenter | null] = [null, null];
  private readonly ccs = [false, false];
  private tls: GatewayTls | null = null;
  /** The client's first bytes were not a TLS handshake record: not a gateway connection. */
  private notTls = false;
  private done = false;
  private close: { how: 'fin' | 'rst'; by: 'client' | 'server'; frame: number } | null = null;
  /** Decryption (TLS 1.2 with the key log's CLIENT_RANDOM secret): the client random, the keys waiting for each side's CCS, each side's state. */
  private clientRandom: Uint8Array | null = null;
  private pending: { client: RecordKeys; server: RecordKeys } | null = null;
  private readonly dec: [{ keys: RecordKeys; seq: number } | null, { keys: RecordKeys; seq: number } | null] = [null, null];
  /**
   * TLS 1.3 (RFC 8446 7.1): every record after the ServerHello is protected, with the handshake
   * traffic keys until the side's Finished, then with its application traffic keys (the key log's
   * *_TRAFFIC_SECRET_0); the suite, the session's secrets and each side's decrypted handshake messages.
   */
  private tls13: { params: SuiteParams; client0: Buffer | null; server0: Buffer | null; hs: [HandshakeDefragmenter, HandshakeDefragmenter]; finished: [boolean, boolean] } | null = null;
  private reader: GatewayPlainReader | null = null;
  private limit = WATCH_BYTES;
  /** The tunnelled connection's machine (created when the outer TLS is decrypted), the TCP events before it, whether it wants bytes. */
  private machine: ConnectionMachine | null = null;
  /** Where reading the decrypted outer connection stopped before its end (a record that did not authenticate), or null. */
  private readStop: { frame: number; reason: string } | null = null;
  private heldEvents: TcpEvent[] | null = null;
  private machineWants = true;
  /** The time of the frame being read, and of the frames that carried decrypted records. */
  private now = 0;
  private readonly frameTimes = new Map<number, number>();
  /** The legacy HTTP transport's tunnel this channel joined (gateway-legacy-tunnel.ts), and its direction there (IN: 0, OUT: 1). */
  private legacy: LegacyTunnel | null = null;
  private legacyDir: Dir = 0;
  private legacyTried = false;
  /** This flow's three-way handshake, for the tunnel's machine when this channel is its first. */
  private handshakeEvents: TcpEvent[] | null = null;

  constructor(
    readonly facts: FlowFacts,
    private readonly file: string,
    private readonly onSighting: (s: Omit<GatewaySighting, 'id'>) => void,
    private readonly keys: KeyLog | null = null,
    private readonly tunnel: GatewayTunnelOptions | null = null,
  ) {}

  /**
   * Once it wants no more bytes the watch needs only the flow's counts and how it ended
   * (StreamConsumer.countsOnly): not while a tunnelled connection's machine reads TCP events on.
   */
  get countsOnly(): boolean {
    return this.machine === null;
  }

  onTcpEvent(ev: TcpEvent): void {
    if (this.tunnel?.legacy !== undefined && this.keys !== null) {
      // A legacy channel (only with a key log can one be read): its handshake may start the tunnel's ladder; its FIN / RST ends a side of the tunnel.
      if ((ev.kind === 'syn' || ev.kind === 'syn_ack' || ev.kind === 'ack') && !this.legacyTried) {
        const h = (this.handshakeEvents ??= []);
        if (h.length < HANDSHAKE_EVENTS) h.push(ev);
      } else if ((ev.kind === 'fin' && !ev.retransmission) || ev.kind === 'rst') this.legacy?.close(ev.dir, ev.frame, ev.time);
    }
    if (this.tunnel !== null) {
      if (this.machine !== null) this.machine.onTcpEvent(ev);
      else if (ev.kind !== 'retransmission') {
        const h = (this.heldEvents ??= []);
        if (h.length < HELD_TCP_EVENTS) h.push(ev);
      }
    }
    if (this.close !== null) return;
    if (ev.kind === 'fin' || ev.kind === 'rst') this.close = { how: ev.kind, by: SIDE[ev.dir], frame: ev.frame };
  }

  onGap(dir: Dir, missingBytes: number, frame: number, time: number): void {
    // A hole in the handshake bytes: what follows cannot be framed as records.
    this.done = true;
    this.machine?.onGap(dir, missingBytes, frame, time);
  }

  /**
   * A legacy channel's request named its RDG-Connection-Id (MS-TSGU 2.2.3.2.1): it joins its tunnel
   * in the run's registry, opened by its partner or by itself (then with its TCP handshake).
   */
  private joinLegacy(): void {
    const reg = this.tunnel?.legacy;
    const p = this.tls?.plain ?? null;
    if (this.legacyTried || reg === undefined || p === null || p.channel == null || p.connectionId == null) return;
    this.legacyTried = true;
    const t = reg.join(p.channel, this.facts, p.connectionId, { file: this.file, keys: this.keys, ...(this.tunnel!.byteBudget !== undefined ? { byteBudget: this.tunnel!.byteBudget } : {}) });
    this.handshakeEvents = t !== null && !t.paired ? this.handshakeEvents : null;
    if (t === null) return;
    this.legacy = t;
    this.legacyDir = p.channel === 'in' ? 0 : 1;
    for (const ev of this.handshakeEvents ?? []) t.handshake(ev);
    this.handshakeEvents = null;
  }

  /** A CLOSE_CHANNEL or its response (gateway-plain.ts): on a legacy channel, that side's end of the tunnelled connection. */
  private readonly onTunnelClose = (dir: Dir, frame: number): void => {
    this.legacy?.close(dir, frame, this.now);
  };

  /** The bytes of a DATA packet (gateway-plain.ts): the tunnelled connection's stream. */
  private readonly onTunnelData = (dir: Dir, data: Buffer, frame: number): void => {
    if (!this.legacyTried) this.joinLegacy();
    const l = this.legacy;
    if (l !== null) {
      // The legacy transport: the client's bytes from the IN channel, the gateway's from the OUT channel (MS-TSGU 3.3.5.1).
      if (dir === this.legacyDir) l.data(dir, data, frame, this.now);
      return;
    }
    const m = this.machine;
    if (m === null || !this.machineWants) return;
    // Only a connection that carries both directions (WebSocket) is the tunnelled connection's stream.
    const p = this.tls?.plain ?? null;
    if (p === null || !carriesBothDirections(p)) return;
    this.machineWants = m.onData(dir, data, frame, this.now);
  };

  /**
   * The tunnelled connection's machine reads its decrypted session to the end (a Set Error Info comes
   * last): then so does the watch, and the flow table reassembles past its per-flow limit (StreamConsumer.wholeStream).
   */
  get wholeStream(): boolean {
    const l = this.legacy;
    if (l !== null) return this.machine !== null && l.wants && l.machine.wholeStream;
    return this.machine !== null && this.machineWants && this.machine.wholeStream;
  }

  private get byteLimit(): number {
    return this.wholeStream ? Infinity : this.limit;
  }

  onData(dir: Dir, data: Buffer, frame: number, time: number): boolean {
    if (this.done || this.notTls) return false;
    this.now = time;
    if (this.facts.transport === 'udp') return false;
    if (this.tls === null && dir === 1 && this.heldBytes[0] === 0) return true; // the server speaks first: wait for the client
    const limit = this.byteLimit;
    if (this.read[dir]! + this.heldBytes[dir]! + data.length > limit) data = data.subarray(0, Math.max(0, limit - this.read[dir]! - this.heldBytes[dir]!));
    if (data.length > 0) {
      this.held[dir]!.push(data);
      this.heldBytes[dir]! += data.length;
    }
    this.records(dir, frame);
    if (this.notTls) return false;
    const t = this.tls;
    if (this.reader === null && t !== null && t.appRecords.client >= WATCH_APP_RECORDS && t.appRecords.server >= WATCH_APP_RECORDS) this.done = true;
    if (this.read[0]! + this.heldBytes[0]! >= this.byteLimit && this.read[1]! + this.heldBytes[1]! >= this.byteLimit) this.done = true;
    // Nothing more to learn from the bytes, so the flow is only counted from here (the flow table's
    // count-only path: a bulk HTTPS download is not reassembled to its end for a watch that reads
    // nothing of it): without decryption, once both sides sent application data (what follows is
    // encrypted, its alerts too); with it, once one side is past the bytes read and no tunnelled
    // connection reads on.
    if (t !== null && this.reader === null && t.firstAppData.client !== null && t.firstAppData.server !== null) this.done = true;
    else if (this.reader !== null && !this.wholeStream && (this.read[0]! + this.heldBytes[0]! >= this.byteLimit || this.read[1]! + this.heldBytes[1]! >= this.byteLimit)) this.done = true;
    return !this.done;
  }

  /** Whole TLS records of one direction (RFC 5246 6.2.1), as far as they are held. */
  private records(dir: Dir, frame: number): void {
    const parts = this.held[dir]!;
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    let off = 0;
    while (!this.notTls && !this.done) {
      if (buf.length - off < 5) break;
      if (!looksLikeTlsRecord(buf, off, buf.length)) {
        if (this.tls === null) this.notTls = true;
        else this.done = true;
        break;
      }
      const r = readTlsRecord(buf, off, buf.length);
      if (!r.ok) {
        if (r.kind === 'malformed') this.done = true;
        break;
      }
      this.record(dir, buf, r.value.contentType, r.value.fragmentOff, r.value.end, frame);
      off = r.value.end;
    }
    this.read[dir]! += off;
    buf = buf.subarray(off);
    parts.length = 0;
    if (buf.length > 0) parts.push(buf);
    this.heldBytes[dir] = buf.length;
  }

  private record(dir: Dir, buf: Buffer, type: number, off: number, end: number, frame: number): void {
    if (this.tls === null) {
      // The client's first record must be a handshake record (a ClientHello, RFC 8446 4.1.2).
      if (dir !== 0 || type !== CONTENT_HANDSHAKE) {
        this.notTls = true;
        return;
      }
    }
    if (type === CONTENT_CHANGE_CIPHER_SPEC) {
      this.ccs[dir] = true;
      const k = this.pending;
      if (k !== null) this.dec[dir] = { keys: dir === 0 ? k.client : k.server, seq: 0 };
      return;
    }
    const st = this.tls13 !== null ? (type === CONTENT_APPLICATION_DATA ? this.dec[dir] : null) : this.ccs[dir] ? this.dec[dir] : null;
    if (st != null && this.tls !== null) {
      // A protected record of a side whose keys we have (RFC 5246 6.2.3): decrypt it in order.
      const r = decryptRecord(st.keys, st.seq, type, (buf[off - 4]! << 8) | buf[off - 3]!, buf, off, end);
      if (!r.ok) {
        this.dec[dir] = null;
        this.tls.decryption = 'failed';
        this.readStop ??= { frame, reason: `the ${SIDE[dir]}'s TLS record in frame ${frame} did not authenticate with the key log's secret` };
      } else {
        st.seq++;
        if (this.frameTimes.size < FRAME_TIMES) this.frameTimes.set(frame, this.now);
        if (r.value.contentType === CONTENT_APPLICATION_DATA) {
          const side = SIDE[dir];
          this.tls.firstAppData[side] ??= frame;
          if (this.tls.appRecords[side] < WATCH_APP_RECORDS) this.tls.appRecords[side]++;
          this.reader?.push(dir, r.value.plaintext, frame);
          if (!this.legacyTried && this.tunnel?.legacy !== undefined) this.joinLegacy();
        } else if (r.value.contentType === CONTENT_ALERT && r.value.plaintext.length === 2) {
          this.tls.alerts.push({ frame, by: SIDE[dir], description: alertName(r.value.plaintext[1]!) });
        } else if (r.value.contentType === CONTENT_HANDSHAKE && this.tls13 !== null) {
          this.handshake13(dir, r.value.plaintext, frame);
        }
        return;
      }
    }
    if (type === CONTENT_APPLICATION_DATA) {
      const t = this.tls;
      if (t === null) return;
      const side = SIDE[dir];
      t.firstAppData[side] ??= frame;
      if (t.appRecords[side] < WATCH_APP_RECORDS) t.appRecords[side]++;
      return;
    }
    if (type === CONTENT_ALERT && !this.ccs[dir]) {
      const a = parseAlert(buf, off, end);
      if (a.ok && this.tls !== null) this.tls.alerts.push({ frame, by: SIDE[dir], description: alertName(a.value.description) });
      return;
    }
    if (type !== CONTENT_HANDSHAKE || this.ccs[dir]) return;
    const d = (this.defrag[dir] ??= new HandshakeDefragmenter());
    if (d.push(buf, off, end, frame) !== null) {
      this.done = true;
      return;
    }
    for (;;) {
      const m = d.next();
      if (!m.ok) {
        if (m.kind === 'malformed') this.done = true;
        return;
      }
      this.message(dir, m.value.msgType, m.value.body, m.value.lastFrame);
      if (this.notTls || this.done) return;
    }
  }

  /**
   * A side's decrypted TLS 1.3 handshake messages (RFC 8446 4.3-4.6): its Finished switches its
   * records to the application traffic keys (7.1). NewSessionTicket and the rest are skipped; a
   * KeyUpdate (4.6.3) is not followed, so the records after it do not authenticate ('failed').
   */
  private handshake13(dir: Dir, plain: Buffer, frame: number): void {
    const t13 = this.tls13!;
    if (t13.finished[dir]) return;
    const d = t13.hs[dir];
    if (d.push(plain, 0, plain.length, frame) !== null) {
      this.dec[dir] = null;
      return;
    }
    for (;;) {
      const m = d.next();
      if (!m.ok) {
        if (m.kind === 'malformed') this.dec[dir] = null;
        return;
      }
      const t = this.tls;
      if (m.value.msgType === HS_CERTIFICATE && dir === 1 && t !== null && t.certificate === null) {
        // RFC 8446 4.4.2: the gateway's certificate, readable once decrypted.
        const l = parseCertificateList13(m.value.body, 0, m.value.body.length);
        if (l.ok && l.value.certificates.length > 0) {
          t.certificateFrame = m.value.lastFrame;
          t.certificate = parseCertificateDetailed(l.value.certificates[0]!).info;
        }
      }
      if (m.value.msgType !== HS_FINISHED) continue;
      t13.finished[dir] = true;
      const secret = dir === 0 ? t13.client0 : t13.server0;
      this.dec[dir] = secret === null ? null : { keys: tls13Keys(t13.params, secret), seq: 0 };
      return;
    }
  }

  private message(dir: Dir, type: number, body: Uint8Array, frame: number): void {
    if (this.tls === null) {
      const c = type === HS_CLIENT_HELLO && dir === 0 ? parseClientHello(body, 0, body.length) : null;
      if (c === null || !c.ok) {
        this.notTls = true;
        return;
      }
      if (this.keys !== null && this.keys.size + (this.keys.refresh !== null ? 1 : 0) > 0) this.clientRandom = Uint8Array.from(c.value.random);
      this.frameTimes.set(frame, this.now);
      this.tls = {
        decryption: null,
        plain: null,
        clientHelloFrame: frame,
        sni: c.value.sni,
        alpn: c.value.alpn,
        serverHelloFrame: null,
        version: null,
        certificateFrame: null,
        certificate: null,
        certificateEncrypted: false,
        firstAppData: { client: null, server: null },
        appRecords: { client: 0, server: 0 },
        alerts: [],
      };
      return;
    }
    const t = this.tls;
    if (dir !== 1) return;
    if (type === HS_SERVER_HELLO && t.serverHelloFrame === null) {
      const s = parseServerHello(body, 0, body.length);
      if (!s.ok || s.value.helloRetryRequest) return;
      t.serverHelloFrame = frame;
      t.version = versionName(s.value.version);
      t.certificateEncrypted = certificateIsEncrypted(s.value.version);
      const random = this.clientRandom;
      if (random !== null && this.keys !== null) {
        // RFC 5246 6.3 key expansion from the key log's master secret (keylog.ts, tls-decrypt.ts).
        const cr = clientRandomKey(random);
        let ms = this.keys.master.get(cr);
        if (ms === undefined && this.keys.refresh?.()) ms = this.keys.master.get(cr);
        const p = suiteParams(s.value.cipherSuite);
        let s13 = this.keys.tls13.get(cr);
        if (s.value.version === 0x0304 && (s13?.clientHandshake == null || s13.serverHandshake == null) && this.keys.refresh?.()) s13 = this.keys.tls13.get(cr);
        if (s.value.version === 0x0304 && p !== null && p.tls13) {
          // RFC 8446 7.1: the handshake traffic secrets protect the rest of the handshake.
          if (s13?.clientHandshake == null || s13.serverHandshake == null) t.decryption = 'no_key';
          else {
            this.tls13 = { params: p, client0: s13.clientTraffic0, server0: s13.serverTraffic0, hs: [new HandshakeDefragmenter(), new HandshakeDefragmenter()], finished: [false, false] };
            this.dec[0] = { keys: tls13Keys(p, s13.clientHandshake), seq: 0 };
            this.dec[1] = { keys: tls13Keys(p, s13.serverHandshake), seq: 0 };
            t.decryption = 'decrypted';
            this.startTunnel();
            this.reader = new GatewayPlainReader(this.machine !== null ? this.onTunnelData : null, this.machine !== null ? this.onTunnelClose : null);
            t.plain = this.reader.out;
            this.limit = WATCH_BYTES_DECRYPTED;
          }
        } else if (s.value.version !== 0x0303 || p === null || p.tls13) t.decryption = ms === undefined && s13 === undefined ? 'no_key' : 'unsupported';
        else if (ms === undefined) t.decryption = 'no_key';
        else {
          this.pending = tls12Keys(p, ms, random, s.value.random, s.value.extensions.some((e) => e.type === EXT_ENCRYPT_THEN_MAC));
          t.decryption = 'decrypted';
          this.startTunnel();
          this.reader = new GatewayPlainReader(this.machine !== null ? this.onTunnelData : null, this.machine !== null ? this.onTunnelClose : null);
          t.plain = this.reader.out;
          this.limit = WATCH_BYTES_DECRYPTED;
        }
      }
    } else if (type === HS_CERTIFICATE && t.certificate === null && !t.certificateEncrypted) {
      const l = parseCertificateList(body, 0, body.length);
      if (!l.ok || l.value.certificates.length === 0) return;
      t.certificateFrame = frame;
      t.certificates = l.value.certificates.slice(0, MAX_CHAIN).map((c) => parseCertificateDetailed(c).info);
      t.certificate = t.certificates[0]!;
    }
  }

  /** The outer TLS is decrypted: the machine of the connection it may tunnel, with the TCP events so far. */
  private startTunnel(): void {
    const o = this.tunnel;
    if (o === null || this.machine !== null) return;
    let rec: ConnectionRecord | null = null;
    const m = new ConnectionMachine(this.facts, {
      id: `c${this.facts.id}`,
      file: this.file,
      fileIndex: this.facts.fileIndex,
      ...(o.byteBudget !== undefined ? { byteBudget: o.byteBudget } : {}),
      keys: this.keys,
      onRecord: (r) => {
        rec = r;
      },
    });
    this.machine = m;
    this.finishTunnel = (facts, reason, captureEnd) => {
      m.onEnd(facts, reason, captureEnd);
      return rec;
    };
    for (const ev of this.heldEvents ?? []) m.onTcpEvent(ev);
    this.heldEvents = null;
  }

  private finishTunnel: ((facts: FlowFacts, reason: FlowEndReason, captureEnd: number) => ConnectionRecord | null) | null = null;

  onEnd(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): void {
    if (facts.transport === 'tcp' && this.tls === null) return;
    const t = this.tls;
    const plain = t?.plain ?? null;
    const l = this.legacy;
    let paired = false;
    if (l !== null && t !== null && plain !== null) {
      if (l.paired) {
        // Both channels of a legacy tunnel appeared: the last to end makes its one record.
        paired = true;
        l.ended[this.legacyDir] = { facts, reason, captureEnd, plain, sni: t.sni, clientRandom: this.clientRandom !== null ? clientRandomKey(this.clientRandom) : null, clientHelloFrame: t.clientHelloFrame, readStop: this.readStop, timeOf: (f) => this.frameTimes.get(f) };
        const done = l.finish();
        if (done !== null) {
          this.tunnel!.legacy!.forget(l);
          const { rec, inEnd: i, outEnd: o, channels } = done;
          // The record's exchange is the whole tunnel's: both channels' HTTP exchanges in capture order, no one channel's.
          const http = [...o.plain.http, ...i.plain.http].sort((a, b) => (a.requestFrame ?? a.responseFrame ?? 0) - (b.requestFrame ?? b.responseFrame ?? 0));
          const joined = { ...joinLegacyPlain(o.plain, i.plain), http, channel: null };
          if (isTunnelAttempt(joined)) {
            const start = rec.start;
            tunnelRecord(rec, { readStop: i.readStop ?? o.readStop, server: i.facts.server, sni: i.sni ?? o.sni, clientRandom: i.clientRandom, clientHelloFrame: Math.min(i.clientHelloFrame, o.clientHelloFrame), plain: joined, timeOf: (f) => i.timeOf(f) ?? o.timeOf(f) ?? start });
            rec.gateway = { ...rec.gateway!, channels };
            this.tunnel!.onRecord(rec);
          }
        }
      } else this.tunnel!.legacy!.forget(l); // its partner never appeared: the channel stays alone
    }
    // A legacy channel carries one direction of the tunnel: a record only for the gateway's refusal on it.
    if (!paired && this.finishTunnel !== null && t !== null && plain !== null && isTunnelAttempt(plain) && (!isLegacyChannel(plain) || gatewayRefusal(plain) !== null)) {
      // The tunnelled RDP connection (or the attempt the gateway refused): a connection record of its own.
      const rec = this.finishTunnel(facts, reason, captureEnd);
      if (rec !== null) {
        tunnelRecord(rec, { readStop: this.readStop, server: facts.server, sni: t.sni, clientRandom: this.clientRandom !== null ? clientRandomKey(this.clientRandom) : null, clientHelloFrame: t.clientHelloFrame, plain, timeOf: (f) => this.frameTimes.get(f) ?? facts.start });
        this.tunnel!.onRecord(rec);
      }
    }
    this.machine = null;
    this.finishTunnel = null;
    this.legacy = null;
    const c = this.close;
    this.onSighting({
      file: this.file,
      fileIndex: facts.fileIndex,
      transport: facts.transport,
      client: facts.client,
      server: facts.server,
      firstFrame: facts.firstFrame,
      lastFrame: facts.lastFrame,
      start: facts.start,
      end: facts.end,
      packets: { client: facts.packets[0], server: facts.packets[1] },
      bytes: { client: facts.payloadBytes[0], server: facts.payloadBytes[1] },
      tls: this.tls,
      ended:
        facts.transport === 'udp'
          ? null
          : c !== null
            ? { how: c.how, by: c.by, frame: c.frame }
            : { how: reason === 'closed' ? 'fin' : 'capture_end', by: null, frame: reason === 'closed' ? facts.lastFrame : null },
    });
  }
}
