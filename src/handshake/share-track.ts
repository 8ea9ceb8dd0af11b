// Share Control PDUs of the connection sequence (MS-RDPBCGR 1.3.1.1): capabilities exchange
// (Demand / Confirm Active), connection finalization (Synchronize, Control, Font List / Map), Set
// Error Info; and, when they are encrypted (Standard RDP Security), the same phases inferred from
// the order in which encrypted PDUs flow. Decoding is src/rdp/share.ts and errinfo.ts.
import type { Dir } from '../flow/types.js';
import { decodeSharePdu, PDUTYPE2_FONTLIST, PDUTYPE2_FONTMAP } from '../rdp/share.js';
import { errinfoClass, errinfoDescription, errinfoName } from '../rdp/errinfo.js';
import type { MachineSink } from './machine.js';
import { phaseIndex, redirectionTarget, type RedirectionInfo } from './types.js';
import { decodeServerRedirection } from '../rdp/redirection.js';

const SIDE = ['client', 'server'] as const;
/** Set Error Info events kept per connection. */
const MAX_ERROR_INFO = 16;
/** Confidences of phases inferred from the order of encrypted PDUs (the PDU types are hidden). */
const ENCRYPTED_CAPABILITIES_CONFIDENCE = 0.6;
const ENCRYPTED_FINALIZATION_CONFIDENCE = 0.5;
const ENCRYPTED_ACTIVE_CONFIDENCE = 0.6;
/** Server PDUs after the client's finalization PDUs before the session counts as active (Synchronize, Control x2, Font Map). */
const FINALIZATION_SERVER_PDUS = 4;
/** A server slow-path PDU this large after finalization is a graphics update (active). */
const LARGE_SERVER_PDU = 1000;
/** MS-RDPBCGR 2.2.8.1.1.1.2 PDUTYPE2_UPDATE: graphics updates, sent only in the active phase. */
const PDUTYPE2_UPDATE = 0x02;

export class ShareTrack {
  /** Server PDUs seen since the client's finalization PDUs. */
  private serverAfterFinalization = 0;
  /** Client PDUs (encrypted or not) since the Demand Active: Confirm Active, then finalization. */
  private clientAfterDemand = 0;

  constructor(private readonly m: MachineSink) {}

  /**
   * A Server Redirection PDU's RDP_SERVER_REDIRECTION_PACKET at `off` (MS-RDPBCGR 2.2.13.1): the
   * server's first one is kept in the record (mcs.redirection); the close that follows is then the
   * connection's normal end (ending.ts).
   */
  redirection(dir: Dir, buf: Buffer, off: number, end: number, frame: number, time: number, base: number): void {
    const r = decodeServerRedirection(buf, off, end);
    if (!r.ok) {
      this.m.event(dir, frame, time, 'Server Redirection', 'unreadable');
      this.m.warn(frame, r.kind === 'malformed' ? base + r.at : null, `${SIDE[dir]} Server Redirection PDU: ${r.kind === 'malformed' ? r.reason : 'cut short'}`);
      return;
    }
    const { length: _length, ...fields } = r.value;
    const v = r.value;
    const info: RedirectionInfo = { frame, ...fields };
    this.m.event(dir, frame, time, 'Server Redirection', v.noRedirect ? `LB_NOREDIRECT, session id ${v.sessionId}` : `to ${redirectionTarget(info)}, session id ${v.sessionId}`);
    const mcs = this.m.rec.mcs;
    if (dir === 1 && mcs !== null && mcs.redirection === undefined) mcs.redirection = info;
  }

