// A gzipped file inflated in a worker thread (src/capture/gunzip-thread.ts) gives exactly what inflating
// in this thread gives: the same frames, the same info, the same damage and the same errors. Each case is
// read both ways (gzipThreadMin 0: always the thread; Infinity: never).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readCapture } from '../../src/capture/source.js';
import { GUNZIP_SLOTS, GUNZIP_SLOT_SIZE } from '../../src/capture/gunzip-thread.js';
import { CaptureInputError, type CaptureFileInfo, type FrameView } from '../../src/capture/types.js';
import { copyView, epb, idb, pcapHeader, pcapRecord, pkt, shb, type Got } from './build.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-gunzip-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, data: Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
}

type Outcome = { frames: Got[]; info: CaptureFileInfo } | { error: string; name: string };

async function read(p: string, thread: boolean, onFrame?: (v: FrameView) => void): Promise<Outcome> {
  const frames: Got[] = [];
  try {
    const info = await readCapture(
      { kind: 'file', path: p },
      0,
      {
        onFrame: (v: FrameView) => {
          frames.push(copyView(v));
          onFrame?.(v);
        },
      },
      { gzipThreadMin: thread ? 0 : Infinity },
    );
    return { frames, info };
  } catch (e) {
    return { error: (e as Error).message, name: (e as Error).name };
  }
}

async function bothWays(p: string): Promise<Outcome> {
  const inThread = await read(p, false);
  const inWorker = await read(p, true);
  expect(inWorker).toEqual(inThread);
  return inWorker;
}

/** A pcap of n packets of various sizes (deterministic). */
function bigPcap(n: number): Buffer {
  const parts = [pcapHeader()];
  for (let i = 0; i < n; i++) parts.push(pcapRecord(1700000000 + (i >> 10), (i * 977) % 1_000_000, pkt(40 + ((i * 131) % 1400), i)));
  return Buffer.concat(parts);
}

