import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readCapture, readCaptureStream, sourceName } from '../../src/capture/source.js';
import { CaptureInputError, type CaptureFileInfo, type CaptureSource, type FrameView } from '../../src/capture/types.js';
import { copyView, epb, idb, parseBytes, pcapHeader, pcapRecord, pkt, shb, spb, type Got } from './build.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir = '';
const hasMkfifo = spawnSync('mkfifo', ['--version'], { encoding: 'utf8' }).status === 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-capture-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function pcapBytes(): Buffer {
  const recs: Buffer[] = [pcapHeader({ order: 'be', nano: true })];
  for (let i = 0; i < 30; i++) recs.push(pcapRecord(1700000000 + i, i * 1000 + 7, pkt(20 + i * 3, i), 1500, 'be'));
  return Buffer.concat(recs);
}

function pcapngBytes(): Buffer {
  const parts: Buffer[] = [shb(), idb(1, 'le', { tsresol: 9 }), idb(113)];
  for (let i = 0; i < 30; i++) parts.push(i % 5 === 4 ? spb(pkt(11, i)) : epb(i % 2, 1700000000_000000000n + BigInt(i) * 1234567n, pkt(17 + i, i)));
  parts.push(shb('be'), idb(101, 'be'), epb(0, 42n, pkt(33), 'be'));
  return Buffer.concat(parts);
}

async function collect(source: CaptureSource, chunkSize?: number): Promise<{ frames: Got[]; info: CaptureFileInfo; bufs: Set<Buffer> }> {
  const frames: Got[] = [];
  const bufs = new Set<Buffer>();
  const info = await readCapture(
    source,
    3,
    {
      onFrame: (v: FrameView) => {
        frames.push(copyView(v));
        bufs.add(v.buf);
      },
    },
    chunkSize === undefined ? undefined : { chunkSize },
  );
  return { frames, info, bufs };
}

function file(name: string, data: Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
}

const formats: [string, () => Buffer][] = [
  ['pcap', pcapBytes],
  ['pcapng', pcapngBytes],
];

