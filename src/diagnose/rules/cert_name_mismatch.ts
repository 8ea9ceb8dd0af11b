// cert_name_mismatch: the name the client used is not among the certificate's
// names (RFC 6125 6.4). The X.224 cookie is a user name (MS-RDPBCGR 2.2.1.1),
// never compared; an SNI that is an IP address is not a name either.
import type { ConnectionRecord } from '../../handshake/types.js';
import {
  certDateProblem,
  certNames,
  closeWords,
  convFilter,
  earlyClientClose,
  findAlert,
  isIpLiteral,
  leafCertificate,
  makeFinding,
  nameMatches,
} from '../facts.js';
import type { DiagnosisInput, Rule } from '../types.js';
import { lookupsBetween } from '../lookup.js';

/** How long before a connection a DNS answer still counts as "the name the client used". */
export const DNS_NAME_WINDOW_SECONDS = 300;

export interface UsedName {
  name: string;
  source: 'sni' | 'dns' | 'capture_file';
  frame: number | null;
}

/** Names the client may have used for this server, strongest first. */
export function namesUsedFor(conn: ConnectionRecord, input: DiagnosisInput): UsedName[] {
  const out: UsedName[] = [];
  const seen = new Set<string>();
  const add = (n: UsedName) => {
    const k = n.name.toLowerCase();
    if (!seen.has(k)) {
      seen.add(k);
      out.push(n);
    }
  };
  const sni = conn.tls?.sni;
  if (sni && !isIpLiteral(sni)) add({ name: sni, source: 'sni', frame: conn.tls?.clientHelloFrame ?? null });
  const ip = conn.flow.server.ip;
  for (const q of lookupsBetween(input, conn.fileIndex, conn.flow.client.ip, conn.start - DNS_NAME_WINDOW_SECONDS, conn.start, true)) {
    if (q.addresses.includes(ip)) add({ name: q.name, source: 'dns', frame: q.responseFrame });
  }
  for (const n of input.names.get(ip) ?? []) add({ name: n, source: 'capture_file', frame: null });
  return out;
}

export const certNameMismatch: Rule = {
  cause: 'cert_name_mismatch',
  check(conn, input) {
    const tls = conn.tls;
    const cert = leafCertificate(conn);
    if (!tls || !cert || conn.outcome === 'completed') return null;
    const names = certNames(cert);
    if (names.length === 0) return null;
    const used = namesUsedFor(conn, input);
    if (used.length === 0) return null;
    if (used.some((u) => names.some((c) => nameMatches(u.name, c)))) return null;
    const u = used[0]!;
    const via =
      u.source === 'sni'
        ? `asked for "${u.name}" (SNI, frame ${u.frame ?? '?'})`
        : u.source === 'dns'
          ? `reached the server through the DNS name "${u.name}" (frame ${u.frame ?? '?'})`
          : `reached a server the capture file names "${u.name}"`;
    const certFrame = tls.certificateFrame;
    const summary = `the server's certificate names ${names.join(', ')}, not ${u.name}`;
    const filter = `${convFilter(conn)} && (tls.handshake.type == 1 || tls.handshake.type == 11 || tls.alert_message)`;
    const sourceNote =
      u.source === 'sni'
        ? null
        : 'The capture does not carry the name the client was given (mstsc\'s cookie is a user name), so the name is taken from a DNS answer or the capture file.';
    const datesBad = certDateProblem(cert, conn.start) !== null;

    const alert = findAlert(conn, ['bad_certificate', 'certificate_unknown'], 'client');
    const early = earlyClientClose(conn);
    let confidence: number;
    let end: string;
    let endFrame: number | null = null;
    if (alert) {
      confidence = 0.85;
      end = `the client answered with the alert ${alert.description} in frame ${alert.frame}`;
      endFrame = alert.frame;
    } else if (early) {
      confidence = 0.7;
      end = `the client ${closeWords(early.how)} in frame ${early.frame ?? '?'} right after the handshake`;
      endFrame = early.frame;
    } else {
      confidence = 0.3;
      end = 'the connection failed later, so the mismatch may not be why';
      endFrame = conn.died?.frame ?? null;
    }
    if (sourceNote) confidence -= 0.15;
    if (datesBad) confidence -= 0.2;
    const reasons = [
      sourceNote,
      datesBad ? 'The certificate is also out of date, which alone explains a refusal.' : null,
      'mstsc warns about a name mismatch and lets the user continue; the capture cannot show the prompt.',
    ].filter((x): x is string => x !== null);
    return makeFinding('cert_name_mismatch', {
      confidence,
      confidenceReason: reasons.join(' '),
      frames: [u.frame, certFrame, endFrame],
      explanation: `The client ${via}, but the server's certificate (frame ${certFrame ?? '?'}) names only ${names.map((n) => `"${n}"`).join(', ')}; ${end}.`,
      filter,
      summary,
    });
  },
};
