// Drives one ConnectionMachine the way the flow table does: TCP events and in-order payload, with
// frame numbers and times, then the end of the flow. Used by the handshake tests.
import { ConnectionMachine, type MachineOptions } from '../../src/handshake/machine.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import type { Dir, FlowEndReason, FlowFacts } from '../../src/flow/types.js';
import { newFlowFacts } from '../../src/flow/facts.js';

export const T0 = 1_773_133_200; // 2026-03-10T09:00:00Z

export class Conn {
  frame = 0;
  time = T0;
  readonly facts: FlowFacts;
  readonly m: ConnectionMachine;
  rec: ConnectionRecord | null = null;
  /** Last value onData returned. */
  wanted = true;

  constructor(opts: Partial<Pick<MachineOptions, 'byteBudget'>> = {}) {
    this.facts = newFlowFacts(1, 'tcp', 0, 4, { ip: '10.0.0.1', port: 50000 }, { ip: '10.0.0.2', port: 3389 }, 'syn', 1, T0);
    this.m = new ConnectionMachine(this.facts, {
      id: 'c1',
      file: 'test.pcap',
      fileIndex: 0,
      byteBudget: opts.byteBudget,
      onRecord: (r) => {
        this.rec = r;
      },
    });
  }

  /** Advances to the next frame, `dt` seconds later. */
  next(dt = 0.01): number {
    this.frame++;
    this.time += dt;
    this.facts.lastFrame = this.frame;
    this.facts.end = this.time;
    return this.frame;
  }

  syn(dt = 0.01): number {
    const f = this.next(dt);
    const retransmission = this.facts.tcp!.synFrames.length > 0;
    this.facts.tcp!.synFrames.push(f);
    this.m.onTcpEvent({ kind: 'syn', dir: 0, frame: f, time: this.time, retransmission });
    return f;
  }

  synAck(dt = 0.01): number {
    const f = this.next(dt);
    this.facts.tcp!.synAckFrames.push(f);
    this.m.onTcpEvent({ kind: 'syn_ack', dir: 1, frame: f, time: this.time, retransmission: false });
    return f;
  }

  /** SYN, SYN/ACK, ACK. */
  handshake(): void {
    this.syn();
    this.synAck();
    const f = this.next();
    this.facts.tcp!.ackFrame = f;
    this.m.onTcpEvent({ kind: 'ack', dir: 0, frame: f, time: this.time, retransmission: false });
  }

  /** One segment of payload. Returns its frame. */
  send(dir: Dir, data: Buffer, dt = 0.01): number {
    const f = this.next(dt);
    this.facts.packets[dir]++;
    this.facts.payloadBytes[dir] += data.length;
    this.wanted = this.m.onData(dir, Buffer.from(data), f, this.time);
    return f;
  }

  /** The bytes cut into segments at the given offsets; returns the frames. */
  sendSplit(dir: Dir, data: Buffer, cuts: number[], dt = 0.001): number[] {
    const frames: number[] = [];
    let p = 0;
    for (const c of [...cuts, data.length]) {
      if (c > p) frames.push(this.send(dir, data.subarray(p, c), dt));
      p = Math.max(p, c);
    }
    return frames;
  }

  gap(dir: Dir, missing: number, dt = 0.01): number {
    const f = this.next(dt);
    this.m.onGap(dir, missing, f, this.time);
    return f;
  }

  fin(dir: Dir, dt = 0.01): number {
    const f = this.next(dt);
    this.facts.tcp!.fins.push({ dir, frame: f, time: this.time });
    this.m.onTcpEvent({ kind: 'fin', dir, frame: f, time: this.time, retransmission: false });
    return f;
  }

  rst(dir: Dir, dt = 0.01, ttl = 128): number {
    const f = this.next(dt);
    this.facts.tcp!.rsts.push({ dir, frame: f, time: this.time, ttl, answersSyn: this.facts.tcp!.synAckFrames.length === 0 });
    this.m.onTcpEvent({ kind: 'rst', dir, frame: f, time: this.time, ttl });
    return f;
  }

  icmp(type: number, code: number, dt = 0.01): number {
    const f = this.next(dt);
    const icmp = { frame: f, time: this.time, ipVersion: 4 as const, from: '10.9.9.9', type, code, mtu: null, quotedDir: 0 as Dir };
    this.facts.icmp.push(icmp);
    this.m.onTcpEvent({ kind: 'icmp', frame: f, time: this.time, icmp });
    return f;
  }

  /** The flow ends; the capture ends `after` seconds after the last frame. */
  end(after = 0.5, reason: FlowEndReason = 'capture_end'): ConnectionRecord {
    this.m.onEnd(this.facts, reason, this.time + after);
    if (!this.rec) throw new Error('no record');
    return this.rec;
  }
}
