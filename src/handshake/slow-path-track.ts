// The PDUs in TPKT after the X.224 step, and fast-path PDUs: MCS Connect Initial / Response
// (GCC data), the MCS domain PDUs (Erect Domain, Attach User, Channel Join, Disconnect Provider
// Ultimatum), and inside MCS Send Data: Security Exchange, Client Info, licensing, Demand /
// Confirm Active, Set Error Info (MS-RDPBCGR 1.3.1.1 "Connection Sequence"). Visible in the clear
// under Standard RDP Security; under TLS only a cleartext PDU written outside TLS (a DPU) is.
// Decoding is src/rdp; this file turns decoded PDUs into the record, timeline and phases.
import type { Dir } from '../flow/types.js';
import type { McsInfo } from './types.js';
import type { StreamBuf } from './stream.js';
import { readTpkt } from '../rdp/tpkt.js';
import { readFastPathHeader } from '../rdp/fastpath.js';
import { decodeX224 } from '../rdp/x224.js';
import { decodeConnectInitial, decodeConnectResponse, decodeDomainPdu, type McsDomainPdu } from '../rdp/mcs.js';
import { SendDataTrack } from './send-data-track.js';
import type { MachineSink } from './machine.js';
import type { X224Track } from './x224-track.js';

const SIDE = ['client', 'server'] as const;
/** T.125 Reason rn-user-requested: a user (or the server on the user's behalf) ended the session. */
const RN_USER_REQUESTED = 3;
/** Confidence of the active phase inferred from fast-path PDUs (they appear only after finalization). */
const FAST_PATH_ACTIVE_CONFIDENCE = 0.8;

export function emptyMcs(): McsInfo {
  return {
    connectInitialFrame: null,
    connectResponseFrame: null,
    result: null,
    client: null,
    server: null,
    erectDomainFrame: null,
    attachUserRequestFrame: null,
    attachUserConfirmFrame: null,
    attachUserResult: null,
    channelJoins: [],
    securityExchangeFrame: null,
    clientInfoFrame: null,
    disconnectUltimatum: null,
  };
}

/** Channel joins kept per connection (a client joins a handful; a hostile stream could send thousands). */
const MAX_CHANNEL_JOINS = 64;

export class SlowPathTrack {
  private fastPathSeen: [number, number] = [0, 0];
  readonly sendData: SendDataTrack;

  constructor(
    private readonly m: MachineSink & { readonly x224: X224Track },
  ) {
    this.sendData = new SendDataTrack(m, () => this.mcs());
  }

  mcs(): McsInfo {
    if (this.m.rec.mcs === null) this.m.rec.mcs = emptyMcs();
    return this.m.rec.mcs;
  }

  /** Keep reading after the active phase began: under Standard RDP Security a cleartext DPU may still come. */
  wantsMore(): boolean {
    return this.m.rec.security === 'rdp';
  }

  /** One TPKT PDU after the X.224 step. Returns bytes used, 0 when incomplete, -1 to stop. */
  tpkt(dir: Dir, s: StreamBuf): number {
    const buf = s.bytes;
    const off = s.off;
    const end = s.end;
    const t = readTpkt(buf, off, end);
    if (!t.ok) {
      if (t.kind === 'incomplete') return 0;
      this.m.warn(s.frameOfStart(), s.position + t.at - off, `${SIDE[dir]} TPKT: ${t.reason}`);
      return -1;
    }
    const len = t.value.length;
    const frame = s.frameOfEnd(len);
    const time = s.timeOfEnd(len);
    const pos = s.position;
    const x = decodeX224(buf, off, t.value.end);
    if (!x.ok) {
      this.m.warn(frame, pos + (x.kind === 'malformed' ? x.at - off : 0), `${SIDE[dir]} X.224: ${x.kind === 'malformed' ? x.reason : 'truncated TPDU'}`);
      return len;
    }
    const v = x.value;
    switch (v.type) {
      case 'DR':
        this.m.x224.disconnectRequest(dir, v.classOptions, frame, time);
        return len;
      case 'CR':
      case 'CC':
        this.m.event(dir, frame, time, `X.224 ${v.type === 'CR' ? 'Connection Request' : 'Connection Confirm'} (again)`);
        this.m.warn(frame, pos, `${SIDE[dir]} sent a second X.224 ${v.type === 'CR' ? 'Connection Request' : 'Connection Confirm'} on the same connection`);
        return len;
      case 'DT':
        this.mcsPdu(dir, buf, v.payloadOff, v.end, frame, time, pos - off);
        return len;
    }
  }

