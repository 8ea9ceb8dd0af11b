// cert_untrusted: an in-date certificate that is self-signed or from an issuer
// the client does not know, refused by the client (RFC 5246 7.2.2 unknown_ca).
import {
  certDateProblem,
  clientStoppedBeforeCredentials,
  laterCompletedAttempt,
  secondsText,
  certTrustProblem,
  closeWords,
  convFilter,
  earlyClientClose,
  findAlert,
  leafCertificate,
  makeFinding,
} from '../facts.js';
import type { ConnectionRecord } from '../../handshake/types.js';
import { PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX } from '../codes.js';
import { causeSteps, type StepId } from '../catalogue.js';
import type { Rule } from '../types.js';
import { RETRY_SECONDS } from './nla_failed.js';

export const certUntrusted: Rule = {
  cause: 'cert_untrusted',
  check(conn, input) {
    const tls = conn.tls;
    const cert = leafCertificate(conn);
    if (!tls || !cert || conn.outcome === 'completed') return null;
    if (certDateProblem(cert, conn.start)) return null; // cert_expired or cert_not_yet_valid explains it
    const trust = certTrustProblem(conn);
    const certFrame = tls.certificateFrame;
    const what =
      trust === 'self_signed'
        ? `is self-signed (issuer "${cert.issuer}")`
        : trust === 'unknown_issuer'
          ? `was issued by "${cert.issuer}", which is not in the chain the server sent`
          : `was issued by "${cert.issuer}"`;
    const summary = trust === 'self_signed' ? "the client did not trust the server's self-signed certificate" : "the client did not trust the issuer of the server's certificate";
    // Windows Update refreshes the client's trusted roots (which helps with a public CA's issuer it
    // lacks), but no update makes a client trust a self-signed certificate: that step is left out.
    const steps: readonly StepId[] | undefined = trust === 'self_signed' ? causeSteps('cert_untrusted').filter((x) => x !== 'updateClient') : undefined;
    const filter = `${convFilter(conn)} && (tls.handshake.type == 11 || tls.alert_message || tcp.flags.fin == 1 || tcp.flags.reset == 1)`;

    const unknownCa = findAlert(conn, ['unknown_ca'], 'client');
    if (unknownCa) {
      return makeFinding('cert_untrusted', {
        confidence: 0.93,
        confidenceReason: "The alert names the issuer as unknown; which root the client lacks is on the client, not in the capture.",
        frames: [certFrame, unknownCa.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${what}, and the client answered with the alert unknown_ca in frame ${unknownCa.frame}.`,
        filter,
        summary,
        steps,
      });
    }
    if (!trust) return null;
    const bad = findAlert(conn, ['bad_certificate', 'certificate_unknown', 'unsupported_certificate'], 'client');
    if (bad) {
      return makeFinding('cert_untrusted', {
        confidence: 0.75,
        confidenceReason: `The alert ${bad.description} says the client refused the certificate, not why; its dates are valid and it ${trust === 'self_signed' ? 'is self-signed' : 'has an unknown issuer'}, the most likely reason.`,
        frames: [certFrame, bad.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) is in date but ${what}, and the client answered with the alert ${bad.description} in frame ${bad.frame}.`,
        filter,
        summary,
        steps,
      });
    }
    const early = earlyClientClose(conn);
    if (!early) {
      // NLA over NTLM cannot prove the server's identity, so the client checks the certificate
      // before it sends the credentials (MS-CSSP 3.1.5) and stops there when it does not trust it.
      const pause = clientStoppedBeforeCredentials(conn);
      if (!pause || pause.errorSized) return null; // an error-sized answer is the server refusing (nla_failed)
      const retry = laterCompletedAttempt(conn, input, RETRY_SECONDS);
      return makeFinding('cert_untrusted', {
        confidence: 0.45,
        confidenceReason: `The client stopped CredSSP where it checks the server's identity before sending its credentials, and mstsc asks the user about an untrusted certificate there; but the exchange is encrypted, so an authentication error the client saw looks the same, and the capture cannot show the prompt.${retry ? ` The next attempt (${retry.id}), ${secondsText(Math.max(0, retry.start - conn.end))} later, completed, as it does once the user accepts the certificate.` : ''}`,
        frames: [certFrame, pause.answer?.frame, pause.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${what}, and the client ${closeWords(pause.how)} in frame ${pause.frame ?? '?'} after the server's CredSSP answer${pause.answer ? ` (frame ${pause.answer.frame})` : ''}, before sending its credentials.`,
        filter,
        summary,
        steps,
      });
    }
    // With NLA selected, mstsc goes on into CredSSP and judges the certificate at its end, before
    // sending the credentials (the branch above); a client that leaves before its first CredSSP
    // message (MS-CSSP 3.1.5: the client speaks first) decided at once, without mstsc's prompt.
    const sel = conn.negotiation?.selectedProtocol ?? null;
    const nla = sel !== null && (sel & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0;
    const ownRecords = (tls.version === 'TLS1.3' ? 1 : 0) + (early.encryptedAlert ? 1 : 0);
    if (nla && tls.appRecords.client <= ownRecords) {
      const after = reactionSeconds(conn, early.serverFlightFrame, early.frame);
      return makeFinding('cert_untrusted', {
        confidence: trust === 'self_signed' ? 0.45 : 0.4,
        confidenceReason: `NLA was selected, and mstsc goes on into CredSSP before it judges an untrusted certificate and asks the user; this client left before its first CredSSP message${
          after !== null && after < 1 ? `, ${Math.round(after * 1000) === 0 ? 'less than 1 ms' : `${Math.round(after * 1000)} ms`} after the server's TLS flight, too soon for anyone to answer a prompt` : ''
        }: a client that checks the certificate at once (FreeRDP-based clients do) or a client-side policy refusing it fits, and so does a tool that only fetched the certificate (a scanner or a monitoring probe).`,
        frames: [certFrame, early.frame],
        explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) is in date but ${what}; the client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the TLS handshake, before starting NLA (CredSSP).`,
        filter,
        summary,
        steps,
      });
    }
    return makeFinding('cert_untrusted', {
      confidence: trust === 'self_signed' ? 0.6 : 0.55,
      confidenceReason:
        'mstsc warns about an untrusted certificate and lets the user continue; a close right after the handshake fits the user or a policy refusing it, but the capture cannot show the prompt.',
      frames: [certFrame, early.frame],
      explanation: `The server's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) is in date but ${what}; the client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the TLS handshake.`,
      filter,
      summary,
      steps,
    });
  },
};

/** Seconds from one timeline frame to a later one (null when either is not in the timeline). */
function reactionSeconds(conn: ConnectionRecord, from: number | null, to: number | null): number | null {
  if (from === null || to === null) return null;
  let a: number | null = null;
  let b: number | null = null;
  for (const ev of conn.timeline) {
    if (a === null && ev.frame === from) a = ev.time;
    if (b === null && ev.frame === to) b = ev.time;
  }
  return a !== null && b !== null && b >= a ? b - a : null;
}
