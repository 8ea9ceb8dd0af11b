// mtu_blackhole: full-size segments retransmitted and never acknowledged while
// smaller ones pass, with no ICMP "fragmentation needed" / "packet too big"
// (RFC 1191, RFC 8201; RFC 2923 2.1 "PMTUD black hole").
import type { ConnectionRecord } from '../../handshake/types.js';
import type { LostSegmentRef } from '../../flow/types.js';
import { isFragNeeded } from '../codes.js';
import { closeWords, convFilter, makeFinding, plural } from '../facts.js';
import type { Rule } from '../types.js';

/** A segment this close to the MSS (or this large when no MSS was seen) counts as full-size. */
export const FULL_SIZE_FRACTION = 0.9;
export const FULL_SIZE_MIN_BYTES = 1200;
/** Default MSS when the SYN carried none (RFC 9293 3.7.1 allows 536; Ethernet paths use 1460). */
const DEFAULT_MSS = 1460;

export interface MtuEvidence {
  dir: 0 | 1;
  lost: LostSegmentRef[];
  maxAcked: number;
  mss: number;
}

export function mtuEvidence(conn: ConnectionRecord): MtuEvidence | null {
  const tcp = conn.flow.tcp;
  if (!tcp) return null;
  for (const dir of [1, 0] as const) {
    // Segments sent by `dir` are limited by the MSS the other side announced.
    const mss = tcp.mss[dir === 0 ? 1 : 0] ?? DEFAULT_MSS;
    const big = Math.max(FULL_SIZE_MIN_BYTES, Math.floor(mss * FULL_SIZE_FRACTION));
    const lost = tcp.lostSegments.filter((s) => s.dir === dir && !s.acked && s.length >= big && s.retransmitFrames.length >= 1);
    if (lost.length === 0) continue;
    const smallest = Math.min(...lost.map((s) => s.length));
    if (tcp.maxAckedSegment[dir] >= smallest) continue; // segments that large did get through
    return { dir, lost, maxAcked: tcp.maxAckedSegment[dir], mss };
  }
  return null;
}

export const mtuBlackhole: Rule = {
  cause: 'mtu_blackhole',
  check(conn) {
    if (conn.outcome === 'completed') return null;
    const ev = mtuEvidence(conn);
    if (!ev) return null;
    const first = ev.lost[0]!;
    const sender = ev.dir === 1 ? 'server' : 'client';
    const tls = conn.tls;
    const inFlight =
      ev.dir === 1 && tls && tls.serverHelloFrame !== null && first.frame >= tls.serverHelloFrame && (tls.clientFinishedFrame === null || first.frame <= tls.clientFinishedFrame);
    const retx = first.retransmitFrames.length;
    const fragNeeded = conn.flow.icmp.find((i) => isFragNeeded(i.ipVersion, i.type, i.code));
    const passed = ev.maxAcked > 0 ? `segments of up to ${ev.maxAcked} bytes got through` : `no ${sender} data segment was acknowledged at all`;
    let confidence = inFlight ? 0.8 : 0.7;
    if (ev.maxAcked === 0) confidence -= 0.15;
    let reason = 'Loss that only hits full-size segments points at the path MTU, but a lossy link can look the same over a short capture.';
    if (ev.maxAcked === 0) reason += ` No smaller ${sender} segment was acknowledged to compare with.`;
    if (fragNeeded) {
      confidence = 0.5;
      reason = `A router did report a smaller MTU${fragNeeded.mtu ? ` (${fragNeeded.mtu})` : ''} in frame ${fragNeeded.frame}, yet full-size segments went on being lost: the sender may not have received or honoured it.`;
    }
    const d = conn.died;
    const frames = [first.frame, ...first.retransmitFrames, ...ev.lost.slice(1, 3).map((s) => s.frame), fragNeeded?.frame, d?.frame];
    const closed = d !== null && d.frame !== null && (d.how === 'fin' || d.how === 'rst' || d.how === 'tls_alert' || d.how === 'encrypted_alert');
    const end = closed ? `; the ${d!.by} then ${closeWords(d!.how)} in frame ${d!.frame}` : '';
    return makeFinding('mtu_blackhole', {
      confidence,
      confidenceReason: reason,
      frames,
      explanation: `The ${sender}'s ${first.length}-byte segment in frame ${first.frame}${inFlight ? ' (the TLS certificate flight)' : ''} was sent ${plural(retx + 1, 'time')} and never acknowledged${ev.lost.length > 1 ? ` (${plural(ev.lost.length, 'full-size segment')} lost)` : ''}, while ${passed}${fragNeeded ? '' : '; no ICMP "fragmentation needed" arrived'}${end}.`,
      filter: `${convFilter(conn)} && (tcp.len >= ${Math.min(...ev.lost.map((s) => s.length))} || icmp.type == 3 || icmpv6.type == 2)`,
      summary: `full-size packets from the ${sender} are lost on the way (MTU black hole)`,
    });
  },
};
