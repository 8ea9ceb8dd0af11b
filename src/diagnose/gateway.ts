// RD Gateway connections seen without their keys (issue 14, step 1). mstsc behind an RD Gateway
// does not connect to 3389: it opens HTTPS to the gateway (TCP 443, MS-TSGU 2.1 HTTP transport) and
// optionally its UDP transport (3391), and the RDP connection to the target runs inside that TLS.
// Without the gateway's TLS keys the capture shows only the outer TLS handshake and the encrypted
// records, so this module says what the cleartext proves, and no more:
//   shown     the client also talks to UDP 3391 of the same host (RD Gateway's UDP transport);
//   likely    the SNI, the certificate or the DNS name of the host names a gateway (rdg, gateway ...);
//   possible  HTTPS from a client with no direct RDP connection in the capture: it could be an RD
//             Gateway, and a key log would tell.
// It never turns a gateway connection into a failed RDP attempt: the sightings are not connections.
import type { GatewaySighting } from '../handshake/gateway-watch.js';
import type { CertificateInfo, ConnectionRecord, GatewayExchange } from '../handshake/types.js';
import { endpointText } from '../flow/types.js';
import { isLegacyChannel, isTunnelAttempt } from '../handshake/gateway-tunnel.js';
import type { DiagnosisInput, Finding } from './types.js';
import { filterString, framesText, isoDateTime, makeFinding, plural, secondsText } from './facts.js';
import { joinLegacyChannels } from './gateway-legacy.js';
import { gatewayCertRefusal } from './gateway-cert.js';

export type GatewayEvidence = 'shown' | 'likely' | 'possible';

/** What the capture shows of one client's HTTPS connections to one host that is (or may be) an RD Gateway. */
export interface GatewayNote {
  evidence: GatewayEvidence;
  client: string;
  /** "ip:443" */
  gateway: string;
  /** Names the gateway goes by in the capture (SNI, certificate, DNS), untrusted text. */
  names: string[];
  /** The TCP sightings (ids) and the UDP 3391 ones. */
  connections: string[];
  udpConnections: string[];
  frames: number[];
  /** One or two sentences for people. */
  text: string;
  /** With the key log: how the gateway refused the connection (its first refusal, as in `text`), or null. */
  refusal: string | null;
  /** Whether a connection of the note was decrypted and read as MS-TSGU (the key log had its secret). */
  decrypted: boolean;
  /**
   * With the key log: the tunnel's target (CHANNEL_CREATE's resource and port, untrusted text),
   * whether the gateway opened it, and the connection (connections[].id) the tunnelled RDP became, or null.
   */
  tunnel: { host: string; port: number; opened: boolean; connection: string | null } | null;
  /**
   * With the key log: the gateway transport its decrypted connections carried (MS-TSGU 2.1):
   * 'websocket', 'http' (the legacy HTTP transport's IN and OUT channels), 'rpc_over_http' (the
   * legacy RPC transport, recognised and not decoded); absent when nothing decrypted showed it.
   */
  transport?: 'websocket' | 'http' | 'rpc_over_http';
}

/** Labels a gateway's host name is commonly given (RD Gateway Manager's deployments, Azure and hosting templates). */
const GATEWAY_LABEL = /^(rdg|rdgw|rdgateway|rds?-?gw|rdsgateway|gateway|gw|tsg|tsgw|tsgateway|rdweb|remote|remotedesktop|rdp-?gw)[0-9-]*$/;

/** Whether a DNS name's first label names a gateway ("rdg.corp.example", "gw01.example"). */
export function gatewayLikeName(name: string): boolean {
  const first = name.toLowerCase().replace(/^\*\./, '').split('.')[0] ?? '';
  return GATEWAY_LABEL.test(first);
}

function certNamesOf(c: CertificateInfo | null): string[] {
  if (c === null) return [];
  const cn = /(?:^|,)\s*CN=([^,]+)/.exec(c.subject)?.[1];
  return [...(cn !== undefined ? [cn] : []), ...c.san.map((s) => s.replace(/^DNS:/i, ''))];
}

/** Known names of a host: the capture's name records and the DNS answers that resolved to it. */
function dnsNames(input: DiagnosisInput, ip: string): string[] {
  const out = [...(input.names.get(ip) ?? [])];
  for (const q of input.dns) if (q.addresses.includes(ip)) out.push(q.name.replace(/\.$/, ''));
  return out;
}

/** At most this many notes of each kind (the longest-lived connections' first). */
const MAX_NOTES = 5;

