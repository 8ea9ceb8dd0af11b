// The diagnosis indexes (src/diagnose/lookup.ts) against the scans they replace: the same lists in the
// same order on random data (sorted or not, NaN times, an array that grows or drops its oldest entry),
// and the same answers as the former quadratic helpers for every connection of all fixture captures
// analysed as one run.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { dnsCaptureFindings, DNS_ANSWER_WAIT_SECONDS, DNS_CLUSTER_SECONDS, DNS_FOLLOW_SECONDS, DNS_MANY_NAMES, CAPTURE_DNS_MAX_FINDINGS, hostLookup, lookupFailure } from '../../src/diagnose/capture.js';
import { diagnose } from '../../src/diagnose/index.js';
import {
  certNames,
  filterString,
  hostAnsweredElsewhere,
  isIpLiteral,
  laterCompletedAttempt,
  makeFinding,
  nameMatches,
  framesText,
  plural,
  secondsText,
  serverOwnTtl,
  type ServerTtl,
} from '../../src/diagnose/facts.js';
import { connectionsFromClient, connectionsToServer, lookupsBetween, lookupsOf, startedNear } from '../../src/diagnose/lookup.js';
import { concurrentHalfOpen, concurrentHalfOpenCount } from '../../src/diagnose/rules/server_unresponsive.js';
import { namesUsedFor, DNS_NAME_WINDOW_SECONDS, type UsedName } from '../../src/diagnose/rules/cert_name_mismatch.js';
import { recentLookupElsewhere, DNS_LOOKBACK_SECONDS, DNS_UNNAMED_SECONDS } from '../../src/diagnose/rules/dns_failure.js';
import type { DnsTransaction } from '../../src/flow/types.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { phaseIndex } from '../../src/handshake/types.js';
import type { DiagnosisInput, Finding } from '../../src/diagnose/types.js';

void DNS_ANSWER_WAIT_SECONDS;
const QTYPE: Record<number, string> = { 1: 'A', 28: 'AAAA' };

// ---------------------------------------------------------------- the former scans

function naiveNameMatches(name: string, certName: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const c = certName.toLowerCase().replace(/\.$/, '');
  if (n === c) return true;
  if (c.startsWith('*.')) {
    const rest = c.slice(2);
    const dot = n.indexOf('.');
    if (dot > 0 && n.slice(dot + 1) === rest) return true;
  }
  if (!n.includes('.') && c.split('.')[0] === n) return true;
  if (!c.includes('.') && n.split('.')[0] === c) return true;
  return false;
}

function naiveServerOwnTtl(conn: ConnectionRecord, input: DiagnosisInput): ServerTtl | null {
  const own = conn.flow.tcp;
  if (own && own.synAckFrames.length > 0 && own.ttl[1] !== null) {
    return { ttl: own.ttl[1], connectionId: conn.id, frame: own.synAckFrames[0] ?? null };
  }
  let best: ServerTtl | null = null;
  let bestDist = Infinity;
  for (const o of input.connections) {
    if (o === conn || o.flow.server.ip !== conn.flow.server.ip || o.fileIndex !== conn.fileIndex) continue;
    const t = o.flow.tcp;
    if (!t || t.synAckFrames.length === 0 || t.ttl[1] === null) continue;
    const dist = Math.abs(o.start - conn.start);
    if (dist < bestDist) {
      bestDist = dist;
      best = { ttl: t.ttl[1], connectionId: o.id, frame: t.synAckFrames[0] ?? null };
    }
  }
  return best;
}

function naiveHostAnsweredElsewhere(conn: ConnectionRecord, input: DiagnosisInput): ConnectionRecord | null {
  for (const o of input.connections) {
    if (o === conn || o.flow.server.ip !== conn.flow.server.ip) continue;
    if (o.flow.tcp && o.flow.tcp.synAckFrames.length > 0) return o;
  }
  return null;
}

function naiveLaterCompletedAttempt(conn: ConnectionRecord, input: DiagnosisInput, seconds: number): ConnectionRecord | null {
  for (const o of input.connections) {
    if (o === conn || o.outcome !== 'completed' || o.fileIndex !== conn.fileIndex) continue;
    if (o.flow.client.ip !== conn.flow.client.ip || o.server !== conn.server) continue;
    if (o.start >= conn.start && o.start - conn.end <= seconds) return o;
  }
  return null;
}

