// Differential test: our frame numbers, timestamps and lengths against tshark 4.0's, on the shared real
// captures (read-only, never copied) and on files built here; plus editcap / gzip conversions and the
// stream (stdin) path. Conversions go to a temp dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readCapture, readCaptureStream } from '../../src/capture/source.js';
import type { CaptureFileInfo, CaptureSink } from '../../src/capture/types.js';
import { block, epb, epoch, idb, isb, nrb, pb, pcapHeader, pcapRecord, pkt, shb, spb, dsb } from './build.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(repoRoot, '../shared/captures');

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const haveTshark = which('tshark') && which('editcap');
const haveShared = existsSync(shared);

function listCaptures(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listCaptures(p));
    else if (/\.(pcap|pcapng)$/.test(e)) out.push(p);
  }
  return out.sort();
}

interface Row {
  frame: number;
  epoch: string;
  len: number;
  capLen: number;
}

function tsharkRows(file: string): Row[] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [n, t, len, cap] = l.split('\t');
      return { frame: Number(n), epoch: t ?? '', len: Number(len), capLen: Number(cap) };
    });
}

function sink(rows: Row[]): CaptureSink {
  return {
    onFrame: (v) => rows.push({ frame: v.frame, epoch: epoch(v), len: v.origLen, capLen: v.capLen }),
  };
}

async function ours(file: string): Promise<{ rows: Row[]; info: CaptureFileInfo }> {
  const rows: Row[] = [];
  const info = await readCapture({ kind: 'file', path: file }, 0, sink(rows));
  return { rows, info };
}

/** Every emitted frame matches tshark's row; every tshark row is counted. SPB: tshark prints no time. */
function compare(got: { rows: Row[]; info: CaptureFileInfo }, want: Row[]): void {
  expect(got.info.damage).toBeNull();
  expect(got.info.frames).toBe(want.length);
  const byNumber = new Map(want.map((r) => [r.frame, r]));
  for (const r of got.rows) {
    const w = byNumber.get(r.frame);
    expect(w, `frame ${r.frame}`).toBeDefined();
    expect({ ...r, epoch: w!.epoch === '' ? '0.000000000' : r.epoch }).toEqual({ ...w!, epoch: w!.epoch === '' ? '0.000000000' : w!.epoch });
  }
}

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-tshark-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sharedFiles = haveShared ? listCaptures(shared) : [];

describe.skipIf(!haveTshark || !haveShared)(
  `tshark differential on ${haveShared ? `${sharedFiles.length} shared captures` : 'shared captures (SKIPPED: ../shared/captures absent)'}${haveTshark ? '' : ' (SKIPPED: tshark/editcap not installed)'}`,
  () => {
    for (const f of sharedFiles) {
      const rel = path.relative(shared, f);
      it(`${rel}: frames, epoch times, len, cap_len`, async () => {
        const want = tsharkRows(f);
        const got = await ours(f);
        compare(got, want);
        expect(got.rows).toHaveLength(want.length);
      });

      it(`${rel}: as pcapng, nanosecond pcap, gzip, and through a stream: same frames`, async () => {
        const want = tsharkRows(f);
        const base = path.join(tmp, rel.replace(/[\\/]/g, '_'));
        const ng = `${base}.conv.pcapng`;
        const ns = `${base}.conv.nsec.pcap`;
        execFileSync('editcap', ['-F', 'pcapng', f, ng], { stdio: 'ignore' });
        execFileSync('editcap', ['-F', 'nsecpcap', f, ns], { stdio: 'ignore' });
        const gz = `${base}.conv.gz`;
        writeFileSync(gz, gzipSync(execFileSync('cat', [f], { maxBuffer: 256 * 1024 * 1024 })));
        for (const conv of [ng, ns, gz]) {
          const got = await ours(conv);
          expect(got.info.damage, conv).toBeNull();
          expect(got.info.frames, conv).toBe(want.length);
          expect(got.rows.map((r) => r.epoch)).toEqual(want.map((r) => r.epoch));
        }
        expect((await ours(ng)).info.format).toBe('pcapng');
        expect((await ours(ns)).info.nanosecond).toBe(true);
        expect((await ours(gz)).info.gzip).toBe(true);
        const rows: Row[] = [];
        const info = await readCaptureStream(createReadStream(f, { highWaterMark: 1000 }), '-', 0, sink(rows));
        expect(info.frames).toBe(want.length);
        expect(rows).toEqual((await ours(f)).rows);
      });
    }
  },
);

/** Files built here, each checked against tshark. */
const generated: [string, () => Buffer][] = [
  ['le-usec.pcap', () => Buffer.concat([pcapHeader(), pcapRecord(1700000000, 1, pkt(60)), pcapRecord(1700000001, 999999, pkt(40), 1514)])],
  ['be-nsec.pcap', () => Buffer.concat([pcapHeader({ order: 'be', nano: true }), pcapRecord(1700000000, 987654321, pkt(60), 60, 'be')])],
  ['fcs-bits.pcap', () => Buffer.concat([pcapHeader({ linkField: 0x44000001 }), pcapRecord(5, 6, pkt(64))])],
  [
    'resolutions.pcapng',
    () =>
      Buffer.concat([
        shb(),
        idb(1, 'le', { tsresol: 3, name: 'ms' }),
        idb(1, 'le', { tsresol: 9 }),
        idb(1, 'le', { tsresol: 0x80 | 20 }),
        idb(1, 'le', { tsoffset: 1000n }),
        epb(0, 1700000000123n, pkt(60)),
        epb(1, 1700000000987654321n, pkt(60)),
        epb(2, (1700000000n << 20n) + 12345n, pkt(60)),
        epb(3, 1700000000654321n, pkt(60)),
      ]),
  ],
  [
    'sections.pcapng',
    () =>
      Buffer.concat([
        shb('le'),
        idb(1, 'le'),
        idb(101, 'le', { tsresol: 9 }),
        epb(1, 1700000000000000001n, pkt(20)),
        shb('be'),
        idb(228, 'be', { tsresol: 3 }),
        epb(0, 1700000000555n, pkt(20, 7), 'be', 200),
        pb(0, 1700000001555n, pkt(30), 'be'),
      ]),
  ],
  [
    'blocks.pcapng',
    () =>
      Buffer.concat([
        shb(),
        idb(1),
        epb(0, 1700000000000001n, pkt(60)),
        spb(pkt(60)),
        nrb([{ v4: [10, 0, 0, 1], names: ['a'] }]),
        dsb(0x544c534b, Buffer.from('CLIENT_RANDOM x y\n')),
        isb(),
        block(0x12345678, pkt(8)),
        block(0x00000bad, Buffer.from([0xd9, 0x7e, 0, 0, 1, 2, 3, 4])),
        epb(0, 1700000002000001n, pkt(60)),
      ]),
  ],
];

describe.skipIf(!haveTshark)(`tshark differential on files built here${haveTshark ? '' : ' (SKIPPED: tshark not installed)'}`, () => {
  for (const [name, make] of generated) {
    it(name, async () => {
      const p = path.join(tmp, name);
      writeFileSync(p, make());
      const want = tsharkRows(p);
      expect(want.length).toBeGreaterThan(0);
      compare(await ours(p), want);
    });
  }
});
