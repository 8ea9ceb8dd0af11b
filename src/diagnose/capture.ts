// Capture-wide findings: what the capture shows that belongs to no one connection.
// Today that is name lookups (RFC 1035 4.1.1 RCODE) that failed for a name the
// client then never connected to: the attempt died before any packet reached
// the server, so no ConnectionRecord carries it.
import type { DnsTransaction } from '../flow/types.js';
import { certNames, filterString, isIpLiteral, makeFinding, nameMatches, framesText, plural, secondsText } from './facts.js';
import type { DiagnosisInput, Finding } from './types.js';
import { connectionsFromClient, lookupsBetween } from './lookup.js';
import { DNS_UNNAMED_SECONDS } from './rules/dns_failure.js';

/**
 * A connection starting this soon after a failed lookup (from the same client) may be the one it
 * was for: the same window in which the connection's own dns_failure rule weighs unnamed lookups.
 */
export const DNS_FOLLOW_SECONDS = DNS_UNNAMED_SECONDS;
/** Failed lookups of related names this close together are one story (the resolver trying suffixes, A then AAAA, retries). */
export const DNS_CLUSTER_SECONDS = 60;
/** An unanswered query counts as failed only when the capture ran on this long after it (Windows' resolver gives up after ~10 s). */
export const DNS_ANSWER_WAIT_SECONDS = 5;
/** A client with more failing names than this is looking up many things: each one is less likely to be the RDP server's. */
export const DNS_MANY_NAMES = 3;
/** At most this many capture-wide DNS findings (the most confident first). */
export const CAPTURE_DNS_MAX_FINDINGS = 5;

const RCODE: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
const QTYPE: Record<number, string> = { 1: 'A', 28: 'AAAA' };
/** First labels of names Windows looks up on its own (proxy and tunnel discovery), never a server the user typed. */
const BACKGROUND_LABELS = new Set(['wpad', 'isatap', 'localhost', 'teredo']);

/** How a lookup failed, or null when it returned an address (or cannot be called failed yet). */
export function lookupFailure(q: DnsTransaction, captureEnd: number): string | null {
  if (q.responseFrame === null) return captureEnd - q.time >= DNS_ANSWER_WAIT_SECONDS ? 'no answer' : null;
  if (q.rcode !== null && q.rcode !== 0) return RCODE[q.rcode] ?? `RCODE ${q.rcode}`;
  return q.addresses.length === 0 ? 'no address' : null;
}

/** An A / AAAA lookup of something a user could have typed as a host name. */
export function hostLookup(q: DnsTransaction): boolean {
  if (q.qtype !== 1 && q.qtype !== 28) return false;
  const name = q.name.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.startsWith('_') || name.endsWith('.arpa') || isIpLiteral(name)) return false;
  return !BACKGROUND_LABELS.has(name.split('.')[0]!);
}

interface Cluster {
  fileIndex: number;
  client: string;
  lookups: { q: DnsTransaction; failure: string }[];
  names: string[];
  first: number;
  last: number;
}

function related(names: string[], name: string): boolean {
  return names.some((n) => nameMatches(name, n));
}

/** Names known to belong to an RDP server of the capture: certificate names, SNI, the capture file's name records. */
interface KnownName {
  name: string;
  server: string;
  via: string;
}

function serverNames(input: DiagnosisInput): KnownName[] {
  const out: KnownName[] = [];
  for (const c of input.connections) {
    const server = c.flow.server.ip;
    const leaf = c.tls?.certificates[0];
    if (leaf) for (const n of certNames(leaf)) if (!n.startsWith('*.') && !isIpLiteral(n)) out.push({ name: n, server, via: `the certificate of ${c.server} (connection ${c.id})` });
    const sni = c.tls?.sni;
    if (sni && !isIpLiteral(sni)) out.push({ name: sni, server, via: `the SNI of connection ${c.id} to ${c.server}` });
  }
  for (const [ip, names] of input.names) for (const n of names) out.push({ name: n, server: ip, via: `the capture file's name record for ${ip}` });
  return out;
}

/** The known names by name, each with its first entry (a Map keeps the order names first appeared in). */
function byName(known: KnownName[]): Map<string, KnownName> {
  const out = new Map<string, KnownName>();
  for (const k of known) if (!out.has(k.name)) out.set(k.name, k);
  return out;
}

/** byName(serverNames(input)). */
function knownNames(input: DiagnosisInput): Map<string, KnownName> {
  return byName(serverNames(input));
}

/**
 * `known.find((k) => related(names, k.name))` over the list byName() was built from: entries of one
 * name relate alike, so the first related name's first entry is the first related entry.
 */
function ownerOf(known: Map<string, KnownName>, names: string[]): KnownName | null {
  for (const [name, k] of known) if (related(names, name)) return k;
  return null;
}

