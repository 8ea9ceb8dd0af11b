import { describe, expect, it } from 'vitest';
import { dnsQuery, dnsResponse, ethernet, icmpv4, icmpv6, ipPacket, mtuRest, tcp } from '../../fixtures/lib/frames.js';
import { ACK, Conn, FIN, Harness, PSH, RST, SYN, handshake, udpFrame } from './harness.js';
import type { Flow } from '../../src/flow/flow.js';

const C = '10.0.0.5';
const S = '10.0.0.9';

/** TPKT + X.224 Connection Request with RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1), 19 bytes. */
// 03 00 00 13 | 0e e0 00 00 00 00 00 | 01 00 08 00 03 00 00 00
const X224_REQ = Buffer.from('030000130ee000000000000100080003000000', 'hex');

describe('FlowTable: TCP handshake', () => {
  it('records the three-way handshake, its RTT, MSS and TTLs', () => {
    const h = new Harness();
    const c = new Conn(C, 50000, S, 3389);
    const [syn, synAck, ack] = handshake(h, c, 0.025);
    h.finish();
    const r = h.only;
    const f = r.ended!.facts;
    expect(f.clientBy).toBe('syn');
    expect(f.client).toEqual({ ip: C, port: 50000 });
    expect(f.server).toEqual({ ip: S, port: 3389 });
    expect(f.transport).toBe('tcp');
    expect(f.ipVersion).toBe(4);
    expect(f.tcp!.synFrames).toEqual([syn]);
    expect(f.tcp!.synAckFrames).toEqual([synAck]);
    expect(f.tcp!.ackFrame).toBe(ack);
    expect(f.tcp!.handshakeRtt).toBeCloseTo(0.025, 9);
    expect(f.tcp!.mss).toEqual([1460, 1400]);
    expect(f.tcp!.ttl).toEqual([128, 64]);
    expect(f.packets).toEqual([2, 1]);
    expect(f.firstFrame).toBe(1);
    expect(f.lastFrame).toBe(3);
    expect(r.eventText()).toEqual(['syn@1', 'syn_ack@2', 'ack@3']);
    expect(r.ended!.reason).toBe('capture_end');
    expect(r.ends).toBe(1);
  });

  it('counts a retransmitted SYN that is never answered', () => {
    const h = new Harness();
    const c = new Conn(C, 50001, S, 3389);
    h.feed(c.syn());
    h.feed(c.syn(), 3);
    h.feed(c.syn(), 6);
    h.finish();
    const f = h.only.ended!.facts;
    expect(f.tcp!.synFrames).toEqual([1, 2, 3]);
    expect(f.tcp!.synAckFrames).toEqual([]);
    expect(f.tcp!.handshakeRtt).toBeNull();
    expect(f.tcp!.retransmissions).toEqual([0, 0]);
    expect(h.only.eventText()).toEqual(['syn@1', 'syn@2(re)', 'syn@3(re)']);
    expect(h.only.ended!.reason).toBe('capture_end');
  });

  it('measures the handshake RTT from the SYN that was answered (the last one before the SYN-ACK)', () => {
    const h = new Harness();
    const c = new Conn(C, 50002, S, 3389);
    h.feed(c.syn());
    h.feed(c.syn(), 3);
    h.feed(c.synAck(), 0.04);
    h.finish();
    expect(h.only.ended!.facts.tcp!.handshakeRtt).toBeCloseTo(0.04, 9);
  });

  it('marks a RST/ACK answering a SYN, with its TTL, and closes the flow', () => {
    const h = new Harness();
    const c = new Conn(C, 43067, S, 3389);
    h.feed(c.syn());
    h.feed(c.s('', RST | ACK, { ack: c.cSeq + 1, ttl: 63 }));
    const r = h.only;
    expect(r.ended!.reason).toBe('closed');
    const t = r.ended!.facts.tcp!;
    expect(t.rsts).toEqual([{ dir: 1, frame: 2, time: h.time, ttl: 63, answersSyn: true }]);
    expect(r.eventText()).toEqual(['syn@1', 'rst@2']);
    const rst = r.events()[1]!;
    expect(rst.kind === 'rst' && rst.ttl).toBe(63);
    h.finish();
    expect(r.ends).toBe(1);
  });

  it('delivers held bytes and their gap before the RST event', () => {
    const h = new Harness();
    const c = new Conn(C, 50005, S, 3389);
    handshake(h, c);
    h.feed(c.c('tail', ACK | PSH, { seq: c.cSeq + 2 }));
    h.feed(c.s('', RST | ACK));
    const kinds = h.only.log.map((x) => (x.kind === 'event' ? x.ev.kind : x.kind));
    expect(kinds).toEqual(['syn', 'syn_ack', 'ack', 'gap', 'data', 'rst', 'end']);
    expect(h.only.stream(0)).toBe('[2]tail');
  });

  it('records a RST after data with the TTL of the sender (not answering a SYN)', () => {
    const h = new Harness();
    const c = new Conn(C, 50003, S, 3389);
    handshake(h, c);
    h.feed(c.c('hello'));
    h.feed(c.s('', RST | ACK, { ttl: 250 }));
    const t = h.only.ended!.facts.tcp!;
    expect(t.rsts).toHaveLength(1);
    expect(t.rsts[0]).toMatchObject({ dir: 1, frame: 5, ttl: 250, answersSyn: false });
    expect(t.ttlsSeen[1]).toEqual([64, 250]);
  });
});