  /** MCS PDU inside an X.224 Data TPDU. `base` turns a buffer offset into a stream offset. */
  private mcsPdu(dir: Dir, buf: Buffer, off: number, end: number, frame: number, time: number, base: number): void {
    if (off >= end) return;
    if (buf[off] === 0x7f) {
      if (dir === 0) this.connectInitial(buf, off, end, frame, time, base);
      else this.connectResponse(buf, off, end, frame, time, base);
      return;
    }
    const d = decodeDomainPdu(buf, off, end);
    if (!d.ok) {
      this.m.warn(frame, base + (d.kind === 'malformed' ? d.at : off), `${SIDE[dir]} MCS domain PDU: ${d.kind === 'malformed' ? d.reason : 'truncated'}`);
      return;
    }
    this.domainPdu(dir, d.value, buf, frame, time, base);
  }

  private connectInitial(buf: Buffer, off: number, end: number, frame: number, time: number, base: number): void {
    const d = decodeConnectInitial(buf, off, end);
    const mcs = this.mcs();
    mcs.connectInitialFrame = frame;
    this.m.reach('mcs', frame, time);
    if (!d.ok) {
      this.m.event(0, frame, time, 'MCS Connect Initial', 'unreadable');
      this.m.warn(frame, base + (d.kind === 'malformed' ? d.at : off), `MCS Connect Initial: ${d.kind === 'malformed' ? d.reason : 'truncated'}`);
      return;
    }
    const detail = this.sendData.clientGcc(buf, d.value.userDataOff, d.value.userDataOff + d.value.userDataLength, frame, base);
    this.m.event(0, frame, time, 'MCS Connect Initial', detail);
  }

  private connectResponse(buf: Buffer, off: number, end: number, frame: number, time: number, base: number): void {
    const d = decodeConnectResponse(buf, off, end);
    const mcs = this.mcs();
    mcs.connectResponseFrame = frame;
    this.m.reach('mcs', frame, time);
    if (!d.ok) {
      this.m.event(1, frame, time, 'MCS Connect Response', 'unreadable');
      this.m.warn(frame, base + (d.kind === 'malformed' ? d.at : off), `MCS Connect Response: ${d.kind === 'malformed' ? d.reason : 'truncated'}`);
      return;
    }
    const r = d.value;
    mcs.result = r.result;
    let detail = `result ${r.resultName}`;
    if (r.userDataOff !== null && r.userDataLength !== null) {
      const g = this.sendData.serverGcc(buf, r.userDataOff, r.userDataOff + r.userDataLength, frame, base);
      if (g) detail += `, ${g}`;
    }
    this.m.event(1, frame, time, 'MCS Connect Response', detail);
    if (r.result !== 0) {
      this.m.end({
        phase: 'mcs',
        how: 'disconnect_ultimatum',
        by: 'server',
        frame,
        time,
        detail: `server refused the MCS connection: Connect Response result ${r.resultName}`,
        normal: false,
      });
    }
  }

