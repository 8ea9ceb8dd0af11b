// cert_unavailable: the server cannot produce its certificate: RDP_NEG_FAILURE
// SSL_CERT_NOT_ON_SERVER (MS-RDPBCGR 2.2.1.2.2), an internal_error alert, or a
// close right after the ClientHello.
import { SSL_CERT_NOT_ON_SERVER, protocolNames } from '../codes.js';
import { clientHelloUnread, closeWords, convFilter, findAlert, lateConfirm, makeFinding } from '../facts.js';
import type { Rule } from '../types.js';
import { outdatedClientHello } from './tls_mismatch.js';

export const certUnavailable: Rule = {
  cause: 'cert_unavailable',
  check(conn) {
    if (conn.outcome === 'completed') return null;
    const neg = conn.negotiation;
    if (neg && neg.failureCode === SSL_CERT_NOT_ON_SERVER && !lateConfirm(conn)) {
      return makeFinding('cert_unavailable', {
        confidence: 0.95,
        confidenceReason: 'The server says it has no certificate; why (a corrupt key store, a failed renewal) is only in its event log.',
        frames: [neg.requestFrame, neg.confirmFrame],
        explanation: `The server answered the Connection Request (frame ${neg.requestFrame ?? '?'}) with RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER in frame ${neg.confirmFrame ?? '?'}: it has no certificate to offer.`,
        filter: `${convFilter(conn)} && rdp.negFailure.failureCode`,
        summary: 'the server has no certificate to offer (SSL_CERT_NOT_ON_SERVER)',
      });
    }
    const tls = conn.tls;
    if (!tls || tls.clientHelloFrame === null) return null;
    const internal = findAlert(conn, ['internal_error'], 'server');
    if (internal && (tls.serverHelloFrame === null || internal.frame <= (tls.certificateFrame ?? tls.serverHelloFrame))) {
      return makeFinding('cert_unavailable', {
        confidence: 0.8,
        confidenceReason: 'An internal_error alert is what Schannel sends when it cannot load the certificate or its private key, but it can have other internal reasons.',
        frames: [tls.clientHelloFrame, internal.frame],
        explanation: `The server answered the ClientHello (frame ${tls.clientHelloFrame}) with the alert internal_error in frame ${internal.frame} instead of its certificate.`,
        filter: `${convFilter(conn)} && (tls.handshake.type == 1 || tls.alert_message)`,
        summary: 'the server failed to produce its certificate (internal_error)',
      });
    }
    const d = conn.died;
    if (!d || d.by !== 'server' || (d.how !== 'rst' && d.how !== 'fin') || d.phase !== 'tls' || tls.serverHelloFrame !== null) return null;
    if (d.frame !== null && d.frame < tls.clientHelloFrame) return null;
    // A ClientHello the server never acknowledged was never read: no answer to it (server_unresponsive).
    if (clientHelloUnread(conn)) return null;
    const selected = neg?.selectedProtocol != null ? `, after selecting ${protocolNames(neg.selectedProtocol).join(' | ')} (frame ${neg.confirmFrame ?? '?'}),` : '';
    const outdated = outdatedClientHello(tls) !== null;
    return makeFinding('cert_unavailable', {
      confidence: outdated ? 0.4 : 0.6,
      confidenceReason: outdated
        ? 'The ClientHello offers no TLS version or cipher suite a current host accepts, which explains the close better than a missing certificate.'
        : 'A server that ends the handshake at the ClientHello may also refuse the TLS version or cipher suites offered; the capture cannot tell which, only the host\'s System event log can.',
      frames: [neg?.confirmFrame, tls.clientHelloFrame, d.frame],
      explanation: `The server${selected} ${closeWords(d.how)} in frame ${d.frame ?? '?'} right after the client's ClientHello (frame ${tls.clientHelloFrame}), without sending a ServerHello or a certificate.`,
      filter: `${convFilter(conn)} && (tls.handshake.type == 1 || tcp.flags.reset == 1 || tcp.flags.fin == 1)`,
      summary: 'the server ended the TLS handshake at the ClientHello (no certificate)',
    });
  },
};
