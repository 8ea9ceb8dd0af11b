// mtu_blackhole: full-size segments retransmitted and never acknowledged while
// smaller ones pass, with no ICMP "fragmentation needed" / "packet too big"
// (RFC 1191, RFC 8201; RFC 2923 2.1 "PMTUD black hole"). Seen from the receiver's
// side (a capture on the client), the full-size segments never appear at all: a
// sequence gap of at least one full segment that nothing fills, with only smaller
// segments of that side after it, the receiver's duplicate ACKs / SACKs, and no more.
import type { ConnectionRecord } from '../../handshake/types.js';
import type { LostSegmentRef, MissingRangeRef } from '../../flow/types.js';
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

/** The same seen at the receiver: full-size segments of `dir` that never reached the capture point. */
export interface MtuGapEvidence {
  dir: 0 | 1;
  /** Holes of at least one full-size segment that nothing filled. */
  missing: MissingRangeRef[];
  /** Largest segment of `dir` that did arrive (smaller than full-size). */
  maxSegment: number;
  mss: number;
  /** Duplicate ACKs the receiver sent for the hole. */
  dupAcks: number;
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

/**
 * Receiver-side evidence: a hole of `dir` of at least one full-size segment that no segment ever
 * filled, while every segment of `dir` that did arrive is smaller than full-size (a lossy path
 * drops small segments too), and the receiver duplicate-ACKed it (RFC 5681 3.2, RFC 2018).
 */
export function mtuGapEvidence(conn: ConnectionRecord): MtuGapEvidence | null {
  const tcp = conn.flow.tcp;
  if (!tcp || tcp.missingRanges.length === 0) return null;
  for (const dir of [1, 0] as const) {
    const mss = tcp.mss[dir === 0 ? 1 : 0] ?? DEFAULT_MSS;
    const big = Math.max(FULL_SIZE_MIN_BYTES, Math.floor(mss * FULL_SIZE_FRACTION));
    const missing = tcp.missingRanges.filter((m) => m.dir === dir && m.bytes >= big);
    if (missing.length === 0) continue;
    if (tcp.maxSegment[dir] >= big) continue; // full-size segments of this side did arrive
    const dupAcks = tcp.dupAcks[dir === 0 ? 1 : 0];
    if (dupAcks === 0) continue; // the receiver never asked for the bytes: not a hole it waited on
    return { dir, missing, maxSegment: tcp.maxSegment[dir], mss, dupAcks };
  }
  return null;
}

export const mtuBlackhole: Rule = {
  cause: 'mtu_blackhole',
  check(conn) {
    if (conn.outcome === 'completed') return null;
    const ev = mtuEvidence(conn);
    if (!ev) return receiverSide(conn);
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

/** The black hole seen from the receiver: the full-size segments never reached the capture point. */
function receiverSide(conn: ConnectionRecord) {
  const ev = mtuGapEvidence(conn);
  if (!ev) return null;
  const tcp = conn.flow.tcp!;
  const first = ev.missing[0]!;
  const sender = ev.dir === 1 ? 'server' : 'client';
  const receiver = ev.dir === 1 ? 'client' : 'server';
  const bytes = ev.missing.reduce((n, m) => n + m.bytes, 0);
  const segments = Math.max(1, Math.round(bytes / ev.mss));
  const tls = conn.tls;
  const inFlight = ev.dir === 1 && tls !== null && tls.clientHelloFrame !== null && tls.clientFinishedFrame === null && first.frame > tls.clientHelloFrame;
  const keepAlives = tcp.keepAlives[ev.dir === 1 ? 0 : 1];
  const fragNeeded = conn.flow.icmp.find((i) => isFragNeeded(i.ipVersion, i.type, i.code));
  let confidence = inFlight ? 0.75 : 0.65;
  let reason =
    'Seen from the receiver, only the gap shows: full-size segments that never arrive while smaller ones do point at the path MTU, but loss of a few segments in a row looks the same in a short capture. A capture on the server side would show them retransmitted.';
  if (fragNeeded) {
    confidence = 0.5;
    reason = `A router did report a smaller MTU${fragNeeded.mtu ? ` (${fragNeeded.mtu})` : ''} in frame ${fragNeeded.frame}, yet full-size segments still did not arrive: the sender may not have received or honoured it.`;
  }
  const d = conn.died;
  const closed = d !== null && d.frame !== null && (d.how === 'fin' || d.how === 'rst' || d.how === 'tls_alert' || d.how === 'encrypted_alert');
  const end = closed ? `; the ${d!.by} then ${closeWords(d!.how)} in frame ${d!.frame}` : '; nothing else followed';
  return makeFinding('mtu_blackhole', {
    confidence,
    confidenceReason: reason,
    frames: [first.frame, ...ev.missing.slice(1, 3).map((m) => m.frame), fragNeeded?.frame, d?.frame],
    explanation: `${first.bytes} bytes of the ${sender}'s data (${segments === 1 ? 'one full-size segment' : `about ${segments} full-size segments`} at its MSS of ${ev.mss}) never arrived before frame ${first.frame}${inFlight ? ' (the TLS certificate flight)' : ''}, while its smaller segments (up to ${ev.maxSegment} bytes) did; the ${receiver} sent ${plural(ev.dupAcks, 'duplicate ACK')}${keepAlives > 0 ? ` and ${plural(keepAlives, 'keep-alive')}` : ''}${fragNeeded ? '' : ', and no ICMP "fragmentation needed" arrived'}${end}.`,
    filter: `${convFilter(conn)} && (tcp.analysis.lost_segment || tcp.analysis.duplicate_ack || tcp.options.sack_le || icmp.type == 3 || icmpv6.type == 2)`,
    summary: `full-size packets from the ${sender} are lost on the way (MTU black hole)`,
  });
}
