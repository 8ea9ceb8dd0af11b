// server_unresponsive: TCP completes, the X.224 Connection Request (MS-RDPBCGR
// 2.2.1.1) is sent and no Connection Confirm (2.2.1.2) ever comes; many such
// half-done handshakes to one server at once point at its pending-connection limit.
import type { ConnectionRecord } from '../../handshake/types.js';
import { phaseIndex } from '../../handshake/types.js';
import { captureEndOf, clientHelloUnread, closeWords, convFilter, frameTime, lateConfirm, makeFinding, plural, secondsText, serverText } from '../facts.js';
import type { DiagnosisInput, Rule } from '../types.js';
import { connectionsToServer, countOverlappingSameServer, overlapping } from '../lookup.js';

/** A client waits this long for the Confirm before the silence is a time-out. */
export const CONFIRM_TIMEOUT_SECONDS = 10;
/** This many other half-done handshakes to the same server at the same time make an overload story. */
export const CONCURRENT_HALF_OPEN = 4;

function halfDone(o: ConnectionRecord): boolean {
  if (o.outcome === 'completed' || o.transport !== 'tcp') return false;
  if (phaseIndex(o.reached) > phaseIndex('x224')) return false;
  // A Confirm that came only after the client gave up left that handshake half-done too.
  return o.negotiation?.confirmFrame == null || lateConfirm(o) !== null;
}

/** Other half-done handshakes to the same server whose lifetime overlaps this one. */
export function concurrentHalfOpen(conn: ConnectionRecord, input: DiagnosisInput): ConnectionRecord[] {
  // The half-done connections to the server IP whose lifetime overlaps this one (by bisection on
  // their starts, lookup.ts), in input order.
  return overlapping(connectionsToServer(input, conn.flow.server.ip), halfDone, conn.start, conn.end, (o) => sameServerOther(o, conn));
}

/**
 * How many concurrentHalfOpen() gives, and its first `firstN` pushed onto `first`: what the rule
 * needs, without the whole list (hundreds per connection in an attempt storm).
 */
export function concurrentHalfOpenCount(conn: ConnectionRecord, input: DiagnosisInput, first: ConnectionRecord[], firstN: number): number {
  // Counted by bisection per file and port (lookup.ts): every half-done handshake of a storm overlaps the others.
  return countOverlappingSameServer(connectionsToServer(input, conn.flow.server.ip), halfDone, conn, first, firstN);
}

function sameServerOther(o: ConnectionRecord, conn: ConnectionRecord): boolean {
  return o !== conn && o.fileIndex === conn.fileIndex && o.flow.server.port === conn.flow.server.port;
}

