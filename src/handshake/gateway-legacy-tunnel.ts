// The RD Gateway's legacy HTTP transport (MS-TSGU 2.2.3, 3.3.5.1) carries one tunnel in two TCP
// connections: the IN channel (RDG_IN_DATA: the client's MS-TSGU packets, so the client's RDP bytes)
// and the OUT channel (RDG_OUT_DATA: the gateway's packets, so the target's RDP bytes), related by
// the client's RDG-Connection-Id (2.2.3.2.1). Both flows are read by the same run in capture order;
// the GatewayWatch of each channel finds the other's here, keyed by the client's address, the
// gateway's endpoint and the RDG-Connection-Id, and both feed ONE ConnectionMachine: the IN channel's
// DATA bytes as direction 0, the OUT channel's as direction 1, each with its own outer frame. The
// TCP events of the two flows are not the tunnelled connection's (but the first channel's
// three-way handshake, the outer ladder's `tcp` step): its end is the CLOSE_CHANNEL packets
// (2.2.10.3, 2.2.10.4) and the channels' end. The record is made when both channels have ended.
import { endpointText, type Dir, type Endpoint, type FlowEndReason, type FlowFacts, type TcpEvent } from '../flow/types.js';
import type { KeyLog } from '../rdp/keylog.js';
import type { GatewayPlain } from './gateway-plain.js';
import { ConnectionMachine } from './machine.js';
import type { ConnectionRecord, LegacyChannel } from './types.js';

/** Packets kept in a joined view (as gateway-plain.ts keeps per connection). */
const MAX_PACKETS = 32;

/**
 * The view of the tunnel the two channels' plaintexts give together: the OUT channel's (the
 * gateway's answers) with the IN channel's packets, its CHANNEL_CREATE target and client name,
 * and both DATA counts. The IN channel's HTTP exchange stays its own.
 */
export function joinLegacyPlain(out: GatewayPlain, inp: GatewayPlain): GatewayPlain {
  return {
    ...out,
    packets: [...inp.packets, ...out.packets].sort((a, b) => a.frame - b.frame).slice(0, MAX_PACKETS),
    target: out.target ?? inp.target,
    clientName: out.clientName ?? inp.clientName,
    data: {
      client: out.data.client + inp.data.client,
      server: out.data.server + inp.data.server,
      firstFrame: out.data.firstFrame === null ? inp.data.firstFrame : inp.data.firstFrame === null ? out.data.firstFrame : Math.min(out.data.firstFrame, inp.data.firstFrame),
    },
    problem: out.problem ?? inp.problem,
  };
}

/** What a channel's watch gives the tunnel at its end. */
export interface LegacyChannelEnd {
  facts: FlowFacts;
  reason: FlowEndReason;
  captureEnd: number;
  plain: GatewayPlain;
  sni: string | null;
  clientRandom: string | null;
  clientHelloFrame: number;
  readStop: { frame: number; reason: string } | null;
  /** The time of a frame of this channel that carried decrypted bytes, if kept. */
  timeOf: (frame: number) => number | undefined;
}

/** One legacy tunnel: its two channels (as far as they have appeared) and the machine they feed. */
export class LegacyTunnel {
  readonly machine: ConnectionMachine;
  private rec: ConnectionRecord | null = null;
  /** Per channel (0: IN, 1: OUT): joined, and what it gave at its end. */
  readonly joined: [boolean, boolean] = [false, false];
  readonly ended: [LegacyChannelEnd | null, LegacyChannelEnd | null] = [null, null];
  /** The tunnelled connection's close by each side (the first CLOSE_CHANNEL packet or channel end). */
  private readonly closed: [boolean, boolean] = [false, false];
  /** The machine still wants bytes. */
  wants = true;

  constructor(
    readonly key: string,
    facts: FlowFacts,
    o: { file: string; keys: KeyLog | null; byteBudget?: number },
  ) {
    // The machine's own facts: no bytes skipped before the tunnel's stream (DATA packets start it).
    this.machine = new ConnectionMachine(
      { ...facts, skippedPrefix: [0, 0] },
      {
        id: `c${facts.id}`,
        file: o.file,
        fileIndex: facts.fileIndex,
        ...(o.byteBudget !== undefined ? { byteBudget: o.byteBudget } : {}),
        keys: o.keys,
        onRecord: (r) => {
          this.rec = r;
        },
      },
    );
  }