/** The RD Gateway notes of a run: one per client and gateway host, proven ones first. */
export function gatewayNotes(input: DiagnosisInput): GatewayNote[] {
  const joined = joinLegacyChannels(input.gateways ?? []);
  const all = joined.sightings;
  pairs = joined.pairOf;
  if (all.length === 0) return [];
  const tcp = all.filter((g) => g.transport === 'tcp' && g.tls !== null);
  const udp = all.filter((g) => g.transport === 'udp');
  const direct = new Set(input.connections.filter((c) => c.gateway === undefined).map((c) => `${c.fileIndex} ${c.flow.client.ip}`));
  // Sighting id -> the connection its tunnelled RDP became (gateway-tunnel.ts).
  // The legacy HTTP transport's tunnel: each of its two channels' sightings names the connection.
  const tunnelled = new Map(input.connections.flatMap((c) => recordedSightings(c).map((s) => [s, c.id] as const)));
  const groups = new Map<string, GatewaySighting[]>();
  for (const g of tcp) {
    const k = `${g.fileIndex} ${g.client.ip} ${endpointText(g.server)}`;
    const l = groups.get(k);
    if (l) l.push(g);
    else groups.set(k, [g]);
  }
  const notes: GatewayNote[] = [];
  const possible: GatewaySighting[][] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const side = udp.filter((u) => u.fileIndex === first.fileIndex && u.client.ip === first.client.ip && u.server.ip === first.server.ip);
    const names = unique([...list.flatMap((g) => [g.tls!.sni, ...certNamesOf(g.tls!.certificate)]), ...dnsNames(input, first.server.ip)].filter((n): n is string => n !== null && n.length > 0));
    const named = names.filter(gatewayLikeName);
    if (list.some(speaksTsgu)) notes.push(note('shown', list, side, names, named, tunnelled));
    else if (side.length > 0) notes.push(note('shown', list, side, names, named, tunnelled));
    else if (named.length > 0) notes.push(note('likely', list, [], names, named, tunnelled));
    else if (!direct.has(`${first.fileIndex} ${first.client.ip}`)) possible.push(list);
  }
  // UDP 3391 with no HTTPS to the same host in the capture: the gateway's UDP transport alone.
  for (const u of udp) {
    if (tcp.some((g) => g.fileIndex === u.fileIndex && g.client.ip === u.client.ip && g.server.ip === u.server.ip)) continue;
    if (notes.some((n) => n.udpConnections.includes(u.id))) continue;
    const same = udp.filter((x) => x.fileIndex === u.fileIndex && x.client.ip === u.client.ip && x.server.ip === u.server.ip);
    if (same[0] !== u) continue;
    notes.push({
      evidence: 'shown',
      client: u.client.ip,
      gateway: endpointText(u.server),
      names: [],
      connections: [],
      udpConnections: same.map((x) => x.id),
      frames: same.map((x) => x.firstFrame),
      refusal: null,
      decrypted: false,
      tunnel: null,
      text: `${u.client.ip} sent UDP to ${endpointText(u.server)} (${framesText(same.map((x) => x.firstFrame))}), the port of RD Gateway's UDP transport, but its HTTPS connection to that gateway is not in the capture: RDP through a gateway starts over HTTPS (TCP 443), so capture from before the connection starts.`,
    });
  }
  const ranked = possible.sort((a, b) => weight(b) - weight(a));
  for (const list of ranked.slice(0, MAX_NOTES)) notes.push(note('possible', list, [], [], [], tunnelled));
  if (ranked.length > MAX_NOTES) {
    const rest = ranked.slice(MAX_NOTES);
    const n = rest.reduce((a, l) => a + l.length, 0);
    notes.push({
      evidence: 'possible',
      client: rest[0]![0]!.client.ip,
      gateway: `${plural(rest.length, 'more host')}`,
      names: [],
      connections: rest.flatMap((l) => l.map((g) => g.id)),
      udpConnections: [],
      frames: [],
      refusal: null,
      decrypted: false,
      tunnel: null,
      text: `${plural(n, 'more HTTPS connection')} to ${plural(rest.length, 'other host')} could also be RD Gateway connections.`,
    });
  }
  const order: Record<GatewayEvidence, number> = { shown: 0, likely: 1, possible: 2 };
  return notes.sort((a, b) => order[a.evidence] - order[b.evidence]);
}

function tunnelOf(list: GatewaySighting[], tunnelled: ReadonlyMap<string, string>): GatewayNote['tunnel'] {
  // The connection that carries the gateway's CHANNEL_RESPONSE first (a legacy OUT channel's joined view), then any with a target.
  const answered = list.filter((g) => g.tls?.plain?.packets.some((k) => k.type === 'channel_response') === true);
  for (const g of [...answered, ...list]) {
    const p = g.tls?.plain ?? null;
    if (p === null || p.target === null) continue;
    return { host: p.target.host, port: p.target.port, opened: p.packets.some((k) => k.type === 'channel_response' && !k.failed), connection: tunnelled.get(g.id) ?? null };
  }
  return null;
}

/** Its decrypted plaintext is MS-TSGU's HTTP transport (an RDG_OUT_DATA / RDG_IN_DATA request or a gateway packet) or RPC over HTTP to the gateway. */
function speaksTsgu(g: GatewaySighting): boolean {
  const p = g.tls?.plain ?? null;
  return p !== null && (p.packets.length > 0 || p.transport === 'rpc_over_http' || p.http.some((x) => x.method === 'RDG_OUT_DATA' || x.method === 'RDG_IN_DATA'));
}

