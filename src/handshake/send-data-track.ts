// What MCS carries (MS-RDPBCGR 1.3.1.1): the GCC client / server data of Connect Initial /
// Response, and the payloads of MCS Send Data Request / Indication: Security Exchange, Client
// Info, licensing, Share Control PDUs (Demand / Confirm Active, Set Error Info) when in the clear,
// and encrypted PDUs (phases inferred from their order). Decoding is src/rdp; state is here.
import type { Dir } from '../flow/types.js';
import type { CertificateInfo, McsInfo } from './types.js';
import { decodeConferenceCreateRequest, decodeConferenceCreateResponse, type ClientCoreData } from '../rdp/gcc.js';
import { classifySendData, decodeClientInfo, decodeSecurityExchange } from '../rdp/security.js';
import { decodeLicensingPdu, ERROR_ALERT } from '../rdp/licensing.js';
import { encryptionLevelName, encryptionMethodName, selectedProtocolName } from '../rdp/codes.js';
import { parseCertificateDetailed } from '../rdp/x509.js';
import { ShareTrack } from './share-track.js';
import type { MachineSink } from './machine.js';

const SIDE = ['client', 'server'] as const;
/** MS-RDPBCGR 2.2.1.12.1.3: STATUS_VALID_CLIENT with ST_NO_TRANSITION ends licensing successfully. */
const STATUS_VALID_CLIENT = 0x07;
/** Licensing events kept per connection. */
const MAX_LICENSING = 16;
/** MS-RDPBCGR 2.2.1.3.2 earlyCapabilityFlags RNS_UD_CS_WANT_32BPP_SESSION. */
const WANT_32BPP = 0x0002;
/** MS-RDPBCGR 2.2.1.3.2 postBeta2ColorDepth values. */
const COLOR_DEPTHS: Readonly<Record<number, number>> = { 0xca00: 4, 0xca01: 8, 0xca02: 15, 0xca03: 16, 0xca04: 24 };

/** Requested colour depth in bits per pixel, as Zeek's requested_color_depth reads it. */
export function requestedColorDepth(c: ClientCoreData): number | null {
  if (c.earlyCapabilityFlags !== null && (c.earlyCapabilityFlags & WANT_32BPP) !== 0) return 32;
  if (c.highColorDepth !== null && c.highColorDepth !== 0) return c.highColorDepth;
  const d = COLOR_DEPTHS[c.postBeta2ColorDepth ?? c.colorDepth];
  return d ?? null;
}

export class SendDataTrack {
  readonly share: ShareTrack;

  constructor(
    private readonly m: MachineSink,
    private readonly mcs: () => McsInfo,
  ) {
    this.share = new ShareTrack(m);
  }

  /** GCC Conference Create Request in the Connect Initial: fills mcs.client. Returns a timeline detail. */
  clientGcc(buf: Uint8Array, off: number, end: number, frame: number, base: number): string {
    const g = decodeConferenceCreateRequest(buf, off, end);
    if (!g.ok) {
      this.m.warn(frame, base + (g.kind === 'malformed' ? g.at : off), `GCC Conference Create Request: ${g.kind === 'malformed' ? g.reason : 'truncated'}`);
      return 'GCC data unreadable';
    }
    const d = g.value.clientData;
    const c = d.core;
    this.mcs().client = {
      versionMajor: c?.versionMajor ?? null,
      versionMinor: c?.versionMinor ?? null,
      desktopWidth: c?.desktopWidth ?? null,
      desktopHeight: c?.desktopHeight ?? null,
      colorDepth: c ? requestedColorDepth(c) : null,
      keyboardLayout: c?.keyboardLayout ?? null,
      clientBuild: c?.clientBuild ?? null,
      clientName: c?.clientName ?? null,
      clientDigProductId: c?.clientDigProductId ?? null,
      requestedProtocols: c?.serverSelectedProtocol ?? null,
      encryptionMethods: d.security?.encryptionMethods ?? null,
      channels: (d.channels ?? []).map((ch) => ch.name),
      cluster: d.cluster ? { flags: d.cluster.flags, redirectedSessionId: d.cluster.redirectedSessionId } : null,
    };
    const parts: string[] = [];
    if (c) parts.push(`client ${c.clientName || '(no name)'} build ${c.clientBuild}, ${c.desktopWidth}x${c.desktopHeight}`);
    if (d.channels && d.channels.length > 0) parts.push(`channels ${d.channels.map((ch) => ch.name).join(',')}`);
    return parts.join(', ');
  }

