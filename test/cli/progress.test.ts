// Progress on stderr (issue 17, "Large captures"): a line rewritten in place when stderr is a
// terminal and the run takes long enough, nothing on a pipe or with --quiet. The CLI runs on a
// pseudo-terminal made by `script` (util-linux) and reads a FIFO the test feeds: the capture's
// first bytes, then (once the progress line was seen, or after a pause) the rest, on stdin, so the
// run lasts as long as the test wants whatever the machine's load.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AnalyzeProgress, analyze } from '../../src/pipeline.js';
import { readCapture } from '../../src/capture/index.js';
import { bytesText, progressLine, startProgress } from '../../src/cli/progress.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CAPTURE = path.join(repoRoot, 'fixtures/captures/rdp_unknown_port.pcap');
const MAIN = path.join(repoRoot, 'src/cli/main.ts');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-progress-'));
const children: ChildProcess[] = [];
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const hasMkfifo = spawnSync('mkfifo', ['--version'], { encoding: 'utf8' }).status === 0;

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

let fifoCount = 0;
function fifo(): string {
  const p = path.join(tmp, `capture-${fifoCount++}.pcap`);
  expect(spawnSync('mkfifo', [p]).status).toBe(0);
  return p;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Spawns and collects stdout and stderr; resolves with them and the exit code. */
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string; err: () => string; done: Promise<number> } {
  const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const done = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, out: () => out, err: () => err, done };
}

/**
 * The fixture with PAD frames of 1000 bytes (a local experimental EtherType, IEEE 802 0x88b5) put
 * before its own frames, at the time of its first frame: more than a pipe holds, so that writing
 * them returns only once the analysis reads.
 */
const PAD = 300;
function padded(): Buffer {
  const data = readFileSync(CAPTURE);
  const le = data.readUInt32LE(0) === 0xa1b2c3d4;
  const ts = le ? data.readUInt32LE(24) : data.readUInt32BE(24);
  const frame = Buffer.alloc(16 + 1000);
  const u32 = (v: number, at: number): number => (le ? frame.writeUInt32LE(v, at) : frame.writeUInt32BE(v, at));
  u32(ts, 0);
  u32(0, 4);
  u32(1000, 8);
  u32(1000, 12);
  frame.writeUInt16BE(0x88b5, 16 + 12);
  return Buffer.concat([data.subarray(0, 24), ...Array.from({ length: PAD }, () => frame), data.subarray(24)]);
}
const HEAD = 24 + 260 * 1016;

/** Feeds the padded capture into the FIFO: most of the padding (written once the analysis reads it), then waits for `until`, then the rest. */
async function feed(p: string, until: () => Promise<void>): Promise<void> {
  const data = padded();
  const fh = await open(p, 'w'); // resolves once the shell has opened the FIFO
  try {
    await fh.write(data.subarray(0, HEAD));
    await until();
    await fh.write(data.subarray(HEAD));
  } finally {
    await fh.close();
  }
}

const env = { ...process.env, NO_COLOR: '1', RDP_AUTOPSY_PROGRESS_AFTER_MS: '0' };

