// network_unstable: loss and delay counted by the flow table (retransmissions,
// duplicate ACKs, RTT samples, idle gaps). Thresholds are chosen so that a
// healthy capture (a couple of spurious retransmissions, keep-alives) does not
// trip them; they are listed in docs/causes.md.
import { phaseIndex, type PhaseReached } from '../../handshake/types.js';
import { convFilter, makeFinding, secondsText } from '../facts.js';
import type { Rule } from '../types.js';
import { mtuEvidence } from './mtu_blackhole.js';

export const THRESHOLDS = {
  /** Retransmissions (both directions, keep-alives excluded) ... */
  retransmissions: 5,
  /** ... that are also at least this share of all packets. */
  retransmissionRate: 0.03,
  /** Duplicate ACKs (two fast-retransmit triggers). */
  dupAcks: 6,
  /** An RTT sample at least this long ... */
  rttSpikeSeconds: 1.0,
  /** ... and this many times the median. */
  rttSpikeFactor: 5,
  /** SYN answered only after this long (SYN retransmitted). */
  slowHandshakeSeconds: 1.0,
  /** A gap in the flow this long that ends with a retransmission. */
  gapSeconds: 5,
  /** Two consecutive handshake phases this far apart (not counting TLS -> CredSSP, where the user may answer a prompt). */
  slowPhaseSeconds: 5,
  /** Keep-alives unanswered at the end of a connection (the peer or the path went away). */
  unansweredKeepAlives: 2,
  /** Signals needed for a finding (one strong loss signal is enough). */
  signals: 2,
  /** Strong loss: this many retransmissions at this rate. */
  strongRetransmissions: 10,
  strongRate: 0.1,
} as const;

function inFrameOrder(phases: readonly PhaseReached[]): boolean {
  for (let i = 1; i < phases.length; i++) if (!(phases[i - 1]!.frame <= phases[i]!.frame)) return false;
  return true;
}

export const networkUnstable: Rule = {
  cause: 'network_unstable',
  check(conn) {
    const tcp = conn.flow.tcp;
    if (!tcp || conn.outcome === 'completed') return null;
    const T = THRESHOLDS;
    const packets = conn.flow.packets[0] + conn.flow.packets[1];
    const retx = tcp.retransmissions[0] + tcp.retransmissions[1];
    const rate = packets > 0 ? retx / packets : 0;
    const dup = tcp.dupAcks[0] + tcp.dupAcks[1];
    const signals: string[] = [];
    const frames: number[] = [];
    let strong = false;

    if (retx >= T.retransmissions && rate >= T.retransmissionRate) {
      signals.push(`${retx} of ${packets} packets were retransmissions (${Math.round(rate * 100)}%)`);
      frames.push(...tcp.retransmissionFrames[0].slice(0, 3), ...tcp.retransmissionFrames[1].slice(0, 3));
      if (retx >= T.strongRetransmissions && rate >= T.strongRate) strong = true;
    }
    if (dup >= T.dupAcks) signals.push(`${dup} duplicate ACKs`);
    for (const dir of [0, 1] as const) {
      const r = tcp.rtt[dir];
      if (r && r.count >= 2 && r.max >= T.rttSpikeSeconds && r.max >= T.rttSpikeFactor * r.median) {
        signals.push(`the RTT reached ${secondsText(r.max)} against a median of ${secondsText(r.median)}`);
        break;
      }
    }
    if (tcp.handshakeRtt !== null && tcp.handshakeRtt >= T.slowHandshakeSeconds && tcp.synFrames.length > 1) {
      signals.push(`the SYN was answered only after ${secondsText(tcp.handshakeRtt)} and ${tcp.synFrames.length - 1} retransmission(s)`);
      frames.push(...tcp.synFrames, ...tcp.synAckFrames.slice(0, 1));
    }
    if (tcp.maxIdle && tcp.maxIdle.seconds >= T.gapSeconds && (tcp.retransmissionFrames[0].includes(tcp.maxIdle.frame) || tcp.retransmissionFrames[1].includes(tcp.maxIdle.frame))) {
      signals.push(`the flow stalled for ${secondsText(tcp.maxIdle.seconds)} before a retransmission in frame ${tcp.maxIdle.frame}`);
      frames.push(tcp.maxIdle.frame);
    }
    // Keep-alives a side sent at the end that the other never answered (RFC 9293 3.8.4, RFC 1122
    // 4.2.3.6), followed by the end of the connection: the path (or the peer) went away.
    const d = conn.died;
    for (const dir of [0, 1] as const) {
      const run = tcp.unansweredKeepAlives[dir];
      if (run === null || run.count < T.unansweredKeepAlives) continue;
      const side = dir === 0 ? 'client' : 'server';
      const ended = d !== null && d.frame !== null && d.frame > run.lastFrame && (d.how === 'rst' || d.how === 'fin' || d.how === 'timeout');
      signals.push(`${run.count} keep-alives from the ${side} (frames ${run.firstFrame}-${run.lastFrame}) got no answer${ended ? `, then the ${d!.by} ${d!.how === 'rst' ? 'reset' : d!.how === 'fin' ? 'closed' : 'gave up on'} the connection in frame ${d!.frame}` : ''}`);
      frames.push(run.firstFrame, run.lastFrame);
      if (ended) strong = true;
      break;
    }
    // In frame order (a stable sort: a list in that order already is used as it is).
    const phases = inFrameOrder(conn.phases) ? conn.phases : [...conn.phases].sort((a, b) => a.frame - b.frame);
    for (let i = 1; i < phases.length; i++) {
      const a = phases[i - 1]!;
      const b = phases[i]!;
      if (a.phase === 'tls' && b.phase === 'credssp') continue;
      if (phaseIndex(b.phase) >= phaseIndex('active')) continue;
      if (b.time - a.time >= T.slowPhaseSeconds) {
        signals.push(`the ${a.phase} -> ${b.phase} step took ${secondsText(b.time - a.time)} (frames ${a.frame} -> ${b.frame})`);
        frames.push(a.frame, b.frame);
        break;
      }
    }
    if (signals.length < T.signals && !strong) return null;

    const mtu = mtuEvidence(conn);
    let confidence = strong && signals.length < 2 ? 0.6 : Math.min(0.85, 0.45 + 0.12 * signals.length);
    let reason = 'Loss and delay show the path was unstable during the attempt; whether that is why it failed depends on the moment it died.';
    if (mtu) {
      confidence = Math.min(confidence, 0.35);
      reason = 'The loss hits full-size segments only, which points at an MTU black hole rather than a generally unstable path.';
    }
    return makeFinding('network_unstable', {
      confidence,
      confidenceReason: reason,
      frames: [...frames, conn.died?.frame],
      explanation: `The path was unstable: ${signals.join('; ')}.`,
      filter: `${convFilter(conn)} && (tcp.analysis.retransmission || tcp.analysis.duplicate_ack || tcp.analysis.lost_segment)`,
      summary: `the network path was unstable (${signals[0]})`,
    });
  },
};