function halfDone(o: ConnectionRecord): boolean {
  if (o.outcome === 'completed' || o.transport !== 'tcp') return false;
  if (phaseIndex(o.reached) > phaseIndex('x224')) return false;
  // A Confirm that came only after the client's close (a late answer) leaves it half-done too.
  if (o.negotiation?.confirmFrame == null) return true;
  const closes = [...(o.flow.tcp?.fins ?? []), ...(o.flow.tcp?.rsts ?? [])].filter((c) => c.dir === 0).map((c) => c.frame);
  return closes.some((f) => f < o.negotiation!.confirmFrame!);
}

function naiveConcurrentHalfOpen(conn: ConnectionRecord, input: DiagnosisInput): ConnectionRecord[] {
  return input.connections.filter(
    (o) =>
      o !== conn &&
      o.fileIndex === conn.fileIndex &&
      o.flow.server.ip === conn.flow.server.ip &&
      o.flow.server.port === conn.flow.server.port &&
      halfDone(o) &&
      o.start <= conn.end &&
      o.end >= conn.start,
  );
}

function naiveNamesUsedFor(conn: ConnectionRecord, input: DiagnosisInput): UsedName[] {
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
  for (const q of input.dns) {
    if (q.time > conn.start || q.time < conn.start - DNS_NAME_WINDOW_SECONDS) continue;
    if (q.client !== conn.flow.client.ip || q.fileIndex !== conn.fileIndex) continue;
    if (q.addresses.includes(ip)) add({ name: q.name, source: 'dns', frame: q.responseFrame });
  }
  for (const n of input.names.get(ip) ?? []) add({ name: n, source: 'capture_file', frame: null });
  return out;
}

function answered(q: DnsTransaction): boolean {
  return q.responseFrame !== null && q.rcode === 0 && q.addresses.length > 0;
}

function naiveRecentLookupElsewhere(conn: ConnectionRecord, input: DiagnosisInput): DnsTransaction | null {
  const clientIp = conn.flow.client.ip;
  const serverIp = conn.flow.server.ip;
  let best: DnsTransaction | null = null;
  for (const q of input.dns) {
    if (q.client !== clientIp || q.fileIndex !== conn.fileIndex || q.time > conn.start || q.time < conn.start - DNS_UNNAMED_SECONDS) continue;
    if (q.qtype !== 1 && q.qtype !== 28) continue;
    if (!answered(q) || q.addresses.includes(serverIp)) continue;
    const usedThere = input.connections.some(
      (o) => o.flow.client.ip === clientIp && q.addresses.includes(o.flow.server.ip) && Math.abs(o.start - q.time) <= DNS_LOOKBACK_SECONDS,
    );
    if (usedThere) continue;
    if (!best || q.time > best.time) best = q;
  }
  return best;
}

