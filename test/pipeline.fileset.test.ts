// Ring buffers and split captures read as one capture (issue 15): a fixture capture cut into the
// pieces that dumpcap / editcap (NAME_NNNNN_YYYYMMDDhhmmss.EXT) and tcpdump -C (NAME, NAME1, ...)
// write, given in order, out of order, as a directory and as a glob, gives the verdicts, frames and
// evidence of the whole file; a missing piece and unrelated files are said so.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { PcapWriter, type WriterRecord } from '../src/capture/writer.js';
import type { CaptureSource, FrameView } from '../src/capture/types.js';
import { analyze } from '../src/pipeline.js';
import { sourcesOf } from '../src/cli/main.js';
import { exportEvidence } from '../src/report/evidence.js';
import { renderText } from '../src/report/text.js';
import type { Report } from '../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE = path.join(repoRoot, 'fixtures/sample.pcapng');
const NLA = path.join(repoRoot, 'fixtures/captures/completed_tls_nla.pcap');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-fileset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hasEditcap = spawnSync('editcap', ['-h'], { stdio: 'ignore' }).status === 0;
if (!hasEditcap) console.warn('[file sets] editcap is absent: the editcap -c / -i cases are skipped (apt-get install wireshark-common)');

/** The records of a capture file (timestamps and bytes), in order. */
async function recordsOf(file: string): Promise<{ linkType: number; records: WriterRecord[] }> {
  const records: WriterRecord[] = [];
  let linkType = 1;
  await readCapture({ kind: 'file', path: file }, 0, {
    onFrame(v: FrameView): void {
      linkType = v.linkType;
      records.push({ tsSec: v.tsSec, tsNsec: v.tsNsec, data: Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)), origLen: v.origLen });
    },
  });
  return { linkType, records };
}

/** The packets of a capture (link type, times, bytes), whatever its format and comments. */
async function packetsOf(file: string): Promise<unknown[]> {
  const { linkType, records } = await recordsOf(file);
  return records.map((r) => [linkType, r.tsSec, r.tsNsec, Buffer.from(r.data).toString('hex'), r.origLen]);
}

/** Cuts a capture into classic pcap pieces of `per` records, named by `name(k)`, in dir; returns their paths. */
async function split(file: string, per: number, dir: string, name: (k: number) => string): Promise<string[]> {
  const { linkType, records } = await recordsOf(file);
  const out: string[] = [];
  for (let k = 0; k * per < records.length; k++) {
    const w = new PcapWriter({ linkType, nanosecond: true });
    for (const r of records.slice(k * per, (k + 1) * per)) w.add(r);
    const p = path.join(dir, name(k));
    writeFileSync(p, w.toBuffer());
    out.push(p);
  }
  return out;
}

function dirOf(label: string): string {
  const d = path.join(tmp, label);
  spawnSync('mkdir', ['-p', d]);
  return d;
}

const files = (paths: string[]): CaptureSource[] => paths.map((p) => ({ kind: 'file', path: p }));

/** What must not change when a capture is read as a set of pieces: every connection's verdict and frames. */
function verdicts(r: Report): unknown[] {
  return r.connections.map((c) => ({
    id: c.id,
    client: c.client,
    server: c.server,
    outcome: c.outcome,
    incompleteReason: c.incompleteReason,
    reached: c.reached,
    died: c.died,
    firstFrame: c.flow.firstFrame,
    lastFrame: c.flow.lastFrame,
    timeline: c.timeline.map((e) => [e.frame, e.event]),
    findings: c.findings.map((f) => ({ cause: f.cause, confidence: f.confidence, frames: f.frames, explanation: f.explanation })),
  }));
}

