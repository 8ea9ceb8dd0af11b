// TcpTracker.reset() and Flow.init(): a tracker or flow the table takes again from its pool is as
// new. Every own property is overwritten first, so a field they forget fails here whatever the
// traffic that set it; and the table gives the same results with its pools as without.
import { describe, expect, it } from 'vitest';
import { TcpTracker } from '../../src/flow/tcp.js';
import { Flow } from '../../src/flow/flow.js';
import { ACK, Conn, FIN, Harness, PSH, RST, handshake } from './harness.js';

function scribble(o: object): void {
  for (const k of Object.keys(o)) if (k !== 'dirs') (o as Record<string, unknown>)[k] = { scribbled: k };
}

describe('TcpTracker.reset', () => {
  it('leaves no property of the tracker or its directions as it was', () => {
    const t = new TcpTracker();
    scribble(t);
    scribble(t.dirs[0]);
    scribble(t.dirs[1]);
    t.reset();
    const fresh = new TcpTracker();
    expect(t).toEqual(fresh);
    expect(Object.keys(t)).toEqual(Object.keys(fresh));
    expect(Object.keys(t.dirs[0])).toEqual(Object.keys(fresh.dirs[0]));
  });

  it('flows that take a used tracker get the facts of flows with new ones', () => {
    const run = (pool: boolean): string => {
      const h = new Harness();
      if (!pool) (h.table as unknown as { trackers: TcpTracker[] }).trackers.push = () => 0;
      for (let i = 0; i < 3; i++) {
        const c = new Conn('10.0.0.5', 50200 + i, '10.0.0.9', 3389, 1000 * i, 9000 * i);
        handshake(h, c);
        h.feed(c.c('hello'));
        h.feed(c.s('world'), 0.05);
        h.feed(c.c('', ACK));
        h.feed(c.c('', FIN | ACK));
        h.feed(c.s('', FIN | ACK));
        h.feed(c.c('', ACK));
        h.feed(c.c('again', ACK | PSH, { seq: 1000 * i + 1 }), 0.2);
      }
      h.finish();
      return JSON.stringify(h.consumers.map((r) => r.ended!.facts));
    };
    expect(run(true)).toBe(run(false));
  });
});

describe('Flow.init', () => {
  it('leaves no property of a flow taken again as it was', () => {
    const buf = Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]);
    const f = new Flow(7, 6, 4, buf, 0, 50000, 4, 3389, 0);
    for (const k of Object.keys(f)) (f as unknown as Record<string, unknown>)[k] = { scribbled: k };
    f.init(7, 6, 4, buf, 0, 50000, 4, 3389, 0);
    const fresh = new Flow(7, 6, 4, buf, 0, 50000, 4, 3389, 0);
    expect(f).toEqual(fresh);
    expect(Object.keys(f)).toEqual(Object.keys(fresh));
  });
});

describe('FlowTable: flows and trackers taken again', () => {
  it('give the same events, bytes and facts as new ones (closes, tombstones over their bound, port reuse, evictions)', () => {
    const run = (pool: boolean): string => {
      const h = new Harness({ maxHalfOpen: 50, maxFlows: 400 });
      if (!pool) {
        const t = h.table as unknown as { trackers: TcpTracker[]; flowPool: Flow[] };
        t.trackers.push = () => 0;
        t.flowPool.push = () => 0;
      }
      // Closed connections, more than the tombstones kept, some ports used twice.
      for (let i = 0; i < 4200; i++) {
        const c = new Conn('10.1.0.5', 20000 + (i % 3000), '10.1.0.9', 3389, 1000 + i, 7000 + i);
        handshake(h, c);
        h.feed(c.c('x' + i));
        h.feed(c.s('y'), 0.002);
        h.feed(c.c('', FIN | ACK));
        h.feed(c.s('', FIN | ACK));
        h.feed(c.c('', ACK));
        if (i % 7 === 0) h.feed(c.c('late', ACK | PSH, { seq: 1000 + i + 1 }));
      }
      // Late ACKs of the last 4,000 closed connections: each meets its tombstone (or starts a flow).
      for (let i = 200; i < 4200; i++) {
        const c = new Conn('10.1.0.5', 20000 + (i % 3000), '10.1.0.9', 3389, 1000 + i + 2 + String(i).length, 7000 + i + 3);
        h.feed(c.c('', ACK));
      }
      // Half-open flows over the cap, answered by a reset now and then.
      for (let i = 0; i < 300; i++) {
        const c = new Conn(`10.2.${i >> 8}.${i & 255}`, 40000 + i, '10.1.0.9', 3389);
        h.feed(c.syn());
        if (i % 5 === 0) h.feed(c.s('', RST | ACK, { ack: c.cSeq + 1 }));
      }
      h.finish();
      return JSON.stringify(h.consumers.map((r) => [r.ended?.reason, r.ended?.facts, r.eventText(), r.stream(0), r.stream(1)]));
    };
    const pooled = run(true);
    expect(pooled).toBe(run(false));
    expect(pooled.length).toBeGreaterThan(100_000);
  });
});