export const serverUnresponsive: Rule = {
  cause: 'server_unresponsive',
  check(conn, input) {
    const tcp = conn.flow.tcp;
    const neg = conn.negotiation;
    if (!tcp || conn.outcome === 'completed' || tcp.synAckFrames.length === 0) return null;
    const unread = clientHelloUnread(conn);
    if (unread) {
      // RFC 9293 3.10.7.4: a segment that is never acknowledged never reached the receiving TCP's queue.
      const d = conn.died;
      const ends = d && d.by === 'server' ? `, and the server then ${closeWords(d.how)} in frame ${d.frame ?? '?'}` : d && d.by === 'client' ? `, and the client gave up in frame ${d.frame ?? '?'}` : '';
      return makeFinding('server_unresponsive', {
        confidence: 0.5,
        confidenceReason:
          'The server never acknowledged the ClientHello, so it never read it: either the segment did not reach it (a device in between dropping it, such as a firewall inspecting TLS) or the server stopped taking data in; the capture from this side cannot tell which. It is not a certificate problem: the server never got far enough to need one.',
        frames: [conn.negotiation?.confirmFrame, unread.frame, ...unread.retransmitFrames.slice(0, 4), d?.frame],
        explanation: `${serverText(conn)} answered the X.224 Connection Request but never acknowledged the client's ClientHello (frame ${unread.frame}, retransmitted ${unread.retransmitFrames.length} times)${ends}.`,
        filter: `${convFilter(conn)} && (tls.handshake.type == 1 || tcp.analysis.retransmission || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
        summary: `${serverText(conn)} never took in the ClientHello`,
        steps: ['stuckSessions', 'restartBoth', 'testPort'],
      });
    }
    // A Confirm that came only after the client gave up is a late answer, not one (its contents are not the cause).
    const late = lateConfirm(conn);
    if (!neg || neg.requestFrame === null || (!late && (neg.confirmFrame !== null || neg.failureCode !== null))) return null;
    const server = serverText(conn);
    const reqTime = frameTime(conn, neg.requestFrame) ?? conn.start;
    const d = conn.died;
    const firstOthers: ConnectionRecord[] = [];
    const others = concurrentHalfOpenCount(conn, input, firstOthers, 5);
    const crowd = others >= CONCURRENT_HALF_OPEN;
    const crowdText = crowd ? `, while ${plural(others, 'other handshake')} to the same server were pending at the same time` : '';
    const steps = crowd
      ? (['maxOutstanding', 'stuckSessions', 'restartBoth', 'testPort'] as const)
      : (['stuckSessions', 'restartBoth', 'maxOutstanding', 'testPort'] as const);

    let confidence: number;
    let reason: string;
    let how: string;
    const endFrame = late?.closeFrame ?? d?.frame ?? null;
    if (late) {
      const waited = (frameTime(conn, late.closeFrame) ?? conn.end) - reqTime;
      const lateBy = (frameTime(conn, late.confirmFrame) ?? conn.end) - reqTime;
      how = `the client gave up after ${secondsText(waited)} without a Connection Confirm (frame ${late.closeFrame}); the Confirm came only in frame ${late.confirmFrame}, ${secondsText(lateBy)} after the request, to a connection the client had closed`;
      confidence = waited >= CONFIRM_TIMEOUT_SECONDS ? 0.8 : waited >= 5 ? 0.7 : 0.45;
      reason =
        waited >= 5
          ? 'The server did answer, too late for the client: it is slow (overloaded, or TermService hung for a while) rather than absent; the host\'s load and TerminalServices logs at that time say why.'
          : "The client gave up quickly, which may be its own doing rather than the server's slowness.";
    } else if (!d || d.how === 'timeout' || d.how === 'no_answer' || d.how === 'capture_ended') {
      const waited = captureEndOf(conn, input) - reqTime;
      how = `no Connection Confirm came in the ${secondsText(waited)} the capture ran on`;
      confidence = waited >= CONFIRM_TIMEOUT_SECONDS ? 0.8 : 0.45;
      reason =
        waited >= CONFIRM_TIMEOUT_SECONDS
          ? 'A proxy or another service on the port can also accept TCP and stay silent.'
          : `The capture ran only ${secondsText(waited)} after the request, less than a client waits (${CONFIRM_TIMEOUT_SECONDS} s), so a late Confirm may be missing.`;
    } else if (d.by === 'client') {
      const waited = (frameTime(conn, d.frame) ?? conn.end) - reqTime;
      how = `the client gave up after ${secondsText(waited)} without a Connection Confirm (frame ${d.frame ?? '?'})`;
      confidence = waited >= 5 ? 0.75 : 0.45;
      reason = waited >= 5 ? 'A proxy or another service on the port can also accept TCP and stay silent.' : 'The client gave up quickly, which may be its own doing rather than the server\'s silence.';
    } else {
      how = `the server ${d.how === 'rst' ? 'reset' : 'closed'} the connection in frame ${d.frame ?? '?'} without a Connection Confirm`;
      confidence = 0.6;
      reason = 'A server that drops the request without a Confirm may be overloaded, but also may not be a Remote Desktop server, or may refuse the request\'s format.';
    }
    if (crowd) {
      confidence = Math.max(confidence, 0.8) + 0.05;
      reason = `${reason} Many pending handshakes at once point at the host's pending-connection limit (MaxOutstandingConnections) or an overload.`;
    }
    return makeFinding('server_unresponsive', {
      confidence,
      confidenceReason: reason,
      frames: [tcp.synAckFrames[0], neg.requestFrame, endFrame, late?.confirmFrame, ...firstOthers.map((o) => o.negotiation?.requestFrame ?? o.flow.firstFrame)],
      explanation: `${server} completed the TCP handshake (frame ${tcp.synAckFrames[0]}) and received the X.224 Connection Request (frame ${neg.requestFrame}), but ${how}${crowdText}.`,
      filter: crowd
        ? `${conn.flow.ipVersion === 6 ? 'ipv6' : 'ip'}.addr==${conn.flow.server.ip} && tcp.port==${conn.flow.server.port} && (cotp.type == 0x0e || cotp.type == 0x0d || tcp.flags.syn == 1)`
        : `${convFilter(conn)} && (cotp || tcp.flags.syn == 1 || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: crowd
        ? `${server} left ${others + 1} handshakes unanswered at once (overloaded or at its connection limit)`
        : late
          ? `${server} answered the RDP request only after the client had given up`
          : `${server} accepted TCP but never answered the RDP request`,
      steps,
    });
  },
};
