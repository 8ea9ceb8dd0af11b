// cert_expired: the certificate's validity dates exclude the time of the connection
// (RFC 5280 4.1.2.5), and the client refused it.
import { certDateProblem, closeWords, convFilter, earlyClientClose, findAlert, isoDate, isoDateTime, leafCertificate, makeFinding } from '../facts.js';
import type { Rule } from '../types.js';

export const certExpired: Rule = {
  cause: 'cert_expired',
  check(conn) {
    const tls = conn.tls;
    const cert = leafCertificate(conn);
    if (!tls || !cert || conn.outcome === 'completed') return null;
    const problem = certDateProblem(cert, conn.start);
    if (!problem) return null;

    const dates =
      problem.kind === 'expired'
        ? `expired on ${isoDate(problem.date)} (notAfter ${cert.notAfter}) and the connection was made on ${isoDateTime(conn.start)}`
        : `is not valid before ${isoDate(problem.date)} (notBefore ${cert.notBefore}) and the connection was made on ${isoDateTime(conn.start)}`;
    const summary =
      problem.kind === 'expired'
        ? `the server's certificate expired on ${isoDate(problem.date)}`
        : `the server's certificate is not valid before ${isoDate(problem.date)}`;
    const certFrame = tls.certificateFrame;
    const clockNote = 'The capture\'s clock is taken as the true time of the connection.';

    const alert = findAlert(conn, ['certificate_expired', 'bad_certificate', 'certificate_unknown'], 'client');
    if (alert) {
      return makeFinding('cert_expired', {
        confidence: alert.description === 'certificate_expired' ? 0.97 : 0.93,
        confidenceReason: clockNote,
        frames: [certFrame, alert.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${dates}, and the client answered with the alert ${alert.description} in frame ${alert.frame}.`,
        filter: `${convFilter(conn)} && (tls.handshake.type == 11 || tls.alert_message)`,
        summary,
      });
    }
    const early = earlyClientClose(conn);
    if (early) {
      return makeFinding('cert_expired', {
        confidence: 0.88,
        confidenceReason: `${clockNote} The client sent no readable alert; its close right after the handshake is what mstsc and FreeRDP do when they refuse a certificate, and the dates prove it is out of date.`,
        frames: [certFrame, early.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${dates}; the client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the TLS handshake.`,
        filter: `${convFilter(conn)} && (tls.handshake.type == 11 || tcp.flags.fin == 1 || tcp.flags.reset == 1 || tls.alert_message)`,
        summary,
      });
    }
    const d = conn.died;
    return makeFinding('cert_expired', {
      confidence: 0.5,
      confidenceReason: `The certificate is out of date, but the connection did not end right after the handshake (${d ? d.detail || `${d.how} by ${d.by} in ${d.phase}` : 'no end seen'}), so the date may not be why it failed.`,
      frames: [certFrame, d?.frame],
      explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${dates}.`,
      filter: `${convFilter(conn)} && tls.handshake.type == 11`,
      summary,
    });
  },
};