describe('sources: buffer, file, gzip, stream give the same frames', () => {
  for (const [fmt, make] of formats) {
    const bytes = make();
    const expected = parseBytes(bytes, undefined, 'ref', 3).frames;

    it(`${fmt}: reference has every record`, () => {
      expect(expected).toHaveLength(fmt === 'pcap' ? 30 : 31);
    });

    for (const chunk of [undefined, 1, 7, 64]) {
      it(`${fmt}: buffer source, chunk ${chunk ?? 'default'}`, async () => {
        const r = await collect({ kind: 'buffer', name: 'mem', data: bytes }, chunk);
        expect(r.frames).toEqual(expected);
        expect(r.info).toMatchObject({ file: 'mem', fileIndex: 3, gzip: false, damage: null, bytes: bytes.length });
      });

      it(`${fmt}: file source, chunk ${chunk ?? 'default'}`, async () => {
        const p = file(`a-${fmt}-${chunk}.cap`, bytes);
        const r = await collect({ kind: 'file', path: p }, chunk);
        expect(r.frames).toEqual(expected);
        expect(r.info).toMatchObject({ file: p, gzip: false, damage: null, bytes: bytes.length });
      });

      it(`${fmt}: gzip file (detected by magic, not name), chunk ${chunk ?? 'default'}`, async () => {
        const p = file(`b-${fmt}-${chunk}.bin`, gzipSync(bytes));
        const r = await collect({ kind: 'file', path: p }, chunk);
        expect(r.frames).toEqual(expected);
        expect(r.info).toMatchObject({ gzip: true, damage: null, bytes: bytes.length, format: fmt });
      });

      it(`${fmt}: gzip buffer, chunk ${chunk ?? 'default'}`, async () => {
        const r = await collect({ kind: 'buffer', name: 'gz', data: gzipSync(bytes) }, chunk);
        expect(r.frames).toEqual(expected);
        expect(r.info.gzip).toBe(true);
      });
    }

    it(`${fmt}: any Readable (the stdin path), one byte per chunk`, async () => {
      const frames: Got[] = [];
      const slices = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
      const info = await readCaptureStream(Readable.from(slices), '-', 3, { onFrame: (v) => frames.push(copyView(v)) });
      expect(frames).toEqual(expected);
      expect(info).toMatchObject({ file: '-', gzip: false, damage: null });
    });

    it.skipIf(!hasMkfifo)(`${fmt}: a FIFO path (process substitution, /dev/stdin) is read as a stream, plain and gzipped`, async () => {
      for (const [name, data] of [['plain', bytes], ['gz', gzipSync(bytes)]] as const) {
        const p = path.join(dir, `fifo-${fmt}-${name}`);
        expect(spawnSync('mkfifo', [p]).status).toBe(0);
        // Opening a FIFO for writing waits for its reader: the write goes on while readCapture reads.
        const w = createWriteStream(p);
        w.end(data);
        const r = await collect({ kind: 'file', path: p }, 64);
        expect(r.frames).toEqual(expected);
        expect(r.info).toMatchObject({ file: p, gzip: name === 'gz', damage: null, format: fmt });
      }
    });

    it(`${fmt}: gzip through a Readable in 5-byte chunks`, async () => {
      const gz = gzipSync(bytes);
      const slices = Array.from({ length: Math.ceil(gz.length / 5) }, (_, i) => gz.subarray(i * 5, i * 5 + 5));
      const frames: Got[] = [];
      const info = await readCaptureStream(Readable.from(slices), 'pipe', 3, { onFrame: (v) => frames.push(copyView(v)) });
      expect(frames).toEqual(expected);
      expect(info.gzip).toBe(true);
    });
  }

  it('two concatenated gzip members read as one file', async () => {
    const bytes = pcapBytes();
    const half = 24 + 16 + 20;
    const data = Buffer.concat([gzipSync(bytes.subarray(0, half)), gzipSync(bytes.subarray(half))]);
    const r = await collect({ kind: 'buffer', name: 'two', data });
    expect(r.frames).toEqual(parseBytes(bytes, undefined, 'two', 3).frames);
  });

  it('file source hands out views into one reused chunk buffer', async () => {
    const parts = [pcapHeader()];
    for (let i = 0; i < 5000; i++) parts.push(pcapRecord(i, 0, pkt(100 + (i % 50), i)));
    const p = file('many.pcap', Buffer.concat(parts));
    const r = await collect({ kind: 'file', path: p }, 64 * 1024);
    expect(r.info.frames).toBe(5000);
    expect(r.bufs.size).toBe(1);
    const [only] = [...r.bufs];
    expect(only!.length).toBe(64 * 1024);
  });

  it('file source grows its buffer only for a record larger than the chunk', async () => {
    const p = file('grow.pcap', Buffer.concat([pcapHeader(), pcapRecord(1, 0, pkt(1000)), pcapRecord(2, 0, pkt(10))]));
    const r = await collect({ kind: 'file', path: p }, 64);
    expect(r.frames.map((f) => f.capLen)).toEqual([1000, 10]);
    for (const b of r.bufs) expect(b.length).toBeLessThanOrEqual(1016);
  });
});