  /** Both channels appeared: the tunnel is read as one connection. */
  get paired(): boolean {
    return this.joined[0] && this.joined[1];
  }

  /** The DATA bytes of a channel: the IN channel's client bytes (dir 0), the OUT channel's gateway bytes (dir 1). */
  data(dir: Dir, data: Buffer, frame: number, time: number): void {
    if (this.wants) this.wants = this.machine.onData(dir, data, frame, time);
  }

  /** A side's end of the tunnelled connection (CLOSE_CHANNEL, its answer, or its channel's FIN / RST): once per side, as a FIN. */
  close(dir: Dir, frame: number, time: number): void {
    if (this.closed[dir]) return;
    this.closed[dir] = true;
    this.machine.onTcpEvent({ kind: 'fin', dir, frame, time, retransmission: false });
  }

  /** The first channel's TCP handshake: the outer ladder's `tcp` step. */
  handshake(ev: TcpEvent): void {
    this.machine.onTcpEvent(ev);
  }

  /**
   * Both channels ended: the tunnelled connection's record (null while one is open). Its flow is the
   * IN channel's (the client's packets) spanning both channels' frames and times; `channels` names both.
   */
  finish(): { rec: ConnectionRecord; inEnd: LegacyChannelEnd; outEnd: LegacyChannelEnd; channels: LegacyChannel[] } | null {
    const [i, o] = this.ended;
    if (i === null || o === null) return null;
    const f = i.facts;
    const facts: FlowFacts = { ...f, start: Math.min(f.start, o.facts.start), end: Math.max(f.end, o.facts.end) };
    const reason: FlowEndReason = i.reason === 'closed' && o.reason === 'closed' ? 'closed' : i.reason === 'evicted' || o.reason === 'evicted' ? 'evicted' : 'capture_end';
    this.machine.onEnd(facts, reason, Math.max(i.captureEnd, o.captureEnd));
    const rec = this.rec;
    if (rec === null) return null;
    const ch = (channel: 'in' | 'out', e: LegacyChannelEnd): LegacyChannel => ({ channel, client: endpointText(e.facts.client), firstFrame: e.facts.firstFrame, lastFrame: e.facts.lastFrame, clientRandom: e.clientRandom, sighting: null });
    return { rec, inEnd: i, outEnd: o, channels: [ch('out', o), ch('in', i)].sort((a, b) => a.firstFrame - b.firstFrame) };
  }
}

/** The legacy tunnels of one run (one file), by client address, gateway endpoint and RDG-Connection-Id. */
export class LegacyTunnels {
  private readonly open = new Map<string, LegacyTunnel>();

  static key(client: Endpoint, gateway: Endpoint, connectionId: string): string {
    return `${client.ip} ${endpointText(gateway)} ${connectionId.toLowerCase()}`;
  }

  /**
   * A channel whose request named its RDG-Connection-Id: the tunnel its partner opened, or a new one.
   * null when that channel of the tunnel is already taken (a second IN channel with the same id).
   */
  join(channel: 'in' | 'out', facts: FlowFacts, connectionId: string, o: { file: string; keys: KeyLog | null; byteBudget?: number }): LegacyTunnel | null {
    const key = LegacyTunnels.key(facts.client, facts.server, connectionId);
    let t = this.open.get(key);
    if (t === undefined) {
      t = new LegacyTunnel(key, facts, o);
      this.open.set(key, t);
    }
    const k = channel === 'in' ? 0 : 1;
    if (t.joined[k]) return null;
    t.joined[k] = true;
    return t;
  }

  /** A channel ended before its partner appeared, or both ended: the id may start another tunnel. */
  forget(t: LegacyTunnel): void {
    if (this.open.get(t.key) === t) this.open.delete(t.key);
  }
}
