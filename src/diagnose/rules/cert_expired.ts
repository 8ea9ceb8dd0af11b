// cert_expired and cert_not_yet_valid: the certificate's validity dates exclude the time of the
// connection (RFC 5280 4.1.2.5), and the client refused it. Past notAfter is an expired
// certificate; before notBefore is most often a wrong clock, a case with its own steps.
import { certDateProblem, closeWords, convFilter, earlyClientClose, findAlert, isoDate, isoDateTime, leafCertificate, makeFinding } from '../facts.js';
import type { CauseId, Rule } from '../types.js';

/** The rule for one side of the validity period (shared with cert_not_yet_valid.ts). */
export function certDateRule(cause: CauseId, kind: 'expired' | 'not_yet_valid'): Rule {
  return {
    cause,
    check(conn) {
      const tls = conn.tls;
      const cert = leafCertificate(conn);
      if (!tls || !cert || conn.outcome === 'completed') return null;
      const problem = certDateProblem(cert, conn.start);
      if (!problem || problem.kind !== kind) return null;

      const dates =
        kind === 'expired'
          ? `expired on ${isoDate(problem.date)} (notAfter ${cert.notAfter}) and the connection was made on ${isoDateTime(conn.start)}`
          : `is not valid before ${isoDate(problem.date)} (notBefore ${cert.notBefore}) but the connection was made on ${isoDateTime(conn.start)}, so a clock (the client's, or the server's when it made the certificate) is probably wrong`;
      const summary =
        kind === 'expired'
          ? `the server's certificate expired on ${isoDate(problem.date)}`
          : `the server's certificate is not valid before ${isoDate(problem.date)} (a clock may be wrong)`;
      const certFrame = tls.certificateFrame;
      const clockNote =
        kind === 'expired'
          ? "The capture's clock is taken as the true time of the connection."
          : "The capture's clock is taken as the true time of the connection; a certificate from the future most often means a wrong clock on the client or the server, not a bad certificate.";

      const alert = findAlert(conn, ['certificate_expired', 'bad_certificate', 'certificate_unknown'], 'client');
      if (alert) {
        return makeFinding(cause, {
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
        return makeFinding(cause, {
          confidence: 0.88,
          confidenceReason: `${clockNote} The client sent no readable alert; its close right after the handshake is what mstsc and FreeRDP do when they refuse a certificate, and the dates prove it ${kind === 'expired' ? 'is out of date' : 'was not valid yet at the time of the connection'}.`,
          frames: [certFrame, early.frame],
          explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${dates}; the client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the TLS handshake.`,
          filter: `${convFilter(conn)} && (tls.handshake.type == 11 || tcp.flags.fin == 1 || tcp.flags.reset == 1 || tls.alert_message)`,
          summary,
        });
      }
      const d = conn.died;
      return makeFinding(cause, {
        confidence: 0.5,
        confidenceReason: `The certificate is out of date, but the connection did not end right after the handshake (${d ? d.detail || `${d.how} by ${d.by} in ${d.phase}` : 'no end seen'}), so the date may not be why it failed.`,
        frames: [certFrame, d?.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${dates}.`,
        filter: `${convFilter(conn)} && tls.handshake.type == 11`,
        summary,
      });
    },
  };
}

export const certExpired: Rule = certDateRule('cert_expired', 'expired');