describe('file sets read as one capture', () => {
  it('dumpcap-named pieces of the sample: the verdicts, frames and findings of the whole file', async () => {
    const whole = await analyze(files([SAMPLE]));
    const dir = dirOf('dumpcap');
    const pieces = await split(SAMPLE, 25, dir, (k) => `rdp_${String(k + 1).padStart(5, '0')}_20260310090000.pcap`);
    expect(pieces.length).toBeGreaterThan(4);
    const set = await analyze(files(pieces));
    expect(verdicts(set)).toEqual(verdicts(whole));
    expect(set.summary.failed).toBe(whole.summary.failed);
    expect(set.summary.completed).toBe(whole.summary.completed);
    expect(set.summary.connections).toBe(whole.summary.connections);
    expect(set.capture.frames).toBe(whole.capture.frames);
    expect(set.capture.fileSets).toEqual([
      {
        files: pieces.map((_, i) => i),
        firstFrames: pieces.map((_, i) => i * 25 + 1),
        reordered: false,
        gaps: pieces.slice(1).map((_, i) => ({ after: i, before: i + 1, seconds: expect.any(Number), missing: [] })),
      },
    ]);
    // A connection is reported in the piece that holds its first frame.
    for (const c of set.connections) expect(c.file).toBe(pieces[Math.floor((c.flow.firstFrame - 1) / 25)]);
    // Read on their own, the same pieces give cut connections (what the set reading prevents).
    const apart = await analyze(files(pieces), { fileSets: false });
    expect(apart.capture.fileSets).toBeUndefined();
    expect(apart.summary.incompleteCapture).toBeGreaterThan(0);
  });

  it('given out of order: read in the order of their first timestamps, and said so', async () => {
    const whole = await analyze(files([SAMPLE]));
    const dir = dirOf('shuffled');
    const pieces = await split(SAMPLE, 30, dir, (k) => `rdp_${String(k + 1).padStart(5, '0')}_20260310090000.pcap`);
    const given = [pieces[2]!, pieces[0]!, pieces[4]!, pieces[1]!, pieces[3]!];
    const set = await analyze(files(given));
    expect(set.capture.fileSets?.[0]?.reordered).toBe(true);
    expect(set.capture.fileSets?.[0]?.files).toEqual([1, 3, 0, 4, 2]);
    expect(verdicts(set)).toEqual(verdicts(whole));
    // capture.files stay in the order given.
    expect(set.capture.files.map((f) => f.file)).toEqual(given);
    expect(renderText(set, { color: false })).toContain('in the order of their first timestamps, not the order given');
  });

  it('a directory and a quoted glob of the set expand to its pieces', async () => {
    const whole = await analyze(files([SAMPLE]));
    const dir = dirOf('bydir');
    await split(SAMPLE, 40, dir, (k) => `ring_${String(k + 1).padStart(5, '0')}_20260310090000.pcap`);
    writeFileSync(path.join(dir, 'notes.txt'), 'not a capture');
    const fromDir = sourcesOf([dir]);
    expect(fromDir.map((s) => (s.kind === 'file' ? path.basename(s.path) : s.kind))).toEqual(readdirSync(dir).filter((n) => n.endsWith('.pcap')).sort());
    expect(verdicts(await analyze(fromDir))).toEqual(verdicts(whole));
    const fromGlob = sourcesOf([path.join(dir, 'ring_*.pcap')]);
    expect(fromGlob).toEqual(fromDir);
    expect(() => sourcesOf([path.join(dir, 'nothing_*.pcap')])).toThrow(/no file matches/);
  });

  it("tcpdump -C's names (rdp.pcap, rdp.pcap1, rdp.pcap2 ...): the unnumbered first file leads the set", async () => {
    const whole = await analyze(files([NLA]));
    const dir = dirOf('tcpdump');
    const pieces = await split(NLA, 20, dir, (k) => (k === 0 ? 'rdp.pcap' : `rdp.pcap${k}`));
    const set = await analyze(files(pieces));
    expect(set.capture.fileSets?.[0]?.files).toEqual(pieces.map((_, i) => i));
    expect(verdicts(set)).toEqual(verdicts(whole));
    expect(set.connections).toHaveLength(1);
    expect(set.connections[0]!.outcome).toBe('completed');
  });

  it('a missing middle piece is stated, with its number', async () => {
    const dir = dirOf('missing');
    const pieces = await split(NLA, 20, dir, (k) => `rdp_${String(k + 1).padStart(5, '0')}_20260310090000.pcap`);
    unlinkSync(pieces[1]!);
    const kept = pieces.filter((_, i) => i !== 1);
    const r = await analyze(files(kept));
    expect(r.capture.fileSets?.[0]?.gaps[0]?.missing).toEqual([2]);
    expect(r.warnings.some((w) => w.includes('piece 2 is missing') && w.includes(kept[0]!) && w.includes(kept[1]!))).toBe(true);
  });

  it('evidence from a set holds the same packets as evidence from the whole file', async () => {
    const dir = dirOf('evidence');
    const pieces = await split(SAMPLE, 25, dir, (k) => `ev_${String(k + 1).padStart(5, '0')}_20260310090000.pcap`);
    const whole = await analyze(files([SAMPLE]));
    const set = await analyze(files(pieces));
    const a = await exportEvidence(whole, files([SAMPLE]), path.join(tmp, 'ev-whole'));
    const b = await exportEvidence(set, files(pieces), path.join(tmp, 'ev-set'));
    expect(b.files.map((f) => [f.connection, f.frames])).toEqual(a.files.map((f) => [f.connection, f.frames]));
    expect(b.files.length).toBeGreaterThan(0);
    // The same packets (the comments differ only in the file name each names).
    for (let i = 0; i < a.files.length; i++) expect(await packetsOf(b.files[i]!.file)).toEqual(await packetsOf(a.files[i]!.file));
  });

  it('files that overlap in time (two vantage points) or lie hours apart stay separate captures', async () => {
    const dir = dirOf('overlap');
    const a = path.join(dir, 'site_00001_20260310090000.pcap');
    const b = path.join(dir, 'site_00002_20260310090000.pcap');
    const { linkType, records } = await recordsOf(NLA);
    const write = (p: string, shift: number): void => {
      const w = new PcapWriter({ linkType, nanosecond: true });
      for (const r of records) w.add({ ...r, tsSec: r.tsSec + shift });
      writeFileSync(p, w.toBuffer());
    };
    write(a, 0);
    write(b, 0);
    const r = await analyze(files([a, b]));
    expect(r.capture.fileSets).toBeUndefined();
    expect(r.connections.map((c) => c.outcome)).toEqual(['completed', 'completed']);
    expect(r.warnings.some((w) => w.includes('overlaps') && w.includes('separate capture'))).toBe(true);
    write(b, 5 * 3600);
    const far = await analyze(files([a, b]));
    expect(far.capture.fileSets).toBeUndefined();
    expect(far.warnings.some((w) => w.includes('5 h after') && w.includes('separate capture'))).toBe(true);
  });

  it('files whose names are no set (attempt1, attempt2) are read on their own, as before', async () => {
    const dir = dirOf('plain');
    const pieces = await split(NLA, 45, dir, (k) => `attempt${k + 1}.pcap`);
    const r = await analyze(files(pieces));
    expect(r.capture.fileSets).toBeUndefined();
    expect(r.connections.length).toBe(2);
  });

  describe.skipIf(!hasEditcap)('pieces written by editcap', () => {
    for (const [flag, arg] of [
      ['-c', '30'],
      ['-i', '5'],
    ] as const) {
      it(`editcap ${flag} ${arg} of the sample: the same verdicts as the whole file`, async () => {
        const dir = dirOf(`editcap${flag}`);
        const r0 = spawnSync('editcap', [flag, arg, SAMPLE, path.join(dir, 'cut.pcapng')], { encoding: 'utf8' });
        expect(r0.status, r0.stderr).toBe(0);
        const pieces = readdirSync(dir)
          .sort()
          .map((n) => path.join(dir, n));
        expect(pieces.length).toBeGreaterThan(1);
        const whole = await analyze(files([SAMPLE]));
        const set = await analyze(files(pieces));
        expect(set.capture.fileSets?.[0]?.files).toHaveLength(pieces.length);
        expect(verdicts(set)).toEqual(verdicts(whole));
        // Every attempt on its own (the default summary shows one of identical failures).
        const text = renderText(set, { color: false, detail: 'full' });
        expect(text).toContain('Read as one capture');
        for (const c of set.connections.filter((x) => x.outcome === 'failed')) {
          if (c.flow.firstFrame !== c.flow.lastFrame) expect(text).toContain(`frames ${c.flow.firstFrame}-${c.flow.lastFrame} of the file set`);
        }
      });
    }
  });
});