/** The legacy channels paired by the last gatewayNotes() (sighting id -> the other channel's id), for shown() of its notes. */
let pairs = new Map<string, string>();

/** What the note says of the transport, after "they carry". */
const TRANSPORT_WORDS: Record<NonNullable<GatewayNote['transport']>, string> = {
  websocket: "MS-TSGU's HTTP transport over WebSocket",
  http: "MS-TSGU's legacy HTTP transport (an IN and an OUT channel, without the WebSocket upgrade)",
  rpc_over_http: "RD Gateway's legacy RPC over HTTP transport (RPC_IN_DATA / RPC_OUT_DATA to /rpc/rpcproxy.dll, MS-RPCH): recognised, not decoded further, so where the connection stopped inside it is not read",
};

function transportOf(list: GatewaySighting[]): GatewayNote['transport'] {
  const ts = list.map((g) => g.tls?.plain?.transport ?? null);
  return ts.find((t) => t === 'rpc_over_http') ?? ts.find((t) => t === 'http') ?? ts.find((t) => t === 'websocket') ?? undefined;
}

/** Seconds times server bytes: long-lived, busy HTTPS first (an RDP session through a gateway is both). */
function weight(list: GatewaySighting[]): number {
  return list.reduce((a, g) => a + Math.max(0, g.end - g.start) + g.bytes.server / 10_000, 0);
}

function unique(names: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of names) {
    const k = n.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(n);
  }
  return out;
}

function note(evidence: GatewayEvidence, list: GatewaySighting[], side: GatewaySighting[], names: string[], named: string[], tunnelled: ReadonlyMap<string, string>): GatewayNote {
  const first = list[0]!;
  const gateway = endpointText(first.server);
  const label = named[0] ?? names[0];
  const who = `${list.length === 1 ? 'the HTTPS connection' : `${list.length} HTTPS connections`} from ${first.client.ip} to ${gateway}${label !== undefined ? ` (${JSON.stringify(label)})` : ''}`;
  const decrypted = list.some(speaksTsgu);
  const transport = decrypted ? transportOf(list) : undefined;
  const why =
    evidence === 'shown' && decrypted
      ? `${who} ${list.length === 1 ? 'is' : 'are'} an RD Gateway's: decrypted with the key log, ${list.length === 1 ? 'it carries' : 'they carry'} ${transport !== undefined ? TRANSPORT_WORDS[transport] : "MS-TSGU's HTTP transport"}`
      : evidence === 'shown'
      ? `${who} ${list.length === 1 ? 'is' : 'are'} an RD Gateway's: the same client sent UDP to port 3391 of that host (${framesText(side.map((s) => s.firstFrame))}), RD Gateway's UDP transport`
      : evidence === 'likely'
        ? `${who} ${list.length === 1 ? 'is' : 'are'} most likely an RD Gateway's: the name ${JSON.stringify(named[0])} names a gateway`
        : `${who} could be an RD Gateway's (no direct RDP connection from that client is in the capture)`;
  const shows = list.slice(0, 3).map(shown).join('; ');
  const more = list.length > 3 ? `; and ${plural(list.length - 3, 'more connection')}` : '';
  // Once each: a legacy tunnel's two channels name the same connection.
  const recorded = [...new Set(list.map((g) => tunnelled.get(g.id)).filter((x): x is string => x !== undefined))];
  const tail = decrypted
    ? recorded.length > 0
      ? `The RDP ${recorded.length === 1 ? 'connection' : 'connections'} through the gateway ${recorded.length === 1 ? 'is' : 'are'} ${recorded.join(', ')}, with ${recorded.length === 1 ? 'its' : 'their'} gateway and RDP phases.`
      : list.some((g) => g.tls?.plain != null && isLegacyChannel(g.tls.plain) && g.tls.plain.data.client + g.tls.plain.data.server > 0)
        ? "The RDP connection inside the tunnel is not analysed: the legacy HTTP transport carries its two directions on two connections (RDG_IN_DATA and RDG_OUT_DATA), and no other channel with its RDG-Connection-Id was open alongside it in the capture."
        : ''
    : evidence === 'possible'
      ? 'a key log of the client\'s TLS sessions (--keylog) would tell whether it carried RDP.'
      : 'whether the gateway accepted the user and reached the target is inside its TLS: a key log of the client\'s TLS sessions (--keylog) would show it.';
  return {
    evidence,
    client: first.client.ip,
    gateway,
    names,
    connections: list.map((g) => g.id),
    udpConnections: side.map((s) => s.id),
    frames: [...list.map((g) => g.tls!.clientHelloFrame), ...side.map((s) => s.firstFrame)],
    text: `${capitalize(why)}. ${capitalize(shows)}${more}.${tail !== '' ? ` ${capitalize(tail)}` : ''}`,
    decrypted,
    tunnel: tunnelOf(list, tunnelled),
    ...(transport !== undefined ? { transport } : {}),
    refusal:
      list.map((g) => (g.tls?.plain && isTunnelAttempt(g.tls.plain) ? plainSays(g.tls.plain).find((c) => /refused|could not reach/.test(c)) : undefined)).find((c) => c !== undefined) ??
      // Without keys: the client refused the gateway's certificate (gateway-cert.ts), on a connection named a gateway's.
      (evidence !== 'possible' ? (list.map(gatewayCertRefusal).find((c) => c !== null) ?? null) : null),
  };
}