  /** GCC Conference Create Response in the Connect Response: fills mcs.server. Returns a timeline detail. */
  serverGcc(buf: Uint8Array, off: number, end: number, frame: number, base: number): string {
    const g = decodeConferenceCreateResponse(buf, off, end);
    if (!g.ok) {
      this.m.warn(frame, base + (g.kind === 'malformed' ? g.at : off), `GCC Conference Create Response: ${g.kind === 'malformed' ? g.reason : 'truncated'}`);
      return 'GCC data unreadable';
    }
    const d = g.value.serverData;
    const sec = d.security;
    const certs: CertificateInfo[] = [];
    const cert = sec?.serverCertificate ?? null;
    if (cert && cert.type === 'x509') {
      for (const der of cert.x509Chain.slice(0, 8)) {
        const p = parseCertificateDetailed(der);
        certs.push(p.info);
        if (p.problems.length > 0) this.m.warn(frame, null, `server certificate ${certs.length}: ${p.problems[0]}`);
      }
    }
    if (sec?.certificateError) this.m.warn(frame, base + sec.certificateError.at, `server certificate: ${sec.certificateError.reason}`);
    this.mcs().server = {
      versionMajor: d.core?.versionMajor ?? null,
      versionMinor: d.core?.versionMinor ?? null,
      clientRequestedProtocols: d.core?.clientRequestedProtocols ?? null,
      encryptionMethod: sec?.encryptionMethod ?? null,
      encryptionLevel: sec?.encryptionLevel ?? null,
      serverRandomLen: sec?.serverRandomLen ?? null,
      serverCertLen: sec?.serverCertLen ?? null,
      serverCertType: cert && cert.type !== 'unknown' ? cert.type : null,
      certificates: certs,
      channelIds: d.network?.channelIds ?? [],
    };
    const parts: string[] = [];
    if (d.core?.clientRequestedProtocols !== null && d.core?.clientRequestedProtocols !== undefined) {
      parts.push(`clientRequestedProtocols ${selectedProtocolName(d.core.clientRequestedProtocols)}`);
    }
    if (sec) parts.push(`${encryptionMethodName(sec.encryptionMethod)}, ${encryptionLevelName(sec.encryptionLevel)}`);
    if (cert) parts.push(`${cert.type} server certificate`);
    return parts.join(', ');
  }

