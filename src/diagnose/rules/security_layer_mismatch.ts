// security_layer_mismatch: RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER /
// SSL_NOT_ALLOWED_BY_SERVER / INCONSISTENT_FLAGS (MS-RDPBCGR 2.2.1.2.2), or a
// client offering only Standard RDP Security that the server drops (before its Connection
// Confirm, or, as xrdp with security_layer=tls does, after a Confirm without negotiation data,
// answering the MCS Connect Initial with a Disconnect Provider Ultimatum), or a server selecting
// PROTOCOL_RDP for a client that offered only TLS-based protocols, which then leaves.
import { INCONSISTENT_FLAGS, PROTOCOL_RDP, SSL_NOT_ALLOWED_BY_SERVER, SSL_REQUIRED_BY_SERVER, failureCodeName, protocolNames } from '../codes.js';
import { closeWords, convFilter, lateConfirm, makeFinding, stepsForServer, serverText } from '../facts.js';
import type { ConnectionRecord, Died } from '../../handshake/types.js';
import type { Rule } from '../types.js';

/**
 * The client offered only Standard RDP Security (no RDP_NEG_REQ, or requestedProtocols 0), the
 * server's Connection Confirm accepted it (no negotiation data, or PROTOCOL_RDP selected), and the
 * server ended the connection after the MCS Connect Initial without a Connect Response
 * (MS-RDPBCGR 1.3.1.1): a TLS-only server refusing Standard RDP Security. The death, or null.
 */
export function standardSecurityRefusedAtMcs(conn: ConnectionRecord): Died | null {
  const neg = conn.negotiation;
  const d = conn.died;
  if (!neg || neg.requestFrame === null || neg.confirmFrame === null || !d) return null;
  if (neg.requestedProtocols !== null && neg.requestedProtocols !== PROTOCOL_RDP) return null;
  if (neg.failureCode !== null || (neg.selectedProtocol !== null && neg.selectedProtocol !== PROTOCOL_RDP)) return null;
  if (conn.tls !== null || d.by !== 'server' || d.phase !== 'mcs') return null;
  if (d.how !== 'disconnect_ultimatum' && d.how !== 'rst' && d.how !== 'fin' && d.how !== 'x224_disconnect') return null;
  const mcs = conn.mcs;
  if (!mcs || mcs.connectInitialFrame === null || mcs.connectResponseFrame !== null) return null;
  return d;
}

const CODES = new Set([SSL_REQUIRED_BY_SERVER, SSL_NOT_ALLOWED_BY_SERVER, INCONSISTENT_FLAGS]);

const MEANING: Record<number, string> = {
  [SSL_REQUIRED_BY_SERVER]: 'the server requires TLS and the client did not offer it',
  [SSL_NOT_ALLOWED_BY_SERVER]: 'the server allows only Standard RDP Security and the client did not offer it',
  [INCONSISTENT_FLAGS]: 'the server found the protocols the client offered inconsistent',
};

