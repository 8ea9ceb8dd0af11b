// tls_mismatch: no common TLS version or cipher suite: alerts handshake_failure,
// protocol_version, insufficient_security (RFC 8446 6.2, RFC 5246 7.2.2), or a
// server that drops a ClientHello offering nothing it accepts.
import { closeWords, convFilter, findAlert, makeFinding } from '../facts.js';
import type { TlsInfo } from '../../handshake/types.js';
import type { Rule } from '../types.js';

/** TLS 1.2 / 1.3 cipher suites a current Windows host enables by default (IANA TLS Cipher Suites registry). */
export const WINDOWS_DEFAULT_SUITES: readonly number[] = [
  0x1301, 0x1302, 0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009, 0xc014, 0xc013, 0x009d, 0x009c,
  0x003d, 0x003c, 0x0035, 0x002f,
];
const MODERN_VERSIONS = new Set(['TLS1.2', 'TLS1.3']);

/** The ClientHello offers no TLS 1.2/1.3, or no cipher suite a default Windows host enables. */
export function outdatedClientHello(tls: TlsInfo): { noModern: boolean; noSuite: boolean } | null {
  const noModern = tls.clientVersions.length > 0 && !tls.clientVersions.some((v) => MODERN_VERSIONS.has(v));
  const noSuite = tls.clientCipherSuites.length > 0 && !tls.clientCipherSuites.some((s) => WINDOWS_DEFAULT_SUITES.includes(s));
  return noModern || noSuite ? { noModern, noSuite } : null;
}

export const tlsMismatch: Rule = {
  cause: 'tls_mismatch',
  check(conn) {
    const tls = conn.tls;
    if (!tls || conn.outcome === 'completed') return null;
    const filter = `${convFilter(conn)} && (tls.handshake.type == 1 || tls.handshake.type == 2 || tls.alert_message)`;
    const versions = tls.clientVersions.length ? tls.clientVersions.join(', ') : 'unknown versions';
    const alert = findAlert(conn, ['handshake_failure', 'protocol_version', 'insufficient_security']);
    if (alert && (tls.establishedFrame === null || alert.frame <= tls.establishedFrame)) {
      return makeFinding('tls_mismatch', {
        confidence: 0.9,
        confidenceReason: `The alert ${alert.description} says the handshake parameters were refused; which version or suite is missing is decided by the ${alert.by === 'server' ? 'server' : 'client'}'s settings, not visible here.`,
        frames: [tls.clientHelloFrame, tls.serverHelloFrame, alert.frame],
        explanation: `The ${alert.by} sent the alert ${alert.description} in frame ${alert.frame} during the TLS handshake (ClientHello in frame ${tls.clientHelloFrame ?? '?'} offering ${versions} with ${tls.clientCipherSuites.length} cipher suites).`,
        filter,
        summary: `the TLS handshake failed (${alert.description} from the ${alert.by})`,
      });
    }
    const d = conn.died;
    if (!d || d.by !== 'server' || d.phase !== 'tls' || tls.clientHelloFrame === null || tls.serverHelloFrame !== null) return null;
    if (d.how !== 'rst' && d.how !== 'fin') return null;
    const outdated = outdatedClientHello(tls);
    const noModern = outdated?.noModern ?? false;
    const noSuite = outdated?.noSuite ?? false;
    const why = noModern
      ? `offering only ${versions}, which current Windows hosts disable`
      : noSuite
        ? `offering ${tls.clientCipherSuites.length} cipher suites, none of which a current Windows host enables by default`
        : `offering ${versions} with ${tls.clientCipherSuites.length} cipher suites`;
    return makeFinding('tls_mismatch', {
      confidence: noModern || noSuite ? 0.6 : 0.35,
      confidenceReason:
        noModern || noSuite
          ? 'The server gave no alert; the ClientHello offers nothing a default host accepts, but the host\'s settings are not in the capture.'
          : 'The server gave no alert and the ClientHello looks acceptable: a server that cannot load its certificate ends the handshake the same way.',
      frames: [tls.clientHelloFrame, d.frame],
      explanation: `The server ${closeWords(d.how)} in frame ${d.frame ?? '?'} right after the ClientHello (frame ${tls.clientHelloFrame}) ${why}.`,
      filter,
      summary: noModern ? `the server refused the client's TLS versions (${versions})` : 'the server refused the ClientHello',
    });
  },
};