describe('gzip inflated in a worker thread equals gzip inflated here', () => {
  it('a capture larger than the whole ring (flow control, slots reused, zlib buffers recycled)', async () => {
    const bytes = bigPcap(12_000);
    expect(bytes.length).toBeGreaterThan(2 * GUNZIP_SLOTS * GUNZIP_SLOT_SIZE);
    const r = await bothWays(file('big.pcap.gz', gzipSync(bytes, { level: 1 })));
    if (!('frames' in r)) throw new Error(r.error);
    expect(r.frames).toHaveLength(12_000);
    expect(r.info).toMatchObject({ gzip: true, damage: null, bytes: bytes.length, frames: 12_000 });
  });

  it('a slow consumer: the worker waits for free slots and nothing is lost or reordered', async () => {
    const bytes = bigPcap(9_000);
    const p = file('slow.pcap.gz', gzipSync(bytes));
    let n = 0;
    const r = await read(p, true, () => {
      // A pause every 1,000 frames: the worker fills the ring and must wait.
      if (++n % 1000 === 0) {
        const t = Date.now();
        while (Date.now() - t < 20);
      }
    });
    if (!('frames' in r)) throw new Error(r.error);
    expect(r.frames.map((f) => f.frame)).toEqual(Array.from({ length: 9_000 }, (_, i) => i + 1));
    expect(r).toEqual(await read(p, false));
  });

  it('the fixture capture port_blocked_silent.pcap.gz', async () => {
    const r = await bothWays(path.join(repoRoot, 'fixtures/captures/port_blocked_silent.pcap.gz'));
    expect('frames' in r && r.frames.length).toBeGreaterThan(0);
  });

  it('a pcapng with two sections and interfaces', async () => {
    const parts = [shb(), idb(1, 'le', { tsresol: 9 })];
    for (let i = 0; i < 3000; i++) parts.push(epb(0, 1700000000_000000000n + BigInt(i) * 1234567n, pkt(60 + (i % 900), i)));
    parts.push(shb('be'), idb(101, 'be'), epb(0, 42n, pkt(33), 'be'));
    await bothWays(file('two.pcapng.gz', gzipSync(Buffer.concat(parts))));
  });

  it('two concatenated gzip members', async () => {
    const bytes = bigPcap(3000);
    const half = 24 + 16 * 1000 + 500;
    await bothWays(file('members.pcap.gz', Buffer.concat([gzipSync(bytes.subarray(0, half)), gzipSync(bytes.subarray(half))])));
  });

  it('gzip cut short after the capture header: the same damage, what was read kept', async () => {
    const gz = gzipSync(bigPcap(6000));
    const r = await bothWays(file('cut.pcap.gz', gz.subarray(0, Math.floor(gz.length * 0.6))));
    if (!('frames' in r)) throw new Error(r.error);
    expect(r.frames.length).toBeGreaterThan(1000);
    expect(r.info.damage?.message).toBe(`gzip data cut short at compressed byte ${Math.floor(gz.length * 0.6)}, inside the deflate data of the member at compressed byte 0`);
  });

  it('corrupt deflate data in the middle: the same damage (garbage inflated first, or a zlib error)', async () => {
    for (const at of [0.3, 0.5, 0.7]) {
      const gz = Buffer.from(gzipSync(bigPcap(6000)));
      const from = Math.floor(gz.length * at);
      for (let i = from; i < from + 64; i++) gz[i] = 0xff;
      const r = await bothWays(file(`corrupt-${at}.pcap.gz`, gz));
      if (!('frames' in r)) throw new Error(r.error);
      expect(r.info.damage).not.toBeNull();
      expect(r.frames.length).toBeLessThan(6000);
    }
  });

  it('a gzip trailer with a wrong CRC: the same damage', async () => {
    const gz = Buffer.from(gzipSync(bigPcap(3000)));
    gz[gz.length - 8] ^= 0xff;
    const r = await bothWays(file('crc.pcap.gz', gz));
    if (!('frames' in r)) throw new Error(r.error);
    // Every inflated byte is analysed (node:zlib's gunzip dropped the output of its last inflate call).
    expect(r.frames).toHaveLength(3000);
    expect(r.info.damage?.message).toMatch(new RegExp(`^gzip CRC32 mismatch in the trailer at compressed byte ${gz.length - 8}: `));
  });

  it('a corrupt gzip header: the same CaptureInputError', async () => {
    const r = await bothWays(file('bad.gz', Buffer.from([0x1f, 0x8b, 0x99, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])));
    expect(r).toMatchObject({ name: 'CaptureInputError', error: expect.stringMatching(/bad\.gz: bad gzip header at compressed byte 2: compression method 153/) });
  });

  it('gzip of something that is not a capture: the same CaptureInputError', async () => {
    const r = await bothWays(file('page.gz', gzipSync(Buffer.from('<html>not a capture</html>'.repeat(1000)))));
    expect(r).toMatchObject({ name: 'CaptureInputError', error: expect.stringContaining('not a pcap or pcapng file (starts with 3c 68 74 6d)') });
  });

  it('damage inside the capture stops the parser: the thread is stopped, the same result', async () => {
    const bytes = Buffer.from(bigPcap(8000));
    // A record length of 0x7fffffff at the 4,000th record.
    let off = 24;
    for (let i = 0; i < 4000; i++) off += 16 + bytes.readUInt32LE(off + 8);
    bytes.writeUInt32LE(0x7fffffff, off + 8);
    const r = await bothWays(file('damaged.pcap.gz', gzipSync(bytes)));
    if (!('frames' in r)) throw new Error(r.error);
    expect(r.frames).toHaveLength(4000);
    expect(r.info.damage).not.toBeNull();
  });

  it("an exception of the sink reaches the caller, from the thread's data as from this thread's", async () => {
    const p = file('throws.pcap.gz', gzipSync(bigPcap(5000)));
    for (const thread of [false, true]) {
      let n = 0;
      const err = await readCapture(
        { kind: 'file', path: p },
        0,
        {
          onFrame(): void {
            if (++n === 2500) throw new RangeError('sink failed');
          },
        },
        { gzipThreadMin: thread ? 0 : Infinity },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect(n).toBe(2500);
    }
  });

  it('by default a small gzip file is inflated here (no thread for under 16 MiB)', async () => {
    const p = file('small.pcap.gz', gzipSync(bigPcap(100)));
    const frames: number[] = [];
    const info = await readCapture({ kind: 'file', path: p }, 0, { onFrame: (v) => frames.push(v.frame) });
    expect(info.gzip).toBe(true);
    expect(frames).toHaveLength(100);
    expect(readFileSync(p).length).toBeLessThan(16 * 1024 * 1024);
  });

  it('errors are CaptureInputError instances', async () => {
    const err = await readCapture({ kind: 'file', path: file('bad2.gz', Buffer.from([0x1f, 0x8b, 0x99, 1, 2])) }, 0, { onFrame() {} }, { gzipThreadMin: 0 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CaptureInputError);
  });
});
