// File-set naming, globbing and planning (src/capture/fileset.ts): the names dumpcap, editcap and
// tcpdump give the pieces of one capture, and which inputs are planned as one set in which order.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureFilesIn, compareNames, expandGlob, isGlob, planFileSets, setNameOf, type FileProbe } from '../../src/capture/fileset.js';
import type { CaptureSource } from '../../src/capture/types.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-fileset-names-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('setNameOf', () => {
  it("dumpcap's ring buffer and editcap's split names: NAME_NNNNN_YYYYMMDDhhmmss.EXT", () => {
    expect(setNameOf('rdp_00003_20261207013015.pcapng')).toEqual({ pattern: 'rdp_#_#.pcapng', seq: 3, stamp: '20261207013015' });
    expect(setNameOf('out_00000_20260310090000.pcap')).toEqual({ pattern: 'out_#_#.pcap', seq: 0, stamp: '20260310090000' });
    expect(setNameOf('a_b_00012_20260310090000.pcapng.gz')).toEqual({ pattern: 'a_b_#_#.pcapng.gz', seq: 12, stamp: '20260310090000' });
  });
  it("tcpdump -C / -W: the file's number after the ending", () => {
    expect(setNameOf('rdp.pcap1')).toEqual({ pattern: 'rdp.pcap#', seq: 1, stamp: null });
    expect(setNameOf('rdp.pcap07')).toEqual({ pattern: 'rdp.pcap#', seq: 7, stamp: null });
  });
  it('tcpdump -G: strftime names with a date in them', () => {
    expect(setNameOf('rdp-20261207-0100.pcap')).toEqual({ pattern: 'rdp-#-#.pcap', seq: null, stamp: '202612070100' });
  });
  it('names no set-writing tool gives are no set', () => {
    expect(setNameOf('attempt1.pcap')).toBeNull();
    expect(setNameOf('capture.pcapng')).toBeNull();
    expect(setNameOf('rdp.pcap')).toBeNull();
  });
});

describe('globs and directories', () => {
  it('isGlob looks at the last path component only', () => {
    expect(isGlob('ring/rdp_*.pcap')).toBe(true);
    expect(isGlob('ring/rdp_?.pcap')).toBe(true);
    expect(isGlob('we*ird/rdp.pcap')).toBe(false);
    expect(isGlob('rdp.pcap')).toBe(false);
  });
  it('expandGlob matches *, ? and [...] in numeric name order, not hidden files', () => {
    const d = path.join(tmp, 'g');
    mkdirSync(d);
    for (const n of ['rdp.pcap', 'rdp.pcap1', 'rdp.pcap2', 'rdp.pcap10', '.rdp.pcap3', 'other.pcap']) writeFileSync(path.join(d, n), '');
    mkdirSync(path.join(d, 'rdp.pcap9'));
    expect(expandGlob(path.join(d, 'rdp.pcap*')).map((p) => path.basename(p))).toEqual(['rdp.pcap', 'rdp.pcap1', 'rdp.pcap2', 'rdp.pcap10']);
    expect(expandGlob(path.join(d, 'rdp.pcap?')).map((p) => path.basename(p))).toEqual(['rdp.pcap1', 'rdp.pcap2']);
    expect(expandGlob(path.join(d, 'rdp.pcap[12]')).map((p) => path.basename(p))).toEqual(['rdp.pcap1', 'rdp.pcap2']);
    expect(expandGlob(path.join(d, 'rdp.pcap[!1]')).map((p) => path.basename(p))).toEqual(['rdp.pcap2']);
    expect(expandGlob(path.join(d, 'x(y).pcap*'))).toEqual([]);
  });
  it('captureFilesIn lists capture files by ending (tcpdump numbers too), not notes or folders', () => {
    const d = path.join(tmp, 'dir');
    mkdirSync(d);
    for (const n of ['b.pcapng', 'a.pcap.gz', 'c.pcap1', 'notes.txt', 'x.cap']) writeFileSync(path.join(d, n), '');
    mkdirSync(path.join(d, 'sub.pcap'));
    expect(captureFilesIn(d).map((p) => path.basename(p))).toEqual(['a.pcap.gz', 'b.pcapng', 'c.pcap1', 'x.cap']);
  });
  it('compareNames orders numbers as numbers', () => {
    expect(['r10', 'r2', 'r1'].sort(compareNames)).toEqual(['r1', 'r2', 'r10']);
  });
});

describe('planFileSets', () => {
  const probe =
    (times: Record<string, number | null>) =>
    (index: number, file: string): FileProbe => {
      const t = times[path.basename(file)];
      return { index, path: file, linkType: t === null ? null : 1, firstTime: t ?? null, header: t !== undefined };
    };
  const src = (...names: string[]): CaptureSource[] => names.map((n) => ({ kind: 'file', path: path.join('/ring', n) }));

  it('orders the pieces by their first timestamps and says when that is not the order given', () => {
    const times = { 'r_00001_20260310090000.pcap': 100, 'r_00002_20260310090100.pcap': 160, 'r_00003_20260310090200.pcap': 220 };
    const [set] = planFileSets(src('r_00003_20260310090200.pcap', 'r_00001_20260310090000.pcap', 'r_00002_20260310090100.pcap'), probe(times));
    expect(set!.members.map((m) => m.index)).toEqual([1, 2, 0]);
    expect(set!.reordered).toBe(true);
    expect(set!.missing).toEqual([]);
  });
  it('names the pieces missing between two by their numbers', () => {
    const times = { 'r_00001_20260310090000.pcap': 100, 'r_00004_20260310090300.pcap': 280 };
    const [set] = planFileSets(src('r_00001_20260310090000.pcap', 'r_00004_20260310090300.pcap'), probe(times));
    expect(set!.missing).toEqual([{ after: 0, count: 2, seqs: [2, 3] }]);
  });
  it('an empty piece stands before the next piece with records', () => {
    const times = { 'r_00001_20260310090000.pcap': 100, 'r_00002_20260310090100.pcap': null, 'r_00003_20260310090200.pcap': 220 };
    const [set] = planFileSets(src('r_00001_20260310090000.pcap', 'r_00002_20260310090100.pcap', 'r_00003_20260310090200.pcap'), probe(times));
    expect(set!.members.map((m) => [m.index, m.empty])).toEqual([
      [0, false],
      [1, true],
      [2, false],
    ]);
    expect(set!.reordered).toBe(false);
  });
  it("joins tcpdump -C's unnumbered first file as piece 0", () => {
    const times = { 'rdp.pcap': 100, 'rdp.pcap1': 150, 'rdp.pcap2': 200 };
    const [set] = planFileSets(src('rdp.pcap2', 'rdp.pcap1', 'rdp.pcap'), probe(times));
    expect(set!.members.map((m) => path.basename(m.path))).toEqual(['rdp.pcap', 'rdp.pcap1', 'rdp.pcap2']);
  });
  it('no set: one file of a pattern, unreadable files, other folders, stdin', () => {
    const times = { 'r_00001_20260310090000.pcap': 100 };
    expect(planFileSets(src('r_00001_20260310090000.pcap', 'x_00002_20260310090000.pcap'), probe(times))).toEqual([]);
    expect(
      planFileSets(
        [{ kind: 'file', path: '/a/r_00001_20260310090000.pcap' }, { kind: 'file', path: '/b/r_00002_20260310090000.pcap' }, { kind: 'stdin' }],
        probe({ 'r_00001_20260310090000.pcap': 1, 'r_00002_20260310090000.pcap': 2 }),
      ),
    ).toEqual([]);
  });
});
