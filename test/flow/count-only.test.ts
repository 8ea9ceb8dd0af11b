// The count-only path (issue 16): once the consumer wants no more bytes (its handshake decided), a
// packet of the flow is counted, its checksum not summed; and the sent segments of a direction are
// remembered in a bounded ring of typed arrays (no object per segment) with the list's semantics:
// the last MAX_SENT (64) segments, retransmissions marked on the remembered one, RTT samples from the
// newest segment an ACK covers (Karn), lost segments when a retransmitted one is acknowledged.
import { describe, expect, it } from 'vitest';
import { ACK, Conn, FIN, Harness, PSH, RST, handshake } from './harness.js';

const C = '10.1.0.5';
const S = '10.1.0.9';

describe('FlowTable: checksums on the count-only path', () => {
  it('verifies checksums while the consumer wants bytes, counts the packets after it as not verified', () => {
    const h = new Harness();
    h.acceptChunks = 2; // the consumer stops after its second delivery
    const c = new Conn(C, 50100, S, 3389);
    handshake(h, c);
    h.feed(c.c('one', ACK | PSH, { badChecksum: true })); // verified: bad
    h.feed(c.s('two')); // second delivery: the consumer stops wanting bytes
    expect(h.table.stats.checksumsNotVerified).toBe(0);
    h.feed(c.c('three', ACK | PSH, { badChecksum: true })); // not verified
    h.feed(c.s('four'));
    h.feed(c.c(''));
    h.finish();
    const r = h.only;
    expect(r.stream(0)).toBe('one');
    expect(r.stream(1)).toBe('two');
    expect(r.ended!.facts.badChecksums).toBe(1);
    expect(h.table.stats.badChecksums).toBe(1);
    expect(h.table.stats.checksumsNotVerified).toBe(3);
    // Counted all the same.
    expect(r.ended!.facts.packets).toEqual([5, 3]);
  });

  it('verifies every packet of a flow whose consumer keeps wanting bytes', () => {
    const h = new Harness();
    const c = new Conn(C, 50101, S, 3389);
    handshake(h, c);
    for (let i = 0; i < 5; i++) {
      h.feed(c.c('x'.repeat(10), ACK | PSH, { badChecksum: i % 2 === 0 }));
      h.feed(c.s(''));
    }
    h.finish();
    expect(h.table.stats.badChecksums).toBe(3);
    expect(h.table.stats.checksumsNotVerified).toBe(0);
  });

  it('keeps the TCP counters after the consumer stops: retransmissions, duplicate ACKs, zero windows, keep-alives', () => {
    const h = new Harness();
    h.acceptChunks = 1;
    const c = new Conn(C, 50102, S, 3389);
    handshake(h, c);
    h.feed(c.c('hello')); // the only delivery
    const seq = c.sSeq;
    h.feed(c.s('A'.repeat(100)));
    h.feed(c.s('B'.repeat(100)));
    const re = h.feed(c.s('A'.repeat(100), ACK | PSH, { seq }), 0.3); // retransmission
    h.feed(c.c('', ACK, { ack: seq }));
    h.feed(c.c('', ACK, { ack: seq })); // duplicate ACK
    h.feed(c.c('', ACK, { window: 0 })); // zero window
    h.feed(c.c('', ACK, { seq: c.cSeq - 1 }), 10); // keep-alive
    h.feed(c.s(''));
    h.feed(c.c('', FIN | ACK));
    h.feed(c.s('', FIN | ACK));
    h.feed(c.c(''));
    const t = h.only.ended!.facts.tcp!;
    expect(t.retransmissions).toEqual([0, 1]);
    expect(t.retransmissionFrames[1]).toEqual([re]);
    expect(t.dupAcks[0]).toBeGreaterThanOrEqual(1);
    expect(t.zeroWindows).toEqual([1, 0]);
    expect(t.keepAlives).toEqual([1, 0]);
    expect(t.lostSegments).toEqual([{ dir: 1, frame: re - 2, retransmitFrames: [re], length: 100, acked: true }]);
    expect(h.table.stats.checksumsNotVerified).toBeGreaterThan(0);
  });
});