// The former src/diagnose/capture.ts dnsCaptureFindings, verbatim but for frame numbers being per file
// (lookups judged within their own file: its end, its connections' citations, its clusters).
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
function serverNames(input: DiagnosisInput): { name: string; server: string; via: string }[] {
  const out: { name: string; server: string; via: string }[] = [];
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

/**
 * Failed lookups of host names (NXDOMAIN, SERVFAIL, no answer, no address)
 * that no connection followed, or whose name an RDP server of the capture
 * carries, grouped per client and related name. Lookups a connection's own
 * dns_failure finding already cites are left out.
 */
function naiveDnsCaptureFindings(input: DiagnosisInput, perConnection: Map<string, Finding[]>): Finding[] {
  const ends = input.captureEnd.filter((e) => typeof e === 'number' && Number.isFinite(e));
  const captureEnd = ends.length > 0 ? Math.max(...ends) : -Infinity;
  const endOf = (i: number): number => (Number.isFinite(input.captureEnd[i]) ? input.captureEnd[i]! : captureEnd);
  const cited = new Set<string>();
  for (const [id, list] of perConnection) {
    const fi = input.connections.find((c) => c.id === id)?.fileIndex ?? 0;
    for (const f of list) if (f.cause === 'dns_failure') for (const fr of f.frames) cited.add(`${fi}:${fr}`);
  }
  const files = input.files ?? [];

  // Failed lookups, clustered per client by related name and time.
  const failed = input.dns
    .filter(hostLookup)
    .map((q) => ({ q, failure: lookupFailure(q, endOf(q.fileIndex)) }))
    .filter((x): x is { q: DnsTransaction; failure: string } => x.failure !== null)
    .sort((a, b) => a.q.time - b.q.time || a.q.queryFrame - b.q.queryFrame);
  const clusters: Cluster[] = [];
  for (const x of failed) {
    const c = clusters.find((k) => k.fileIndex === x.q.fileIndex && k.client === x.q.client && x.q.time - k.last <= DNS_CLUSTER_SECONDS && related(k.names, x.q.name));
    if (c) {
      c.lookups.push(x);
      c.last = x.q.time;
      if (!c.names.some((n) => n.toLowerCase() === x.q.name.toLowerCase())) c.names.push(x.q.name);
    } else {
      clusters.push({ fileIndex: x.q.fileIndex, client: x.q.client, lookups: [x], names: [x.q.name], first: x.q.time, last: x.q.time });
    }
  }
  const known = serverNames(input);
  const failingPerClient = new Map<string, number>();
  for (const c of clusters) failingPerClient.set(c.client, (failingPerClient.get(c.client) ?? 0) + 1);

  const out: Finding[] = [];
  for (const c of clusters) {
    // An AAAA lookup without an address is what IPv4-only names give: not a failure on its own.
    if (!c.lookups.some((l) => l.failure !== 'no address' || l.q.qtype === 1)) continue;
    // The name resolved after all (another type, a retry, another suffix of it).
    const resolved = input.dns.some(
      (q) => q.fileIndex === c.fileIndex && q.client === c.client && q.addresses.length > 0 && q.time >= c.first - DNS_CLUSTER_SECONDS && q.time <= c.last + DNS_FOLLOW_SECONDS && related(c.names, q.name),
    );
    if (resolved) continue;
    if (c.lookups.some((l) => cited.has(`${c.fileIndex}:${l.q.queryFrame}`) || (l.q.responseFrame !== null && cited.has(`${c.fileIndex}:${l.q.responseFrame}`)))) continue;

    const owner = known.find((k) => related(c.names, k.name)) ?? null;
    const followers = input.connections.filter((o) => o.fileIndex === c.fileIndex && o.flow.client.ip === c.client && o.start >= c.first && o.start <= c.last + DNS_FOLLOW_SECONDS);
    const toOwner = owner ? followers.find((o) => o.flow.server.ip === owner.server) ?? null : null;
    if (!owner && followers.length > 0) continue; // the connection's own dns_failure rule weighs that lookup
    // The capture holds RDP attempts, none of them from this client, and nothing names the lookup an RDP server's: another program's.
    const clientRdp = input.connections.some((o) => o.flow.client.ip === c.client);
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
        explanation: `The lookups of ${parts.join(', then ')}${files.length > 1 && files[c.fileIndex] !== undefined ? ` in ${files[c.fileIndex]}` : ''} by ${c.client} (DNS server ${servers.join(', ')}) failed, and ${after}.`,
        filter: c.names.map((n) => `dns.qry.name == ${filterString(n)}`).join(' || '),
        summary: `the name "${mainName}" did not resolve (${failures.join(', ')})`,
      }),
    );
  }
  return out.sort((a, b) => b.confidence - a.confidence || (a.frames[0] ?? 0) - (b.frames[0] ?? 0)).slice(0, CAPTURE_DNS_MAX_FINDINGS);
}

// ---------------------------------------------------------------- tests

let seed = 12345;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

function q(id: number, client: string, time: number, fileIndex = 0): DnsTransaction {
  return { fileIndex, id, client, server: '10.0.0.53', queryFrame: id, time, name: `h${id}.example`, qtype: 1, responseFrame: null, responseTime: null, rcode: null, addresses: [], cnames: [] };
}

function naiveBetween(dns: DnsTransaction[], fileIndex: number, client: string, from: number, to: number, notOutside: boolean): DnsTransaction[] {
  return dns.filter((x) => x.fileIndex === fileIndex && x.client === client && (notOutside ? !(x.time < from || x.time > to) : x.time >= from && x.time <= to));
}

