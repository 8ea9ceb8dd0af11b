// The CredSSP phase read from decrypted TLS (design.md phase 4): TSRequest messages (MS-CSSP
// 2.2.1) with their negoTokens (NTLM / SPNEGO / Kerberos, named only: never a hash), pubKeyAuth,
// authInfo presence and errorCode, and the Early User Authorization Result PDU that follows CredSSP
// under HYBRID_EX (MS-RDPBCGR 2.2.10.2). Decoding is src/rdp/credssp.ts and ntlm.ts; this file
// keeps the state. Every fact here is decoded, not inferred.
import type { Dir } from '../flow/types.js';
import type { CredsspInfo } from './types.js';
import type { StreamBuf } from './stream.js';
import { credsspErrorName, readEarlyUserAuthResult, readTsRequest } from '../rdp/credssp.js';
import type { MachineSink } from './machine.js';

const SIDE = ['client', 'server'] as const;
/** Frames and tokens kept per connection (an exchange is 3-5 TSRequests; a hostile stream could send more). */
const MAX_CREDSSP_FRAMES = 16;
const MAX_TOKENS = 16;

export function emptyCredssp(): CredsspInfo {
  return { visible: true, version: null, tokens: [], errorCode: null, errorName: null, earlyUserAuthResult: null, frames: [] };
}

export class CredsspTrack {
  /** The server's authInfo-answering TSRequest (pubKeyAuth) was seen: what comes next is not CredSSP. */
  private clientSentAuthInfo = false;
  private earlyResultSeen = false;

  constructor(private readonly m: MachineSink) {}

  private info(): CredsspInfo {
    const c = this.m.rec.credssp;
    if (c === null || !c.visible) return (this.m.rec.credssp = emptyCredssp());
    return c;
  }

  /** CredSSP is over once the client sent its credentials (authInfo): later bytes are MCS. */
  get done(): boolean {
    return this.clientSentAuthInfo;
  }

  /** The server's Early User Authorization Result is still due (HYBRID_EX, after the credentials). */
  wantsEarlyResult(dir: Dir, hybridEx: boolean): boolean {
    return dir === 1 && hybridEx && this.clientSentAuthInfo && !this.earlyResultSeen;
  }

  /** One TSRequest. Returns bytes used, 0 when incomplete, -1 to stop. */
  tsRequest(dir: Dir, s: StreamBuf): number {
    const buf = s.bytes;
    const off = s.off;
    const r = readTsRequest(buf, off, s.end);
    if (!r.ok) {
      if (r.kind === 'incomplete') return 0;
      this.m.warn(s.frameOfStart(), s.position + r.at - off, `${SIDE[dir]} CredSSP (decrypted): ${r.reason}`);
      return -1;
    }
    const v = r.value;
    const frame = s.frameOfEnd(r.consumed);
    const time = s.timeOfEnd(r.consumed);
    const c = this.info();
    this.m.reach('credssp', frame, time);
    if (c.version === null || dir === 1) c.version = v.version;
    if (dir === 0) c.clientVersion ??= v.version;
    if (c.frames.length < MAX_CREDSSP_FRAMES) c.frames.push(frame);
    const parts: string[] = [`version ${v.version}`];
    for (const t of v.negoTokens) {
      if (c.tokens.length < MAX_TOKENS) c.tokens.push(t.token.label);
      const n = t.token.ntlm;
      // MS-NLMP 2.2.1.3: the AUTHENTICATE message names the account; its responses are never shown.
      const who = n !== null && n.messageType === 3 && (n.user !== null || n.domain !== null) ? ` (${n.domain ? `${n.domain}\\` : ''}${n.user ?? ''}${n.workstation ? ` from ${n.workstation}` : ''})` : '';
      const ke = t.token.krbError;
      if (ke !== null) c.kerberosError ??= { frame, code: ke.code, name: ke.name };
      parts.push(`${t.token.name}${who}${ke !== null ? ` ${ke.name} (${ke.code})` : ''}`);
    }
    if (v.pubKeyAuth !== null) parts.push('pubKeyAuth');
    if (v.authInfo !== null) {
      parts.push('authInfo (encrypted credentials)');
      if (dir === 0) this.clientSentAuthInfo = true;
    }
    if (v.errorCode !== null) {
      c.errorCode = v.errorCode;
      c.errorName = credsspErrorName(v.errorCode);
      parts.push(`errorCode ${c.errorName} (0x${v.errorCode.toString(16).padStart(8, '0')})`);
    }
    this.m.event(dir, frame, time, 'CredSSP TSRequest', parts.join(', '));
    return r.consumed;
  }

  /** The 4-byte Early User Authorization Result (MS-RDPBCGR 2.2.10.2). */
  earlyResult(dir: Dir, s: StreamBuf): number {
    const r = readEarlyUserAuthResult(s.bytes, s.off, s.end);
    if (!r.ok) return r.kind === 'incomplete' ? 0 : -1;
    this.earlyResultSeen = true;
    const frame = s.frameOfEnd(4);
    const time = s.timeOfEnd(4);
    const c = this.info();
    c.earlyUserAuthResult = r.value.result;
    if (c.frames.length < MAX_CREDSSP_FRAMES) c.frames.push(frame);
    this.m.reach('credssp', frame, time);
    this.m.event(dir, frame, time, 'Early User Authorization Result', r.value.name);
    return 4;
  }
}
