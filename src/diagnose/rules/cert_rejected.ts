// cert_rejected: the client closed right after the server's handshake flight
// and the capture cannot show why (RFC 8446 4.4.2: the TLS 1.3 Certificate is encrypted).
import { certDateProblem, certNames, certTrustProblem, closeWords, convFilter, earlyClientClose, leafCertificate, makeFinding, nameMatches } from '../facts.js';
import type { Rule } from '../types.js';
import { namesUsedFor } from './cert_name_mismatch.js';

export const certRejected: Rule = {
  cause: 'cert_rejected',
  check(conn, input) {
    const tls = conn.tls;
    if (!tls || conn.outcome === 'completed') return null;
    const early = earlyClientClose(conn);
    if (!early) return null;
    const filter = `${convFilter(conn)} && (tls.handshake || tls.alert_message || tls.app_data || tcp.flags.fin == 1 || tcp.flags.reset == 1)`;
    const cert = leafCertificate(conn);
    const flight = early.serverFlightFrame;
    if (!cert) {
      const hidden = tls.version === 'TLS1.3' || tls.certificateEncrypted;
      const why = hidden
        ? `the connection used TLS 1.3, which encrypts the certificate`
        : `the certificate could not be read from the capture`;
      return makeFinding('cert_rejected', {
        confidence: early.how === 'encrypted_alert' ? 0.45 : 0.4,
        confidenceReason: `${why[0]!.toUpperCase()}${why.slice(1)}, so whether it expired, is untrusted or names another host cannot be seen; a client closing at this point usually refused the certificate. Check the certificate on the host (certlm.msc > Remote Desktop > Certificates).`,
        frames: [tls.serverHelloFrame, flight, early.frame],
        explanation: `The client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the server's handshake flight (ServerHello in frame ${tls.serverHelloFrame}), and ${why}.`,
        filter,
        summary: 'the client refused the server right after the TLS handshake (certificate not visible)',
        confirmExtra: 'Capturing with a TLS key log, or with the client limited to TLS 1.2, shows the certificate.',
      });
    }
    // A visible certificate with a visible problem is another rule's finding.
    if (certDateProblem(cert, conn.start) || certTrustProblem(conn)) return null;
    const names = certNames(cert);
    const used = namesUsedFor(conn, input);
    if (used.length > 0 && !used.some((u) => names.some((c) => nameMatches(u.name, c)))) return null;
    return makeFinding('cert_rejected', {
      confidence: 0.35,
      confidenceReason:
        'The certificate looks valid in the capture (dates, issuer chain, names), yet the client refused the server right after the handshake: a revocation check, a key or algorithm policy, or a trust store the capture cannot show may be why.',
      frames: [tls.certificateFrame, flight, early.frame],
      explanation: `The client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the server's handshake flight, although the certificate "${cert.subject}" (frame ${tls.certificateFrame ?? '?'}) is in date until ${cert.notAfter} and issued by "${cert.issuer}".`,
      filter,
      summary: 'the client refused the server right after the TLS handshake',
    });
  },
};
