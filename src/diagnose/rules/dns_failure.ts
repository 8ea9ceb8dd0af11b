// dns_failure: lookups of the server's name (RFC 1035 4.1.1 RCODE) that fail,
// go unanswered, or resolve elsewhere than the address the client connected to.
import type { DnsTransaction } from '../../flow/types.js';
import { certNames, filterString, framesFilter, isIpLiteral, leafCertificate, makeFinding, nameMatches, secondsText, serverText } from '../facts.js';
import type { ConnectionRecord } from '../../handshake/types.js';
import type { DiagnosisInput, Rule } from '../types.js';
import { connectionsFromClient, lookupsBetween, startedNear } from '../lookup.js';

/** Lookups this long before the connection are considered part of it. */
export const DNS_LOOKBACK_SECONDS = 120;
/** Without any known name for the server, only failed lookups this close before the connection are mentioned. */
export const DNS_UNNAMED_SECONDS = 15;

const RCODE: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

/**
 * The client's last successful lookup just before this connection pointed
 * somewhere else, and the client did not connect there: it likely connected
 * to a stale or mistyped address instead of where the name points.
 */
export function recentLookupElsewhere(conn: ConnectionRecord, input: DiagnosisInput): DnsTransaction | null {
  const clientIp = conn.flow.client.ip;
  const serverIp = conn.flow.server.ip;
  let best: DnsTransaction | null = null;
  for (const q of lookupsBetween(input, conn.fileIndex, clientIp, conn.start - DNS_UNNAMED_SECONDS, conn.start, true)) {
    if (q.qtype !== 1 && q.qtype !== 28) continue;
    if (!answered(q) || q.addresses.includes(serverIp)) continue;
    // A connection of this client to where the name pointed, near the lookup (by bisection, lookup.ts).
    const usedThere = startedNear(connectionsFromClient(input, clientIp), q.addresses, q.time, DNS_LOOKBACK_SECONDS);
    if (usedThere) continue;
    if (!best || q.time > best.time) best = q;
  }
  return best;
}

function answered(q: DnsTransaction): boolean {
  return q.responseFrame !== null && q.rcode === 0 && q.addresses.length > 0;
}

function failureText(q: DnsTransaction): string {
  if (q.responseFrame === null) return `the lookup of "${q.name}" (frame ${q.queryFrame}) was never answered`;
  if (q.rcode !== null && q.rcode !== 0) return `the lookup of "${q.name}" (frame ${q.queryFrame}) failed with ${RCODE[q.rcode] ?? `RCODE ${q.rcode}`} (frame ${q.responseFrame})`;
  return `the lookup of "${q.name}" (frame ${q.queryFrame}) returned no address (frame ${q.responseFrame})`;
}