  /**
   * The userData of a Send Data Request (client) / Indication (server). Under Standard RDP Security
   * with an encryption level above NONE every PDU has a security header (MS-RDPBCGR 5.3.8).
   */
  pdu(dir: Dir, buf: Buffer, off: number, end: number, channelId: number, frame: number, time: number, base: number): void {
    const level = this.m.rec.mcs?.server?.encryptionLevel ?? null;
    const secHeader: boolean | 'auto' = this.m.rec.security === 'rdp' && level !== null && level > 0 ? true : 'auto';
    const c = classifySendData(buf, off, end, secHeader);
    if (!c.ok) {
      if (c.kind === 'malformed') this.m.warn(frame, base + c.at, `${SIDE[dir]} Send Data: ${c.reason}`);
      return;
    }
    const mcs = this.mcs();
    switch (c.value.kind) {
      case 'security_exchange': {
        const x = decodeSecurityExchange(buf, off, end);
        mcs.securityExchangeFrame = frame;
        this.m.reach('mcs', frame, time);
        this.m.event(dir, frame, time, 'Security Exchange', x.ok ? `encrypted client random of ${x.value.length - 8} bytes` : 'unreadable');
        return;
      }
      case 'client_info': {
        const ci = decodeClientInfo(buf, off, end);
        mcs.clientInfoFrame = frame;
        this.m.reach('mcs', frame, time);
        let detail = 'encrypted';
        if (ci.ok && !ci.value.encrypted) {
          const v = ci.value;
          detail = `user ${v.domain ? `${v.domain}\\` : ''}${v.userName ?? ''}`;
        } else if (!ci.ok && ci.kind === 'malformed') {
          this.m.warn(frame, base + ci.at, `Client Info: ${ci.reason}`);
          detail = 'unreadable';
        }
        this.m.event(dir, frame, time, 'Client Info', detail);
        return;
      }
      case 'licensing':
        this.licensing(dir, buf, c.value.bodyOff, end, (c.value.flags ?? 0) & 0x0008, frame, time, base);
        return;
      case 'share_control':
        this.share.pdu(dir, buf, c.value.bodyOff, end, channelId, frame, time, base);
        return;
      case 'encrypted':
        this.share.encrypted(dir, end - off, frame, time);
        return;
      case 'heartbeat':
        this.m.event(dir, frame, time, 'Heartbeat');
        return;
      case 'autodetect':
        this.m.event(dir, frame, time, dir === 1 ? 'Auto-Detect Request' : 'Auto-Detect Response');
        return;
      case 'multitransport':
        this.m.event(dir, frame, time, dir === 1 ? 'Initiate Multitransport Request' : 'Initiate Multitransport Response');
        return;
      case 'redirection':
        // 2.2.13.2.1: the packet's Flags (SEC_REDIRECTION_PKT) and Length stand where the security header is.
        if (((c.value.flags ?? 0) & 0x0008) !== 0) this.m.event(dir, frame, time, 'Server Redirection', 'encrypted (Standard RDP Security)');
        else this.share.redirection(dir, buf, c.value.bodyOff - 4, end, frame, time, base);
        return;
      case 'unknown':
        return;
    }
  }

  private licensing(dir: Dir, buf: Buffer, off: number, end: number, encrypted: number, frame: number, time: number, base: number): void {
    this.m.reach('licensing', frame, time);
    if (encrypted) {
      this.m.event(dir, frame, time, 'Licensing', 'encrypted');
      return;
    }
    const l = decodeLicensingPdu(buf, off, end);
    if (!l.ok) {
      this.m.event(dir, frame, time, 'Licensing', 'unreadable');
      if (l.kind === 'malformed') this.m.warn(frame, base + l.at, `licensing: ${l.reason}`);
      return;
    }
    const v = l.value;
    const err = v.error;
    if (this.m.rec.licensing.length < MAX_LICENSING) {
      this.m.rec.licensing.push({
        frame,
        by: SIDE[dir],
        msgType: v.bMsgType,
        msgName: v.msgName,
        errorCode: err ? err.dwErrorCode : null,
        errorName: err ? err.errorName : null,
        stateTransition: err ? err.dwStateTransition : null,
      });
    }
    if (v.bMsgType === ERROR_ALERT && err) {
      this.m.event(dir, frame, time, `Licensing ${v.msgName}`, `${err.errorName}, ${err.stateTransitionName}`);
      if (err.dwErrorCode !== STATUS_VALID_CLIENT) {
        this.m.end({
          phase: 'licensing',
          how: 'licensing_error',
          by: SIDE[dir],
          frame,
          time,
          detail: `${SIDE[dir]} sent licensing error ${err.errorName} (${err.stateTransitionName})`,
          normal: false,
        });
      }
      return;
    }
    this.m.event(dir, frame, time, `Licensing ${v.msgName}`);
  }
}
