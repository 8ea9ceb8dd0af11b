// server_denied: the server ends a connection that got past authentication:
// Set Error Info PDU (MS-RDPBCGR 2.2.5.1.1), a licensing ERROR_ALERT other than
// STATUS_VALID_CLIENT (MS-RDPBCGR 2.2.1.12.1.3), a Disconnect Provider Ultimatum
// (T.125 11.15), or a close after CredSSP / MCS / licensing.
import { LICENSE_ERROR_ALERT, STATUS_VALID_CLIENT, isDenialErrorInfo } from '../codes.js';
import { closeWords, convFilter, hex32, makeFinding, reachedAtLeast } from '../facts.js';
import type { Rule } from '../types.js';
import { standardSecurityRefusedAtMcs } from './security_layer_mismatch.js';

export const serverDenied: Rule = {
  cause: 'server_denied',
  check(conn) {
    if (conn.outcome === 'completed') return null;
    const filter = convFilter(conn);
    const infos = conn.errorInfo.filter((e) => e.code !== 0);
    const denial = infos.find((e) => isDenialErrorInfo(e.code));
    const info = denial ?? infos[0];
    if (info) {
      return makeFinding('server_denied', {
        confidence: denial ? 0.92 : 0.75,
        confidenceReason: denial
          ? 'The server names the reason; the account or policy behind it is in the host\'s logs.'
          : 'The server named why it ended the session, which is not a refusal of the user as such.',
        frames: [info.frame, conn.died?.frame],
        explanation: `The server sent a Set Error Info PDU in frame ${info.frame} with ${info.name} (${hex32(info.code)})${info.description ? `: ${info.description.charAt(0).toLowerCase()}${info.description.slice(1).replace(/\.$/, '')}` : ''}.`,
        filter: `${filter} && ${`frame.number == ${info.frame}`}`,
        summary: `the server ended the connection with ${info.name}`,
        steps: info.code >= 0x100 && info.code <= 0x10b ? ['restartBoth', 'stuckSessions'] : undefined,
      });
    }
    const lic = conn.licensing.find((l) => l.by === 'server' && l.msgType === LICENSE_ERROR_ALERT && l.errorCode !== null && l.errorCode !== STATUS_VALID_CLIENT);
    if (lic) {
      return makeFinding('server_denied', {
        confidence: 0.85,
        confidenceReason: 'The licensing error names the failure; the state of the licence server is only visible on the host.',
        frames: [lic.frame, conn.died?.frame],
        explanation: `The server sent a licensing error in frame ${lic.frame}: ${lic.errorName ?? hex32(lic.errorCode ?? 0)}${lic.errorCode !== null ? ` (${hex32(lic.errorCode)})` : ''}.`,
        filter: `${filter} && frame.number == ${lic.frame}`,
        summary: `licensing failed (${lic.errorName ?? hex32(lic.errorCode ?? 0)})`,
        steps: ['restartBoth', 'stuckSessions'],
      });
    }
    // A TLS-only server refusing Standard RDP Security at the Connect Initial: security_layer_mismatch.
    if (standardSecurityRefusedAtMcs(conn)) return null;
    const ult = conn.mcs?.disconnectUltimatum;
    if (ult && ult.by === 'server') {
      return makeFinding('server_denied', {
        confidence: 0.65,
        confidenceReason: 'A Disconnect Provider Ultimatum says the server ended the connection, not why; the Set Error Info PDU (if any) was not visible.',
        frames: [ult.frame],
        explanation: `The server sent an MCS Disconnect Provider Ultimatum (${ult.reasonName}) in frame ${ult.frame} during ${conn.died?.phase ?? conn.reached}.`,
        filter: `${filter} && frame.number == ${ult.frame}`,
        summary: `the server disconnected during ${conn.died?.phase ?? conn.reached} (${ult.reasonName})`,
      });
    }
    const d = conn.died;
    if (!d || d.by !== 'server' || (d.how !== 'fin' && d.how !== 'rst' && d.how !== 'encrypted_alert')) return null;
    if (!reachedAtLeast(conn, 'mcs') || (d.phase !== 'mcs' && !reachedAtLeast(conn, 'licensing'))) return null;
    const authenticated = conn.security === 'credssp';
    const inferred = conn.phases.some((p) => p.phase === conn.reached && p.inferred);
    return makeFinding('server_denied', {
      confidence: authenticated ? 0.55 : 0.45,
      confidenceReason: `${inferred ? 'The phase is inferred from encrypted record sizes. ' : ''}Without keys the Set Error Info PDU (if any) is encrypted, so the server's reason is not visible; its TerminalServices logs have it.`,
      frames: [conn.phases.find((p) => p.phase === conn.reached)?.frame, d.frame],
      explanation: `After ${authenticated ? 'NLA authentication succeeded and ' : ''}the connection reached ${conn.reached}, the server ${closeWords(d.how)} in frame ${d.frame ?? '?'}.`,
      filter: `${filter} && (tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: `the server ended the connection after ${authenticated ? 'authentication' : conn.reached}`,
    });
  },
};