describe('lookupsBetween', () => {
  const clients = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  for (const kind of ['sorted', 'unsorted', 'with NaN', 'equal times'] as const) {
    it(`gives the filter's list on ${kind} times, while the array grows and drops its oldest entries`, () => {
      const dns: DnsTransaction[] = [];
      const input: DiagnosisInput = { connections: [], dns, captureEnd: [], names: new Map() };
      let t = 1000;
      for (let step = 0; step < 400; step++) {
        // grow (the streaming path), sometimes drop the oldest (the DNS log when full)
        const add = 1 + rnd(4);
        for (let i = 0; i < add; i++) {
          t += kind === 'equal times' ? rnd(2) : kind === 'sorted' ? rnd(5) : rnd(5) - 2;
          // two capture files: a lookup is only ever found for its own file
          dns.push(q(step * 10 + i, clients[rnd(3)]!, kind === 'with NaN' && rnd(20) === 0 ? NaN : t, rnd(4) === 0 ? 1 : 0));
        }
        if (rnd(5) === 0) dns.shift();
        for (let k = 0; k < 3; k++) {
          const c = clients[rnd(3)]!;
          const fi = rnd(2);
          const from = t - rnd(40);
          const to = rnd(10) === 0 ? NaN : from + rnd(30) - 3;
          for (const notOutside of [false, true]) {
            expect(lookupsBetween(input, fi, c, from, to, notOutside)).toEqual(naiveBetween(dns, fi, c, from, to, notOutside));
          }
          expect(lookupsOf(input, fi, c)).toEqual(dns.filter((x) => x.fileIndex === fi && x.client === c));
        }
      }
    });
  }
});

describe('the per-list helpers (answered, completed, overlapping, nearest) on random records, while the list grows', () => {
  // Many attempts to few servers from few clients: the case that made the scans quadratic.
  // equal: many equal starts; ordered: no connection ends before it starts (counted by bisection);
  // jittered: the same, in an order that is not their starts' (counted by the scan).
  const times = ['finite', 'with NaN and infinities', 'equal', 'ordered', 'jittered'] as const;
  for (const kind of times) {
    it(`answer as the former scans (${kind} times)`, () => {
      // xorshift32: every bit random (the file's rnd() repeats in its low bits).
      let x = 0x9e3779b9;
      const rnd = (n: number): number => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % n;
      };
      const seen = { answered: 0, completed: 0, overlapping: 0, ttl: 0 };
      const connections: ConnectionRecord[] = [];
      const input: DiagnosisInput = { connections, dns: [], captureEnd: [], names: new Map() };
      const odd = (x: number): number => (kind !== 'with NaN and infinities' || rnd(15) !== 0 ? x : [NaN, Infinity, -Infinity][rnd(3)]!);
      let t = 1000;
      for (let step = 0; step < 150; step++) {
        for (let k = 1 + rnd(4); k > 0; k--) {
          t += kind === 'equal' ? rnd(2) : rnd(4);
          const start = kind === 'jittered' ? t - rnd(8) : odd(t);
          const end = kind === 'ordered' || kind === 'jittered' ? start + rnd(40) : odd(kind === 'equal' ? start + rnd(3) : start + rnd(40) - 2);
          const ip = `10.0.0.${rnd(2)}`;
          const port = 3389 + rnd(2);
          const reached = (['tcp', 'x224', 'tls'] as const)[rnd(3)]!;
          const outcome = (['completed', 'failed', 'incomplete_capture'] as const)[rnd(3)]!;
          const base = connections[rnd(Math.max(1, connections.length))] ?? null;
          const synAcks = rnd(3) === 0 ? [] : [connections.length + 1];
          connections.push({
            ...(base ?? {}),
            id: `c${connections.length + 1}`,
            transport: 'tcp',
            fileIndex: rnd(5) === 0 ? 1 : 0,
            client: `10.9.0.${rnd(2)}:${1024 + step}`,
            server: `${ip}:${port}`,
            start,
            end,
            outcome,
            reached,
            negotiation: rnd(2) ? null : ({ confirmFrame: rnd(2) ? null : 7 } as ConnectionRecord['negotiation']),
            flow: { client: { ip: `10.9.0.${rnd(2)}`, port: 1024 + step }, server: { ip, port }, tcp: rnd(6) === 0 ? null : { synAckFrames: synAcks, ttl: [64, rnd(3) === 0 ? null : 60 + rnd(5)], fins: rnd(3) === 0 ? [{ dir: 0, frame: 6, time: 0 }] : [], rsts: [] } },
          } as unknown as ConnectionRecord);
        }
        for (let k = 0; k < 4; k++) {
          const c = connections[rnd(connections.length)]!;
          const answered = hostAnsweredElsewhere(c, input);
          expect(answered, c.id).toBe(naiveHostAnsweredElsewhere(c, input));
          for (const sec of [0, 5, 30]) {
            const later = laterCompletedAttempt(c, input, sec);
            expect(later, c.id).toBe(naiveLaterCompletedAttempt(c, input, sec));
            if (later) seen.completed++;
          }
          const ttl = serverOwnTtl(c, input);
          expect(ttl, c.id).toEqual(naiveServerOwnTtl(c, input));
          if (ttl && ttl.connectionId !== c.id) seen.ttl++;
          const half = concurrentHalfOpen(c, input);
          expect(half, c.id).toEqual(naiveConcurrentHalfOpen(c, input));
          for (const firstN of [0, 1, 5]) {
            const first: ConnectionRecord[] = [];
            expect(concurrentHalfOpenCount(c, input, first, firstN), c.id).toBe(half.length);
            expect(first, c.id).toEqual(half.slice(0, firstN));
          }
          if (answered) seen.answered++;
          if (half.length > 1) seen.overlapping++;
        }
      }
      expect(connections.length).toBeGreaterThan(200);
      // Answers to compare, not only nulls and empty lists.
      expect(seen.answered).toBeGreaterThan(50);
      expect(seen.completed).toBeGreaterThan(2);
      expect(seen.overlapping).toBeGreaterThan(10);
      expect(seen.ttl).toBeGreaterThan(10);
    });
  }
});