export const dnsFailure: Rule = {
  cause: 'dns_failure',
  check(conn, input) {
    if (conn.outcome === 'completed' || input.dns.length === 0) return null;
    const clientIp = conn.flow.client.ip;
    const serverIp = conn.flow.server.ip;
    const server = serverText(conn);
    const lookups = lookupsBetween(input, conn.fileIndex, clientIp, conn.start - DNS_LOOKBACK_SECONDS, conn.start);
    if (lookups.length === 0) return null;

    // Names the server is known by: its certificate, the SNI, the capture file's name records.
    const known: string[] = [];
    const cert = leafCertificate(conn);
    if (cert) known.push(...certNames(cert).filter((n) => !n.startsWith('*.') && !isIpLiteral(n)));
    const sni = conn.tls?.sni;
    if (sni && !isIpLiteral(sni)) known.push(sni);
    known.push(...(input.names.get(serverIp) ?? []));
    const relevant = lookups.filter((q) => known.some((k) => nameMatches(q.name, k)));

    if (relevant.length > 0) {
      // Per name: did any lookup succeed, and where did it point?
      const byName = new Map<string, DnsTransaction[]>();
      for (const q of relevant) {
        const k = q.name.toLowerCase();
        byName.set(k, [...(byName.get(k) ?? []), q]);
      }
      for (const qs of byName.values()) {
        const ok = qs.filter(answered);
        if (ok.some((q) => q.addresses.includes(serverIp))) continue;
        if (ok.length > 0) {
          const q = ok[ok.length - 1]!;
          return makeFinding('dns_failure', {
            confidence: 0.6,
            confidenceReason:
              'The client reached the server by another address (a cache, the hosts file, or an address typed by hand); the capture cannot show which, nor that the name is the one the client was given.',
            frames: [q.queryFrame, q.responseFrame, conn.flow.firstFrame, conn.died?.frame],
            explanation: `"${q.name}", a name of this server, resolved to ${q.addresses.join(', ')} (frame ${q.responseFrame}), but the client connected to ${server} (frame ${conn.flow.firstFrame}).`,
            filter: `dns.qry.name == ${filterString(q.name)} || ${framesFilter([conn.flow.firstFrame, conn.died?.frame])}`,
            summary: `"${q.name}" resolves to ${q.addresses.join(', ')}, not to ${serverIp}`,
          });
        }
        const q = qs[qs.length - 1]!;
        return makeFinding('dns_failure', {
          confidence: 0.65,
          confidenceReason:
            'The failed name belongs to this server, but the client still reached it by address, so the lookup failure may be a side issue (another resolver, the hosts file) rather than why the attempt failed.',
          frames: [q.queryFrame, q.responseFrame],
          explanation: `${failureText(q)[0]!.toUpperCase()}${failureText(q).slice(1)}, ${secondsText(conn.start - q.time)} before the connection to ${server}.`,
          filter: `dns.qry.name == ${filterString(q.name)}`,
          summary: `the name "${q.name}" did not resolve`,
        });
      }
      return null;
    }

    // No known name: a lookup just before this attempt that pointed elsewhere ...
    const elsewhere = recentLookupElsewhere(conn, input);
    if (elsewhere) {
      const unanswered = conn.reached === 'none' || conn.reached === 'tcp';
      return makeFinding('dns_failure', {
        confidence: unanswered ? 0.6 : 0.45,
        confidenceReason:
          'Nothing in the capture names the server the client connected to; the lookup just before it is the likeliest name the client was given, and the client went to another address (a stale cache or hosts entry, or an old address typed by hand).',
        frames: [elsewhere.queryFrame, elsewhere.responseFrame, conn.flow.firstFrame, conn.died?.frame],
        explanation: `${secondsText(conn.start - elsewhere.time)} before this attempt "${elsewhere.name}" resolved to ${elsewhere.addresses.join(', ')} (frame ${elsewhere.responseFrame}), but the client connected to ${server} (frame ${conn.flow.firstFrame}), an address no lookup in the capture points at.`,
        filter: `dns.qry.name == ${filterString(elsewhere.name)} || ${framesFilter([conn.flow.firstFrame, conn.died?.frame])}`,
        summary: `the client connected to ${serverIp}, while "${elsewhere.name}" resolves to ${elsewhere.addresses.join(', ')}`,
      });
    }
    // ... or a lookup that failed just before this attempt (and was never followed by a success).
    const recent = lookups.filter((q) => q.time >= conn.start - DNS_UNNAMED_SECONDS && (q.qtype === 1 || q.qtype === 28));
    const failed = recent.filter((q) => !answered(q) && !recent.some((o) => o.name.toLowerCase() === q.name.toLowerCase() && answered(o)));
    const q = failed[failed.length - 1];
    if (!q) return null;
    return makeFinding('dns_failure', {
      confidence: 0.3,
      confidenceReason: 'Nothing in the capture ties the failed name to this server (no certificate, SNI or name record): it is only the last lookup before the attempt.',
      frames: [q.queryFrame, q.responseFrame],
      explanation: `Just before this attempt, ${failureText(q)}; it is not known whether that is the name the client was given for ${server}.`,
      filter: `dns.qry.name == ${filterString(q.name)}`,
      summary: `a lookup of "${q.name}" failed just before the attempt`,
    });
  },
};
