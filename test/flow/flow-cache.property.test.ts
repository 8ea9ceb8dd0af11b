// The table's TCP flow cache (FlowTable.tcpCache, issue 16) changes which work finds a packet's flow,
// never which flow it finds: on random traffic of connections whose ports share a cache cell (the same
// ports from another address too) that start, carry data, close by FIN or RST, come back on the same
// ports (port reuse, late packets of a closed connection, flows taken again from the pool), and go on in
// the next file, a table with the cache gives the same flows, facts, events and endings as one whose
// cache never holds a flow.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACK, Conn, FIN, Harness, PSH, RST } from './harness.js';

type Step =
  | { kind: 'syn'; c: number }
  | { kind: 'synAck'; c: number }
  | { kind: 'ack'; c: number }
  | { kind: 'data'; c: number; fromServer: boolean; len: number }
  | { kind: 'fin'; c: number; fromServer: boolean }
  | { kind: 'rst'; c: number; fromServer: boolean }
  | { kind: 'nextFile' };

const CONNS = 4;
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('syn' as const), c: fc.integer({ min: 0, max: CONNS - 1 }) }),
  fc.record({ kind: fc.constant('synAck' as const), c: fc.integer({ min: 0, max: CONNS - 1 }) }),
  fc.record({ kind: fc.constant('ack' as const), c: fc.integer({ min: 0, max: CONNS - 1 }) }),
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('data' as const), c: fc.integer({ min: 0, max: CONNS - 1 }), fromServer: fc.boolean(), len: fc.integer({ min: 0, max: 300 }) }) },
  fc.record({ kind: fc.constant('fin' as const), c: fc.integer({ min: 0, max: CONNS - 1 }), fromServer: fc.boolean() }),
  fc.record({ kind: fc.constant('rst' as const), c: fc.integer({ min: 0, max: CONNS - 1 }), fromServer: fc.boolean() }),
  fc.record({ kind: fc.constant('nextFile' as const) }),
);

function run(steps: Step[], cache: boolean, isnBase: number): string {
  const h = new Harness();
  if (!cache) {
    // A cache whose cells never keep what is written to them.
    (h.table as unknown as { tcpCache: unknown }).tcpCache = new Proxy(new Array<null>(1024).fill(null), { set: () => true });
  }
  // Ports 50300 and 50300 + 1024 share a cell; the fourth is the first's ports from another client.
  const mk = (i: number, gen: number): Conn =>
    new Conn(i === 3 ? '10.3.0.7' : '10.3.0.5', i === 1 ? 50300 + 1024 : i === 2 ? 50300 + 2048 : 50300, '10.3.0.9', 3389, (isnBase + 100_000 * i + 7919 * gen) >>> 0, (isnBase + 5_000_000 + 100_000 * i + 104_729 * gen) >>> 0);
  const gens = new Array<number>(CONNS).fill(0);
  const conns = Array.from({ length: CONNS }, (_, i) => mk(i, 0));
  for (const s of steps) {
    if (s.kind === 'nextFile') {
      h.fileIndex++;
      continue;
    }
    let c = conns[s.c]!;
    switch (s.kind) {
      case 'syn':
        // A new connection on the same ports (a new ISN), as a client reusing its port would.
        c = conns[s.c] = mk(s.c, ++gens[s.c]!);
        h.feed(c.syn());
        break;
      case 'synAck':
        h.feed(c.synAck());
        break;
      case 'ack':
        c.established();
        h.feed(c.c('', ACK));
        break;
      case 'data':
        h.feed(s.fromServer ? c.s('y'.repeat(s.len)) : c.c('x'.repeat(s.len)), 0.002);
        break;
      case 'fin':
        h.feed(s.fromServer ? c.s('', FIN | ACK) : c.c('', FIN | ACK));
        break;
      case 'rst':
        h.feed(s.fromServer ? c.s('', RST | ACK) : c.c('', RST));
        break;
    }
  }
  h.finish();
  return JSON.stringify({
    flows: h.consumers.map((r) => ({ facts: r.ended?.facts ?? r.facts, reason: r.ended?.reason, ends: r.ends, events: r.eventText() })),
    stats: h.table.stats,
  });
}

describe('FlowTable: the TCP flow cache', () => {
  it('finds the flow the bucket probe finds, whatever the connections on ports that share a cell do', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 0xffffffff }), (steps, isn) => {
        expect(run(steps, true, isn)).toBe(run(steps, false, isn));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });
});