/** What the cleartext shows of one connection: its TLS handshake, how long it carried data, how it ended. */
function shown(g: GatewaySighting): string {
  const t = g.tls!;
  const parts: string[] = [`connection ${g.id}: ClientHello in frame ${t.clientHelloFrame}${t.sni !== null ? ` (SNI ${JSON.stringify(t.sni)})` : ''}`];
  const alert = t.alerts.find((a) => a.description !== 'close_notify');
  if (alert !== undefined) parts.push(`the ${alert.by} ended the TLS handshake with alert ${alert.description} (frame ${alert.frame})`);
  // The gateway may have answered with bytes that are not a readable ServerHello (RFC 5246 7.4.1.3):
  // "no ServerHello followed" would then be contradicted by the frame Wireshark shows.
  else if (t.serverHelloFrame === null) parts.push(g.bytes.server > 0 ? `the gateway answered (${g.bytes.server} bytes) but with no ServerHello that could be read` : 'no ServerHello followed');
  else if (t.firstAppData.client !== null && t.firstAppData.server !== null) {
    parts.push(`${t.version ?? 'TLS'} handshake completed, then ${secondsText(Math.max(0, g.end - g.start))} of encrypted data (${kb(g.bytes.client)} from the client, ${kb(g.bytes.server)} from the gateway)`);
  } else {
    const only = t.firstAppData.client !== null ? 'only the client' : t.firstAppData.server !== null ? 'only the gateway' : null;
    parts.push(`${t.version ?? 'TLS'} handshake started (ServerHello in frame ${t.serverHelloFrame}) but ${only !== null ? `${only} sent encrypted data after it` : 'no encrypted data followed from either side'}`);
  }
  const pair = pairs.get(g.id);
  if (t.plain !== null && t.plain.channel != null && pair !== undefined) {
    parts.push(`the legacy HTTP transport's ${t.plain.channel === 'in' ? 'IN channel (RDG_IN_DATA: the client\'s packets)' : 'OUT channel (RDG_OUT_DATA: the gateway\'s packets)'}, paired with connection ${pair} by its RDG-Connection-Id`);
  }
  if (t.plain !== null && t.plain.channel === 'in' && pair !== undefined) parts.push(...plainSays({ ...t.plain, packets: [], target: null }));
  else if (t.plain !== null) parts.push(...plainSays(t.plain));
  else if (t.decryption === 'no_key') parts.push('the key log has no secret for this session');
  else if (t.decryption === 'unsupported') parts.push(`its ${t.version ?? 'TLS'} records are not decrypted (TLS 1.2 and 1.3 are)`);
  const c = t.certificate;
  if (c !== null) {
    const at = g.start;
    const after = Date.parse(c.notAfter) / 1000;
    const before = Date.parse(c.notBefore) / 1000;
    if (Number.isFinite(after) && after < at) parts.push(`the gateway's certificate expired on ${isoDateTime(after)} (frame ${t.certificateFrame}): mstsc refuses it`);
    else if (Number.isFinite(before) && before > at) parts.push(`the gateway's certificate is not valid before ${isoDateTime(before)} (frame ${t.certificateFrame})`);
  }
  const e = g.ended;
  if (e !== null) {
    if (e.how === 'capture_end') parts.push('still open when the capture ended');
    else parts.push(`${e.by !== null ? `the ${e.by === 'server' ? 'gateway' : 'client'} ` : ''}${e.how === 'rst' ? 'reset it' : 'closed it'}${e.frame !== null ? ` (frame ${e.frame})` : ''}`);
  }
  return parts.join(', ');
}

