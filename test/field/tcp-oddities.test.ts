// Issue 18: TCP oddities. Overlapping segments whose data conflict (the reassembler tells the frames,
// the first copy is kept), and a flow with segments spliced in 3 GB away (outside any window: not
// data, not retransmissions). Unit and end to end on field_tcp_oddities.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StreamReassembler, type ReassemblySink } from '../../src/flow/reassembly.js';
import { analyze } from '../../src/pipeline.js';

function reasm(): { r: StreamReassembler; data: string[]; conflicts: [number, number, number][] } {
  const data: string[] = [];
  const conflicts: [number, number, number][] = [];
  const sink: ReassemblySink = {
    data: (d) => (data.push(d.toString('latin1')), true),
    gap: () => undefined,
    outOfWindow: () => undefined,
    conflict: (o, f, off) => conflicts.push([o, f, off]),
  };
  const r = new StreamReassembler(1 << 16, 64, { held: 0, limit: 1 << 20 }, sink);
  r.start(1000);
  return { r, data, conflicts };
}
const seg = (r: StreamReassembler, seq: number, s: string, frame: number): void => r.segment(seq, Buffer.from(s, 'latin1'), 0, s.length, s.length, false, frame, 0);

describe('StreamReassembler: overlapping data', () => {
  it('a retransmission with other bytes over delivered data is told with both frames and the offset; the first copy stays', () => {
    const { r, data, conflicts } = reasm();
    seg(r, 1000, 'hello world', 4);
    seg(r, 1006, 'WORLD!', 5);
    expect(data).toEqual(['hello world', '!']);
    expect(conflicts).toEqual([[4, 5, 6]]);
  });
  it('an identical retransmission is not a conflict', () => {
    const { r, conflicts } = reasm();
    seg(r, 1000, 'hello', 4);
    seg(r, 1000, 'hello', 5);
    expect(conflicts).toEqual([]);
  });
  it('a conflicting copy of a held (out-of-order) segment is told too, and the held one is kept', () => {
    const { r, data, conflicts } = reasm();
    seg(r, 1005, 'world', 7);
    seg(r, 1005, 'WORLD', 8);
    seg(r, 1000, 'hello', 9);
    expect(data.join('')).toBe('helloworld');
    expect(conflicts).toEqual([[7, 8, 5]]);
  });
});

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/field_tcp_oddities.pcap');

describe.skipIf(!existsSync(FILE))('a conflicting overlap and a spliced stream (field_tcp_oddities)', () => {
  it('warns naming the frames, keeps the first copy, and keeps the spliced segments out of the data and the retransmissions', async () => {
    const r = await analyze([{ kind: 'file', path: FILE }], { rdpPorts: [3389] });
    const c = r.connections[0]!;
    expect(c.outcome).toBe('completed');
    expect(c.reached).toBe('active');
    expect(c.findings).toEqual([]);
    expect(c.negotiation?.cookie).toBe('alice'); // the first copy, not "mallo"
    const w = c.warnings.map((x) => x.message);
    expect(w).toContain("client's segment in frame 5 overlaps bytes already received in frame 4 with different data (from stream offset 28); the first copy is kept, as Wireshark does");
    expect(w.filter((m) => /outside any TCP receive window/.test(m))).toHaveLength(2);
    expect(w.some((m) => /12 such segments in all, 1440 bytes/.test(m))).toBe(true);
    // Only the conflicting copy of the request is a retransmission; the 24 spliced segments are not.
    expect(c.flow.tcp!.retransmissions).toEqual([1, 0]);
  });
});