describe('file source: records split across reads at every offset', () => {
  for (const [fmt, make] of formats) {
    it(`${fmt}: every chunk size from 1 to 96 bytes gives byte-identical frames`, async () => {
      const bytes = make();
      const expected = parseBytes(bytes, undefined, 'ref', 3).frames;
      const p = file(`split-${fmt}.cap`, bytes);
      for (let chunk = 1; chunk <= 96; chunk++) {
        const r = await collect({ kind: 'file', path: p }, chunk);
        expect(r.frames, `chunk ${chunk}`).toEqual(expected);
        expect(r.info, `chunk ${chunk}`).toMatchObject({ damage: null, bytes: bytes.length });
      }
    });
  }

  for (const [fmt, make] of formats) {
    it(`${fmt}: gzipped file, every chunk size from 1 to 48 bytes gives byte-identical frames`, async () => {
      const bytes = make();
      const expected = parseBytes(bytes, undefined, 'ref', 3).frames;
      const p = file(`split-${fmt}.gz`, gzipSync(bytes));
      for (let chunk = 1; chunk <= 48; chunk++) {
        const r = await collect({ kind: 'file', path: p }, chunk);
        expect(r.frames, `chunk ${chunk}`).toEqual(expected);
        expect(r.info, `chunk ${chunk}`).toMatchObject({ gzip: true, damage: null, bytes: bytes.length });
      }
    });
  }

  it('gzipped file: an exception of the sink is thrown as it is, and the file is left', async () => {
    const p = file('throws.gz', gzipSync(pcapBytes()));
    const boom = new Error('sink failed');
    let calls = 0;
    await expect(
      readCapture({ kind: 'file', path: p }, 0, {
        onFrame: () => {
          if (++calls === 3) throw boom;
        },
      }, { chunkSize: 16 }),
    ).rejects.toBe(boom);
    expect(calls).toBe(3);
  });

  it('a large file yields to the event loop while it is read', async () => {
    const parts = [pcapHeader()];
    for (let i = 0; i < 2000; i++) parts.push(pcapRecord(i, 0, pkt(200, i)));
    const p = file('yield.pcap', Buffer.concat(parts));
    let spins = 0;
    let reading = true;
    const spin = (): void => {
      if (!reading) return;
      spins++;
      setImmediate(spin);
    };
    setImmediate(spin);
    let atFirst = -1;
    let atLast = -1;
    const info = await readCapture({ kind: 'file', path: p }, 0, {
      onFrame: (v) => {
        if (v.frame === 1) atFirst = spins;
        if (v.frame === 2000) atLast = spins;
      },
    }, { chunkSize: 1024 });
    reading = false;
    expect(info.frames).toBe(2000);
    // ~460 reads of 1 KiB, a yield every 16: the event loop turned while the frames came.
    expect(atLast - atFirst).toBeGreaterThan(10);
  });
});

describe('sources: damage after a valid header does not throw', () => {
  it('truncated gzip stream: frames before it stand, damage names the offset', async () => {
    const bytes = pcapBytes();
    const gz = gzipSync(bytes);
    const r = await collect({ kind: 'buffer', name: 'cut.gz', data: gz.subarray(0, gz.length - 30) });
    expect(r.info.damage).not.toBeNull();
    expect(r.info.frames).toBeGreaterThan(0);
    expect(r.info.frames).toBeLessThan(30);
    expect(r.info.damage!.frame).toBe(r.info.frames + 1);
    expect(r.info.damage!.offset).toBe(r.frames.at(-1)!.fileOffset + 16 + r.frames.at(-1)!.capLen);
  });

  it('truncated plain file: damage at the cut record', async () => {
    const bytes = pcapBytes();
    const p = file('cut.pcap', bytes.subarray(0, bytes.length - 5));
    const r = await collect({ kind: 'file', path: p }, 7);
    expect(r.info.frames).toBe(29);
    expect(r.info.damage).toMatchObject({ file: p, frame: 30 });
    expect(r.info.damage!.message).toMatch(/^truncated record/);
  });
});

