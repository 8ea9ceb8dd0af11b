// port_not_listening: the server itself answers the SYN with RST/ACK (RFC 9293
// 3.10.7.1: a closed port), recognised by a TTL equal to its own packets'.
import { convFilter, makeFinding, serverOwnTtl, serverText } from '../facts.js';
import type { Rule } from '../types.js';

export const portNotListening: Rule = {
  cause: 'port_not_listening',
  check(conn, input) {
    const tcp = conn.flow.tcp;
    if (!tcp || conn.outcome === 'completed' || tcp.synAckFrames.length > 0) return null;
    const rst = tcp.rsts.find((r) => r.dir === 1 && r.answersSyn);
    if (!rst) return null;
    const server = serverText(conn);
    const syn = tcp.synFrames[0];
    const own = serverOwnTtl(conn, input);
    const filter = `${convFilter(conn)} && (tcp.flags.syn == 1 || tcp.flags.reset == 1)`;
    const summary = `nothing listens on ${server} (the server resets the connection)`;
    if (own && own.ttl !== rst.ttl) return null; // a device in between: port_blocked
    if (own) {
      return makeFinding('port_not_listening', {
        confidence: 0.9,
        confidenceReason: 'A host firewall rule that rejects with a reset looks the same as a closed port from the network.',
        frames: [syn, rst.frame, own.frame],
        explanation: `The server answered the SYN (frame ${syn ?? '?'}) to ${server} with a reset in frame ${rst.frame}, with TTL ${rst.ttl}, the same as its own packets (frame ${own.frame ?? '?'}${own.connectionId !== conn.id ? `, connection ${own.connectionId}` : ''}): nothing listens on that port.`,
        filter: own.frame !== null && own.connectionId !== conn.id ? `(${filter}) || frame.number == ${own.frame}` : filter,
        summary,
      });
    }
    return makeFinding('port_not_listening', {
      confidence: 0.75,
      // Only connections to RDP ports are read: the host may have answered on other ports (a scan's
      // SYN/ACKs on 80 or 443), so the capture is not said to hold nothing else from it.
      confidenceReason: `No SYN/ACK from ${conn.flow.server.ip} to a connection on an RDP port is in the capture (connections to other ports are not read), so the reset's TTL (${rst.ttl}) was not compared with the server's own: a firewall in between could have sent it. The filter ${conn.flow.ipVersion === 6 ? 'ipv6' : 'ip'}.src==${conn.flow.server.ip} && tcp.flags.syn==1 && tcp.flags.ack==1 shows its own TTL where it answered on another port.`,
      frames: [syn, rst.frame],
      explanation: `The SYN to ${server} (frame ${syn ?? '?'}) was answered with a reset in frame ${rst.frame} (TTL ${rst.ttl}): the port is closed.`,
      filter,
      summary,
    });
  },
};