describe.skipIf(!hasScript || !hasMkfifo)('progress on a pseudo-terminal (script -qfc)', () => {
  it('draws "read N B, F frames, C connections, R/s" on the terminal while the run waits, then erases it; the report is whole', async () => {
    const p = fifo();
    const report = path.join(tmp, 'report-tty.txt');
    const r = start('script', ['-qfec', `${shellQuote(process.execPath)} --import tsx ${shellQuote(MAIN)} analyze - < ${shellQuote(p)} > ${shellQuote(report)}`, '/dev/null'], env);
    await feed(p, async () => {
      // The line comes from the timer while the reader waits for the FIFO.
      while (!/connections?, /.test(r.out())) {
        if (r.child.exitCode !== null) break;
        await sleep(50);
      }
    });
    expect(await r.done).toBe(0);
    const tty = r.out();
    expect(tty).toMatch(/\rread \d+(\.\d)? kB, \d+ frames, 0 connections, [\d.]+ [kMG]?B\/s\x1b\[K/);
    // The last thing on the terminal erases the line.
    expect(tty.replace(/\r\n$/, '')).toMatch(/\r\x1b\[K$/);
    expect(readFileSync(report, 'utf8')).toContain(`No RDP connection attempt on port 3389 in this capture (${19 + PAD} frames)`);
  }, 120_000);

  it('--quiet: nothing on the terminal', async () => {
    const p = fifo();
    const report = path.join(tmp, 'report-quiet.txt');
    const r = start('script', ['-qfec', `${shellQuote(process.execPath)} --import tsx ${shellQuote(MAIN)} analyze --quiet - < ${shellQuote(p)} > ${shellQuote(report)}`, '/dev/null'], env);
    await feed(p, () => sleep(1200)); // the analysis is reading (the pipe took the head): several redraw periods (250 ms) while it waits
    expect(await r.done).toBe(0);
    expect(r.out()).not.toContain('read ');
    expect(readFileSync(report, 'utf8')).toContain('No RDP connection attempt');
  }, 120_000);
});

describe.skipIf(!hasMkfifo)('progress when stderr is not a terminal', () => {
  it('a pipe gets nothing', async () => {
    const p = fifo();
    const r = start('sh', ['-c', `${shellQuote(process.execPath)} --import tsx ${shellQuote(MAIN)} analyze - < ${shellQuote(p)}`], env);
    await feed(p, () => sleep(1200)); // as above, with stderr a pipe
    expect(await r.done).toBe(0);
    expect(r.err()).toBe('');
    expect(r.out()).toContain('No RDP connection attempt');
  }, 120_000);
});

describe('progress counters and line', () => {
  it('AnalyzeProgress ends with the file size, the frames and the connections of the run', async () => {
    const progress = new AnalyzeProgress();
    const file = path.join(repoRoot, 'fixtures/captures/port_blocked_silent.pcap.gz');
    const r = await analyze([{ kind: 'file', path: CAPTURE }, { kind: 'file', path: file }], { progress, jobs: 1, fileSets: false });
    expect(progress.sample()).toEqual({ bytes: statSync(CAPTURE).size + statSync(file).size, frames: r.capture.frames, connections: r.summary.connections, filesDone: 2 });
  });

  it('the read position of a gzipped file reaches its size, inflated here or in a thread', async () => {
    const file = path.join(repoRoot, 'fixtures/captures/port_blocked_silent.pcap.gz');
    for (const gzipThreadMin of [Infinity, 0]) {
      const position = { bytes: 0 };
      await readCapture({ kind: 'file', path: file }, 0, { onFrame: () => undefined }, { gzipThreadMin, position });
      expect(position.bytes, `gzipThreadMin ${gzipThreadMin}`).toBe(statSync(file).size);
    }
  });

  it('progressLine: share of the total, counts and rate', () => {
    expect(progressLine({ bytes: 512e6, frames: 1234567, connections: 42, filesDone: 0 }, 2e9, 4)).toBe('read 512 MB of 2.0 GB (25 %), 1,234,567 frames, 42 connections, 128 MB/s');
    expect(progressLine({ bytes: 600, frames: 1, connections: 1, filesDone: 0 }, 0, 0)).toBe('read 600 B, 1 frame, 1 connection');
    expect(bytesText(999)).toBe('999 B');
    expect(bytesText(1500)).toBe('1.5 kB');
  });

  it('startProgress: nothing before the delay, nothing on a stream that is not a terminal', async () => {
    const writes: string[] = [];
    const stream = { isTTY: true, columns: 80, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const progress = new AnalyzeProgress();
    const late = startProgress(progress, stream, { totalBytes: 0, afterMs: 60_000, everyMs: 10 });
    await sleep(60);
    late.stop();
    expect(writes).toEqual([]);
    const soon = startProgress(progress, stream, { totalBytes: 0, afterMs: 0, everyMs: 10 });
    while (writes.length === 0) await sleep(10);
    soon.stop();
    expect(writes[0]).toMatch(/^\rread 0 B, 0 frames, 0 connections/);
    expect(writes[writes.length - 1]).toBe('\r\x1b[K');
    const silent: string[] = [];
    const pipe = { isTTY: false, write: (s: string) => silent.push(s) } as unknown as NodeJS.WriteStream;
    const none = startProgress(progress, pipe, { totalBytes: 0, afterMs: 0, everyMs: 10 });
    await sleep(60);
    none.stop();
    expect(silent).toEqual([]);
  });
});
