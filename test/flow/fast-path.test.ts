// The flow table's fast path (tcpPacket: a packet that no tracked flow, RDP port, SYN log entry or
// X.224 request can concern is dropped without hashing its addresses) changes nothing: the same
// flows, events, bytes, facts and stats as with every packet going through the lookup. The slow
// path is forced by making every port look referenced (portRefs, synLog.awaitingAck).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/flow/index.js';
import type { SynLog } from '../../src/flow/synlog.js';
import { ACK, Conn, FIN, Harness, RST, SYN, Recording, feedCaptureFile, handshake } from './harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const X224_REQ = Buffer.from('030000130ee000000000000100080003000000', 'hex');

/** Every port counted as referenced: each TCP packet takes the slow path. */
function slowOnly(table: FlowTable): void {
  const t = table as unknown as { portRefs: Uint32Array; synLog: SynLog };
  t.portRefs.fill(1 << 30);
  t.synLog.awaitingAck.fill(1 << 30);
}

function outcome(h: Harness): string {
  return JSON.stringify({
    flows: h.consumers.map((r: Recording) => [r.ended?.reason, r.ended?.facts, r.eventText(), r.stream(0), r.stream(1)]),
    stats: h.table.stats,
    dns: h.table.dns,
  });
}

function traffic(h: Harness): void {
  for (let round = 0; round < 3; round++) {
    h.fileIndex = round === 2 ? 1 : 0;
    // Bulk HTTPS: data both ways, ACKs, a FIN close and a reset.
    for (let i = 0; i < 40; i++) {
      const c = new Conn(`10.9.${round}.${i}`, 40000 + i, '192.0.2.80', 443, 1000 * i, 50000 + i);
      handshake(h, c);
      for (let k = 0; k < 6; k++) {
        h.feed(c.c('GET /' + k));
        h.feed(c.s('x'.repeat(200 + k)));
      }
      h.feed(c.c('', i % 4 === 0 ? RST | ACK : FIN | ACK));
      if (i % 4 !== 0) h.feed(c.s('', FIN | ACK));
    }
    // RDP on a port that is not an RDP port, after its handshake (the SYN log backfills it); the
    // handshake's ACK comes late, after a client packet acknowledging something else.
    const x = new Conn('10.8.0.1', 51000 + round, '192.0.2.90', 8443, 777, 888);
    h.feed(x.syn());
    h.feed(x.synAck());
    x.established();
    h.feed(x.c('', ACK, { ack: 12345 }));
    h.feed(x.c('', ACK));
    h.feed(x.c(X224_REQ));
    h.feed(x.s(Buffer.from('030000130ed000001234000200080001000000', 'hex')));
    // Other clients to that port, and one client port shared with a tracked flow.
    for (let i = 0; i < 10; i++) {
      const c = new Conn(`10.7.0.${i}`, i === 0 ? 51000 + round : 42000 + i, '192.0.2.90', 8443, 5, 9);
      handshake(h, c);
      h.feed(c.c('hello'));
      h.feed(c.s('world'));
    }
    // RDP on 3389, closed, then a late ACK meeting its tombstone, then a new connection on the port.
    const r = new Conn('10.6.0.1', 52000, '192.0.2.10', 3389, 100, 200);
    handshake(h, r);
    h.feed(r.c(X224_REQ));
    h.feed(r.c('', FIN | ACK));
    h.feed(r.s('', FIN | ACK));
    h.feed(r.c('', ACK));
    h.feed(r.c('', ACK, { seq: 101 }));
    // A handshake ACK carrying the X.224 request itself, on another port.
    const y = new Conn('10.5.0.1', 53000 + round, '192.0.2.11', 9000, 10, 20);
    h.feed(y.syn());
    h.feed(y.synAck());
    y.established();
    h.feed(y.c(X224_REQ));
    // Packets with no flags, a lone FIN, a SYN-ACK without its SYN, a SYN with data.
    const z = new Conn('10.4.0.1', 54000, '192.0.2.12', 80, 1, 2);
    h.feed(z.c('odd', 0));
    h.feed(z.c('', FIN));
    h.feed(z.synAck());
    h.feed(z.c('syn data', SYN));
  }
  h.finish();
}

describe('flow table fast path', () => {
  it('changes nothing on mixed traffic (bulk, RDP on other ports, tombstones, shared ports, two files)', () => {
    const fast = new Harness();
    traffic(fast);
    const slow = new Harness();
    slowOnly(slow.table);
    traffic(slow);
    const got = outcome(fast);
    expect(got).toBe(outcome(slow));
    // The traffic has tracked flows beyond 3389 (X.224 found on 8443 and 9000).
    expect(fast.consumers.filter((r) => r.facts.server.port !== 3389).length).toBeGreaterThanOrEqual(6);
    expect(fast.consumers.every((r) => r.ended !== null)).toBe(true);
  });

  it('after the table let go of every flow, no port is counted any more', () => {
    const h = new Harness();
    traffic(h);
    const t = h.table as unknown as { portRefs: Uint32Array; synLog: SynLog };
    expect(t.portRefs.every((n) => n === 0)).toBe(true);
    expect(t.synLog.awaitingAck.every((n) => n === 0)).toBe(true);
  });

  it('changes nothing on every fixture capture', async () => {
    const dir = path.join(repoRoot, 'fixtures/captures');
    const files = readdirSync(dir).filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const runs: string[] = [];
      for (const slow of [false, true]) {
        const ends: unknown[] = [];
        const table = new FlowTable({ rdpPorts: [3389] }, (facts) => {
          const r = new Recording(facts);
          ends.push(r);
          return r;
        });
        if (slow) slowOnly(table);
        await feedCaptureFile(table, path.join(dir, f));
        runs.push(JSON.stringify({ ends: (ends as Recording[]).map((r) => [r.ended?.reason, r.ended?.facts, r.eventText(), r.stream(0), r.stream(1)]), stats: table.stats }));
      }
      expect(runs[0], f).toBe(runs[1]);
    }
  });
});
