// Several files: one worker thread per file (through tsx's loader here, since vitest runs the
// TypeScript sources), merged in the main thread into the report one thread makes.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { analyze, createAnalyzer } from '../src/pipeline.js';
import { readCapture } from '../src/capture/index.js';
import type { CaptureSource } from '../src/capture/types.js';
import type { ReportedConnection } from '../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAPTURES = path.join(repoRoot, 'fixtures/captures');
const file = (name: string): CaptureSource => ({ kind: 'file', path: path.join(CAPTURES, name) });
const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

// Several connections per file, DNS in two of them, a cross-connection story (retries), a gzip file.
const SET = [
  'security_layer_mismatch_retry.pcap',
  'dns_failure.pcap',
  'server_unresponsive_many.pcap',
  'dns_failure_elsewhere.pcap',
  'port_blocked_silent.pcap.gz',
  'completed_tls13.pcapng',
];

describe('analyze over several files', () => {
  it('2 files really run in 2 threads (the main one and a worker), and the report equals one thread\'s', async () => {
    const sources = [file(SET[0]!), file(SET[1]!)];
    const seen: { fileIndex: number; threadId: number }[] = [];
    const parallel = await analyze(sources, { jobs: 2, onFile: (f) => seen.push({ fileIndex: f.fileIndex, threadId: f.threadId }) });
    const single: number[] = [];
    const serial = await analyze(sources, { jobs: 1, onFile: (f) => single.push(f.threadId) });
    expect(seen.map((s) => s.fileIndex).sort()).toEqual([0, 1]);
    const threads = new Set(seen.map((s) => s.threadId));
    expect(threads.size).toBe(2);
    // The main thread takes the first file from the queue, a worker the second.
    expect(seen.find((s) => s.fileIndex === 0)?.threadId).toBe(threadId);
    expect(seen.find((s) => s.fileIndex === 1)?.threadId).not.toBe(threadId);
    expect(single).toEqual([threadId, threadId]);
    expect(json(parallel)).toEqual(json(serial));
  });

  it('six files, 3 at once: deep-equal to --jobs 1; ids unique and in file order; facts summed; DNS of all files', async () => {
    const sources = SET.map(file);
    const parallel = await analyze(sources, { jobs: 3 });
    const serial = await analyze(sources, { jobs: 1 });
    expect(json(parallel)).toEqual(json(serial));
    const ids = parallel.connections.map((c) => Number(c.id.slice(1)));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(parallel.connections.map((c) => c.fileIndex)).toEqual([...parallel.connections.map((c) => c.fileIndex)].sort((a, b) => a - b));
    const alone = await Promise.all(sources.map((s) => analyze([s])));
    expect(parallel.capture.frames).toBe(alone.reduce((a, r) => a + r.capture.frames, 0));
    expect(parallel.capture.bytes).toBe(alone.reduce((a, r) => a + r.capture.bytes, 0));
    expect(parallel.capture.stats.tcpPackets).toBe(alone.reduce((a, r) => a + r.capture.stats.tcpPackets, 0));
    expect(parallel.dns.length).toBe(alone.reduce((a, r) => a + r.dns.length, 0));
    expect(parallel.connections.length).toBe(alone.reduce((a, r) => a + r.connections.length, 0));
    // Each file's connections are its own analysis, renumbered after the files before it; frames stay per file.
    let offset = 0;
    alone.forEach((r, fi) => {
      const mine = parallel.connections.filter((c) => c.fileIndex === fi);
      expect(mine.map((c) => c.timeline.map((e) => e.frame))).toEqual(r.connections.map((c) => c.timeline.map((e) => e.frame)));
      expect(mine.map((c) => c.file)).toEqual(r.connections.map(() => path.join(CAPTURES, SET[fi]!)));
      if (mine.length > 0) expect(Number(mine[0]!.id.slice(1))).toBeGreaterThan(offset);
      offset = Math.max(offset, ...mine.map((c) => Number(c.id.slice(1))));
    });
  });

  it('streamed connections (ndjson) carry the final ids, in id order, once each', async () => {
    const sources = SET.map(file);
    const streamed: ReportedConnection[] = [];
    const r = await analyze(sources, { jobs: 3, onConnection: (c) => streamed.push(c) });
    const serial: ReportedConnection[] = [];
    await analyze(sources, { jobs: 1, onConnection: (c) => serial.push(c) });
    expect(streamed.map((c) => c.id).sort()).toEqual(r.connections.map((c) => c.id).sort());
    expect(streamed.map((c) => [c.id, c.flow.id, c.fileIndex])).toEqual(serial.map((c) => [c.id, c.flow.id, c.fileIndex]));
  });

  it('a capture that is not one: CaptureInputError from the worker, as from the main thread', async () => {
    const bad: CaptureSource = { kind: 'buffer', name: 'junk.bin', data: Buffer.from('this is not a capture file at all') };
    await expect(analyze([file(SET[0]!), bad], { jobs: 2 })).rejects.toThrow(/junk\.bin/);
    await expect(analyze([file(SET[0]!), bad], { jobs: 2 })).rejects.toHaveProperty('name', 'CaptureInputError');
    await expect(analyze([file(SET[0]!), bad], { jobs: 1 })).rejects.toHaveProperty('name', 'CaptureInputError');
  });

  it('buffer sources cross into workers intact', async () => {
    const sources: CaptureSource[] = SET.slice(0, 3).map((n) => ({ kind: 'buffer', name: n, data: readFileSync(path.join(CAPTURES, n)) }));
    expect(json(await analyze(sources, { jobs: 3 }))).toEqual(json(await analyze(sources, { jobs: 1 })));
  });

  it('maxRecords applies over all files (the first N in file order), the rest counted per server', async () => {
    const sources = SET.map(file);
    const full = await analyze(sources, { jobs: 1 });
    const capped = await analyze(sources, { jobs: 3, maxRecords: 3 });
    expect(json(capped)).toEqual(json(await analyze(sources, { jobs: 1, maxRecords: 3 })));
    expect(capped.connections).toHaveLength(3);
    expect(capped.summary.connections).toBe(full.summary.connections);
    expect(capped.warnings.join('\n')).toContain(`${full.summary.connections - 3} connections beyond the first 3`);
  });
});

describe('createAnalyzer (frames pushed one by one)', () => {
  it('equals analyze over the same file', async () => {
    for (const name of ['security_layer_mismatch_retry.pcap', 'dns_failure.pcap', 'completed_tls13.pcapng']) {
      const p = path.join(CAPTURES, name);
      const a = createAnalyzer({ name: p });
      const info = await readCapture({ kind: 'file', path: p }, 0, { onFrame: (v) => a.push(v) });
      expect(json(a.finish(info))).toEqual(json(await analyze([{ kind: 'file', path: p }])));
    }
  });

  it('finish twice is an error', async () => {
    const p = path.join(CAPTURES, 'dns_failure.pcap');
    const a = createAnalyzer({ name: 'x' });
    const info = await readCapture({ kind: 'file', path: p }, 0, { onFrame: (v) => a.push(v) });
    a.finish(info);
    expect(() => a.finish(info)).toThrow('already');
  });
});

it('the files of the set exist', () => {
  const present = new Set(readdirSync(CAPTURES));
  for (const n of SET) expect(present.has(n)).toBe(true);
});

it('defaultJobs: one file per two cores, at least one', async () => {
  const { defaultJobs } = await import('../src/pipeline.js');
  expect([1, 2, 3, 4, 8, 64].map((c) => defaultJobs(c))).toEqual([1, 1, 1, 2, 4, 32]);
  expect(defaultJobs()).toBeGreaterThanOrEqual(1);
});