describe('TcpTracker: the ring of sent segments', () => {
  it('remembers the last 64 segments: a retransmission of an older one counts but lists no lost segment', () => {
    const h = new Harness();
    const c = new Conn(C, 50103, S, 3389);
    handshake(h, c);
    const seqs: number[] = [];
    const frames: number[] = [];
    for (let i = 0; i < 70; i++) {
      seqs.push(c.sSeq);
      frames.push(h.feed(c.s(String.fromCharCode(65 + (i % 26)).repeat(100)), 0.001));
    }
    // Segment 3 has left the ring (70 - 64 = 6 dropped); segment 10 is in it.
    const r0 = h.feed(c.s('D'.repeat(100), ACK | PSH, { seq: seqs[3] }), 0.2);
    const r1 = h.feed(c.s('K'.repeat(100), ACK | PSH, { seq: seqs[10] }), 0.2);
    const r2 = h.feed(c.s('K'.repeat(100), ACK | PSH, { seq: seqs[10] }), 0.2);
    h.feed(c.c(''), 0.05); // acknowledges all 70
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.retransmissions).toEqual([0, 3]);
    expect(t.retransmissionFrames[1]).toEqual([r0, r1, r2]);
    expect(t.lostSegments).toEqual([{ dir: 1, frame: frames[10], retransmitFrames: [r1, r2], length: 100, acked: true }]);
    expect(t.maxAckedSegment[1]).toBe(100);
    // One sample: the ACK's newest covered segment (the 70th, never retransmitted).
    expect(t.rtt[1]!.count).toBe(1);
    expect(t.rtt[1]!.min).toBeCloseTo(0.65, 6);
  });

  it('wraps around many times with ACKs in between: one RTT sample per ACK, nothing lost', () => {
    const h = new Harness();
    const c = new Conn(C, 50104, S, 3389);
    handshake(h, c);
    let acks = 0;
    for (let i = 0; i < 500; i++) {
      h.feed(c.s('z'.repeat(1 + (i % 50))), 0.001);
      if (i % 3 === 2) {
        h.feed(c.c(''), 0.004);
        acks++;
      }
    }
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.rtt[1]!.count).toBe(acks);
    expect(t.rtt[1]!.min).toBeCloseTo(0.004, 9);
    expect(t.rtt[1]!.max).toBeCloseTo(0.004, 9);
    expect(t.lostSegments).toEqual([]);
    expect(t.retransmissions).toEqual([0, 0]);
    expect(t.maxAckedSegment[1]).toBe(50);
  });

  it('keeps at most 8 retransmission frames per segment and lists a segment never acknowledged at the end', () => {
    const h = new Harness();
    const c = new Conn(C, 50105, S, 3389);
    handshake(h, c);
    const seq = c.sSeq;
    const first = h.feed(c.s('M'.repeat(1400)));
    const re: number[] = [];
    for (let i = 0; i < 10; i++) re.push(h.feed(c.s('M'.repeat(1400), ACK | PSH, { seq }), 0.5));
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.retransmissions).toEqual([0, 10]);
    expect(t.lostSegments).toEqual([{ dir: 1, frame: first, retransmitFrames: re.slice(0, 8), length: 1400, acked: false }]);
  });

  it('a flow that takes a used ring starts with none of its segments', () => {
    const h = new Harness();
    for (let k = 0; k < 3; k++) {
      const c = new Conn(C, 50110 + k, S, 3389, 1000 + k * 7919, 5000 + k * 104729);
      handshake(h, c);
      const seq = c.sSeq;
      const first = h.feed(c.s('q'.repeat(200)));
      const re = h.feed(c.s('q'.repeat(200), ACK | PSH, { seq }), 0.4);
      h.feed(c.c('', FIN | ACK));
      h.feed(c.s('', FIN | ACK));
      h.feed(c.c(''));
      const t = h.consumers[k]!.ended!.facts.tcp!;
      expect(t.lostSegments).toEqual([{ dir: 1, frame: first, retransmitFrames: [re], length: 200, acked: true }]);
    }
  });
});

describe('FlowTable: a consumer that needs only counts (StreamConsumer.countsOnly, an RD Gateway watch)', () => {
  function bulk(countsOnly: boolean): { h: Harness; frames: number[] } {
    const h = new Harness({ gatewayPorts: { tcp: [443], udp: [] } });
    h.acceptChunks = 1;
    h.countsOnly = countsOnly;
    const c = new Conn(C, 50200, S, 443);
    handshake(h, c);
    h.feed(c.c('hello')); // the only delivery: the consumer wants no more bytes
    const seq = c.sSeq;
    h.feed(c.s('A'.repeat(1000)));
    h.feed(c.s('B'.repeat(1000)));
    h.feed(c.s('A'.repeat(1000), ACK | PSH, { seq }), 0.3); // a retransmission
    h.feed(c.c(''));
    const f1 = h.feed(c.s('', FIN | ACK));
    h.feed(c.s('', FIN | ACK)); // the FIN again
    const f2 = h.feed(c.c('', FIN | ACK));
    return { h, frames: [f1, f2] };
  }

  it('counts every packet and byte, hands over each side\'s FIN once, and closes after both, without TCP analysis', () => {
    const { h, frames } = bulk(true);
    const r = h.only;
    expect(r.ended!.reason).toBe('closed');
    expect(r.ended!.facts.packets).toEqual([2 + 2 + 1, 1 + 5]);
    expect(r.ended!.facts.payloadBytes).toEqual([5, 3000]);
    expect(r.ended!.facts.lastFrame).toBe(frames[1]);
    expect(r.eventText().filter((e) => !e.startsWith('syn') && !e.startsWith('ack'))).toEqual([`fin@${frames[0]}`, `fin@${frames[1]}`]);
    // The packets after the delivery are not checksummed.
    expect(h.table.stats.checksumsNotVerified).toBe(7);
    h.finish();
    expect(r.ends).toBe(1);
  });

  it('a consumer without it keeps the TCP analysis (the retransmission is seen)', () => {
    const { h } = bulk(false);
    expect(h.only.events().some((e) => e.kind === 'retransmission')).toBe(true);
  });

  it('a RST ends the counted flow at once', () => {
    const h = new Harness({ gatewayPorts: { tcp: [443], udp: [] } });
    h.acceptChunks = 1;
    h.countsOnly = true;
    const c = new Conn(C, 50201, S, 443);
    handshake(h, c);
    h.feed(c.c('hello'));
    h.feed(c.s('x'.repeat(500)));
    const rst = h.feed(c.c('', RST));
    const r = h.only;
    expect(r.ended!.reason).toBe('closed');
    expect(r.events().at(-1)).toMatchObject({ kind: 'rst', dir: 0, frame: rst });
    expect(r.ended!.facts.packets).toEqual([4, 2]);
  });
});
