// Issue 19: a small gzip that inflates to many MB of empty records is analysed to the end, and the
// report says so (an extreme inflation ratio, an extreme share of empty records).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { analyze, inflationWarnings } from '../../src/pipeline.js';
import type { CaptureFileInfo } from '../../src/capture/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-bomb-'));

/** A classic pcap of n records with no captured byte (capLen 0), all at one time. */
function emptyRecords(n: number): Buffer {
  const b = Buffer.alloc(24 + 16 * n);
  Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex').copy(b);
  for (let i = 0; i < n; i++) {
    b.writeUInt32LE(1_700_000_000, 24 + 16 * i);
    b.writeUInt32LE(60, 24 + 16 * i + 12);
  }
  return b;
}

describe('decompression bombs are analysed to the end and named', () => {
  const plain = emptyRecords(1_100_000);
  const gz = gzipSync(plain, { level: 9 });

  it('a gzip file: all records read, the ratio and the empty records named', async () => {
    const file = path.join(tmp, 'bomb.pcap.gz');
    writeFileSync(file, gz);
    const report = await analyze([{ kind: 'file', path: file }]);
    const f = report.capture.files[0]!;
    expect(f.frames).toBe(1_100_000);
    const ws = f.warnings.map((w) => w.message);
    expect(ws.some((w) => /^the gzip data inflated \d+ times \(16\.8 MB from [\d.]+ KB\), an extreme ratio \(a decompression bomb\?\): all of it was analysed$/.test(w))).toBe(true);
    expect(ws).toContain('1100000 of 1100000 records (100 %) carry no captured byte: the capture is mostly empty records');
  });

  it('the same from a stream (compressed bytes counted by the inflater)', async () => {
    const report = await analyze([{ kind: 'buffer', name: 'bomb.gz', data: gz }]);
    expect(report.capture.files[0]!.warnings.some((w) => w.message.includes('an extreme ratio'))).toBe(true);
  });

  it('an ordinary gzipped capture: no such warning', async () => {
    const report = await analyze([{ kind: 'file', path: path.join(repoRoot, 'fixtures/captures/port_blocked_silent.pcap.gz') }]);
    expect(report.capture.files[0]!.warnings.map((w) => w.message).filter((m) => /extreme ratio|empty records/.test(m))).toEqual([]);
  });

  it('inflationWarnings: thresholds', () => {
    const info = { gzip: true, bytes: 20 * 1024 * 1024, compressedBytes: 1024 * 1024, frames: 10 } as CaptureFileInfo;
    expect(inflationWarnings(info, 0)).toEqual([]);
    expect(inflationWarnings({ ...info, compressedBytes: 100 * 1024 }, 0)).toHaveLength(1);
    expect(inflationWarnings({ ...info, gzip: false, compressedBytes: undefined, frames: 200_000 }, 179_999)).toEqual([]);
    expect(inflationWarnings({ ...info, gzip: false, compressedBytes: undefined, frames: 200_000 }, 180_000)).toHaveLength(1);
  });
});