  private domainPdu(dir: Dir, p: McsDomainPdu, buf: Buffer, frame: number, time: number, base: number): void {
    const mcs = this.mcs();
    switch (p.type) {
      case 'erectDomainRequest':
        mcs.erectDomainFrame = frame;
        this.m.reach('mcs', frame, time);
        this.m.event(dir, frame, time, 'MCS Erect Domain Request');
        return;
      case 'attachUserRequest':
        mcs.attachUserRequestFrame = frame;
        this.m.reach('mcs', frame, time);
        this.m.event(dir, frame, time, 'MCS Attach User Request');
        return;
      case 'attachUserConfirm':
        mcs.attachUserConfirmFrame = frame;
        mcs.attachUserResult = p.result;
        this.m.event(dir, frame, time, 'MCS Attach User Confirm', `result ${p.resultName}${p.initiator !== null ? `, user ${p.initiator}` : ''}`);
        if (p.result !== 0) {
          this.m.end({ phase: 'mcs', how: 'disconnect_ultimatum', by: 'server', frame, time, detail: `server refused Attach User: ${p.resultName}`, normal: false });
        }
        return;
      case 'channelJoinRequest': {
        if (mcs.channelJoins.length < MAX_CHANNEL_JOINS) {
          mcs.channelJoins.push({ channelId: p.channelId, requestFrame: frame, confirmFrame: null, result: null });
        }
        this.m.event(dir, frame, time, 'MCS Channel Join Request', `channel ${p.channelId}`);
        return;
      }
      case 'channelJoinConfirm': {
        const j = mcs.channelJoins.find((c) => c.channelId === p.requested && c.confirmFrame === null);
        if (j) {
          j.confirmFrame = frame;
          j.result = p.result;
        } else if (mcs.channelJoins.length < MAX_CHANNEL_JOINS) {
          mcs.channelJoins.push({ channelId: p.requested, requestFrame: null, confirmFrame: frame, result: p.result });
        }
        this.m.event(dir, frame, time, 'MCS Channel Join Confirm', `channel ${p.requested}, result ${p.resultName}`);
        return;
      }
      case 'disconnectProviderUltimatum': {
        const by = SIDE[dir];
        mcs.disconnectUltimatum = { frame, by, reason: p.reason, reasonName: p.reasonName };
        this.m.event(dir, frame, time, 'MCS Disconnect Provider Ultimatum', `reason ${p.reasonName}`);
        const active = this.m.reached() === 'active';
        this.m.end({
          phase: this.m.reached(),
          how: 'disconnect_ultimatum',
          by,
          frame,
          time,
          detail: `${by} ended the connection with an MCS Disconnect Provider Ultimatum (${p.reasonName})`,
          // In the active phase a DPU is how a session normally ends (MS-RDPBCGR 1.3.1.4).
          normal: active && (p.reason === RN_USER_REQUESTED || by === 'client'),
        });
        return;
      }
      case 'sendDataRequest':
      case 'sendDataIndication':
        this.sendData.pdu(dir, buf, p.userDataOff, p.userDataOff + p.userDataLength, p.channelId, frame, time, base);
        return;
      case 'other':
        this.m.event(dir, frame, time, `MCS ${p.name}`);
        return;
    }
  }

  /** MS-RDPBCGR 2.2.9.1.2 / 2.2.8.1.2 fast-path PDU (Standard RDP Security). Returns bytes used, 0 when incomplete, -1 to stop. */
  fastPath(dir: Dir, s: StreamBuf): number {
    const off = s.off;
    const h = readFastPathHeader(s.bytes, off, s.end);
    if (!h.ok) {
      if (h.kind === 'incomplete') return 0;
      this.m.warn(s.frameOfStart(), s.position + h.at - off, `${SIDE[dir]} fast-path: ${h.reason}`);
      return -1;
    }
    const len = h.value.length;
    const frame = s.frameOfEnd(len);
    const time = s.timeOfEnd(len);
    this.fastPathSeen[dir]++;
    this.m.activeUnit();
    if (this.fastPathSeen[dir] === 1) {
      // Fast-path PDUs flow only once the connection sequence is over (MS-RDPBCGR 1.3.1.1, 1.3.5).
      this.m.reach('active', frame, time, true, FAST_PATH_ACTIVE_CONFIDENCE);
      this.m.event(dir, frame, time, dir === 0 ? 'Fast-Path Input' : 'Fast-Path Update', `${len} bytes${h.value.encrypted ? ', encrypted' : ''}`, true);
    }
    return len;
  }
}
