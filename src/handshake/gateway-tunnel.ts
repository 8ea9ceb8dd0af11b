// The connection an RD Gateway tunnels (issue 14, step 3): GatewayWatch feeds the data bytes of the
// decrypted MS-TSGU DATA packets (2.2.10.6) to a ConnectionMachine of their own, as a direct
// TCP/3389 flow's bytes, and when the outer flow ends its record gets here. tunnelRecord() adds
// what the outer connection went through: the gateway phases (types.ts PHASES: gateway_tls,
// gateway_auth, gateway_tunnel, gateway_channel, between the outer TCP handshake and the tunnelled
// X.224 exchange), their timeline events, the gateway's refusal as the death of an attempt that
// never got its channel, and the `gateway` block (the gateway, the target as CHANNEL_CREATE names
// it, the decrypted exchange). Nothing here is a cause: src/diagnose/gateway.ts reads the block.
import { endpointText, type Endpoint } from '../flow/types.js';
import type { GatewayPlain } from './gateway-plain.js';
import type { ConnectionRecord, GatewayPhase, GatewayTunnel, PhaseReached, TimelineEvent } from './types.js';
import { phaseIndex } from './types.js';

/** A /KdcProxy request (MS-KKDCP through the gateway's HTTPS) is not a step of the tunnel. */
export function isKdcProxy(target: string | null): boolean {
  return target !== null && /^\/kdcproxy/i.test(target);
}

/**
 * Whether a decrypted connection is an attempt to tunnel RDP: the client sent MS-TSGU's own HTTP
 * methods (RDG_OUT_DATA, which also carries the WebSocket upgrade, and RDG_IN_DATA: MS-TSGU 2.2.3.2,
 * 3.3.5.1). A KDC proxy POST, or any other HTTPS with the key log's secret (a browser's, its
 * WebSockets included), is not: it never becomes a connection record.
 */
export function isTunnelAttempt(p: GatewayPlain): boolean {
  return p.http.some((x) => x.method === 'RDG_OUT_DATA' || x.method === 'RDG_IN_DATA');
}

/**
 * The legacy HTTP transport (MS-TSGU 2.2.3.2, 3.3.5.1): the client sends on an RDG_IN_DATA connection
 * and receives on an RDG_OUT_DATA connection answered 200, two TCP connections. Each carries one
 * direction of the tunnelled RDP connection, so neither alone is read as it (a one-sided stream would
 * look like a server that never answered); only a refusal on one of them makes a connection record.
 * The WebSocket transport (2.2.3.3: the RDG_OUT_DATA upgrade answered 101) carries both directions.
 */
export function isLegacyChannel(p: GatewayPlain): boolean {
  return p.http.some((x) => x.method === 'RDG_IN_DATA' || (x.method === 'RDG_OUT_DATA' && x.status === 200 && !x.webSocket));
}

/** Both directions of the tunnel run on this connection: the WebSocket upgrade was answered 101. */
export function carriesBothDirections(p: GatewayPlain): boolean {
  return p.http.some((x) => x.webSocket && x.status === 101) && !isLegacyChannel(p);
}

/** MS-TSGU packet types of the tunnel set-up (2.2.10: handshake, tunnel, tunnel authorization). */
const TUNNEL_PACKETS = new Set(['handshake_request', 'handshake_response', 'extended_auth', 'tunnel_create', 'tunnel_response', 'tunnel_auth', 'tunnel_auth_response']);
const CHANNEL_PACKETS = new Set(['channel_create', 'channel_response']);
/** The gateway's answers whose failed result code ends the attempt. */
const ANSWERS: Record<string, GatewayPhase> = {
  handshake_response: 'gateway_tunnel',
  extended_auth: 'gateway_tunnel',
  tunnel_response: 'gateway_tunnel',
  tunnel_auth_response: 'gateway_tunnel',
  channel_response: 'gateway_channel',
};

/** The gateway's refusal before the channel opened (the answer that ended the attempt), or null. */
export function gatewayRefusal(p: GatewayPlain): GatewayTunnel['refusal'] {
  if (p.packets.some((k) => k.type === 'channel_response' && !k.failed)) return null;
  const bad = p.packets.find((k) => k.failed && ANSWERS[k.type] !== undefined);
  if (bad !== undefined) {
    const target = p.target !== null ? ` to ${JSON.stringify(p.target.host)} port ${p.target.port}` : '';
    return { phase: ANSWERS[bad.type]!, frame: bad.frame, what: `the RD Gateway answered ${bad.type.toUpperCase()}${target} with ${bad.codeName ?? 'a failure code'} (frame ${bad.frame})` };
  }
  // The gateway's last answer to its own requests (not the KDC proxy's): a final 401, a 403 or 5xx.
  const answered = p.http.filter((x) => x.status !== null && !isKdcProxy(x.target));
  const last = answered[answered.length - 1];
  if (last === undefined) return null;
  // A request after the 401 (its answer not captured): the client went on, no refusal seen (RFC 4559 round trips).
  const later = p.http.some((x) => x !== last && x.status === null && x.requestFrame !== null && last.responseFrame !== null && x.requestFrame > last.responseFrame);
  const what = `${last.method ?? 'a request'}${last.target !== null ? ` ${last.target}` : ''}`;
  if (last.status === 401 && !later) return { phase: 'gateway_auth', frame: last.responseFrame, what: `the RD Gateway answered ${what} with 401 (frame ${last.responseFrame}): it did not accept the user` };
  const refused = answered.find((x) => x.status === 403 || x.status! >= 500);
  if (refused !== undefined) return { phase: 'gateway_auth', frame: refused.responseFrame, what: `the RD Gateway refused ${what} with ${refused.status} (frame ${refused.responseFrame})` };
  return null;
}

