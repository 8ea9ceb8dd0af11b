// PendingMachine (the consumer of a TCP flow until it carries data) against a ConnectionMachine
// made with the flow: the same records on every fixture capture, and no machine while a flow is
// half-open.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { frameTime, readCapture } from '../../src/capture/index.js';
import { DecodedPacket, decodePacket, isKnownLinkType } from '../../src/net/index.js';
import { FlowTable, type FlowFacts, type StreamConsumer } from '../../src/flow/index.js';
import { ConnectionMachine } from '../../src/handshake/machine.js';
import { PendingMachine, countedOutcome, halfOpenOutcome, type OutcomeCounter } from '../../src/handshake/pending.js';
import fc from 'fast-check';
import { newFlowFacts } from '../../src/flow/facts.js';
import type { TcpEvent } from '../../src/flow/types.js';
import type { ConnectionRecord, SideChannel } from '../../src/handshake/types.js';
import { tcpFrame } from '../flow/harness.js';

const captures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures');
const files = readdirSync(captures).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

/** Records of every TCP flow of a capture, each flow's consumer made by `make`. */
async function records(file: string, make: (facts: FlowFacts, id: string, onRecord: (r: ConnectionRecord) => void) => StreamConsumer): Promise<ConnectionRecord[]> {
  const out: ConnectionRecord[] = [];
  let n = 0;
  const table = new FlowTable({ rdpPorts: [3389] }, (facts) => (facts.transport === 'tcp' ? make(facts, `c${++n}`, (r) => out.push(r)) : null));
  const pkt = new DecodedPacket();
  let end = 0;
  const info = await readCapture({ kind: 'file', path: path.join(captures, file) }, 0, {
    onFrame(v) {
      if (!isKnownLinkType(v.linkType)) return;
      const t = frameTime(v);
      if (t > end) end = t;
      decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
      table.handle(pkt, v.frame, t, 0);
    },
  });
  table.finish(Math.max(info.end ?? 0, end));
  return out;
}

/** A flow table whose flows get PendingMachines (ids c1, c2, ...), and a feed of Ethernet frames into it. */
function pendingTable(): {
  pendings: PendingMachine[];
  recs: ConnectionRecord[];
  lists: SideChannel[][];
  table: FlowTable;
  feed: (b: Buffer, t: number) => void;
} {
  const pendings: PendingMachine[] = [];
  const recs: ConnectionRecord[] = [];
  const lists: SideChannel[][] = [];
  const table = new FlowTable({ rdpPorts: [3389] }, (facts) => {
    const list: SideChannel[] = [];
    lists.push(list);
    const p = new PendingMachine(facts, `c${pendings.length + 1}`, list, { file: 'x.pcap', fileIndex: 0, onRecord: (r) => recs.push(r) });
    pendings.push(p);
    return p;
  });
  const pkt = new DecodedPacket();
  let frame = 0;
  const feed = (b: Buffer, t: number): void => {
    decodePacket(b, 0, b.length, 1, pkt);
    table.handle(pkt, ++frame, t, 0);
  };
  return { pendings, recs, lists, table, feed };
}