describe('FlowTable: client detection', () => {
  it('without a SYN, takes the side talking to the RDP port as the client', () => {
    const h = new Harness();
    const c = new Conn(C, 1930, S, 3389);
    h.feed(c.s('server first'));
    h.feed(c.c());
    h.feed(c.s('more'));
    h.finish();
    const f = h.only.ended!.facts;
    expect(f.clientBy).toBe('port');
    expect(f.client).toEqual({ ip: C, port: 1930 });
    expect(f.server).toEqual({ ip: S, port: 3389 });
    expect(f.tcp!.synFrames).toEqual([]);
    expect(h.only.stream(1)).toBe('server firstmore');
  });

  it('with only a SYN-ACK seen, takes its receiver as the client', () => {
    const h = new Harness();
    const c = new Conn(C, 50004, S, 3389);
    h.feed(c.synAck());
    h.finish();
    const f = h.only.ended!.facts;
    expect(f.clientBy).toBe('syn');
    expect(f.client.port).toBe(50004);
  });
});

describe('FlowTable: stream delivery', () => {
  it('delivers both directions in order, with the frames of the segments', () => {
    const h = new Harness();
    const c = new Conn(C, 50010, S, 3389);
    handshake(h, c);
    const f1 = h.feed(c.c('abc'));
    const f2 = h.feed(c.s('XYZ'));
    const f3 = h.feed(c.c('def'));
    h.finish();
    const r = h.only;
    expect(r.stream(0)).toBe('abcdef');
    expect(r.stream(1)).toBe('XYZ');
    expect(r.log.filter((x) => x.kind === 'data').map((x) => x.kind === 'data' && x.frame)).toEqual([f1, f2, f3]);
    expect(r.ended!.facts.payloadBytes).toEqual([6, 3]);
  });

  it('drops a retransmitted segment and counts it (event, frame, then acked)', () => {
    const h = new Harness();
    const c = new Conn(C, 50011, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    const first = h.feed(c.c('hello'));
    const re = h.feed(c.c('hello', ACK | PSH, { seq }), 0.3);
    h.feed(c.s(''), 0.01);
    h.finish();
    const r = h.only;
    const t = r.ended!.facts.tcp!;
    expect(r.stream(0)).toBe('hello');
    expect(t.retransmissions).toEqual([1, 0]);
    expect(t.retransmissionFrames[0]).toEqual([re]);
    expect(r.events().find((e) => e.kind === 'retransmission')).toEqual({ kind: 'retransmission', dir: 0, frame: re, time: expect.any(Number), length: 5 });
    expect(t.lostSegments).toEqual([{ dir: 0, frame: first, retransmitFrames: [re], length: 5, acked: true }]);
    // Karn: no RTT sample from a retransmitted segment.
    expect(t.rtt[0]).toBeNull();
  });

  it('delivers only the new bytes of a partially overlapping retransmission', () => {
    const h = new Harness();
    const c = new Conn(C, 50012, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    h.feed(c.c('abcd'));
    h.feed(c.c('cdefgh', ACK | PSH, { seq: seq + 2 }), 0.25);
    c.cSeq = seq + 8;
    h.feed(c.c('ij'));
    h.finish();
    expect(h.only.stream(0)).toBe('abcdefghij');
    expect(h.only.ended!.facts.tcp!.retransmissions[0]).toBe(1);
  });

  it('holds an out-of-order segment until the hole fills, counting it as out-of-order', () => {
    const h = new Harness();
    const c = new Conn(C, 50013, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    h.feed(c.c('2222', ACK | PSH, { seq: seq + 4 }));
    expect(h.only.stream(0)).toBe('');
    expect(h.table.heldBytes).toBe(4);
    h.feed(c.c('1111', ACK | PSH, { seq }), 0.0005);
    expect(h.only.stream(0)).toBe('11112222');
    expect(h.table.heldBytes).toBe(0);
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.outOfOrder[0]).toBe(1);
    expect(t.retransmissions[0]).toBe(0);
  });

  it('delivers a permanent hole as a gap when the other side ACKs past it', () => {
    const h = new Harness();
    const c = new Conn(C, 50014, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    h.feed(c.c('AAAA'));
    // 6 bytes lost before the capture point, then 'CC'.
    h.feed(c.c('CC', ACK | PSH, { seq: seq + 10 }));
    const ackFrame = h.feed(c.s('', ACK, { ack: seq + 12 }));
    const r = h.only;
    expect(r.stream(0)).toBe('AAAA[6]CC');
    const gap = r.log.find((x) => x.kind === 'gap');
    expect(gap).toEqual({ kind: 'gap', dir: 0, n: 6, frame: ackFrame });
    h.finish();
    expect(r.ended!.facts.gapBytes).toEqual([6, 0]);
  });

  it('delivers held segments after a gap when the flow ends', () => {
    const h = new Harness();
    const c = new Conn(C, 50015, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    h.feed(c.c('xyz', ACK | PSH, { seq: seq + 3 }));
    h.finish();
    expect(h.only.stream(0)).toBe('[3]xyz');
    expect(h.only.ended!.facts.gapBytes[0]).toBe(3);
  });

  it('handles sequence numbers wrapping around 2^32', () => {
    const h = new Harness();
    const c = new Conn(C, 50016, S, 3389, 0xfffffffa, 0xfffffff0);
    handshake(h, c);
    h.feed(c.c('0123456789'));
    h.feed(c.s('abcdefghijklmnopqrstuvwxyz'));
    h.feed(c.c('!!'));
    h.feed(c.s(''));
    h.finish();
    const r = h.only;
    expect(r.stream(0)).toBe('0123456789!!');
    expect(r.stream(1)).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(r.ended!.facts.tcp!.retransmissions).toEqual([0, 0]);
    expect(r.ended!.facts.gapBytes).toEqual([0, 0]);
  });

  it('cuts bytes beyond the per-flow bound and counts them', () => {
    const h = new Harness({ perFlowBytes: 8 });
    const c = new Conn(C, 50017, S, 3389);
    handshake(h, c);
    h.feed(c.c('12345'));
    h.feed(c.c('67890'));
    h.feed(c.c('abc'));
    h.finish();
    expect(h.only.stream(0)).toBe('12345678');
    expect(h.only.ended!.facts.cutBytes).toEqual([5, 0]);
    expect(h.table.stats.cutBytes).toBe(5);
  });

  it('a consumer that reads the whole stream (decrypted TLS) lifts the per-flow bound: nothing is cut', () => {
    const h = new Harness({ perFlowBytes: 8 });
    const c = new Conn(C, 50018, S, 3389);
    handshake(h, c);
    h.only.wholeStream = true;
    h.feed(c.c('12345'));
    h.feed(c.c('67890'));
    h.feed(c.c('abc'));
    h.feed(c.s('server bytes past the bound'));
    h.finish();
    expect(h.only.stream(0)).toBe('1234567890abc');
    expect(h.only.stream(1)).toBe('server bytes past the bound');
    expect(h.only.ended!.facts.cutBytes).toEqual([0, 0]);
    expect(h.table.stats.cutBytes).toBe(0);
  });

  it('drops a segment 1 GiB ahead as outside any receive window: reported, counted, no gap, no retransmissions after it', () => {
    const h = new Harness();
    const c = new Conn(C, 50030, S, 3389);
    handshake(h, c);
    const seq = c.cSeq;
    h.feed(c.c('hello'));
    const jump = h.feed(c.c('JUMPED', ACK | PSH, { seq: (seq + 5 + 0x40000000) >>> 0 }));
    h.feed(c.s('', ACK));
    h.feed(c.c(' world'));
    h.feed(c.c('', FIN | ACK));
    h.feed(c.s('', FIN | ACK));
    h.feed(c.c('', ACK));
    const r = h.only;
    expect(r.stream(0)).toBe('hello world');
    expect(r.outside).toEqual([{ dir: 0, distance: 0x40000000, length: 6, frame: jump }]);
    const f = r.ended!.facts;
    expect(f.gapBytes).toEqual([0, 0]);
    expect(f.cutBytes).toEqual([0, 0]);
    expect(f.tcp!.retransmissions).toEqual([0, 0]);
    expect(f.tcp!.outOfOrder).toEqual([0, 0]);
    expect(f.tcp!.fins.map((x) => x.dir)).toEqual([0, 1]);
    expect(r.ended!.reason).toBe('closed');
    expect([h.table.stats.outOfWindowSegments, h.table.stats.outOfWindowBytes, h.table.stats.cutBytes]).toEqual([1, 6, 0]);
  });

  it('a FIN outside any receive window does not close the direction', () => {
    const h = new Harness();
    const c = new Conn(C, 50031, S, 3389);
    handshake(h, c);
    h.feed(c.c('abc'));
    h.feed(c.c('', FIN | ACK, { seq: (c.cSeq + 0x60000000) >>> 0 }));
    h.finish();
    const f = h.only.ended!.facts;
    expect(f.tcp!.fins).toEqual([]);
    expect(h.only.outside).toHaveLength(1);
  });

  it('stops delivering bytes of the flow when onData returns false, counters go on', () => {
    const h = new Harness();
    h.acceptChunks = 1;
    const c = new Conn(C, 50018, S, 3389);
    handshake(h, c);
    h.feed(c.c('first'));
    h.feed(c.s('reply'));
    h.feed(c.c('second'));
    h.finish();
    const r = h.only;
    expect(r.log.filter((x) => x.kind === 'data')).toHaveLength(1);
    expect(r.ended!.facts.payloadBytes).toEqual([11, 5]);
    expect(r.ended!.facts.packets).toEqual([4, 2]);
  });
});

describe('FlowTable: TCP analysis', () => {
  it('counts keep-alives, not as retransmissions', () => {
    const h = new Harness();
    const c = new Conn(C, 50020, S, 3389);
    handshake(h, c);
    h.feed(c.c('data'));
    h.feed(c.s(''));
    // Windows keep-alive: 1 byte at next - 1; Linux: 0 bytes at next - 1.
    h.feed(c.c(Buffer.from([0]), ACK, { seq: c.cSeq - 1 }), 30);
    h.feed(c.s(''));
    h.feed(c.c('', ACK, { seq: c.cSeq - 1 }), 30);
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.keepAlives).toEqual([2, 0]);
    expect(t.retransmissions).toEqual([0, 0]);
    expect(h.only.stream(0)).toBe('data');
    expect(t.maxIdle).toEqual({ seconds: expect.closeTo(30, 6), frame: 6 });
  });

  it('counts duplicate ACKs (same ack, no data, same window, data outstanding)', () => {
    const h = new Harness();
    const c = new Conn(C, 50021, S, 3389);
    handshake(h, c);
    const seq = c.sSeq;
    h.feed(c.s('A'.repeat(100)));
    c.sSeq = seq + 100;
    h.feed(c.s('B'.repeat(100))); // outstanding
    h.feed(c.c('', ACK, { ack: seq + 100 }));
    h.feed(c.c('', ACK, { ack: seq + 100 }));
    h.feed(c.c('', ACK, { ack: seq + 100 }));
    h.feed(c.c('', ACK, { ack: seq + 100, window: 1000 })); // window changed: a window update
    h.finish();
    expect(h.only.ended!.facts.tcp!.dupAcks).toEqual([2, 0]);
  });

  it('counts zero windows', () => {
    const h = new Harness();
    const c = new Conn(C, 50022, S, 3389);
    handshake(h, c);
    h.feed(c.s('x'.repeat(50)));
    h.feed(c.c('', ACK, { window: 0 }));
    h.feed(c.c('', ACK, { window: 0 }));
    h.feed(c.c('', ACK, { window: 512 }));
    h.finish();
    expect(h.only.ended!.facts.tcp!.zeroWindows).toEqual([2, 0]);
  });

  it('takes RTT samples from data and the ACKs covering it, and the largest segments sent and acked', () => {
    const h = new Harness();
    const c = new Conn(C, 50023, S, 3389);
    handshake(h, c);
    h.feed(c.s('a'.repeat(1400)));
    h.feed(c.c(''), 0.01);
    h.feed(c.s('b'.repeat(300)));
    h.feed(c.c(''), 0.03);
    h.feed(c.s('c'.repeat(200)));
    h.feed(c.c(''), 0.02);
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.rtt[1]!.count).toBe(3);
    expect(t.rtt[1]!.min).toBeCloseTo(0.01, 9);
    expect(t.rtt[1]!.median).toBeCloseTo(0.02, 9);
    expect(t.rtt[1]!.max).toBeCloseTo(0.03, 9);
    expect(t.rtt[0]).toBeNull();
    expect(t.maxSegment).toEqual([0, 1400]);
    expect(t.maxAckedSegment).toEqual([0, 1400]);
  });

  it('lists full-size segments retransmitted and never acked (MTU black hole) while small ones pass', () => {
    const h = new Harness();
    const c = new Conn(C, 50024, S, 3389);
    handshake(h, c);
    h.feed(c.c('hello'));
    h.feed(c.s('ok'));
    h.feed(c.c(''));
    const seq = c.sSeq;
    const big = 'C'.repeat(1400);
    const first = h.feed(c.s(big));
    const r1 = h.feed(c.s(big, ACK | PSH, { seq }), 0.3);
    const r2 = h.feed(c.s(big, ACK | PSH, { seq }), 0.6);
    h.finish();
    const t = h.only.ended!.facts.tcp!;
    expect(t.lostSegments).toEqual([{ dir: 1, frame: first, retransmitFrames: [r1, r2], length: 1400, acked: false }]);
    expect(t.retransmissions).toEqual([0, 2]);
    expect(t.maxAckedSegment[1]).toBe(2);
    expect(t.maxSegment[1]).toBe(1400);
  });

  it('counts bad checksums for packets of tracked flows, never dropping them', () => {
    const h = new Harness();
    const c = new Conn(C, 50025, S, 3389);
    handshake(h, c);
    h.feed(c.c('bad', ACK | PSH, { badChecksum: true }));
    h.finish();
    expect(h.only.stream(0)).toBe('bad');
    expect(h.only.ended!.facts.badChecksums).toBe(1);
    expect(h.table.stats.badChecksums).toBe(1);
  });
});

describe('FlowTable: closing', () => {
  it('closes after a FIN from the client, the FIN from the server and the last ACK', () => {
    const h = new Harness();
    const c = new Conn(C, 50030, S, 3389);
    handshake(h, c);
    h.feed(c.c('bye'));
    const fin1 = h.feed(c.c('', FIN | ACK));
    const fin2 = h.feed(c.s('', FIN | ACK));
    expect(h.only.ended).toBeNull();
    h.feed(c.c(''));
    const r = h.only;
    expect(r.ended!.reason).toBe('closed');
    expect(r.ended!.facts.tcp!.fins).toEqual([
      { dir: 0, frame: fin1, time: expect.any(Number) },
      { dir: 1, frame: fin2, time: expect.any(Number) },
    ]);
    expect(r.eventText()).toEqual(['syn@1', 'syn_ack@2', 'ack@3', `fin@${fin1}`, `fin@${fin2}`]);
    expect(r.stream(0)).toBe('bye');
    // A late packet of the closed flow starts nothing new.
    h.feed(c.c(''));
    h.finish();
    expect(h.consumers).toHaveLength(1);
    expect(r.ends).toBe(1);
    expect(h.table.openFlows).toBe(0);
  });

  it('closes when the server sends the first FIN', () => {
    const h = new Harness();
    const c = new Conn(C, 50031, S, 3389);
    handshake(h, c);
    h.feed(c.s('data', FIN | ACK | PSH));
    h.feed(c.c('', FIN | ACK));
    h.feed(c.s(''));
    const r = h.only;
    expect(r.ended!.reason).toBe('closed');
    expect(r.ended!.facts.tcp!.fins.map((f) => f.dir)).toEqual([1, 0]);
    expect(r.stream(1)).toBe('data');
  });

  it('starts a new flow when a SYN reuses the 4-tuple of a closed connection', () => {
    const h = new Harness();
    const c = new Conn(C, 50032, S, 3389);
    handshake(h, c);
    h.feed(c.c('', RST | ACK));
    expect(h.consumers[0]!.ended!.reason).toBe('closed');
    const c2 = new Conn(C, 50032, S, 3389, 777777, 888888);
    handshake(h, c2);
    h.finish();
    expect(h.consumers).toHaveLength(2);
    expect(h.consumers[1]!.ended!.facts.tcp!.synFrames).toEqual([5]);
    expect(h.consumers[1]!.ended!.facts.id).not.toBe(h.consumers[0]!.ended!.facts.id);
  });

  it('starts a new flow when a SYN with a new ISN arrives on a connection that saw a FIN only', () => {
    const h = new Harness();
    const c = new Conn(C, 50033, S, 3389);
    handshake(h, c);
    h.feed(c.c('', FIN | ACK));
    const c2 = new Conn(C, 50033, S, 3389, 4242, 2424);
    h.feed(c2.syn());
    h.finish();
    expect(h.consumers).toHaveLength(2);
    expect(h.consumers[0]!.ended!.reason).toBe('closed');
    expect(h.consumers[1]!.ended!.reason).toBe('capture_end');
  });
});

describe('FlowTable: RDP on other ports', () => {
  it('tracks a flow from its X.224 request after a SOCKS5 exchange, with the handshake backfilled', () => {
    const h = new Harness();
    const c = new Conn('10.0.0.3', 2276, '10.0.0.2', 42356);
    h.feed(c.syn());
    h.feed(c.synAck(), 0.002);
    c.established();
    h.feed(c.c());
    // SOCKS5 greeting, method, CONNECT request and reply (RFC 1928).
    h.feed(c.c(Buffer.from('050100', 'hex')));
    h.feed(c.s(Buffer.from('0500', 'hex')));
    h.feed(c.c(Buffer.from('050100010a0000020d3d', 'hex')));
    h.feed(c.s(Buffer.from('05000001000000000000', 'hex')));
    expect(h.consumers).toHaveLength(0);
    const req = h.feed(c.c(X224_REQ));
    h.feed(c.s(Buffer.from('030000130ed000001234000201080000000000', 'hex')));
    h.finish();
    const r = h.only;
    const f = r.ended!.facts;
    expect(f.clientBy).toBe('x224');
    expect(f.client).toEqual({ ip: '10.0.0.3', port: 2276 });
    expect(f.server).toEqual({ ip: '10.0.0.2', port: 42356 });
    expect(f.tcp!.synFrames).toEqual([1]);
    expect(f.tcp!.synAckFrames).toEqual([2]);
    expect(f.tcp!.ackFrame).toBe(3);
    expect(f.tcp!.handshakeRtt).toBeCloseTo(0.002, 9);
    expect(f.skippedPrefix).toEqual([13, 12]);
    expect(f.firstFrame).toBe(1);
    expect(r.stream(0)).toBe(X224_REQ.toString('latin1'));
    expect(r.stream(1).length).toBe(19);
    expect(r.eventText()).toEqual(['syn@1', 'syn_ack@2', 'ack@3']);
    expect(r.log.findIndex((x) => x.kind === 'data')).toBe(3);
    expect(f.packets).toEqual([1, 1]);
    expect(req).toBe(8);
  });

  it('does not take a TPKT that is not a Connection Request for RDP', () => {
    const h = new Harness();
    const c = new Conn(C, 40000, S, 102);
    const notCr = Buffer.from(X224_REQ);
    notCr[5] = 0xf0; // X.224 Data TPDU
    h.feed(c.c(notCr));
    h.feed(c.c(X224_REQ.subarray(0, 10)));
    expect(h.consumers).toHaveLength(0);
    expect(h.table.stats.flowsTracked).toBe(0);
  });
});

describe('FlowTable: fast path', () => {
  it('drops traffic that does not matter and tracks none of it', () => {
    const h = new Harness();
    const web = new Conn(C, 51000, S, 443);
    handshake(h, web);
    h.feed(web.c('GET / HTTP/1.1\r\n\r\n'));
    h.feed(udpFrame({ src: C, dst: S }, 5000, 5001, Buffer.from('hello')));
    h.finish();
    expect(h.consumers).toHaveLength(0);
    expect(h.table.stats).toMatchObject({ packets: 5, tcpPackets: 4, udpPackets: 1, flowsTracked: 0 });
  });

  it('tracks flows on extra RDP ports', () => {
    const h = new Harness({ rdpPorts: [3389, 13389] });
    handshake(h, new Conn(C, 51001, S, 13389));
    h.finish();
    expect(h.only.ended!.facts.server.port).toBe(13389);
  });

  it('does not track a flow the next stage declines, and asks only once', () => {
    const h = new Harness();
    let asked = 0;
    h.decline = () => (asked++, true);
    const c = new Conn(C, 51002, S, 3389);
    handshake(h, c);
    h.feed(c.c('x'));
    h.finish();
    expect(asked).toBe(1);
    expect(h.consumers).toHaveLength(0);
  });
});

describe('FlowTable: ICMP errors', () => {
  it('ties an ICMP fragmentation-needed to the tracked flow it quotes', () => {
    const h = new Harness();
    const c = new Conn(C, 50040, S, 3389);
    handshake(h, c);
    const big = Buffer.alloc(1400, 0x41);
    const seg = tcp(big, { srcPort: 3389, dstPort: 50040, seq: c.sSeq, ack: c.cSeq, flags: ACK | PSH }, { src: S, dst: C });
    const quoted = ipPacket(seg, 6, { src: S, dst: C }).subarray(0, 28);
    const router = '10.0.0.1';
    const fr = h.feed(ethernet(ipPacket(icmpv4(3, 4, mtuRest(1300), quoted), 1, { src: router, dst: S })));
    h.finish();
    const r = h.only;
    const ref = { frame: fr, time: expect.any(Number), ipVersion: 4, from: router, type: 3, code: 4, mtu: 1300, quotedDir: 1 };
    expect(r.ended!.facts.icmp).toEqual([ref]);
    expect(r.events().at(-1)).toEqual({ kind: 'icmp', frame: fr, time: expect.any(Number), icmp: ref });
    expect(h.table.stats.unmatchedIcmp).toBe(0);
  });

  it('ties an ICMPv6 administratively-prohibited to an IPv6 flow, and counts unmatched ones', () => {
    const h = new Harness();
    const c6 = '2001:db8::5';
    const s6 = '2001:db8::9';
    const c = new Conn(c6, 50041, s6, 3389);
    h.feed(c.syn());
    const synSeg = tcp(Buffer.alloc(0), { srcPort: 50041, dstPort: 3389, seq: c.cSeq, ack: 0, flags: SYN }, { src: c6, dst: s6 });
    const quoted = ipPacket(synSeg, 6, { src: c6, dst: s6 });
    const fw = '2001:db8::1';
    const ip = { src: fw, dst: c6 };
    const fr = h.feed(ethernet(ipPacket(icmpv6(1, 1, Buffer.alloc(4), quoted, ip), 58, ip)));
    // The same error quoting a connection nobody tracks.
    const other = tcp(Buffer.alloc(0), { srcPort: 50042, dstPort: 80, seq: 1, ack: 0, flags: SYN }, { src: c6, dst: s6 });
    h.feed(ethernet(ipPacket(icmpv6(1, 1, Buffer.alloc(4), ipPacket(other, 6, { src: c6, dst: s6 }), ip), 58, ip)));
    h.finish();
    const f = h.only.ended!.facts;
    expect(f.ipVersion).toBe(6);
    expect(f.client.ip).toBe(c6);
    expect(f.icmp).toEqual([{ frame: fr, time: expect.any(Number), ipVersion: 6, from: fw, type: 1, code: 1, mtu: null, quotedDir: 0 }]);
    expect(h.table.stats.unmatchedIcmp).toBe(1);
  });
});

describe('FlowTable: DNS', () => {
  it('matches queries and responses by id, client and server; keeps NXDOMAIN and unanswered queries', () => {
    const h = new Harness();
    const dnsS = '10.0.0.53';
    const q1 = h.feed(udpFrame({ src: C, dst: dnsS }, 53000, 53, dnsQuery(0x1111, 'rdp.example.com', 1)));
    const q2 = h.feed(udpFrame({ src: C, dst: dnsS }, 53001, 53, dnsQuery(0x2222, 'typo.example.com', 1)));
    const q3 = h.feed(udpFrame({ src: C, dst: dnsS }, 53002, 53, dnsQuery(0x3333, 'slow.example.com', 28)));
    const r1 = h.feed(
      udpFrame({ src: dnsS, dst: C }, 53, 53000, dnsResponse(0x1111, 'rdp.example.com', 1, 0, [{ type: 5, data: 'host.example.com' }, { type: 1, data: S }])),
      0.01,
    );
    const r2 = h.feed(udpFrame({ src: dnsS, dst: C }, 53, 53001, dnsResponse(0x2222, 'typo.example.com', 1, 3, [])));
    // A response from another server with the same id matches nothing.
    h.feed(udpFrame({ src: '10.9.9.9', dst: C }, 53, 53002, dnsResponse(0x3333, 'slow.example.com', 28, 0, [])));
    h.finish();
    expect(h.table.dns).toEqual([
      { fileIndex: 0, id: 0x1111, client: C, server: dnsS, queryFrame: q1, time: expect.any(Number), name: 'rdp.example.com', qtype: 1, responseFrame: r1, responseTime: expect.any(Number), rcode: 0, addresses: [S], cnames: ['host.example.com'] },
      { fileIndex: 0, id: 0x2222, client: C, server: dnsS, queryFrame: q2, time: expect.any(Number), name: 'typo.example.com', qtype: 1, responseFrame: r2, responseTime: expect.any(Number), rcode: 3, addresses: [], cnames: [] },
      { fileIndex: 0, id: 0x3333, client: C, server: dnsS, queryFrame: q3, time: expect.any(Number), name: 'slow.example.com', qtype: 28, responseFrame: null, responseTime: null, rcode: null, addresses: [], cnames: [] },
    ]);
    expect(h.table.unmatchedDnsResponses).toBe(1);
    expect(h.consumers).toHaveLength(0);
  });

  it('keeps at most maxDns transactions, the most recent ones', () => {
    const h = new Harness({ maxDns: 3 });
    for (let i = 0; i < 5; i++) h.feed(udpFrame({ src: C, dst: '10.0.0.53' }, 40000 + i, 53, dnsQuery(i, `n${i}.example`, 1)));
    expect(h.table.dns.map((t) => t.id)).toEqual([2, 3, 4]);
  });
});

describe('FlowTable: UDP', () => {
  it('delivers RDPEUDP datagrams whole, client = the side talking to 3389', () => {
    const h = new Harness();
    const d1 = Buffer.from('ffffffff0040000400000000', 'hex');
    const d2 = Buffer.from('000000010040040000000000', 'hex');
    const f1 = h.feed(udpFrame({ src: S, dst: C }, 3389, 60000, d2)); // server first: the capture missed the SYN
    const f2 = h.feed(udpFrame({ src: C, dst: S }, 60000, 3389, d1));
    const f3 = h.feed(udpFrame({ src: C, dst: S }, 60000, 3389, d1));
    h.finish();
    const r = h.only;
    const f = r.ended!.facts;
    expect(f.transport).toBe('udp');
    expect(f.tcp).toBeNull();
    expect(f.clientBy).toBe('port');
    expect(f.client).toEqual({ ip: C, port: 60000 });
    expect(f.udp!.firstFrames).toEqual([f2, f1]);
    expect(f.packets).toEqual([2, 1]);
    const data = r.log.flatMap((x) => (x.kind === 'data' ? [[x.dir, x.frame, x.data.toString('hex')]] : []));
    expect(data).toEqual([
      [1, f1, d2.toString('hex')],
      [0, f2, d1.toString('hex')],
      [0, f3, d1.toString('hex')],
    ]);
  });

  it('cuts whole datagrams beyond the per-flow bound', () => {
    const h = new Harness({ perFlowBytes: 20 });
    for (let i = 0; i < 3; i++) h.feed(udpFrame({ src: C, dst: S }, 60001, 3389, Buffer.alloc(12, i)));
    h.finish();
    expect(h.only.log.filter((x) => x.kind === 'data')).toHaveLength(1);
    expect(h.only.ended!.facts.cutBytes).toEqual([24, 0]);
  });
});

describe('FlowTable: memory bounds', () => {
  it('evicts the oldest half-open flows first over maxFlows, counted and told', () => {
    const h = new Harness({ maxFlows: 4 });
    const est = new Conn(C, 40000, S, 3389);
    handshake(h, est); // established: must outlive the SYN flood
    for (let i = 0; i < 10; i++) h.feed(new Conn(`192.0.2.${i + 1}`, 1024 + i, S, 3389).syn());
    expect(h.table.openFlows).toBe(4);
    expect(h.table.stats.halfOpenEvicted).toBe(7);
    expect(h.table.stats.flowsEvicted).toBe(7);
    const evicted = h.consumers.filter((r) => r.ended?.reason === 'evicted');
    expect(evicted.map((r) => r.facts.client.ip)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6', '192.0.2.7']);
    expect(h.consumers[0]!.ended).toBeNull();
    h.finish();
    expect(h.consumers.every((r) => r.ends === 1)).toBe(true);
  });

  it('stays under the cap through a SYN flood of many distinct flows', () => {
    const h = new Harness({ maxFlows: 100 });
    const frames: Buffer[] = [];
    for (let i = 0; i < 256; i++) frames.push(new Conn(`198.51.100.${i}`, 2000, S, 3389).syn());
    // 20 000 distinct flows: source port varies (bytes patched in place, checksum left stale: counted, not dropped).
    let n = 0;
    for (let p = 0; p < 80; p++)
      for (const f of frames) {
        f.writeUInt16BE(2000 + p, 14 + 20);
        h.feed(f);
        n++;
      }
    expect(h.table.openFlows).toBeLessThanOrEqual(100);
    expect(h.table.stats.flowsTracked).toBe(n);
    expect(h.table.stats.halfOpenEvicted).toBe(n - 100);
    h.finish();
    expect(h.table.openFlows).toBe(0);
  });
});

describe('FlowTable: files', () => {
  it('ends the flows of one file at its end and keeps the DNS transactions', () => {
    const h = new Harness();
    handshake(h, new Conn(C, 50050, S, 3389));
    h.feed(udpFrame({ src: C, dst: '10.0.0.53' }, 40000, 53, dnsQuery(7, 'x.example', 1)));
    h.table.finish(h.time, 0);
    expect(h.only.ended!.reason).toBe('capture_end');
    expect(h.table.dns).toHaveLength(1);
    h.fileIndex = 1;
    h.frame = 0;
    handshake(h, new Conn(C, 50050, S, 3389));
    h.finish();
    expect(h.consumers).toHaveLength(2);
    expect(h.consumers[1]!.ended!.facts.fileIndex).toBe(1);
    expect(h.consumers[1]!.ended!.facts.tcp!.synFrames).toEqual([1]);
  });
});


describe('FlowTable: what a flow holds before it carries data', () => {
  /** The table's flows (its activity list, oldest first): internals, read to check what a flow allocates. */
  function flows(h: Harness): Flow[] {
    const out: Flow[] = [];
    for (let f = (h.table as unknown as { lruHead: Flow | null }).lruHead; f !== null; f = f.lruNext) out.push(f);
    return out;
  }

  it('a half-open connection is a slot (no flow, no consumer) until it ends; then its facts are complete', () => {
    const h = new Harness();
    const c = new Conn(C, 50100, S, 3389);
    h.feed(c.syn());
    h.feed(c.syn(), 1);
    h.feed(c.synAck(), 0.01);
    expect(flows(h)).toEqual([]);
    expect(h.consumers).toEqual([]);
    expect(h.table.halfOpenSlots).toBe(1);
    expect(h.table.openFlows).toBe(1);
    h.finish();
    expect(h.table.halfOpenSlots).toBe(0);
    const t = h.only.ended!.facts.tcp!;
    expect(t.synFrames).toEqual([1, 2]);
    expect(t.synAckFrames).toEqual([3]);
    expect(t.handshakeRtt).toBeCloseTo(0.01, 9);
    expect(t.ttl).toEqual([128, 64]);
    expect(t.ttlsSeen).toEqual([[128], [64]]);
    expect(t.mss).toEqual([1460, 1400]);
    expect(t.retransmissions).toEqual([0, 0]);
    expect(t.rtt).toEqual([null, null]);
    expect(t.maxIdle).toEqual({ seconds: expect.closeTo(1, 9), frame: 2 });
  });

  it('an ACK past the start of a stream that sent nothing yet is a gap (the reassemblers come with that need)', () => {
    const h = new Harness();
    const c = new Conn(C, 50101, S, 3389);
    handshake(h, c);
    expect(flows(h)[0]!.reasm).toBeNull();
    // The server acknowledges 10 client bytes the capture never saw.
    const ackFrame = h.feed(c.s('', ACK, { ack: c.cSeq + 10 }));
    expect(flows(h)[0]!.reasm).not.toBeNull();
    h.feed(c.c('abc', ACK | PSH, { seq: c.cSeq + 10 }));
    h.finish();
    const r = h.only;
    expect(r.log.filter((x) => x.kind === 'gap')).toEqual([{ kind: 'gap', dir: 0, n: 10, frame: ackFrame }]);
    expect(r.stream(0)).toBe('[10]abc');
    expect(r.ended!.facts.gapBytes).toEqual([10, 0]);
  });

  it('an ACK that does not move a stream builds nothing', () => {
    const h = new Harness();
    const c = new Conn(C, 50102, S, 3389);
    handshake(h, c);
    h.feed(c.s('', ACK));
    h.feed(c.c('', ACK));
    expect(flows(h)[0]!.reasm).toBeNull();
  });

  it('tells apart IPv6 flows whose addresses share their first four bytes, and IPv4 addresses above 128.0.0.0', () => {
    const h = new Harness();
    const a = new Conn('2001:db8::5', 50103, '2001:db8::9', 3389);
    const b = new Conn('2001:db8::6', 50103, '2001:db8::9', 3389);
    const v4 = new Conn('200.1.2.3', 50103, '192.168.1.9', 3389);
    for (const c of [a, b, v4]) handshake(h, c);
    for (const c of [a, b, v4]) {
      h.feed(c.c('hello'));
      h.feed(c.s('world'));
    }
    h.finish();
    expect(h.consumers.map((r) => `${r.facts.client.ip} ${r.facts.packets.join('/')} ${r.stream(0)} ${r.stream(1)}`)).toEqual([
      '2001:db8::5 3/2 hello world',
      '2001:db8::6 3/2 hello world',
      '200.1.2.3 3/2 hello world',
    ]);
  });
});

describe('FlowTable: address texts', () => {
  it('gives each flow its addresses\' texts, also when their cache slots collide (10.0.0.1 and 10.0.1.0), and shares a server\'s', () => {
    const h = new Harness();
    for (const [client, port] of [['10.0.0.1', 50001], ['10.0.1.0', 50002], ['10.0.0.1', 50003], ['1.0.0.10', 50004], ['2001:db8::1', 50005]] as const) {
      const server = client.includes(':') ? '2001:db8::9' : '10.9.9.9';
      handshake(h, new Conn(client, port, server, 3389));
    }
    h.finish();
    const f = h.consumers.map((r) => r.facts);
    expect(f.map((x) => `${x.client.ip} ${x.server.ip}`)).toEqual([
      '10.0.0.1 10.9.9.9',
      '10.0.1.0 10.9.9.9',
      '10.0.0.1 10.9.9.9',
      '1.0.0.10 10.9.9.9',
      '2001:db8::1 2001:db8::9',
    ]);
  });
});

describe('FlowTable: half-open slots (halfopen.ts)', () => {
  it('an ICMP error about a half-open connection makes it a flow that keeps the error', () => {
    const h = new Harness();
    const c = new Conn(C, 50200, S, 3389);
    const syn = c.syn();
    h.feed(syn);
    expect(h.table.halfOpenSlots).toBe(1);
    h.feed(ethernet(ipPacket(icmpv4(3, 13, Buffer.alloc(4), syn.subarray(14, 14 + 28)), 1, { src: '10.0.0.254', dst: C })));
    expect(h.table.halfOpenSlots).toBe(0);
    expect(h.table.stats.unmatchedIcmp).toBe(0);
    h.finish();
    expect(h.only.ended!.facts.icmp).toMatchObject([{ frame: 2, type: 3, code: 13, from: '10.0.0.254', quotedDir: 0 }]);
    expect(h.only.eventText()).toEqual(['syn@1', 'icmp@2']);
  });

  it('the handshake ACK makes it a flow with its SYN, SYN/ACK and the ACK, as if tracked from the SYN', () => {
    const h = new Harness();
    const c = new Conn(C, 50201, S, 3389);
    handshake(h, c);
    expect(h.table.halfOpenSlots).toBe(0);
    expect(h.table.halfOpenFlows).toBe(0);
    h.finish();
    expect(h.only.eventText().slice(0, 3)).toEqual(['syn@1', 'syn_ack@2', 'ack@3']);
    expect(h.only.ended!.facts.tcp!.ackFrame).toBe(3);
  });
});