/** "host:port" of the target as named (an IPv6 literal in brackets, as endpoints are written). */
export function targetText(t: { host: string; port: number }): string {
  // Untrusted text: brackets inside the name would make it ambiguous, so they are written %5B / %5D (RFC 3986 2.1).
  const host = t.host.replace(/\[/g, '%5B').replace(/\]/g, '%5D');
  return host.includes(':') || host === '' ? `[${host}]:${t.port}` : `${host}:${t.port}`;
}

/**
 * Adds the outer connection's phases, timeline and refusal to the tunnelled connection's record
 * (made by its own ConnectionMachine from the outer TCP events and the DATA packets' bytes).
 * `timeOf` gives the time of an outer frame that carried decrypted bytes.
 */
export function tunnelRecord(rec: ConnectionRecord, o: { readStop?: { frame: number; reason: string } | null; server: Endpoint; sni: string | null; clientRandom: string | null; clientHelloFrame: number; plain: GatewayPlain; timeOf: (frame: number) => number }): void {
  const p = o.plain;
  const t = o.timeOf;
  const phases: PhaseReached[] = [];
  const events: TimelineEvent[] = [];
  const reach = (phase: GatewayPhase, frame: number | null): void => {
    if (frame === null || phases.some((x) => x.phase === phase)) return;
    phases.push({ phase, frame, time: t(frame), inferred: false, confidence: 1 });
  };
  const ev = (frame: number | null, by: 'client' | 'server', phase: GatewayPhase, event: string, detail?: string): void => {
    if (frame === null) return;
    events.push({ frame, time: t(frame), direction: by === 'client' ? 'c2s' : 's2c', event, ...(detail !== undefined ? { detail } : {}), phase, decrypted: true });
  };
  reach('gateway_tls', o.clientHelloFrame);
  for (const x of p.http) {
    if (isKdcProxy(x.target)) continue;
    reach('gateway_auth', x.requestFrame ?? x.responseFrame);
    ev(x.requestFrame, 'client', 'gateway_auth', `RD Gateway: ${x.method ?? 'request'} ${x.target ?? ''}`.trim(), x.authorization !== null ? `Authorization: ${x.authorization}` : undefined);
    if (x.status !== null) ev(x.responseFrame, 'server', 'gateway_auth', `RD Gateway: HTTP ${x.status}${x.reason !== null && x.reason !== '' ? ` ${x.reason}` : ''}`, x.challenges.length > 0 ? `WWW-Authenticate: ${x.challenges.join(', ')}` : undefined);
  }
  for (const k of p.packets) {
    const phase: GatewayPhase | null = TUNNEL_PACKETS.has(k.type) ? 'gateway_tunnel' : CHANNEL_PACKETS.has(k.type) ? 'gateway_channel' : null;
    if (phase !== null) reach(phase, k.frame);
    const detail =
      k.type === 'channel_create' && p.target !== null && p.target.frame === k.frame
        ? `target ${JSON.stringify(p.target.host)} port ${p.target.port}`
        : k.codeName !== null
          ? k.codeName
          : undefined;
    ev(k.frame, k.by, phase ?? 'gateway_channel', `MS-TSGU ${k.type.toUpperCase()}`, detail);
  }
  const refusal = gatewayRefusal(p);
  let reached: GatewayPhase | 'none' = 'none';
  for (const x of phases) if (reached === 'none' || phaseIndex(x.phase) > phaseIndex(reached)) reached = x.phase as GatewayPhase;
  // The outer phases come between the outer TCP handshake and the tunnelled X.224 exchange.
  rec.phases = [...rec.phases, ...phases].sort((a, b) => phaseIndex(a.phase) - phaseIndex(b.phase) || a.frame - b.frame);
  rec.timeline = [...rec.timeline, ...events].sort((a, b) => a.frame - b.frame);
  if (reached !== 'none' && phaseIndex(rec.reached) < phaseIndex(reached)) rec.reached = reached;
  if (refusal !== null) {
    rec.outcome = 'failed';
    rec.incompleteReason = null;
    rec.died = { phase: refusal.phase, how: 'gateway_refusal', by: 'server', frame: refusal.frame, detail: refusal.what };
  } else if (rec.died !== null && reached !== 'none' && phaseIndex(rec.died.phase) < phaseIndex(reached)) {
    // Ended before the tunnelled RDP began: it died in the gateway phase it was in, never "in the TCP handshake".
    rec.died = { ...rec.died, phase: reached };
  }
  // The tunnel was read only in part: what came after is not in the record (say so, never guess).
  const stop = o.readStop ?? (p.problem !== null ? { frame: null, reason: p.problem } : null);
  if (stop !== null) {
    rec.warnings.push({ frame: stop.frame, offset: null, message: `the RD Gateway connection was not read to its end (${stop.reason}): the tunnelled connection's later bytes are not in this record, so how it ended may not be what it shows` });
  }
  rec.server = p.target !== null ? targetText(p.target) : endpointText(o.server);
  rec.gateway = {
    gateway: endpointText(o.server),
    sni: o.sni,
    clientRandom: o.clientRandom,
    target: p.target,
    sighting: null,
    reached,
    refusal,
    exchange: p,
  };
}