  /** A Share Control PDU in the clear. */
  pdu(dir: Dir, buf: Buffer, off: number, end: number, _channelId: number, frame: number, time: number, base: number): void {
    const d = decodeSharePdu(buf, off, end);
    const demand = d.ok && d.value.type === 'demandActive';
    if (this.m.reached() === 'active') this.m.activeUnit();
    else if (!demand && phaseIndex(this.m.reached()) >= phaseIndex('capabilities')) {
      // Counted by position even when unreadable (a compressed or unknown PDU is still a PDU).
      if (dir === 0) this.clientAfterDemand++;
      else this.serverPdu(end - off, frame, time, false);
    }
    if (!d.ok) {
      if (d.kind === 'malformed') this.m.warn(frame, base + d.at, `${SIDE[dir]} Share Control PDU: ${d.reason}`);
      return;
    }
    const p = d.value;
    switch (p.type) {
      case 'demandActive':
        this.m.reach('capabilities', frame, time);
        // After the session was active, a Demand Active starts a reactivation (MS-RDPBCGR 1.3.1.3).
        this.m.event(dir, frame, time, this.m.reached() === 'active' ? 'Demand Active (reactivation)' : 'Demand Active', `${p.body.numberCapabilities} capability sets`);
        return;
      case 'confirmActive':
        this.m.reach('capabilities', frame, time);
        this.m.event(dir, frame, time, 'Confirm Active', `${p.body.numberCapabilities} capability sets`);
        return;
      case 'deactivateAll':
        this.m.event(dir, frame, time, 'Deactivate All', 'the server deactivates the session; a reactivation follows (MS-RDPBCGR 1.3.1.3)');
        return;
      case 'serverRedirect':
        // 2.2.13.3.1: shareControlHeader (6 bytes), pad2Octets, then the RDP_SERVER_REDIRECTION_PACKET.
        this.redirection(dir, buf, off + 8, p.header.end, frame, time, base);
        return;
      case 'flowControl':
      case 'other':
        return;
      case 'data':
        break;
    }
    const b = p.body;
    switch (b.type) {
      case 'synchronize':
        this.m.reach('finalization', frame, time);
        this.m.event(dir, frame, time, 'Synchronize');
        return;
      case 'control':
        this.m.reach('finalization', frame, time);
        this.m.event(dir, frame, time, `Control (${b.actionName})`);
        return;
      case 'setErrorInfo':
        this.setErrorInfo(dir, b.errorInfo, frame, time);
        return;
      case 'saveSessionInfo': {
        // MS-RDPBCGR 2.2.10.1.1: infoType 0-2 (INFOTYPE_LOGON, _LOGON_LONG, _LOGON_PLAINNOTIFY) say a
        // user logged on; 3 (INFOTYPE_LOGON_EXTENDED_INFO) may carry logon errors or a reconnect cookie.
        const mcs = this.m.rec.mcs;
        if (mcs !== null && mcs.logon === undefined && dir === 1 && b.infoType <= 2) mcs.logon = { frame, infoType: b.infoType, infoTypeName: b.infoTypeName };
        this.m.event(dir, frame, time, 'Save Session Info', b.infoTypeName);
        return;
      }
      case 'statusInfo':
        this.m.event(dir, frame, time, 'Status Info', `0x${b.statusCode.toString(16)}`);
        return;
      case 'other':
        if (p.data.pduType2 === PDUTYPE2_FONTLIST) {
          this.m.reach('finalization', frame, time);
          this.m.event(dir, frame, time, 'Font List');
        } else if (p.data.pduType2 === PDUTYPE2_FONTMAP) {
          // MS-RDPBCGR 1.3.1.1: the Font Map PDU ends connection finalization.
          this.m.event(dir, frame, time, 'Font Map');
          this.m.reach('active', frame, time);
        } else if (p.data.pduType2 === PDUTYPE2_UPDATE && dir === 1) {
          if (this.m.reached() !== 'active') this.m.event(dir, frame, time, 'Update');
          this.m.reach('active', frame, time);
          this.m.graphics(frame, time);
        }
        return;
    }
  }

  /** MS-RDPBCGR 2.2.5.1.1 Set Error Info PDU: why the server is about to end the session. */
  setErrorInfo(dir: Dir, code: number, frame: number, time: number): void {
    const cls = errinfoClass(code);
    // A logoff / user disconnect, or a policy timer in a session that worked, is a normal end; a denial or a protocol fault is not.
    const f = { name: errinfoName(code), description: errinfoDescription(code), normal: cls === 'normal_end' || (cls === 'timeout' && this.m.reached() === 'active') };
    if (this.m.rec.errorInfo.length < MAX_ERROR_INFO) {
      this.m.rec.errorInfo.push({ frame, code, name: f.name, description: f.description });
    }
    this.m.event(dir, frame, time, 'Set Error Info', `${f.name} (0x${code.toString(16).padStart(8, '0')})`);
    if (code === 0) return; // ERRINFO_NONE clears a previous code
    this.m.end({
      phase: this.m.reached(),
      how: 'error_info',
      by: 'server',
      frame,
      time,
      detail: `server sent Set Error Info ${f.name}: ${f.description}`,
      normal: f.normal,
    });
  }

  /**
   * An encrypted slow-path PDU (Standard RDP Security, SEC_ENCRYPT). The connection sequence fixes
   * their order (MS-RDPBCGR 1.3.1.1): the server's Demand Active, the client's Confirm Active then
   * Synchronize / Control / Font List, the server's Synchronize / Control / Font Map, then the session.
   */
  encrypted(dir: Dir, length: number, frame: number, time: number): void {
    if (this.m.reached() === 'active') {
      this.m.activeUnit();
      return;
    }
    const caps = phaseIndex(this.m.reached()) >= phaseIndex('capabilities');
    if (dir === 1) {
      if (!caps) {
        this.m.reach('capabilities', frame, time, true, ENCRYPTED_CAPABILITIES_CONFIDENCE);
        this.m.event(1, frame, time, 'Encrypted PDU', `${length} bytes: Demand Active by position`, true);
        return;
      }
      this.serverPdu(length, frame, time, true);
      return;
    }
    if (!caps) return; // e.g. a licensing answer: not named by position
    this.clientAfterDemand++;
    if (this.clientAfterDemand === 1) {
      this.m.event(0, frame, time, 'Encrypted PDU', `${length} bytes: Confirm Active by position`, true);
    } else if (this.clientAfterDemand === 2) {
      this.m.reach('finalization', frame, time, true, ENCRYPTED_FINALIZATION_CONFIDENCE);
      this.m.event(0, frame, time, 'Encrypted PDU', `${length} bytes: finalization (Synchronize / Control / Font List) by position`, true);
    }
  }

  /** A server PDU after the capabilities exchange: after the client's finalization PDUs, the session follows. */
  private serverPdu(length: number, frame: number, time: number, encrypted: boolean): void {
    if (this.clientAfterDemand < 2) return;
    this.serverAfterFinalization++;
    if (this.serverAfterFinalization >= FINALIZATION_SERVER_PDUS || length >= LARGE_SERVER_PDU) {
      this.m.reach('active', frame, time, true, ENCRYPTED_ACTIVE_CONFIDENCE);
      this.m.event(1, frame, time, encrypted ? 'Encrypted PDU' : 'Server PDU', `${length} bytes: session data after finalization`, true);
    }
  }
}