export const securityLayerMismatch: Rule = {
  cause: 'security_layer_mismatch',
  check(conn, input) {
    const neg = conn.negotiation;
    if (!neg || conn.outcome === 'completed' || lateConfirm(conn)) return null;
    const offered = neg.requestedProtocols === null ? 'no RDP_NEG_REQ (Standard RDP Security only)' : protocolNames(neg.requestedProtocols).join(' | ');
    if (neg.failureCode !== null && CODES.has(neg.failureCode)) {
      const name = neg.failureCodeName ?? failureCodeName(neg.failureCode);
      return makeFinding('security_layer_mismatch', {
        steps: stepsForServer('security_layer_mismatch', conn, input),
        confidence: 0.95,
        confidenceReason: 'The failure code says the layers disagree; which policy setting causes it is on the host.',
        frames: [neg.requestFrame, neg.confirmFrame],
        explanation: `The client offered ${offered} in the Connection Request (frame ${neg.requestFrame ?? '?'}) and the server answered with RDP_NEG_FAILURE ${name} in frame ${neg.confirmFrame ?? '?'}: ${MEANING[neg.failureCode]}.`,
        filter: `${convFilter(conn)} && (rdp.negReq.requestedProtocols || rdp.negFailure.failureCode)`,
        summary: `the server refused the security layer (${name})`,
      });
    }
    const rdpOnly = neg.requestFrame !== null && (neg.requestedProtocols === null || neg.requestedProtocols === PROTOCOL_RDP);
    const d = conn.died;
    const atMcs = standardSecurityRefusedAtMcs(conn);
    if (atMcs) {
      const ult = conn.mcs?.disconnectUltimatum;
      const confirmed = neg.selectedProtocol === null ? 'a Connection Confirm without negotiation data' : 'a Connection Confirm selecting PROTOCOL_RDP';
      return makeFinding('security_layer_mismatch', {
        steps: stepsForServer('security_layer_mismatch', conn, input),
        confidence: ult && ult.by === 'server' ? 0.75 : 0.65,
        confidenceReason:
          'The server gave no failure code: it accepted the Connection Request and then refused the MCS Connect Initial of a client offering only Standard RDP Security, which is what a TLS-only server such as xrdp with security_layer=tls does; a server refusing for another reason at that moment looks the same.',
        frames: [neg.requestFrame, neg.confirmFrame, conn.mcs?.connectInitialFrame, atMcs.frame],
        explanation: `The client offered ${offered} in the Connection Request (frame ${neg.requestFrame}), ${serverText(conn)} answered with ${confirmed} (frame ${neg.confirmFrame}), and after the client's MCS Connect Initial (frame ${conn.mcs?.connectInitialFrame ?? '?'}) it ${ult && ult.by === 'server' ? `sent a Disconnect Provider Ultimatum (${ult.reasonName}) in frame ${ult.frame}` : closeWords(atMcs.how) + ` in frame ${atMcs.frame ?? '?'}`} instead of a Connect Response.`,
        filter: `${convFilter(conn)} && (cotp || t125 || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
        summary: 'the server refused a client that offered only Standard RDP Security',
      });
    }
    if (
      d &&
      neg.requestedProtocols !== null &&
      neg.requestedProtocols !== PROTOCOL_RDP &&
      neg.selectedProtocol === PROTOCOL_RDP &&
      neg.confirmFrame !== null &&
      d.by === 'client' &&
      d.phase === 'x224' &&
      (d.how === 'fin' || d.how === 'rst' || d.how === 'x224_disconnect')
    ) {
      // MS-RDPBCGR 2.2.1.2.1: the server chose Standard RDP Security, which the client had not asked for.
      return makeFinding('security_layer_mismatch', {
        steps: stepsForServer('security_layer_mismatch', conn, input),
        confidence: 0.7,
        confidenceReason:
          'The server selected Standard RDP Security although the client offered only TLS-based protocols, and the client left at once, which is what a client that does not accept Standard RDP Security does; a user cancelling at that moment looks the same.',
        frames: [neg.requestFrame, neg.confirmFrame, d.frame],
        explanation: `The client offered ${offered} (frame ${neg.requestFrame ?? '?'}), ${serverText(conn)} selected PROTOCOL_RDP (Standard RDP Security) in frame ${neg.confirmFrame}, and the client ${closeWords(d.how)} in frame ${d.frame ?? '?'}.`,
        filter: `${convFilter(conn)} && (rdp.negReq.requestedProtocols || rdp.negReq.selectedProtocol || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
        summary: 'the server selected Standard RDP Security, which the client did not offer',
      });
    }
    if (!rdpOnly || neg.confirmFrame !== null || !d || d.by !== 'server' || d.phase !== 'x224') return null;
    if (d.how !== 'rst' && d.how !== 'fin' && d.how !== 'x224_disconnect') return null;
    return makeFinding('security_layer_mismatch', {
        steps: stepsForServer('security_layer_mismatch', conn, input),
      confidence: 0.6,
      confidenceReason: 'The server gave no failure code; dropping a client that offers only Standard RDP Security is what a TLS-only host does, but an overloaded or non-RDP server can drop it too.',
      frames: [neg.requestFrame, d.frame],
      explanation: `The client offered ${offered} in the Connection Request (frame ${neg.requestFrame}) and ${serverText(conn)} ${closeWords(d.how)} in frame ${d.frame ?? '?'} without a Connection Confirm.`,
      filter: `${convFilter(conn)} && (cotp || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: 'the server dropped a client that offered only Standard RDP Security',
    });
  },
};
