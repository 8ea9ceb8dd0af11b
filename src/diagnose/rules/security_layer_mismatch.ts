// security_layer_mismatch: RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER /
// SSL_NOT_ALLOWED_BY_SERVER / INCONSISTENT_FLAGS (MS-RDPBCGR 2.2.1.2.2), or a
// client offering only Standard RDP Security that the server drops.
import { INCONSISTENT_FLAGS, PROTOCOL_RDP, SSL_NOT_ALLOWED_BY_SERVER, SSL_REQUIRED_BY_SERVER, failureCodeName, protocolNames } from '../codes.js';
import { closeWords, convFilter, makeFinding, serverText } from '../facts.js';
import type { Rule } from '../types.js';

const CODES = new Set([SSL_REQUIRED_BY_SERVER, SSL_NOT_ALLOWED_BY_SERVER, INCONSISTENT_FLAGS]);

const MEANING: Record<number, string> = {
  [SSL_REQUIRED_BY_SERVER]: 'the server requires TLS and the client did not offer it',
  [SSL_NOT_ALLOWED_BY_SERVER]: 'the server allows only Standard RDP Security and the client did not offer it',
  [INCONSISTENT_FLAGS]: 'the server found the protocols the client offered inconsistent',
};

export const securityLayerMismatch: Rule = {
  cause: 'security_layer_mismatch',
  check(conn) {
    const neg = conn.negotiation;
    if (!neg || conn.outcome === 'completed') return null;
    const offered = neg.requestedProtocols === null ? 'no RDP_NEG_REQ (Standard RDP Security only)' : protocolNames(neg.requestedProtocols).join(' | ');
    if (neg.failureCode !== null && CODES.has(neg.failureCode)) {
      const name = neg.failureCodeName ?? failureCodeName(neg.failureCode);
      return makeFinding('security_layer_mismatch', {
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
    if (!rdpOnly || neg.confirmFrame !== null || !d || d.by !== 'server' || d.phase !== 'x224') return null;
    if (d.how !== 'rst' && d.how !== 'fin' && d.how !== 'x224_disconnect') return null;
    return makeFinding('security_layer_mismatch', {
      confidence: 0.6,
      confidenceReason: 'The server gave no failure code; dropping a client that offers only Standard RDP Security is what a TLS-only host does, but an overloaded or non-RDP server can drop it too.',
      frames: [neg.requestFrame, d.frame],
      explanation: `The client offered ${offered} in the Connection Request (frame ${neg.requestFrame}) and ${serverText(conn)} ${closeWords(d.how)} in frame ${d.frame ?? '?'} without a Connection Confirm.`,
      filter: `${convFilter(conn)} && (cotp || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: 'the server dropped a client that offered only Standard RDP Security',
    });
  },
};