describe('PendingMachine', () => {
  it('has TCP flows to compare', async () => {
    let n = 0;
    for (const f of files) n += (await records(f, (facts, id, onRecord) => new PendingMachine(facts, id, [], { file: f, fileIndex: 0, onRecord }))).length;
    expect(n).toBeGreaterThan(files.length);
  });

  it.each(files)('gives the records a ConnectionMachine made with the flow gives: %s', async (file) => {
    const direct = await records(file, (facts, id, onRecord) => new ConnectionMachine(facts, { id, file, fileIndex: 0, onRecord }));
    const pending = await records(file, (facts, id, onRecord) => new PendingMachine(facts, id, [], { file, fileIndex: 0, onRecord }));
    expect(pending.length).toBe(direct.length);
    expect(JSON.stringify(pending)).toBe(JSON.stringify(direct));
  });

  it.each(files)('counts the outcome the record would have when only counted (outcomeAtEnd): %s', async (file) => {
    const direct = await records(file, (facts, id, onRecord) => new ConnectionMachine(facts, { id, file, fileIndex: 0, onRecord }));
    const counted: string[] = [];
    const counter: OutcomeCounter = { countsOnly: () => true, count: (c, outcome) => counted.push(`${c.id} ${outcome}`) };
    const none = await records(file, (facts, id, onRecord) => new PendingMachine(facts, id, [], { file, fileIndex: 0, onRecord, counter }));
    expect(none).toEqual([]);
    expect(counted).toEqual(direct.map((r) => `${r.id} ${r.outcome}`));
  });

  it('builds no machine while a flow is half-open; at its end the record has its events, and its side channels go into the list given', () => {
    const { pendings, recs, lists, table, feed } = pendingTable();
    const ip = { src: '10.0.0.1', dst: '10.0.0.2' };
    const back = { src: '10.0.0.2', dst: '10.0.0.1' };
    feed(tcpFrame(ip, 50000, 3389, 1000, 0, 0x02), 100);
    feed(tcpFrame({ ...ip, id: 0x1235 }, 50000, 3389, 1000, 0, 0x02), 101); // a retransmission: a new IP identification
    feed(tcpFrame(back, 3389, 50000, 7000, 1001, 0x12), 101.01);
    // Half-open: a slot of the flow table (halfopen.ts), no consumer yet; it is built when the connection ends.
    expect(pendings).toHaveLength(0);
    expect(table.halfOpenSlots).toBe(1);
    table.finish(110);
    expect(pendings).toHaveLength(1);
    expect(pendings[0]!.hasMachine).toBe(true);
    expect(recs).toHaveLength(1);
    const r = recs[0]!;
    expect(r.timeline.map((e) => `${e.frame} ${e.event}`)).toEqual(['1 SYN', '2 SYN (retransmission)', '3 SYN, ACK', '3 Capture ends']);
    expect(r.flow.tcp!.synFrames).toEqual([1, 2]);
    expect(r.sideChannels).toBe(lists[0]);
  });

  it('builds the machine on the first stream byte and replays the events before it', () => {
    const { pendings, recs, table, feed } = pendingTable();
    const ip = { src: '10.0.0.1', dst: '10.0.0.2' };
    const back = { src: '10.0.0.2', dst: '10.0.0.1' };
    feed(tcpFrame(ip, 50001, 3389, 1000, 0, 0x02), 100);
    feed(tcpFrame(back, 3389, 50001, 7000, 1001, 0x12), 100.01);
    feed(tcpFrame(ip, 50001, 3389, 1001, 7001, 0x10), 100.02);
    expect(pendings[0]!.hasMachine).toBe(false);
    // TPKT + X.224 Connection Request (MS-RDPBCGR 2.2.1.1), 19 bytes.
    feed(tcpFrame(ip, 50001, 3389, 1001, 7001, 0x18, Buffer.from('030000130ee000000000000100080003000000', 'hex')), 100.03);
    expect(pendings[0]!.hasMachine).toBe(true);
    table.finish(101);
    const r = recs[0]!;
    expect(r.timeline.slice(0, 4).map((e) => `${e.frame} ${e.event}`)).toEqual(['1 SYN', '2 SYN, ACK', '3 ACK', '4 X.224 Connection Request']);
    expect(r.negotiation).not.toBeNull();
  });

  it('countedOutcome (a connection without data, counted) = the machine\'s outcome on 20,000 random TCP event sequences', () => {
    let seed = 0x9e3779b9;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 20_000; k++) {
      const events: TcpEvent[] = [];
      let frame = 1;
      let time = 1000;
      const n = rnd(7);
      for (let i = 0; i < n; i++) {
        frame += 1 + rnd(3);
        time += [0.001, 0.5, 2, 4, 10, 25][rnd(6)]!;
        const dir = rnd(2) as 0 | 1;
        const retransmission = rnd(3) === 0;
        switch (rnd(7)) {
          case 0:
          case 1:
            events.push({ kind: 'syn', dir: 0, frame, time, retransmission });
            break;
          case 2:
            events.push({ kind: 'syn_ack', dir: 1, frame, time, retransmission });
            break;
          case 3:
            events.push({ kind: rnd(2) === 0 ? 'ack' : 'fin', dir, frame, time, retransmission });
            break;
          case 4:
            events.push({ kind: 'rst', dir, frame, time, ttl: 64 });
            break;
          case 5:
            events.push({ kind: 'icmp', frame, time, icmp: { frame, time, ipVersion: 4, from: '10.0.0.254', type: 3, code: rnd(14), mtu: null, quotedDir: 0 } });
            break;
          default:
            events.push({ kind: 'retransmission', dir, frame, time, length: 100 });
        }
      }
      const captureEnd = time + [0, 1, 5, 30][rnd(4)]!;
      const facts = newFlowFacts(1, 'tcp', 0, 4, { ip: '10.0.0.1', port: 50000 }, { ip: '10.0.0.2', port: 3389 }, 'syn', 1, 1000);
      const m = new ConnectionMachine(facts, { id: 'c1', file: 'x.pcap', fileIndex: 0, onRecord: () => {} });
      for (const ev of events) m.onTcpEvent(ev);
      const want = m.outcomeAtEnd(facts, 'capture_end', captureEnd);
      expect(countedOutcome(events.length > 0 ? events : null, captureEnd), JSON.stringify(events)).toBe(want);
      outcomes.set(want, (outcomes.get(want) ?? 0) + 1);
    }
    expect(outcomes.get('failed')).toBeGreaterThan(1000);
    expect(outcomes.get('incomplete_capture')).toBeGreaterThan(1000);
  });

  it('a connection counted without data leaves its TcpFacts unbuilt (wantsFinalFacts)', () => {
    const counted: string[] = [];
    const table = new FlowTable({ rdpPorts: [3389] }, (facts) =>
      new PendingMachine(facts, 'c1', [], { file: 'x.pcap', fileIndex: 0, onRecord: () => {}, counter: { countsOnly: () => true, count: (c, o) => counted.push(`${c.facts.tcp === null} ${o}`) } }),
    );
    const pkt = new DecodedPacket();
    const syn = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2' }, 50000, 3389, 1000, 0, 0x02);
    decodePacket(syn, 0, syn.length, 1, pkt);
    table.handle(pkt, 1, 100, 0);
    table.finish(100.5);
    expect(counted).toEqual(['true incomplete_capture']);
  });
});

