// The RD Gateway's certificate (issue 14): the same certificate checks as the host's rules
// (rules/cert_expired.ts, cert_untrusted.ts, cert_name_mismatch.ts: facts.ts certDateProblem,
// chainTrustProblem, certNames / nameMatches) applied to the gateway's TLS 1.2 Certificate message,
// which is in the clear without keys (RFC 5246 7.4.2; TLS 1.3 encrypts it, RFC 8446 4.4.2). A
// gateway connection is no ConnectionRecord, so these are capture-wide findings of a sighting, and
// only of a connection the report names an RD Gateway's (shown or likely: never HTTPS that only
// could be one, whose certificate is none of RDP's business) whose client stopped right after the
// TLS handshake without a request (mstsc does not let the user go on past a gateway certificate
// it cannot verify): a certificate alert of the client, or its close with no application data.
import { endpointText } from '../flow/types.js';
import type { GatewaySighting } from '../handshake/gateway-watch.js';
import { certDateProblem, certNames, chainTrustProblem, isIpLiteral, isoDate, isoDateTime, makeFinding, nameMatches } from './facts.js';
import type { DiagnosisInput, Finding } from './types.js';

/** The client's refusal of the certificate: its alert in the clear, or its close before any request. */
type Refusal = { kind: 'alert'; description: string; frame: number } | { kind: 'close'; how: 'fin' | 'rst'; frame: number | null };

const CERT_ALERTS = ['certificate_expired', 'bad_certificate', 'certificate_unknown', 'unknown_ca', 'unsupported_certificate', 'certificate_revoked'];

function refusalOf(g: GatewaySighting): Refusal | null {
  const t = g.tls;
  if (t === null || t.serverHelloFrame === null) return null;
  const alert = t.alerts.find((a) => a.by === 'client' && CERT_ALERTS.includes(a.description));
  if (alert !== undefined) return { kind: 'alert', description: alert.description, frame: alert.frame };
  const e = g.ended;
  if (t.firstAppData.client !== null || e === null || e.how === 'capture_end' || e.by !== 'client') return null;
  return { kind: 'close', how: e.how, frame: e.frame };
}

function refusalWords(r: Refusal): string {
  return r.kind === 'alert' ? `the client answered with the alert ${r.description} in frame ${r.frame}` : `the client ${r.how === 'rst' ? 'reset' : 'closed'} the connection${r.frame !== null ? ` in frame ${r.frame}` : ''} right after the TLS handshake, without sending a request`;
}

/**
 * How the client refused the gateway's certificate, in the words of the gateway note (gateway.ts
 * takes it as the note's refusal): "the client refused the gateway's certificate: it expired on
 * 2025-02-01 (frame 10)", or null when the certificate shows no problem or the client did not stop
 * right after the handshake. The first problem in the order of the findings (dates, trust, name).
 */
export function gatewayCertRefusal(g: GatewaySighting): string | null {
  const f = certFindings(g, []);
  const first = f[0];
  if (first === undefined) return null;
  const t = g.tls!;
  const r = refusalOf(g)!;
  const frame = r.frame ?? g.lastFrame;
  const cert = t.certificate!;
  const what =
    first.cause === 'gateway_cert_expired'
      ? `it expired on ${isoDate(certDateProblem(cert, g.start)!.date)}`
      : first.cause === 'gateway_cert_not_yet_valid'
        ? `it is not valid before ${isoDate(certDateProblem(cert, g.start)!.date)} (a clock may be wrong)`
        : first.cause === 'gateway_cert_untrusted'
          ? chainTrustProblem(t.certificates ?? [cert]) === 'self_signed'
            ? 'it is self-signed'
            : 'its issuer is not trusted'
          : `it names ${certNames(cert).join(', ')}, not ${JSON.stringify(t.sni)}`;
  return `the client refused the gateway's certificate: ${what} (frame ${frame})`;
}

/**
 * The gateway_cert_* findings of a run, for the connections `named` (the ids of the gateway notes
 * whose evidence is shown or likely: gateway.ts gatewayNotes).
 */
export function gatewayCertFindings(input: DiagnosisInput, named: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  for (const g of input.gateways ?? []) if (named.has(g.id)) out.push(...certFindings(g, input.files ?? []));
  return out;
}

