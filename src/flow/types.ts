// Contracts of the flow stage: the flow table hands per-flow TCP/UDP facts and
// in-order stream bytes to a consumer created per flow by the next stage.

/** Direction of a segment: 0 = client -> server, 1 = server -> client. */
export type Dir = 0 | 1;
export const C2S: Dir = 0;
export const S2C: Dir = 1;

/** A pair of per-direction values: [client -> server, server -> client]. */
export type PerDir<T> = [T, T];

export interface Endpoint {
  /** Dotted IPv4 or RFC 5952 IPv6 text. */
  ip: string;
  port: number;
}

/**
 * "ip:port", an IPv6 address in brackets ("[::1]:3389", RFC 3986 3.2.2) so the port stands apart:
 * as every report format spells an endpoint, the JSON contract included.
 */
export function endpointText(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

export interface FrameRef {
  frame: number;
  /** Float seconds since the epoch. */
  time: number;
}

export interface DirFrameRef extends FrameRef {
  dir: Dir;
}

export interface RstRef extends DirFrameRef {
  /** TTL / hop limit of the RST's IP header (a middlebox RST often differs from the server's own). */
  ttl: number;
  /** Whether the RST answered a SYN (RST/ACK with nothing else seen from that side). */
  answersSyn: boolean;
}

/** An ICMP / ICMPv6 error whose quoted header belongs to this flow. */
export interface IcmpRef extends FrameRef {
  ipVersion: 4 | 6;
  /** Sender of the ICMP message (a router, a firewall, or the host itself). */
  from: string;
  type: number;
  code: number;
  /** Next-hop MTU of "fragmentation needed" / "packet too big", else null. */
  mtu: number | null;
  /** Direction of the quoted packet (the one that could not be delivered). */
  quotedDir: Dir;
}

/** A segment sent several times and never acknowledged (for MTU black holes and loss). */
export interface LostSegmentRef {
  dir: Dir;
  /** Frame of the first transmission. */
  frame: number;
  /** Frames of the retransmissions. */
  retransmitFrames: number[];
  /** Payload length of the segment. */
  length: number;
  acked: boolean;
}

/**
 * Bytes of one direction that never appeared in the capture: a hole in the sequence space that no
 * later segment filled (lost before the capture point, e.g. a capture taken on the receiver).
 */
export interface MissingRangeRef {
  dir: Dir;
  /** Size of the hole in sequence units. */
  bytes: number;
  /** The segment that arrived after the hole. */
  frame: number;
  time: number;
}

/** Keep-alives (RFC 9293 3.8.4) a side sent that the other side never answered: the run at the flow's end. */
export interface KeepAliveRunRef {
  count: number;
  firstFrame: number;
  lastFrame: number;
}

export interface RttStats {
  count: number;
  min: number;
  median: number;
  max: number;
}

/** TCP-level facts of one flow, kept as counters (bounded whatever the flow's size). */
export interface TcpFacts {
  /** Frames of every SYN the client sent (first one first; more than one = SYN retransmitted). */
  synFrames: number[];
  synAckFrames: number[];
  /** Frame of the client's ACK completing the three-way handshake, or null. */
  ackFrame: number | null;
  /** SYN -> SYN/ACK time in seconds (the first SYN that was answered), or null. */
  handshakeRtt: number | null;
  /** RTT samples from data segments and the ACKs that covered them, per direction of the data. */
  rtt: PerDir<RttStats | null>;
  retransmissions: PerDir<number>;
  /** Frames of the first few retransmissions per direction (bounded, for evidence). */
  retransmissionFrames: PerDir<number[]>;
  dupAcks: PerDir<number>;
  zeroWindows: PerDir<number>;
  keepAlives: PerDir<number>;
  outOfOrder: PerDir<number>;
  fins: DirFrameRef[];
  rsts: RstRef[];
  /** The first TTL / hop limit seen from each side, and every distinct value seen. */
  ttl: PerDir<number | null>;
  ttlsSeen: PerDir<number[]>;
  /** Largest payload each side sent, and the largest that the other side acknowledged. */
  maxSegment: PerDir<number>;
  maxAckedSegment: PerDir<number>;
  /** Segments retransmitted and never acknowledged (bounded list). */
  lostSegments: LostSegmentRef[];
  /** Holes never filled, per direction in order (bounded list). */
  missingRanges: MissingRangeRef[];
  /** Keep-alives each side sent after the other side's last packet (none answered), or null. */
  unansweredKeepAlives: PerDir<KeepAliveRunRef | null>;
  /** Largest gap between two consecutive packets of the flow, seconds, and the frame after it. */
  maxIdle: { seconds: number; frame: number } | null;
  /** MSS option of SYN / SYN-ACK, window scale. */
  mss: PerDir<number | null>;
  /**
   * Per side: the last segment from it that acknowledged new data of the other side (an ACK is an
   * answer at the TCP level even when no reply follows), or null.
   */
  dataAcks: PerDir<FrameRef | null>;
}

export interface UdpFacts {
  /** First datagram of each direction. */
  firstFrames: PerDir<number | null>;
}

export interface FlowFacts {
  id: number;
  transport: 'tcp' | 'udp';
  fileIndex: number;
  ipVersion: 4 | 6;
  client: Endpoint;
  server: Endpoint;
  /** How the client side was decided: the SYN sender, the side talking to an RDP port, or the sender of an X.224 Connection Request. */
  clientBy: 'syn' | 'port' | 'x224';
  firstFrame: number;
  lastFrame: number;
  start: number;
  end: number;
  packets: PerDir<number>;
  /** Payload bytes on the wire (retransmissions included). */
  payloadBytes: PerDir<number>;
  /** Packets with a bad IP or TCP/UDP checksum (counted, never dropped). */
  badChecksums: number;
  icmp: IcmpRef[];
  /** TCP flows: complete when the flow ends (the flow table fills it in then; null before). */
  tcp: TcpFacts | null;
  udp: UdpFacts | null;
  /** Reassembly: bytes missing in each direction (gaps delivered as gaps), bytes cut by the per-flow bound. */
  gapBytes: PerDir<number>;
  cutBytes: PerDir<number>;
  /** Bytes of the stream before the first reassembled byte (e.g. a SOCKS exchange before the X.224 request). */
  skippedPrefix: PerDir<number>;
  /**
   * Frames that are exact copies of an earlier frame of the flow (a mirror port, a capture on several
   * interfaces: duplicates.ts), left out of every other figure, as `editcap -d` would remove them.
   */
  captureDuplicates: number;
  /** The first few copies: [copy's frame, original's frame]. */
  captureDuplicateFrames: [number, number][];
}

export type FlowEndReason = 'closed' | 'capture_end' | 'evicted';

/**
 * Created by the next stage for each flow that matters; the flow table calls it
 * in frame order. Data is delivered in sequence order (retransmissions and
 * overlaps removed, out-of-order segments held until the hole fills or is given
 * up as a gap).
 */
export interface StreamConsumer {
  /**
   * In-order payload of one direction, as carried by one segment (or the part of
   * it that is new). `data` is a copy the consumer may keep. `frame` is the
   * segment's frame. Return false when no more bytes are wanted for this flow
   * (the table then keeps counters only).
   */
  onData(dir: Dir, data: Buffer, frame: number, time: number): boolean;
  /**
   * Optional: set (once) by a consumer that must read the whole stream (a decrypted TLS session:
   * facts such as a Set Error Info come at its end). The reassembly then lifts its per-flow byte
   * limit; memory stays bounded by the segments held out of order and what the consumer keeps.
   */
  readonly wholeStream?: boolean;
  /** Bytes that will never come (lost before the capture point, or given up). */
  onGap(dir: Dir, missingBytes: number, frame: number, time: number): void;
  /**
   * Optional: a segment lay outside any receive window (RFC 9293 3.10.7.4, RFC 7323 2.3), so it
   * is not data of this stream and was dropped: `distance` from the next expected sequence number
   * (negative: behind it), `length` payload bytes. Called for each such segment.
   */
  onOutOfWindow?(dir: Dir, distance: number, length: number, frame: number, time: number): void;
  /**
   * Optional: a segment (frame) overlapped bytes already taken from an earlier segment (originalFrame)
   * with different data, first at stream offset `offset`; the first copy was kept (as Wireshark does).
   */
  onOverlapConflict?(dir: Dir, originalFrame: number, frame: number, offset: number, time: number): void;
  /** SYN, SYN/ACK, FIN, RST, ICMP error, in frame order. */
  onTcpEvent(ev: TcpEvent): void;
  /**
   * Optional: asked when the flow ends, just before its facts are completed. False: this consumer
   * will not read `facts.tcp` in onEnd (it only counts the connection), so the table leaves it null
   * instead of building it (a SYN flood's flows beyond the records kept).
   */
  wantsFinalFacts?(): boolean;
  /**
   * Optional: true when, once this consumer wants no more bytes, it needs of the rest of the flow
   * only its packet and byte counts, its last frame and time, and its FIN and RST events (an RD
   * Gateway watch of a bulk HTTPS download): the table then drops the TCP analysis (sequence
   * tracking, duplicates, RTT) for the flow's remaining packets, and `facts.tcp` covers only what
   * came before.
   */
  readonly countsOnly?: boolean;
  /** The flow is finished (closed, evicted, or the capture ended). `facts` is final (but see wantsFinalFacts). */
  onEnd(facts: FlowFacts, reason: FlowEndReason, captureEnd: number): void;
}

export type TcpEvent =
  | { kind: 'syn' | 'syn_ack' | 'ack' | 'fin'; dir: Dir; frame: number; time: number; retransmission: boolean }
  | { kind: 'rst'; dir: Dir; frame: number; time: number; ttl: number }
  | { kind: 'icmp'; frame: number; time: number; icmp: IcmpRef }
  | { kind: 'retransmission'; dir: Dir; frame: number; time: number; length: number };

/**
 * A Kerberos KRB-ERROR a KDC sent on port 88 (RFC 4120 5.9.1), kept for the diagnosis (bounded):
 * the clear-text refusal of a client's ticket request seconds before its CredSSP failed.
 */
export interface KerberosErrorRef {
  /** Which capture file the frame is in (set when several files are merged). */
  fileIndex: number;
  frame: number;
  time: number;
  transport: 'tcp' | 'udp';
  /** The KDC (sender) and the client it answered (IP text). */
  kdc: string;
  client: string;
  errorCode: number;
  errorName: string;
  /** The client's realm and name (cname), the service's realm and name (sname), as sent. */
  crealm: string | null;
  cname: string | null;
  realm: string;
  sname: string;
  eText: string | null;
}

/** One DNS query and what answered it (kept for the diagnosis, bounded). */
export interface DnsTransaction {
  /** Which capture file the frames are in (0 for a single capture; set when several files are merged). */
  fileIndex: number;
  id: number;
  client: string;
  server: string;
  queryFrame: number;
  time: number;
  name: string;
  qtype: number;
  responseFrame: number | null;
  responseTime: number | null;
  /** DNS RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...) or null when unanswered. */
  rcode: number | null;
  /** A / AAAA answers (addresses as text), CNAME targets. */
  addresses: string[];
  cnames: string[];
}
