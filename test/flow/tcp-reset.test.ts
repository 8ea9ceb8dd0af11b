// TcpTracker.reset(): a tracker the table takes again from its pool is as new. Every own property
// (of the tracker and of both directions' states) is overwritten first, so a field that reset()
// forgets fails here whatever the traffic that set it.
import { describe, expect, it } from 'vitest';
import { TcpTracker } from '../../src/flow/tcp.js';
import { ACK, Conn, FIN, Harness, PSH, handshake } from './harness.js';

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