describe('halfOpenOutcome (a connection counted from its half-open slot)', () => {
  it('= countedOutcome of the same connection tracked as a flow, on random SYN / SYN-ACK / reset sequences', () => {
    const seg = fc.record({
      c: fc.integer({ min: 0, max: 3 }),
      kind: fc.constantFrom('syn', 'syn', 'synack', 'rst-s', 'rst-c', 'ack', 'syn-other-isn'),
      dt: fc.constantFrom(0.001, 0.5, 2, 3.5, 10, 25),
    });
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 24 }), fc.constantFrom(0, 1, 4, 30), (segs, tail) => {
        const run = (slots: boolean): string[] => {
          const counted: string[] = [];
          const counter: OutcomeCounter = { countsOnly: () => true, count: (c, o) => counted.push(`${c.id} ${o}`) };
          const table = new FlowTable(
            {
              rdpPorts: [3389],
              halfOpenSlots: slots,
              halfOpenSink: { countsOnly: () => true, count: (v, s, _r, end) => counted.push(`c${v.id(s)} ${halfOpenOutcome(v, s, end)}`) },
            },
            (facts) => new PendingMachine(facts, `c${facts.id}`, [], { file: 'x.pcap', fileIndex: 0, onRecord: () => {}, counter }),
          );
          const pkt = new DecodedPacket();
          let frame = 0;
          let time = 100;
          for (const s of segs) {
            const cl = { src: `10.0.0.${s.c + 1}`, dst: '10.0.0.99', id: frame + 1 };
            const sv = { src: '10.0.0.99', dst: `10.0.0.${s.c + 1}`, id: frame + 1 };
            const b =
              s.kind === 'syn' ? tcpFrame(cl, 50000, 3389, 1000, 0, 0x02)
              : s.kind === 'syn-other-isn' ? tcpFrame(cl, 50000, 3389, 3000, 0, 0x02)
              : s.kind === 'synack' ? tcpFrame(sv, 3389, 50000, 7000, 1001, 0x12)
              : s.kind === 'rst-s' ? tcpFrame(sv, 3389, 50000, 0, 1001, 0x14)
              : s.kind === 'rst-c' ? tcpFrame(cl, 50000, 3389, 1001, 0, 0x04)
              : tcpFrame(cl, 50000, 3389, 1001, 7001, 0x10);
            time += s.dt;
            decodePacket(b, 0, b.length, 1, pkt);
            table.handle(pkt, ++frame, time, 0);
          }
          table.finish(time + tail);
          return counted.sort();
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: Number(process.env['PROP_RUNS'] ?? 500) },
    );
  });
});
