// A UDP flow to an RDP port: the RDPEUDP side channel (MS-RDPEUDP 3.1.5.1.1 three-way
// handshake: client SYN, server SYN+ACK). Attached to the TCP connection of the same client ->
// server pair by the pipeline, or reported as a connection of its own when there is none (the
// TCP connection that negotiated it began before the capture).
import type { Dir, FlowEndReason, FlowFacts, StreamConsumer, TcpEvent } from '../flow/types.js';
import { endpointText } from '../flow/types.js';
import type { ConnectionRecord, SideChannel, TimelineEvent } from './types.js';
import { decodeRdpudpSyn } from '../rdp/rdpeudp.js';

/** Datagrams looked at per direction before the side channel stops asking for bytes. */
const DATAGRAMS_LOOKED_AT = 8;

export interface UdpMachineOptions {
  id: string;
  file: string;
  fileIndex: number;
  /** Called at the end with a record of its own; null when the side channel is attached to a TCP connection. */
  onRecord: ((rec: ConnectionRecord) => void) | null;
}

export class UdpMachine implements StreamConsumer {
  readonly sideChannel: SideChannel;
  private readonly timeline: TimelineEvent[] = [];
  private seen: [number, number] = [0, 0];
  private finished = false;

  constructor(
    readonly facts: FlowFacts,
    private readonly opts: UdpMachineOptions,
  ) {
    this.sideChannel = {
      transport: 'udp',
      client: endpointText(facts.client),
      server: endpointText(facts.server),
      synFrame: null,
      synAckFrame: null,
      synexVersion: null,
      answered: false,
      datagrams: { client: 0, server: 0 },
    };
  }

  onData(dir: Dir, data: Buffer, frame: number, time: number): boolean {
    this.seen[dir]++;
    const sc = this.sideChannel;
    if ((dir === 0 && sc.synFrame === null) || (dir === 1 && sc.synAckFrame === null)) {
      const d = decodeRdpudpSyn(data, 0, data.length);
      if (d.ok) {
        const v = d.value;
        if (dir === 0 && !v.isSynAck) {
          sc.synFrame = frame;
          if (v.udpVersion !== null) sc.synexVersion = v.udpVersion;
          this.timeline.push({ frame, time, direction: 'c2s', event: 'RDPUDP SYN', detail: v.flagNames.join(', '), phase: 'tcp' });
        } else if (dir === 1 && v.isSynAck) {
          sc.synAckFrame = frame;
          sc.answered = true;
          this.timeline.push({ frame, time, direction: 's2c', event: 'RDPUDP SYN+ACK', detail: v.flagNames.join(', '), phase: 'tcp' });
        }
      }
    } else if (dir === 1 && sc.synFrame !== null) {
      sc.answered = true;
    }
    return this.seen[0] < DATAGRAMS_LOOKED_AT || this.seen[1] < DATAGRAMS_LOOKED_AT;
  }

  onGap(): void {}

  onTcpEvent(_ev: TcpEvent): void {}

  onEnd(facts: FlowFacts, _reason: FlowEndReason, _captureEnd: number): void {
    if (this.finished) return;
    this.finished = true;
    const sc = this.sideChannel;
    sc.datagrams = { client: facts.packets[0], server: facts.packets[1] };
    if (sc.synFrame !== null && facts.packets[1] > 0) sc.answered = true;
    if (this.opts.onRecord === null) return;
    const first = sc.synFrame ?? facts.firstFrame;
    // The warning's frame shows what its sentence says: the server's SYN+ACK when it answered the
    // handshake (MS-RDPEUDP 3.1.5.1.1), else the client's SYN or its first datagram.
    const shown = sc.answered && sc.synAckFrame !== null ? sc.synAckFrame : first;
    this.opts.onRecord({
      id: this.opts.id,
      transport: 'udp',
      file: this.opts.file,
      fileIndex: this.opts.fileIndex,
      client: sc.client,
      server: sc.server,
      start: facts.start,
      end: facts.end,
      // RDPEUDP is negotiated over a TCP connection (MS-RDPBCGR 2.2.15.1) that is not in the capture.
      outcome: 'incomplete_capture',
      incompleteReason: 'started_late',
      reached: 'tcp',
      phases: [{ phase: 'tcp', frame: first, time: facts.start, inferred: false, confidence: 1 }],
      died: null,
      security: null,
      negotiation: null,
      tls: null,
      credssp: null,
      mcs: null,
      licensing: [],
      errorInfo: [],
      sideChannels: [sc],
      timeline: this.timeline,
      flow: facts,
      warnings: [
        {
          frame: shown,
          offset: null,
          message: `UDP side channel (MS-RDPEUDP) without its TCP connection in the capture: that connection began before the capture, or the capture filter left it out; ${
            sc.answered
              ? 'the server answered on UDP'
              : sc.synFrame !== null
                ? `the server never answered the client's ${facts.packets[0] === 1 ? 'SYN datagram' : `${facts.packets[0]} datagrams`} (UDP ${facts.server.port} blocked, or the server's UDP transport off): the client then stays on TCP, which is slower but not a failure`
                : 'no RDPEUDP SYN was seen'
          }`,
        },
      ],
    });
  }
}
