// The RD Gateway's legacy HTTP transport (MS-TSGU 2.2.3, 3.3.5.1) is two HTTP connections, two TCP
// flows and two sightings: the IN channel (RDG_IN_DATA: the client's MS-TSGU packets in its request
// body) and the OUT channel (RDG_OUT_DATA: the gateway's packets in its 200's body), related by the
// client's RDG-Connection-Id (2.2.3.2.1). Each sighting's decrypted plaintext (gateway-plain.ts)
// holds one side of the tunnel; this joins them so the gateway's answers are read with the client's
// requests: the OUT channel's view gets the IN channel's packets, its CHANNEL_CREATE target and
// client name, and its DATA count. The IN channel keeps its own view (its HTTP exchange, its target).
import type { GatewaySighting } from '../handshake/gateway-watch.js';
import { joinLegacyPlain } from '../handshake/gateway-legacy-tunnel.js';
import { endpointText } from '../flow/types.js';

export interface JoinedGateways {
  sightings: GatewaySighting[];
  /** Sighting id -> the id of its other channel (both ways). */
  pairOf: Map<string, string>;
}

const cache = new WeakMap<readonly GatewaySighting[], JoinedGateways>();

function key(g: GatewaySighting, id: string): string {
  return `${g.fileIndex} ${g.client.ip} ${endpointText(g.server)} ${id.toLowerCase()}`;
}

/** The sightings with each legacy OUT channel's view joined with its IN channel's (the same array when there is no pair). */
export function joinLegacyChannels(all: readonly GatewaySighting[]): JoinedGateways {
  const hit = cache.get(all);
  if (hit !== undefined) return hit;
  const ins = new Map<string, GatewaySighting>();
  for (const g of all) {
    const p = g.tls?.plain ?? null;
    if (p !== null && p.channel === 'in' && p.connectionId != null) ins.set(key(g, p.connectionId), g);
  }
  const pairOf = new Map<string, string>();
  const sightings = all.map((g) => {
    const p = g.tls?.plain ?? null;
    if (p === null || p.channel !== 'out' || p.connectionId == null || g.tls === null) return g;
    const i = ins.get(key(g, p.connectionId));
    const q = i?.tls?.plain ?? null;
    if (i === undefined || q === null) return g;
    pairOf.set(g.id, i.id);
    pairOf.set(i.id, g.id);
    const joined = joinLegacyPlain(p, q);
    return { ...g, tls: { ...g.tls, plain: joined } };
  });
  const out: JoinedGateways = { sightings: pairOf.size === 0 ? [...all] : sightings, pairOf };
  cache.set(all, out);
  return out;
}