/** What the decrypted HTTP transport said (gateway-plain.ts), clause by clause. */
function plainSays(p: NonNullable<NonNullable<GatewaySighting['tls']>['plain']>): string[] {
  const out: string[] = [];
  const answered = p.http.filter((x) => x.status !== null);
  for (const x of answered) {
    if (x.status === null) continue;
    // A 401 the client answers with another request is a step of NTLM / Negotiate (RFC 4559), not a
    // refusal, also when that request's answer is not in the capture (RPC over HTTP's IN channel has none).
    if (x.status === 401 && (x !== answered[answered.length - 1] || p.http.some((y) => y.requestFrame !== null && x.responseFrame !== null && y.requestFrame > x.responseFrame))) continue;
    const what = x.method !== null ? `${x.method} ${x.target ?? ''}`.trim() : 'a request';
    const offers = x.challenges.length > 0 ? ` offering ${x.challenges.join(', ')}` : '';
    if (x.target !== null && /^\/kdcproxy/i.test(x.target)) {
      out.push(
        x.status >= 500
          ? `the gateway's KDC proxy answered ${what}${x.version === 'HTTP/2' ? ' over HTTP/2' : ''} with ${x.status} ${x.reason ?? ''} (frame ${x.responseFrame}): Kerberos through the gateway failed, so the client falls back to NTLM`.replace(/ +\(/, ' (')
          : `the KDC proxy answered ${what} with ${x.status} (frame ${x.responseFrame})`,
      );
      continue;
    }
    if (x.status === 401) out.push(`the gateway answered ${what} with 401 ${x.reason ?? ''}${offers}${x.authorization !== null ? ` to the client's ${x.authorization} credentials: it refused the user's authentication` : ''} (frame ${x.responseFrame})`.replace(/ +(\(| to| offering)/g, ' $1'));
    else if (x.status === 403 || x.status >= 500) out.push(`the gateway refused ${what} with ${x.status} ${x.reason ?? ''} (frame ${x.responseFrame})`.replace(/ +\(/, ' ('));
    else if (x.status === 101) out.push(`${what} switched to WebSocket (101, frame ${x.responseFrame})`);
    else if (x.status === 200 && x.method !== null && /^RPC_(IN|OUT)_DATA$/.test(x.method)) out.push(`the gateway's RPC proxy accepted ${what} (200, frame ${x.responseFrame})`);
  }
  for (const k of p.packets) {
    if (!k.failed) continue;
    const name = k.codeName ?? 'a failure';
    if (k.type === 'channel_response') {
      const target = p.target !== null ? `${JSON.stringify(p.target.host)} port ${p.target.port}` : 'the target';
      if (/RAP_ACCESSDENIED/.test(name)) out.push(`the gateway's resource authorization policy (RD RAP) refused the tunnel to ${target}: CHANNEL_RESPONSE ${name} (frame ${k.frame})`);
      else if (/TS_CONNECTFAILED/.test(name)) out.push(`the gateway could not reach ${target}: CHANNEL_RESPONSE ${name} (frame ${k.frame})`);
      else out.push(`the gateway refused the channel to ${target}: CHANNEL_RESPONSE ${name} (frame ${k.frame})`);
    } else out.push(`the gateway's ${k.type.replace(/_/g, ' ')} carries ${name} (frame ${k.frame})`);
  }
  if (p.target !== null && !p.packets.some((k) => k.failed)) {
    const opened = p.packets.some((k) => k.type === 'channel_response' && !k.failed);
    out.push(`${opened ? 'the tunnel to' : 'the client asked for a tunnel to'} ${JSON.stringify(p.target.host)} port ${p.target.port}${opened ? ' is open' : ''} (frame ${p.target.frame}), with ${plural(p.data.client, 'DATA packet')} from the client and ${p.data.server} from the gateway`);
  }
  if (p.problem !== null) out.push(`decoding stopped: ${p.problem}`);
  return out;
}

function kb(n: number): string {
  return n < 1024 ? `${n} bytes` : `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
}

function capitalize(s: string): string {
  return s.length > 0 ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/**
 * The headline's clause about gateways (null when there is nothing to say). HTTPS that only could be
 * a gateway's is told only when `possibleToo` (the capture holds no RDP connection: then it is the
 * one lead); beside RDP connections it stays in the report's gateway section.
 */
export function gatewayClause(notes: readonly GatewayNote[], possibleToo = true): string | null {
  if (notes.length === 0) return null;
  const shownOrLikely = notes.filter((n) => n.evidence !== 'possible');
  if (shownOrLikely.length > 0) {
    // A gateway's refusal (decrypted) leads: it is the answer the user is looking for.
    const n = shownOrLikely.find((x) => x.refusal !== null) ?? shownOrLikely[0]!;
    const others = shownOrLikely.length - 1;
    const through = n.evidence === 'shown' ? 'connected through the RD Gateway' : 'most likely connected through an RD Gateway at';
    const label = `${n.client} ${through} ${n.gateway}${n.names[0] !== undefined ? ` (${JSON.stringify(n.names[0])})` : ''}${others > 0 ? ` (and ${plural(others, 'more gateway')})` : ''}`;
    if (n.refusal !== null) return `${label}, and ${n.refusal.replace(/ \(frame \d+\)/, '')}`;
    if (n.decrypted && n.transport === 'rpc_over_http' && n.tunnel === null) {
      return `${label}, over the legacy RPC over HTTP transport: it is recognised, not decoded, so whether the gateway accepted the user's tunnel and reached the target is not read`;
    }
    if (n.decrypted) {
      const t = n.tunnel;
      const tunnel = t === null ? 'the gateway exchange was decrypted but no tunnel was asked for' : `the tunnel to ${JSON.stringify(t.host)} port ${t.port} ${t.opened ? 'opened' : 'was asked for and not answered'}`;
      const kdc = /KDC proxy answered POST \S+(?: over HTTP\/2)? with (5\d\d)/.exec(n.text);
      const fallback = kdc !== null ? `; its KDC proxy answered ${kdc[1]}, so Kerberos failed and the client fell back to NTLM` : '';
      return `${label}${fallback}; ${tunnel}${t?.opened && t.connection !== null ? ` (connection ${t.connection})` : ''}`;
    }
    return `${n.client} ${through} ${n.gateway}${n.names[0] !== undefined ? ` (${JSON.stringify(n.names[0])})` : ''}${others > 0 ? ` (and ${plural(others, 'more gateway')})` : ''}; the RDP connection it tunnels is encrypted inside HTTPS, so a key log (--keylog) is needed to see whether and where it failed`;
  }
  if (!possibleToo) return null;
  const hosts = notes.filter((n) => n.connections.length > 0);
  const conns = hosts.reduce((a, n) => a + n.connections.length, 0);
  return `${plural(conns, 'HTTPS connection')} ${conns === 1 ? 'was' : 'were'} seen that could be an RD Gateway's; a key log (--keylog) would tell`;
}

// ---------------------------------------------------------------- findings

/** Gateway findings of a run at most (one per decrypted connection and kind; the most confident first). */
export const MAX_GATEWAY_FINDINGS = 10;

/** A Wireshark display filter for some frames of the conversation `conv`. */
function framesFilter(conv: string, frames: (number | null)[]): string {
  const list = [...new Set(frames.filter((f): f is number => f !== null))];
  return list.length === 0 ? conv : `${conv} && (${list.map((f) => `frame.number == ${f}`).join(' || ')})`;
}

/** A refused CHANNEL_CREATE's result codes that name the target's reachability (MS-TSGU 2.2.6). */
const UNREACHABLE = /^E_PROXY_TS_CONNECTFAILED\b/;
const RAP_DENIED = /^E_PROXY_RAP_ACCESSDENIED\b|^E_PROXY_REAUTH_RAP_FAILED\b/;

/**
 * Capture-wide findings of the decrypted RD Gateway connections (a gateway connection is no
 * ConnectionRecord: its findings are the capture's). Each reads what the decrypted MS-TSGU HTTP
 * transport said (gateway-plain.ts): the gateway's final 401 (gateway_auth_refused), its 403 / 5xx
 * (gateway_refused), a /KdcProxy request answered 5xx (gateway_kdc_proxy_unavailable, a warning),
 * CHANNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED (gateway_rap_refused) or E_PROXY_TS_CONNECTFAILED
 * (gateway_target_unreachable), another failed tunnel response (gateway_refused). Without a key
 * log there is nothing to read, and no finding: the gateway notes say what a key log would show.
 */
export function gatewayFindings(input: DiagnosisInput): Finding[] {
  const out: Finding[] = [];
  // A sighting whose tunnelled connection is a ConnectionRecord (gateway-tunnel.ts) has its refusal
  // told as that connection's finding (gatewayConnectionFindings): not twice.
  const recorded = new Set(input.connections.flatMap(recordedSightings));
  // The legacy HTTP transport's channels joined (gateway-legacy.ts): the OUT channel's view reads the
  // gateway's answers with the IN channel's requests; the IN channel's tunnel steps are told there.
  const joined = joinLegacyChannels(input.gateways ?? []);
  const inJoined: DiagnosisInput = { ...input, gateways: joined.sightings };
  for (const g of joined.sightings) {
    const inOfPair = g.tls?.plain?.channel === 'in' && joined.pairOf.has(g.id);
    out.push(...sightingFindings(g, inJoined, recorded.has(g.id) ? 'kdc' : 'all', inOfPair));
  }
  return out.slice(0, MAX_GATEWAY_FINDINGS);
}

/** The sightings whose tunnel a connection record is: its outer connection's, or both legacy channels'. */
function recordedSightings(c: ConnectionRecord): string[] {
  const gw = c.gateway;
  if (gw === undefined) return [];
  const ids = [gw.sighting, ...(gw.channels ?? []).map((ch) => ch.sighting)];
  return [...new Set(ids.filter((x): x is string => x != null))];
}

/**
 * The findings of a connection tunnelled through an RD Gateway that the gateway refused before the
 * channel opened (ConnectionRecord.gateway.refusal): the same causes, read from its own decrypted
 * exchange, as the connection's findings (the KDC proxy's warning stays the capture's).
 */
export function gatewayConnectionFindings(conn: ConnectionRecord): Finding[] {
  const gw = conn.gateway;
  if (gw === undefined) return [];
  const g: SightingLike = { id: gw.sighting ?? conn.id, fileIndex: conn.fileIndex, transport: 'tcp', client: conn.flow.client, server: conn.flow.server, tls: { sni: gw.sni, plain: gw.exchange } };
  return sightingFindings(g, { connections: [], dns: [], captureEnd: [], names: new Map() }, 'refusal');
}

/** What the gateway findings read of a sighting (or of a tunnelled connection's gateway block). */
type SightingLike = Pick<GatewaySighting, 'id' | 'fileIndex' | 'transport' | 'client' | 'server'> & { tls: { sni: string | null; plain: GatewayExchange | null } | null };

function sightingFindings(g: SightingLike, input: DiagnosisInput, which: 'all' | 'kdc' | 'refusal', inOfPair = false): Finding[] {
  const out: Finding[] = [];
  const files = input.files ?? [];
  {
    const p = g.tls?.plain ?? null;
    if (g.transport !== 'tcp' || p === null) return out;
    const gw = endpointText(g.server);
    const name = g.tls!.sni !== null && g.tls!.sni !== '' ? ` (${JSON.stringify(g.tls!.sni)})` : '';
    const where = `${files.length > 1 && files[g.fileIndex] !== undefined ? ` in ${files[g.fileIndex]}` : ''}`;
    const who = `connection ${g.id}${where} from ${g.client.ip} to the RD Gateway ${gw}${name}`;
    const ip = g.server.ip.includes(':') ? 'ipv6.addr' : 'ip.addr';
    const conv = `${ip} == ${g.client.ip} && ${ip} == ${g.server.ip} && tcp.port == ${g.server.port}`;
    // The client's other connections to the same gateway (the KDC proxy's POST, the NTLM exchange and the tunnel may each have their own).
    const peers = (input.gateways ?? []).filter((o) => o.fileIndex === g.fileIndex && o.client.ip === g.client.ip && endpointText(o.server) === gw && o.tls?.plain != null);
    const target = p.target !== null ? `${JSON.stringify(p.target.host)} port ${p.target.port}` : 'the target';
    let refused = false;

    // The KDC proxy (MS-KKDCP over the gateway's HTTPS): a 5xx sends the client to NTLM.
    const kdc = p.http.find((x) => x.status !== null && x.status >= 500 && x.target !== null && /^\/kdcproxy/i.test(x.target));
    if (kdc !== undefined && which !== 'refusal') {
      const later = peers.flatMap((o) => o.tls!.plain!.http).filter((x) => x.requestFrame !== null && kdc.responseFrame !== null && x.requestFrame > kdc.responseFrame);
      const ntlm = later.some((x) => x.authorization !== null && /^(NTLM|Negotiate)$/i.test(x.authorization));
      const tunnel = peers.map((o) => o.tls!.plain!).find((q) => q.target !== null && q.packets.some((k) => k.type === 'channel_response' && !k.failed)) ?? null;
      const after =
        tunnel !== null
          ? `the gateway then accepted the user and opened the tunnel to ${JSON.stringify(tunnel.target!.host)} port ${tunnel.target!.port} (frame ${tunnel.target!.frame})`
          : ntlm
            ? 'the client then authenticated to the gateway with NTLM'
            : 'no later request to the gateway is in the decrypted bytes';
      out.push(
        makeFinding('gateway_kdc_proxy_unavailable', {
          confidence: ntlm ? 0.9 : 0.75,
          confidenceReason: ntlm
            ? 'The fallback to NTLM is read from the scheme of the requests after the 503; whether policy would have required Kerberos is not in the capture.'
            : 'No request authenticating with NTLM or Negotiate followed the failed KDC proxy request in the decrypted bytes, so the fallback is inferred.',
          frames: [kdc.requestFrame, kdc.responseFrame],
          explanation: `On ${who}, the gateway's KDC proxy answered ${kdc.method ?? 'a request'} ${kdc.target}${kdc.version === 'HTTP/2' ? ' over HTTP/2' : ''} with ${kdc.status}${kdc.reason !== null && kdc.reason !== '' ? ` ${JSON.stringify(kdc.reason)}` : ''} (frame ${kdc.responseFrame}): Kerberos through the gateway failed and the client fell back to NTLM; ${after}.`,
          connection: g.id,
          filter: framesFilter(conv, [kdc.requestFrame, kdc.responseFrame]),
          summary: `the RD Gateway's KDC proxy answered ${kdc.status}, so the client fell back to NTLM`,
        }),
      );
    }

    // Only MS-TSGU's own requests are the gateway's: a 401 or 403 of other HTTPS decrypted with the same
    // key log (a browser's SSLKEYLOGFILE) is no RD Gateway refusing anyone.
    if (which === 'kdc' || !isTunnelAttempt(p)) return out;
    // The gateway's channel answer (MS-TSGU 2.2.10.4 CHANNEL_RESPONSE) and the other tunnel steps
    // (a legacy IN channel's are read on its OUT channel's joined view).
    for (const k of p.packets) {
      if (!k.failed || refused || inOfPair) continue;
      const code = k.codeName ?? 'a failure code';
      const create = p.target !== null ? [p.target.frame] : [];
      if (k.type === 'channel_response' && RAP_DENIED.test(code)) {
        out.push(
          makeFinding('gateway_rap_refused', {
            confidence: 0.95,
            confidenceReason: "The result code is the gateway's own; which RD RAP (or missing one) refused the target is in the gateway's configuration, not the capture.",
            frames: [...create, k.frame],
            explanation: `On ${who}, the gateway's resource authorization policy (RD RAP) refused the tunnel to ${target}: CHANNEL_CREATE (frame ${p.target?.frame ?? '?'}) was answered by CHANNEL_RESPONSE ${code} (frame ${k.frame}).`,
            connection: g.id,
            filter: framesFilter(conv, [...create, k.frame]),
            // The connection's own finding: its headline names the target already.
            summary: which === 'refusal' ? "the RD Gateway's resource authorization policy (RD RAP) does not allow that target" : `the RD Gateway's resource authorization policy (RD RAP) refused the target ${target}`,
          }),
        );
      } else if (k.type === 'channel_response' && UNREACHABLE.test(code)) {
        out.push(
          makeFinding('gateway_target_unreachable', {
            confidence: 0.9,
            confidenceReason: "The gateway says its connection to the target failed; why (name resolution, a firewall, the target down) is on the gateway's side of the network, not in this capture.",
            frames: [...create, k.frame],
            explanation: `On ${who}, the gateway could not reach ${target}: CHANNEL_CREATE (frame ${p.target?.frame ?? '?'}) was answered by CHANNEL_RESPONSE ${code} (frame ${k.frame}).`,
            connection: g.id,
            filter: framesFilter(conv, [...create, k.frame]),
            summary: which === 'refusal' ? 'the RD Gateway could not reach that target' : `the RD Gateway could not reach ${target}`,
          }),
        );
      } else {
        out.push(
          makeFinding('gateway_refused', {
            confidence: 0.85,
            confidenceReason: "The gateway's result code names the refusal but not its configuration's reason.",
            frames: [k.frame],
            explanation: `On ${who}, the gateway answered with ${k.type.replace(/_/g, ' ').toUpperCase()} ${code} (frame ${k.frame}).`,
            connection: g.id,
            filter: framesFilter(conv, [k.frame]),
            summary: `the RD Gateway refused the connection (${code})`,
          }),
        );
      }
      refused = true;
    }

    // The gateway's HTTP answers to its own requests (not the KDC proxy's): the last 401, a 403 or 5xx.
    const answered = p.http.filter((x) => x.status !== null && !(x.target !== null && /^\/kdcproxy/i.test(x.target)));
    const last = answered[answered.length - 1];
    // A request after the 401 (its answer not captured) means the client went on: no refusal seen.
    const later = last !== undefined && p.http.some((x) => x !== last && x.status === null && x.requestFrame !== null && last.responseFrame !== null && x.requestFrame > last.responseFrame);
    if (!refused && last !== undefined && last.status === 401 && !later) {
      const authenticated = last.authorization !== null;
      const what = `${last.method ?? 'a request'}${last.target !== null ? ` ${last.target}` : ''}`;
      const reason = last.reason !== null && last.reason !== '' && last.reason.toLowerCase() !== 'unauthorized' ? last.reason : null;
      out.push(
        makeFinding('gateway_auth_refused', {
          confidence: authenticated ? 0.95 : 0.8,
          confidenceReason: authenticated
            ? 'Whether the password, the account or the RD CAP was at fault is in the gateway\'s logs; the 401 only says the user was not accepted.'
            : 'The request the gateway refused carried no credentials: the client may have stopped before answering the challenge (the user cancelled the prompt).',
          frames: [last.requestFrame, last.responseFrame],
          explanation: `On ${who}, the gateway answered ${what}${authenticated ? ` (carrying the client's ${last.authorization} credentials)` : ''} with 401${reason !== null ? ` ${JSON.stringify(reason)}` : ''}${last.challenges.length > 0 ? ` offering ${last.challenges.join(', ')}` : ''} (frame ${last.responseFrame}): it did not accept the user, and no tunnel to the target was opened.`,
          connection: g.id,
          filter: framesFilter(conv, [last.requestFrame, last.responseFrame]),
          summary: `the RD Gateway refused the user's authentication (401${reason !== null ? ` ${JSON.stringify(reason)}` : ''})`,
        }),
      );
      refused = true;
    }
    if (!refused) {
      const bad = answered.find((x) => x.status === 403 || x.status! >= 500);
      if (bad !== undefined) {
        const what = `${bad.method ?? 'a request'}${bad.target !== null ? ` ${bad.target}` : ''}`;
        out.push(
          makeFinding('gateway_refused', {
            confidence: 0.85,
            confidenceReason: "The HTTP status names the refusal, not the gateway's reason for it (the IIS log's sub-status does).",
            frames: [bad.requestFrame, bad.responseFrame],
            explanation: `On ${who}, the gateway refused ${what} with ${bad.status}${bad.reason !== null && bad.reason !== '' ? ` ${JSON.stringify(bad.reason)}` : ''} (frame ${bad.responseFrame}).`,
            connection: g.id,
            filter: framesFilter(conv, [bad.requestFrame, bad.responseFrame]),
            summary: `the RD Gateway refused the connection with HTTP ${bad.status}`,
          }),
        );
      }
    }
  }
  return out;
}