describe('sources: input that cannot be read at all throws CaptureInputError', () => {
  async function fails(source: CaptureSource): Promise<CaptureInputError> {
    try {
      await collect(source);
    } catch (e) {
      expect(e).toBeInstanceOf(CaptureInputError);
      const err = e as CaptureInputError;
      expect(err.message).not.toContain('\n');
      expect(err.file).toBe(sourceName(source));
      return err;
    }
    throw new Error('expected CaptureInputError');
  }

  it('missing file', async () => {
    const err = await fails({ kind: 'file', path: path.join(dir, 'nope.pcap') });
    expect(err.message).toBe(`${path.join(dir, 'nope.pcap')}: cannot open: ENOENT: no such file or directory`);
  });

  it('a directory', async () => {
    expect((await fails({ kind: 'file', path: dir })).message).toContain('EISDIR');
  });

  it.skipIf(process.getuid?.() === 0)('permission denied', async () => {
    const p = file('secret.pcap', pcapBytes());
    chmodSync(p, 0);
    expect((await fails({ kind: 'file', path: p })).message).toContain('EACCES');
  });

  it('empty file', async () => {
    const p = file('empty.pcap', Buffer.alloc(0));
    expect((await fails({ kind: 'file', path: p })).message).toBe(`${p}: empty file`);
  });

  it('garbage file', async () => {
    const p = file('page.pcap', Buffer.from('<html>not a capture</html>'));
    expect((await fails({ kind: 'file', path: p })).message).toBe(`${p}: not a pcap or pcapng file (starts with 3c 68 74 6d)`);
  });

  it('gzip of garbage', async () => {
    expect((await fails({ kind: 'buffer', name: 'g.gz', data: gzipSync(Buffer.from('hello world')) })).message).toBe(
      'g.gz: not a pcap or pcapng file (starts with 68 65 6c 6c)',
    );
  });

  it('gzip of nothing', async () => {
    expect((await fails({ kind: 'buffer', name: 'z.gz', data: gzipSync(Buffer.alloc(0)) })).message).toBe('z.gz: empty file');
  });

  it('corrupt gzip header', async () => {
    const err = await fails({ kind: 'buffer', name: 'bad.gz', data: Buffer.from([0x1f, 0x8b, 0x99, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]) });
    expect(err.message).toMatch(/^bad\.gz: bad gzip header at compressed byte 2: compression method 153 /);
  });

  it('a capture header cut short', async () => {
    expect((await fails({ kind: 'buffer', name: 'h', data: pcapHeader().subarray(0, 20) })).message).toBe(
      'h: file too short for a capture header (20 bytes)',
    );
  });
});

describe('sources: names', () => {
  it('sourceName gives the path, "-" or the buffer name', () => {
    expect(sourceName({ kind: 'file', path: '/x/y.pcap' })).toBe('/x/y.pcap');
    expect(sourceName({ kind: 'stdin' })).toBe('-');
    expect(sourceName({ kind: 'buffer', name: 'n', data: Buffer.alloc(0) })).toBe('n');
  });
});

describe('stdin in a child process ({ kind: "stdin" })', () => {
  function runChild(input: Buffer): Promise<string> {
    const script = path.join(dir, 'stdin-child.mts');
    writeFileSync(
      script,
      `import { readCapture } from ${JSON.stringify(path.join(repoRoot, 'src/capture/source.ts'))};
let frames = 0;
const info = await readCapture({ kind: 'stdin' }, 0, { onFrame() { frames++; } });
process.stdout.write(JSON.stringify({ frames, infoFrames: info.frames, gzip: info.gzip, file: info.file, damage: info.damage }));
`,
    );
    return new Promise((resolve, reject) => {
      const child = spawn('npx', ['tsx', script], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`))));
      child.stdin.end(input);
    });
  }

  it('reads a pcapng piped to stdin', async () => {
    const out = JSON.parse(await runChild(pcapngBytes()));
    expect(out).toEqual({ frames: 31, infoFrames: 31, gzip: false, file: '-', damage: null });
  });

  it('reads a gzipped pcap piped to stdin', async () => {
    const out = JSON.parse(await runChild(gzipSync(pcapBytes())));
    expect(out).toMatchObject({ frames: 30, gzip: true, damage: null });
  });
});