describe('startedNear', () => {
  it("answers as list.some(ips.includes(server) && |start - time| <= seconds) while the list grows", () => {
    let x = 0x1234567;
    const rnd = (n: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const odd = (v: number): number => (rnd(20) !== 0 ? v : [NaN, Infinity, -Infinity][rnd(3)]!);
    const list: ConnectionRecord[] = [];
    let hits = 0;
    for (let step = 0; step < 300; step++) {
      list.push({ start: odd(1000 + rnd(2000) / 4), flow: { server: { ip: `10.0.0.${rnd(4)}` } } } as unknown as ConnectionRecord);
      for (let k = 0; k < 5; k++) {
        const ips = Array.from({ length: rnd(3) }, () => `10.0.0.${rnd(5)}`);
        const time = odd(1000 + rnd(2000) / 4);
        const seconds = [0, 0.25, 5, 120][rnd(4)]!;
        const want = list.some((o) => ips.includes(o.flow.server.ip) && Math.abs(o.start - time) <= seconds);
        expect(startedNear(list, ips, time, seconds)).toBe(want);
        if (want) hits++;
      }
    }
    expect(hits).toBeGreaterThan(100);
  });
});

describe('nameMatches', () => {
  it('answers as the former regular-expression version on every pair of a name set', () => {
    const names = ['rdp', 'RDP', 'rdp.', 'rdp.corp.example', 'RDP.corp.example.', '*.corp.example', '*.CORP.example.', 'x.corp.example', 'corp', 'corp.example', '.rdp', '', '.', '*.', '*.rdp', 'a.b.c', 'rdp.corp', '10.0.0.5', 'rdp..corp'];
    for (const a of names) for (const b of names) expect(nameMatches(a, b), `${a} ~ ${b}`).toBe(naiveNameMatches(a, b));
  });
});

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CAPTURES = path.join(repoRoot, 'fixtures', 'captures');

describe('the indexed helpers against the former scans, over all fixture captures as one run', async () => {
  const files = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f)).sort();
  const r = await analyze(files.map((f) => ({ kind: 'file' as const, path: path.join(CAPTURES, f) })), { jobs: 1, rdpPorts: [3389, 3390, 4489, 13389] });
  const connections: ConnectionRecord[] = r.connections.map(({ findings: _f, ...c }) => c as ConnectionRecord);
  // The fixtures' DNS, plus copies moved onto the clients of the connections (so every client has lookups near its attempts).
  const dns: DnsTransaction[] = [...r.dns];
  let id = 100000;
  for (const c of connections) {
    for (const base of r.dns) {
      if (rnd(3) !== 0) continue;
      dns.push({ ...base, id: id++, client: c.flow.client.ip, time: c.start - rnd(200), addresses: rnd(2) ? [c.flow.server.ip] : base.addresses });
    }
  }
  dns.sort((a, b) => a.time - b.time);
  const names = new Map<string, string[]>();
  for (const c of connections.slice(0, 5)) names.set(c.flow.server.ip, [`srv-${c.id}.corp.example`, 'rdp']);
  const input: DiagnosisInput = { connections, dns, captureEnd: r.capture.files.map((f) => f.end ?? 0), names };

  it('has connections and lookups to compare', () => {
    expect(connections.length).toBeGreaterThan(30);
    expect(dns.length).toBeGreaterThan(50);
  });

  it('per connection: server TTL, host answered, later completed attempt, concurrent half-open, names used, lookup elsewhere', () => {
    for (const c of connections) {
      expect(serverOwnTtl(c, input), c.id).toEqual(naiveServerOwnTtl(c, input));
      expect(hostAnsweredElsewhere(c, input), c.id).toBe(naiveHostAnsweredElsewhere(c, input));
      for (const s of [5, 30, 300]) expect(laterCompletedAttempt(c, input, s), c.id).toBe(naiveLaterCompletedAttempt(c, input, s));
      const half = naiveConcurrentHalfOpen(c, input);
      expect(concurrentHalfOpen(c, input), c.id).toEqual(half);
      const first: ConnectionRecord[] = [];
      expect(concurrentHalfOpenCount(c, input, first, 5), c.id).toBe(half.length);
      expect(first, c.id).toEqual(half.slice(0, 5));
      expect(namesUsedFor(c, input), c.id).toEqual(naiveNamesUsedFor(c, input));
      expect(recentLookupElsewhere(c, input), c.id).toBe(naiveRecentLookupElsewhere(c, input));
      expect(lookupsBetween(input, c.fileIndex, c.flow.client.ip, c.start - DNS_LOOKBACK_SECONDS, c.start)).toEqual(
        dns.filter((x) => x.fileIndex === c.fileIndex && x.client === c.flow.client.ip && x.time <= c.start && x.time >= c.start - DNS_LOOKBACK_SECONDS),
      );
      expect(connectionsToServer(input, c.flow.server.ip)).toEqual(connections.filter((o) => o.flow.server.ip === c.flow.server.ip));
      expect(connectionsFromClient(input, c.flow.client.ip)).toEqual(connections.filter((o) => o.flow.client.ip === c.flow.client.ip));
    }
  });

  it('capture-wide DNS findings as the former scan gives them', () => {
    const per = diagnose(input);
    expect(dnsCaptureFindings(input, per)).toEqual(naiveDnsCaptureFindings(input, per));
    const none = new Map<string, Finding[]>();
    const failing: DnsTransaction[] = dns.map((x, i) => (i % 3 === 0 ? { ...x, rcode: 3, addresses: [] } : x));
    const other: DiagnosisInput = { ...input, dns: failing };
    expect(dnsCaptureFindings(other, none)).toEqual(naiveDnsCaptureFindings(other, none));
    expect(dnsCaptureFindings(other, none).length + dnsCaptureFindings(input, per).length).toBeGreaterThan(0);
  });

  it('capture-wide DNS findings as the former scan gives them: many failed lookups over time, some times NaN or infinite', () => {
    // Clusters that can no longer grow leave the per-client search (times in order); any NaN turns that off.
    for (const odd of [[], [NaN, Infinity, -Infinity], [Infinity, -Infinity]]) {
      const many: DnsTransaction[] = [];
      for (let i = 0; i < 600; i++) {
        const base = dns[rnd(dns.length)]!;
        const time = odd.length > 0 && rnd(25) === 0 ? odd[rnd(odd.length)]! : 1000 + i * (1 + rnd(40));
        const fail = rnd(3) !== 0;
        many.push({ ...base, id: 500000 + i, time, name: `h${rnd(12)}.corp.example`, client: connections[rnd(4)]!.flow.client.ip, rcode: fail ? 3 : 0, addresses: fail ? [] : [connections[rnd(4)]!.flow.server.ip] });
      }
      const none = new Map<string, Finding[]>();
      const other: DiagnosisInput = { ...input, dns: many, captureEnd: input.captureEnd.map(() => 1e6) };
      const got = dnsCaptureFindings(other, none);
      expect(got).toEqual(naiveDnsCaptureFindings(other, none));
      expect(got.length).toBeGreaterThan(0);
    }
  });
});