function certFindings(g: GatewaySighting, files: readonly string[]): Finding[] {
  const out: Finding[] = [];
  {
    const t = g.tls;
    if (g.transport !== 'tcp' || t === null || t.certificate === null || t.certificateEncrypted) return out;
    const refusal = refusalOf(g);
    if (refusal === null) return out;
    const cert = t.certificate;
    const chain = t.certificates ?? [cert];
    const certFrame = t.certificateFrame;
    const ip = g.server.ip.includes(':') ? 'ipv6.addr' : 'ip.addr';
    const filter = `${ip} == ${g.client.ip} && ${ip} == ${g.server.ip} && tcp.port == ${g.client.port} && tcp.port == ${g.server.port} && (tls.handshake.type == 1 || tls.handshake.type == 11 || tls.alert_message || tcp.flags.fin == 1 || tcp.flags.reset == 1)`;
    const where = files.length > 1 && files[g.fileIndex] !== undefined ? ` in ${files[g.fileIndex]}` : '';
    const who = `connection ${g.id}${where} from ${g.client.ip} to the RD Gateway ${endpointText(g.server)}${t.sni !== null && t.sni !== '' ? ` ("${t.sni}")` : ''}`;
    const end = refusalWords(refusal);
    const endFrame = refusal.frame;
    const dates = certDateProblem(cert, g.start);

    if (dates !== null) {
      const expired = dates.kind === 'expired';
      out.push(
        makeFinding(expired ? 'gateway_cert_expired' : 'gateway_cert_not_yet_valid', {
          confidence: refusal.kind === 'alert' ? (refusal.description === 'certificate_expired' && expired ? 0.97 : 0.93) : 0.88,
          confidenceReason: expired
            ? "The capture's clock is taken as the true time of the connection."
            : "The capture's clock is taken as the true time of the connection; a certificate from the future most often means a wrong clock on the client or the gateway, not a bad certificate.",
          frames: [certFrame, endFrame],
          connection: g.id,
          explanation: `On ${who}, the gateway's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) ${
            expired ? `expired on ${isoDate(dates.date)} (notAfter ${cert.notAfter})` : `is not valid before ${isoDate(dates.date)} (notBefore ${cert.notBefore})`
          } and the connection was made on ${isoDateTime(g.start)}; ${end}.`,
          filter,
          summary: expired ? `the RD Gateway's certificate expired on ${isoDate(dates.date)}` : `the RD Gateway's certificate is not valid before ${isoDate(dates.date)} (a clock may be wrong)`,
        }),
      );
    }

    const trust = dates === null ? chainTrustProblem(chain) : null;
    const unknownCa = refusal.kind === 'alert' && refusal.description === 'unknown_ca';
    if (dates === null && (trust !== null || unknownCa)) {
      const what =
        trust === 'self_signed' ? `is self-signed (issuer "${cert.issuer}")` : trust === 'unknown_issuer' ? `was issued by "${cert.issuer}", which is not in the chain the gateway sent` : `was issued by "${cert.issuer}"`;
      out.push(
        makeFinding('gateway_cert_untrusted', {
          confidence: unknownCa ? 0.93 : refusal.kind === 'alert' ? 0.75 : trust === 'self_signed' ? 0.6 : 0.55,
          confidenceReason: unknownCa
            ? 'The alert names the issuer as unknown; which root the client lacks is on the client, not in the capture.'
            : refusal.kind === 'alert'
              ? `The alert ${refusal.description} says the client refused the certificate, not why; it is in date and ${trust === 'self_signed' ? 'self-signed' : 'has an issuer the gateway did not send'}, the most likely reason.`
              : `The client left right after the handshake without a request, as mstsc does when it cannot verify the gateway; a client that has the issuer's root${trust === 'unknown_issuer' ? ' and intermediate' : ''} would trust it, and the capture cannot show the client's store.`,
          frames: [certFrame, endFrame],
          explanation: `On ${who}, the gateway's certificate "${cert.subject}" (frame ${certFrame ?? '?'}) is in date but ${what}; ${end}.`,
          connection: g.id,
          filter,
          summary: trust === 'self_signed' ? "the client did not trust the RD Gateway's self-signed certificate" : "the client did not trust the issuer of the RD Gateway's certificate",
        }),
      );
    }

    const names = certNames(cert);
    const sni = t.sni;
    if (sni !== null && sni !== '' && !isIpLiteral(sni) && names.length > 0 && !names.some((n) => nameMatches(sni, n))) {
      const reasons = [
        dates !== null ? 'The certificate is also out of date, which alone explains the refusal.' : null,
        trust !== null ? `The certificate is also ${trust === 'self_signed' ? 'self-signed' : 'from an issuer the gateway did not send'}, which alone can explain the refusal.` : null,
        'The name is the one the client asked for in its TLS SNI.',
      ].filter((x): x is string => x !== null);
      out.push(
        makeFinding('gateway_cert_name_mismatch', {
          confidence: (refusal.kind === 'alert' ? 0.85 : 0.75) - (dates !== null ? 0.2 : 0) - (trust !== null ? 0.15 : 0),
          confidenceReason: reasons.join(' '),
          frames: [t.clientHelloFrame, certFrame, endFrame],
          explanation: `On ${who}, the client asked for "${sni}" (SNI, frame ${t.clientHelloFrame}), but the gateway's certificate (frame ${certFrame ?? '?'}) names only ${names.map((n) => `"${n}"`).join(', ')}; ${end}.`,
          connection: g.id,
          filter,
          summary: `the RD Gateway's certificate names ${names.join(', ')}, not ${sni}`,
        }),
      );
    }
  }
  return out;
}