/**
 * Failed lookups of host names (NXDOMAIN, SERVFAIL, no answer, no address)
 * that no connection followed, or whose name an RDP server of the capture
 * carries, grouped per client and related name. Lookups a connection's own
 * dns_failure finding already cites are left out.
 */
export function dnsCaptureFindings(input: DiagnosisInput, perConnection: Map<string, Finding[]>): Finding[] {
  // Frame numbers and the capture's end are per file: a lookup is judged by its own file.
  const ends = input.captureEnd.filter((e) => typeof e === 'number' && Number.isFinite(e));
  const lastEnd = ends.length > 0 ? Math.max(...ends) : -Infinity;
  const endOf = (fileIndex: number): number => {
    const e = input.captureEnd[fileIndex];
    return typeof e === 'number' && Number.isFinite(e) ? e : lastEnd;
  };
  const fileOf = new Map<string, number>();
  for (const c of input.connections) fileOf.set(c.id, c.fileIndex);
  const cited = new Set<string>();
  for (const [id, list] of perConnection) {
    const fi = fileOf.get(id) ?? 0;
    for (const f of list) if (f.cause === 'dns_failure') for (const fr of f.frames) cited.add(`${fi}:${fr}`);
  }
  const isCited = (q: DnsTransaction, frame: number | null): boolean => frame !== null && cited.has(`${q.fileIndex}:${frame}`);
  const files = input.files ?? [];
  const inFile = (fileIndex: number): string => (files.length > 1 && files[fileIndex] !== undefined ? ` in ${files[fileIndex]}` : '');

  // Failed lookups, clustered per client by related name and time.
  const failed = input.dns
    .filter(hostLookup)
    .map((q) => ({ q, failure: lookupFailure(q, endOf(q.fileIndex)) }))
    .filter((x): x is { q: DnsTransaction; failure: string } => x.failure !== null)
    .sort((a, b) => a.q.time - b.q.time || a.q.queryFrame - b.q.queryFrame);
  const clusters: Cluster[] = [];
  // Per client, the clusters a later lookup may still join. With times in order (no NaN), a cluster
  // whose last lookup is more than DNS_CLUSTER_SECONDS before this one can join no later lookup
  // either: it leaves the list (the first match in creation order is the same; the search no longer
  // grows with every cluster the client ever had).
  let inOrder = true;
  for (let i = 1; i < failed.length; i++) if (!(failed[i - 1]!.q.time <= failed[i]!.q.time)) inOrder = false;
  const clientClusters = new Map<string, Cluster[]>();
  for (const x of failed) {
    const key = `${x.q.fileIndex} ${x.q.client}`;
    const mine = clientClusters.get(key);
    let c: Cluster | undefined;
    if (mine !== undefined && inOrder) {
      let kept = 0;
      for (let i = 0; i < mine.length; i++) {
        const k = mine[i]!;
        if (x.q.time - k.last > DNS_CLUSTER_SECONDS) continue;
        mine[kept++] = k;
        // (the former test as it was: with infinite times the difference may be NaN)
        if (c === undefined && x.q.time - k.last <= DNS_CLUSTER_SECONDS && related(k.names, x.q.name)) c = k;
      }
      mine.length = kept;
    } else c = mine?.find((k) => x.q.time - k.last <= DNS_CLUSTER_SECONDS && related(k.names, x.q.name));
    if (c) {
      c.lookups.push(x);
      c.last = x.q.time;
      if (!c.names.some((n) => n.toLowerCase() === x.q.name.toLowerCase())) c.names.push(x.q.name);
    } else {
      const k: Cluster = { fileIndex: x.q.fileIndex, client: x.q.client, lookups: [x], names: [x.q.name], first: x.q.time, last: x.q.time };
      clusters.push(k);
      if (mine) mine.push(k);
      else clientClusters.set(key, [k]);
    }
  }
  // The names of the capture's RDP servers, gathered from every connection only when a cluster asks.
  let known: Map<string, KnownName> | null = null;
  const failingPerClient = new Map<string, number>();
  for (const c of clusters) failingPerClient.set(c.client, (failingPerClient.get(c.client) ?? 0) + 1);

  const out: Finding[] = [];
  for (const c of clusters) {
    // An AAAA lookup without an address is what IPv4-only names give: not a failure on its own.
    if (!c.lookups.some((l) => l.failure !== 'no address' || l.q.qtype === 1)) continue;
    // The name resolved after all (another type, a retry, another suffix of it).
    const resolved = lookupsBetween(input, c.fileIndex, c.client, c.first - DNS_CLUSTER_SECONDS, c.last + DNS_FOLLOW_SECONDS).some(
      (q) => q.addresses.length > 0 && related(c.names, q.name),
    );
    if (resolved) continue;
    if (c.lookups.some((l) => isCited(l.q, l.q.queryFrame) || isCited(l.q, l.q.responseFrame))) continue;

    const owner = ownerOf((known ??= knownNames(input)), c.names);
    const fromClient = connectionsFromClient(input, c.client);
    // A connection's own dns_failure rule weighs the lookups of its own file only (its frames are that file's).
    const followers = fromClient.filter((o) => o.fileIndex === c.fileIndex && o.start >= c.first && o.start <= c.last + DNS_FOLLOW_SECONDS);
    const toOwner = owner ? followers.find((o) => o.flow.server.ip === owner.server) ?? null : null;
    if (!owner && followers.length > 0) continue; // the connection's own dns_failure rule weighs that lookup
    // The capture holds RDP attempts, none of them from this client, and nothing names the lookup an RDP server's: another program's.
    const clientRdp = fromClient.length > 0;
    if (!owner && input.connections.length > 0 && !clientRdp) continue;
    const noDataOnly = c.lookups.every((l) => l.failure === 'no address');

    const many = (failingPerClient.get(c.client) ?? 0) > DNS_MANY_NAMES || clusters.length > 2 * DNS_MANY_NAMES;
    let confidence: number;
    const reasons: string[] = [];
    let after: string;
    if (owner && toOwner) {
      confidence = 0.6;
      after = `the client still reached ${toOwner.server} by address (connection ${toOwner.id}, ${secondsText(Math.max(0, toOwner.start - c.last))} later)`;
      reasons.push(`The name is the server's (${owner.via}), but the client reached it anyway (a cached or typed address, the hosts file), so the failed lookup did not stop this attempt.`);
    } else if (owner) {
      confidence = 0.75;
      after = followers.length > 0 ? `the client connected elsewhere, not to ${owner.server}` : `no connection attempt from ${c.client} followed`;
      reasons.push(`The name is an RDP server's (${owner.via}); the capture cannot show that this lookup was for a Remote Desktop connection rather than another program.`);
    } else if (clientRdp) {
      confidence = 0.55;
      after = `no connection attempt from ${c.client} followed within ${secondsText(DNS_FOLLOW_SECONDS)}`;
      reasons.push(`Nothing in the capture ties the name to Remote Desktop: ${c.client} made RDP connections in this capture, but none after this lookup, and another program may have made it.`);
    } else {
      confidence = 0.65;
      after = `no connection attempt from ${c.client} followed within ${secondsText(DNS_FOLLOW_SECONDS)}`;
      reasons.push('Nothing in the capture ties the name to Remote Desktop: a client that cannot resolve the server\'s name never sends a packet to it, so a failed lookup with no attempt after it is what that looks like, but another program may have made the lookup.');
    }
    if (noDataOnly) {
      confidence -= 0.1;
      reasons.push('The name exists but has no address record of the type asked for, which may be a name that is not a host at all.');
    }
    if (many) {
      confidence -= 0.2;
      reasons.push(`${plural(clusters.length, 'failed lookup')} in this capture (${plural(failingPerClient.get(c.client) ?? 0, 'name')} from ${c.client}): the DNS server itself may be failing, and most of those lookups are not for the server.`);
    }

    const byName = new Map<string, { name: string; types: Set<string>; failures: Set<string>; frames: number[] }>();
    for (const l of c.lookups) {
      const k = l.q.name.toLowerCase();
      let e = byName.get(k);
      if (!e) byName.set(k, (e = { name: l.q.name, types: new Set(), failures: new Set(), frames: [] }));
      e.types.add(QTYPE[l.q.qtype] ?? `type ${l.q.qtype}`);
      e.failures.add(l.failure);
      e.frames.push(l.q.queryFrame);
      if (l.q.responseFrame !== null) e.frames.push(l.q.responseFrame);
    }
    const parts = [...byName.values()].map(
      (e) => `"${e.name}" (${[...e.types].join(', ')}: ${[...e.failures].join(', ')}, ${framesText([...new Set(e.frames)].sort((a, b) => a - b))})`,
    );
    const servers = [...new Set(c.lookups.map((l) => l.q.server))];
    const failures = [...new Set(c.lookups.map((l) => l.failure))];
    const mainName = c.names.reduce((a, b) => (b.includes('.') && !a.includes('.') ? b : a));
    out.push(
      makeFinding('dns_failure', {
        confidence,
        confidenceReason: reasons.join(' '),
        frames: c.lookups.flatMap((l) => [l.q.queryFrame, l.q.responseFrame]),
        explanation: `The lookups of ${parts.join(', then ')}${inFile(c.fileIndex)} by ${c.client} (DNS server ${servers.join(', ')}) failed, and ${after}.`,
        filter: c.names.map((n) => `dns.qry.name == ${filterString(n)}`).join(' || '),
        summary: `the name "${mainName}" did not resolve (${failures.join(', ')})`,
      }),
    );
  }
  return out.sort((a, b) => b.confidence - a.confidence || (a.frames[0] ?? 0) - (b.frames[0] ?? 0)).slice(0, CAPTURE_DNS_MAX_FINDINGS);
}
