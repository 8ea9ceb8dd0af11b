// nla_mismatch: RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER /
// SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER (MS-RDPBCGR 2.2.1.2.2), or HYBRID offered
// and not selected (2.2.1.2.1) with the client then leaving before TLS. mstsc and FreeRDP
// offer PROTOCOL_SSL next to HYBRID, so "HYBRID offered, SSL selected" is a normal choice: a
// client that requires NLA refuses it at the Connection Confirm (3.2.5.3.2), before any
// ClientHello; one that goes on into TLS accepted it and, if it then leaves, judged the
// certificate (cert_* rules).
import {
  HYBRID_REQUIRED_BY_SERVER,
  PROTOCOL_HYBRID,
  PROTOCOL_HYBRID_EX,
  PROTOCOL_RDP,
  SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER,
  failureCodeName,
  protocolNames,
} from '../codes.js';
import { closeWords, convFilter, lateConfirm, makeFinding, stepsForServer } from '../facts.js';
import type { Rule } from '../types.js';

const NLA = PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX;

export const nlaMismatch: Rule = {
  cause: 'nla_mismatch',
  check(conn, input) {
    const neg = conn.negotiation;
    if (!neg || conn.outcome === 'completed' || lateConfirm(conn)) return null;
    const offered = neg.requestedProtocols === null ? 'no RDP_NEG_REQ' : protocolNames(neg.requestedProtocols).join(' | ');
    if (neg.failureCode === HYBRID_REQUIRED_BY_SERVER || neg.failureCode === SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER) {
      const name = neg.failureCodeName ?? failureCodeName(neg.failureCode);
      return makeFinding('nla_mismatch', {
        steps: stepsForServer('nla_mismatch', conn, input),
        confidence: 0.95,
        confidenceReason: 'The failure code says the server requires NLA; why the client did not offer it (settings, version) is on the client.',
        frames: [neg.requestFrame, neg.confirmFrame],
        explanation: `The client offered ${offered} in the Connection Request (frame ${neg.requestFrame ?? '?'}) and the server answered with RDP_NEG_FAILURE ${name} in frame ${neg.confirmFrame ?? '?'}: it requires Network Level Authentication.`,
        filter: `${convFilter(conn)} && (rdp.negReq.requestedProtocols || rdp.negFailure.failureCode)`,
        summary: `the server requires NLA and the client did not offer it (${name})`,
      });
    }
    const d = conn.died;
    if (neg.requestedProtocols === null || neg.selectedProtocol === null || neg.confirmFrame === null) return null;
    if (neg.selectedProtocol & NLA && !(neg.requestedProtocols & NLA)) {
      // The other way: the server picked NLA although the client did not offer it (MS-RDPBCGR 3.3.5.3.1 forbids that).
      const selectedNla = protocolNames(neg.selectedProtocol).join(' | ');
      return makeFinding('nla_mismatch', {
        steps: stepsForServer('nla_mismatch', conn, input),
        confidence: 0.6,
        confidenceReason: 'A server selecting a protocol the client did not offer is out of the specification; the client failing right after is the expected result, but the server software may be at fault rather than a setting.',
        frames: [neg.requestFrame, neg.confirmFrame, d?.frame],
        explanation: `The client offered ${offered} (frame ${neg.requestFrame ?? '?'}) but the server selected ${selectedNla} (frame ${neg.confirmFrame}), NLA the client had not offered${d ? `, and the ${d.by} ${closeWords(d.how)} in frame ${d.frame ?? '?'}` : ''}.`,
        filter: `${convFilter(conn)} && (rdp.negReq.requestedProtocols || rdp.negReq.selectedProtocol)`,
        summary: 'the server selected NLA, which the client had not offered',
      });
    }
    // PROTOCOL_RDP selected: the server refused TLS altogether (security_layer_mismatch).
    if (!(neg.requestedProtocols & NLA) || neg.selectedProtocol & NLA || neg.selectedProtocol === PROTOCOL_RDP) return null;
    if (!d || d.by !== 'client' || d.phase !== 'x224' || conn.tls?.clientHelloFrame != null) return null;
    const selected = protocolNames(neg.selectedProtocol).join(' | ');
    // A client that requires NLA disconnects at once; one that only goes quiet did not say so.
    const left = d.how === 'fin' || d.how === 'rst' || d.how === 'tls_alert' || d.how === 'encrypted_alert' || d.how === 'x224_disconnect';
    return makeFinding('nla_mismatch', {
        steps: stepsForServer('nla_mismatch', conn, input),
      confidence: !left ? 0.3 : 0.65,
      confidenceReason: left
        ? 'The server did not select NLA and the client left before starting TLS, which is what a client that requires NLA does; a user cancelling at that moment looks the same.'
        : 'The server did not select NLA and the client sent nothing more, but it did not close the connection either, which a client that requires NLA does at once: the capture may simply have stopped recording this connection.',
      frames: [neg.requestFrame, neg.confirmFrame, d.frame],
      explanation: `The client offered ${offered} (frame ${neg.requestFrame ?? '?'}), the server selected ${selected} without NLA (frame ${neg.confirmFrame}), and the client ${left ? `${closeWords(d.how)} in frame ${d.frame ?? '?'}` : 'sent nothing more'}.`,
      filter: `${convFilter(conn)} && (rdp.negReq.requestedProtocols || rdp.negReq.selectedProtocol || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: 'the client requires NLA and the server did not select it',
    });
  },
};
