// port_blocked: the SYN gets no answer, an ICMP "administratively prohibited"
// (RFC 1812 5.2.7.1, RFC 4443 3.1) or port unreachable, or a reset sent by a
// device in between (its TTL differs from the server's own).
import type { IcmpRef } from '../../flow/types.js';
import { icmpName, isAdminProhibited, isHostUnreachable, isPortUnreachable } from '../codes.js';
import {
  framesText,
  captureEndOf,
  convFilter,
  frameTime,
  hostAnsweredElsewhere,
  initialTtl,
  makeFinding,
  plural,
  secondsText,
  serverOwnTtl,
  serverText,
} from '../facts.js';
import type { Rule } from '../types.js';
import { recentLookupElsewhere } from './dns_failure.js';

/** A client retransmits an unanswered SYN after about 3 s; less than this after the last SYN and the capture cannot call it unanswered. */
export const SYN_WAIT_SECONDS = 3;

function icmpSentence(i: IcmpRef): string {
  const kind = i.ipVersion === 6 ? 'ICMPv6' : 'ICMP';
  return `${kind} type ${i.type} code ${i.code} "${icmpName(i.ipVersion, i.type, i.code)}" from ${i.from} in frame ${i.frame}`;
}

export const portBlocked: Rule = {
  cause: 'port_blocked',
  check(conn, input) {
    const tcp = conn.flow.tcp;
    if (!tcp || conn.outcome === 'completed' || tcp.synFrames.length === 0) return null;
    if (tcp.synAckFrames.length > 0) return null;
    const syns = tcp.synFrames;
    const server = serverText(conn);
    const toServer = conn.flow.icmp.filter((i) => i.quotedDir === 0);

    const admin = toServer.find((i) => isAdminProhibited(i.ipVersion, i.type, i.code));
    if (admin) {
      return makeFinding('port_blocked', {
        confidence: 0.95,
        confidenceReason: 'The ICMP message names a policy, not which rule or device; the device is the sender of the ICMP.',
        frames: [...syns, admin.frame],
        explanation: `The SYN to ${server} (frame ${syns[0]}) was answered with ${icmpSentence(admin)}: a firewall on the way forbids the connection.`,
        filter: `${convFilter(conn)} && (tcp.flags.syn == 1 || icmp || icmpv6)`,
        summary: `a firewall (${admin.from}) forbids connections to ${server}`,
      });
    }
    const reject = toServer.find((i) => isPortUnreachable(i.ipVersion, i.type, i.code));
    if (reject) {
      const byHost = reject.from === conn.flow.server.ip;
      return makeFinding('port_blocked', {
        confidence: byHost ? 0.8 : 0.85,
        confidenceReason: byHost
          ? 'The host itself sent it: a host firewall reject rule does that, though an unusual TCP stack could too.'
          : 'A host answers a closed TCP port with a reset, so an ICMP port unreachable comes from a firewall reject rule; which device it is is only known by its address.',
        frames: [...syns, reject.frame],
        explanation: `The SYN to ${server} (frame ${syns[0]}) was answered with ${icmpSentence(reject)}, which for TCP is a firewall's reject rule, not a closed port.`,
        filter: `${convFilter(conn)} && (tcp.flags.syn == 1 || icmp || icmpv6)`,
        summary: `a firewall (${reject.from}) rejects connections to ${server}`,
      });
    }

    const rst = tcp.rsts.find((r) => r.dir === 1 && r.answersSyn);
    if (rst) {
      const own = serverOwnTtl(conn, input);
      if (!own || own.ttl === rst.ttl) return null; // port_not_listening
      const otherClass = initialTtl(own.ttl) !== initialTtl(rst.ttl);
      return makeFinding('port_blocked', {
        confidence: otherClass ? 0.85 : 0.7,
        confidenceReason: otherClass
          ? 'The reset\'s TTL starts from another initial value than the server\'s packets, so another device sent it; a device that rewrites TTLs could blur this.'
          : 'The TTLs differ by hop count only: a device closer to the client sent the reset, unless the routes of the two connections differ.',
        frames: [...syns, rst.frame, own.frame],
        explanation: `The SYN to ${server} (frame ${syns[0]}) was answered by a reset in frame ${rst.frame} with TTL ${rst.ttl}, while the server's own packets arrive with TTL ${own.ttl} (frame ${own.frame ?? '?'}${own.connectionId !== conn.id ? `, connection ${own.connectionId}` : ''}): a device in between refused the connection.`,
        filter: `(${convFilter(conn)} && (tcp.flags.reset == 1 || tcp.flags.syn == 1))${own.frame !== null ? ` || frame.number == ${own.frame}` : ''}`,
        summary: `a device in front of ${server} resets the connection (TTL ${rst.ttl} vs the server's ${own.ttl})`,
      });
    }
    if (tcp.rsts.some((r) => r.dir === 1)) return null;

    const unreachable = toServer.find((i) => isHostUnreachable(i.ipVersion, i.type, i.code));
    if (unreachable) {
      return makeFinding('port_blocked', {
        confidence: 0.35,
        confidenceReason: 'A router says the host cannot be reached at all: the host is down or not on that network, which is not a port block; a firewall can also send this.',
        frames: [...syns, unreachable.frame],
        explanation: `The SYN to ${server} (frame ${syns[0]}) was answered with ${icmpSentence(unreachable)}.`,
        filter: `${convFilter(conn)} && (tcp.flags.syn == 1 || icmp || icmpv6)`,
        summary: `${server} cannot be reached (${icmpName(unreachable.ipVersion, unreachable.type, unreachable.code)})`,
      });
    }

    // Silence: the SYN (and its retransmissions) never answered while the capture ran on.
    const lastSyn = syns[syns.length - 1]!;
    const lastSynTime = frameTime(conn, lastSyn) ?? conn.start;
    const waited = captureEndOf(conn, input) - lastSynTime;
    const total = captureEndOf(conn, input) - conn.start;
    const alive = hostAnsweredElsewhere(conn, input);
    if (waited < SYN_WAIT_SECONDS) {
      return makeFinding('port_blocked', {
        confidence: 0.25,
        confidenceReason: `The capture ended ${secondsText(waited)} after the last SYN, before a client gives up, so an answer may simply not have been captured.`,
        frames: syns,
        explanation: `${plural(syns.length, 'SYN')} to ${server} (${framesText(syns)}) got no answer before the capture ended ${secondsText(waited)} later.`,
        filter: `${convFilter(conn)} && tcp.flags.syn == 1`,
        summary: `SYNs to ${server} were not answered in the capture`,
      });
    }
    let confidence = syns.length >= 2 ? 0.75 : 0.6;
    if (alive) confidence += 0.1;
    const stale = alive ? null : recentLookupElsewhere(conn, input);
    if (stale) confidence = Math.min(confidence, 0.5);
    // RFC 6298 5.7 / RFC 1122 4.2.3.5: a TCP stack retransmits an unanswered SYN within seconds.
    const scanNote =
      syns.length === 1
        ? ` The SYN was never retransmitted, which a client's TCP stack does within ${SYN_WAIT_SECONDS} s: the sender gave up at once, as port scanners do.`
        : '';
    return makeFinding('port_blocked', {
      confidence,
      confidenceReason: (stale
        ? `Nothing answers at this address, and a lookup just before resolved "${stale.name}" to ${stale.addresses.join(', ')}: the client may be connecting to a stale address rather than being blocked.`
        : alive
        ? `A silent drop looks the same whatever drops it; the host answered connection ${alive.id}, so it is up and a firewall (on the host or in between) is the likely reason, or a full connection backlog.`
        : 'A silent drop looks the same whether a firewall drops the SYN, the host is off or unreachable, or the route is broken.') + scanNote,
      frames: [...syns, alive?.flow.tcp?.synAckFrames[0]],
      explanation: `${plural(syns.length, 'SYN')} to ${server} (${framesText(syns)}) got no answer over ${secondsText(total)} of capture, with no ICMP error and no reset${alive ? `, while the host answered connection ${alive.id}` : ''}.`,
      filter: `${convFilter(conn)} && tcp.flags.syn == 1`,
      summary: alive ? 'the SYN got no answer (dropped by a firewall)' : 'the SYN got no answer (dropped by a firewall, or the host is down)',
    });
  },
};
