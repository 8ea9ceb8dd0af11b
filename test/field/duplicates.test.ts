// Issue 18: frames written twice by the capture (a mirror port, several interfaces) are capture
// duplicates, not retransmissions: the detector (src/flow/duplicates.ts) on hand-made segments, and
// end to end on the fixture field_duplicate_frames.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DecodedPacket } from '../../src/net/index.js';
import { DuplicateDetector } from '../../src/flow/duplicates.js';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';

/** A decoded TCP segment as decodePacket leaves it (only the fields the detector reads). */
function seg(o: { v?: 4 | 6; ipId?: number; seq?: number; ack?: number; flags?: number; window?: number; len?: number; checksum?: number }): DecodedPacket {
  const p = new DecodedPacket();
  const buf = Buffer.alloc(40);
  p.buf = buf;
  p.ipVersion = o.v ?? 4;
  p.ipId = o.ipId ?? 0x4a01;
  p.l4Off = 20;
  buf.writeUInt16BE(o.checksum ?? 0xbeef, 20 + 16);
  p.seq = o.seq ?? 1000;
  p.ack = o.ack ?? 2000;
  p.tcpFlags = o.flags ?? 0x18;
  p.window = o.window ?? 1026;
  p.payloadLen = o.len ?? 100;
  p.payloadWireLen = o.len ?? 100;
  return p;
}

describe('DuplicateDetector', () => {
  it('an exact copy (same IP identification) within seconds is a capture duplicate, naming its original', () => {
    const d = new DuplicateDetector();
    expect(d.isCopy(seg({}), 0, 1, 10)).toBe(false);
    expect(d.isCopy(seg({}), 0, 2, 10.00004)).toBe(true);
    expect(d.isCopy(seg({ seq: 77 }), 0, 3, 10.1)).toBe(false);
    expect(d.isCopy(seg({ seq: 77 }), 0, 4, 11.2)).toBe(false); // 1.1 s later: past RFC 6298's initial RTO, maybe a SYN retransmitted with its IP identification kept
    expect(d.originalFrame).toBe(1);
  });
  it('a copy a few segments later (several interfaces) is found too', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({ seq: 1 }), 0, 1, 10);
    d.isCopy(seg({ seq: 101, ipId: 2 }), 0, 2, 10.001);
    d.isCopy(seg({ ack: 1, seq: 2000, ipId: 7 }), 1, 3, 10.002);
    expect(d.isCopy(seg({ seq: 1 }), 0, 4, 10.003)).toBe(true);
    expect(d.originalFrame).toBe(1);
  });
  it('a retransmission (new IP identification) is not a duplicate', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({ ipId: 10 }), 0, 1, 10);
    expect(d.isCopy(seg({ ipId: 11 }), 0, 2, 10.3)).toBe(false);
  });
  it('the same segment from the other direction, or with another payload checksum, is not a copy', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({}), 0, 1, 10);
    expect(d.isCopy(seg({}), 1, 2, 10)).toBe(false);
    expect(d.isCopy(seg({ checksum: 0x1234 }), 0, 3, 10)).toBe(false);
  });
  it('without an IP identification (IPv6) only a copy within 10 ms counts, and never a bare ACK (genuine duplicate ACKs are identical)', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({ v: 6 }), 0, 1, 10);
    expect(d.isCopy(seg({ v: 6 }), 0, 2, 10.002)).toBe(true);
    expect(d.isCopy(seg({ v: 6 }), 0, 3, 10.5)).toBe(false);
    const a = new DuplicateDetector();
    a.isCopy(seg({ v: 6, len: 0, flags: 0x10 }), 1, 1, 10);
    expect(a.isCopy(seg({ v: 6, len: 0, flags: 0x10 }), 1, 2, 10.0001)).toBe(false);
  });
  it('an old frame repeated minutes later is not a capture copy', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({}), 0, 1, 10);
    expect(d.isCopy(seg({}), 0, 2, 200)).toBe(false);
  });
  it('reset forgets every segment', () => {
    const d = new DuplicateDetector();
    d.isCopy(seg({}), 0, 1, 10);
    d.isCopy(seg({ seq: 5 }), 0, 2, 10);
    d.reset();
    expect(d.isCopy(seg({}), 0, 3, 10)).toBe(false);
  });
});

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/field_duplicate_frames.pcap');

describe.skipIf(!existsSync(FILE))('a capture with every frame copied (field_duplicate_frames)', () => {
  it('counts the copies once, says so once, keeps them out of the retransmissions, and keeps both verdicts', async () => {
    const r = await analyze([{ kind: 'file', path: FILE }], { rdpPorts: [3389] });
    expect(r.capture.stats.captureDuplicates).toBe(r.connections.reduce((a, c) => a + c.flow.captureDuplicates, 0));
    expect(r.capture.stats.captureDuplicates).toBeGreaterThan(80);
    const ok = r.connections.find((c) => c.server === '10.20.0.16:3389')!;
    expect(ok.outcome).toBe('completed');
    expect(ok.flow.tcp!.retransmissions).toEqual([0, 0]);
    expect(ok.findings.filter((f) => f.cause === 'network_unstable')).toEqual([]);
    expect(ok.flow.captureDuplicateFrames[0]).toEqual([2, 1]);
    const blocked = r.connections.find((c) => c.server === '10.30.0.5:3389')!;
    expect(blocked.outcome).toBe('failed');
    expect(blocked.flow.tcp!.synFrames).toHaveLength(3);
    expect(blocked.findings[0]?.cause).toBe('port_blocked');
    expect(blocked.findings[0]?.explanation).toMatch(/^3 SYNs/);
    const said = r.warnings.filter((w) => /exact cop/.test(w));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/frames are exact copies of an earlier frame .*editcap -d.*left out of the retransmission figures; the first, frame 2, repeats frame 1/);
    expect(renderText(r, { color: false })).toContain(said[0]!);
  });
});
