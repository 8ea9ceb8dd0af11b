// Issue 19: no output path destroys or half-writes a user's file, and every write error on any
// output is the same one line and exit code. The command is run end to end
// (`node --import tsx src/cli/main.ts`); the sinks of src/cli/output.ts are also tested alone.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OutputError, fileSink, refuseOutputOntoInput, streamSink } from '../../src/cli/output.js';
import { UsageError } from '../../src/cli/errors.js';
import { Writable } from 'node:stream';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const failed = path.join(repoRoot, 'fixtures/captures/port_not_listening.pcap');
const FORMATS = ['text', 'json', 'md', 'html', 'ndjson'];

function run(args: string[], stdout: 'pipe' | number = 'pipe'): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', stdout, 'pipe'],
    encoding: 'buffer',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout?.toString('utf8') ?? '', stderr: r.stderr.toString('utf8') };
}

function oneLineError(stderr: string, re: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rdp-autopsy: /);
  expect(lines[0]).toMatch(re);
  expect(stderr).not.toMatch(/internal error/);
  expect(stderr).not.toMatch(/\n\s+at /);
}

function workDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-out-'));
  writeFileSync(path.join(dir, 'a.pcap'), readFileSync(failed));
  return dir;
}

describe('-o onto an input is refused (exit 2, one line, the capture untouched)', () => {
  const dir = workDir();
  const capture = path.join(dir, 'a.pcap');
  const original = readFileSync(capture);
  symlinkSync('a.pcap', path.join(dir, 'link.pcap'));
  linkSync(capture, path.join(dir, 'hard.pcap'));
  for (const format of ['text', 'ndjson']) {
    for (const out of ['a.pcap', './a.pcap', 'link.pcap', 'hard.pcap']) {
      it(`${format}: -o ${out}`, () => {
        const r = run(['analyze', '--format', format, capture, '-o', path.join(dir, out)]);
        expect(r.code).toBe(2);
        oneLineError(r.stderr, /is the input .*refusing to overwrite/);
        expect(readFileSync(capture).equals(original)).toBe(true);
      });
    }
  }
  it('the input given through a link, -o the file itself', () => {
    const r = run(['analyze', path.join(dir, 'link.pcap'), '-o', capture]);
    expect(r.code).toBe(2);
    expect(readFileSync(capture).equals(original)).toBe(true);
  });
  it('refuseOutputOntoInput: another file, a device, or no -o pass', () => {
    expect(() => refuseOutputOntoInput(path.join(dir, 'report.txt'), [capture])).not.toThrow();
    expect(() => refuseOutputOntoInput('/dev/null', [capture])).not.toThrow();
    expect(() => refuseOutputOntoInput(undefined, [capture])).not.toThrow();
    expect(() => refuseOutputOntoInput(path.join(dir, 'new.pcap'), [path.join(dir, 'new.pcap')], '-o')).toThrow(UsageError);
  });
});

describe('a report goes through a temporary file renamed into place', () => {
  it('a run that fails leaves the old report as it was and no temporary file', () => {
    const dir = workDir();
    const garbage = path.join(dir, 'garbage.bin');
    writeFileSync(garbage, Buffer.alloc(4096, 0x41));
    for (const format of FORMATS) {
      const report = path.join(dir, `old.${format}`);
      writeFileSync(report, 'the old report\n');
      const r = run(['analyze', '--format', format, garbage, '-o', report]);
      expect(r.code).toBe(2);
      expect(readFileSync(report, 'utf8')).toBe('the old report\n');
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a run that succeeds replaces the old report, keeping its permissions', () => {
    const dir = workDir();
    const report = path.join(dir, 'r.json');
    writeFileSync(report, 'old', { mode: 0o600 });
    const r = run(['analyze', '--format', 'json', path.join(dir, 'a.pcap'), '-o', report]);
    expect(r.code).toBe(1);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toHaveProperty('connections');
    expect(statSync(report).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['a.pcap', 'r.json']);
  });

  it('fileSink: nothing at the destination until close; abort leaves it alone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-sink-'));
    const dest = path.join(dir, 'r.txt');
    writeFileSync(dest, 'old');
    const a = fileSink(dest);
    a.write('new half');
    expect(readFileSync(dest, 'utf8')).toBe('old');
    a.abort();
    expect(readdirSync(dir)).toEqual(['r.txt']);
    expect(readFileSync(dest, 'utf8')).toBe('old');
    const b = fileSink(dest);
    b.write('new ');
    b.write('whole');
    await b.close();
    expect(readFileSync(dest, 'utf8')).toBe('new whole');
    expect(readdirSync(dir)).toEqual(['r.txt']);
  });

  it('fileSink: a folder that does not exist is one OutputError', () => {
    expect(() => fileSink('/nonexistent-dir-19/r.txt')).toThrow(/^cannot write \/nonexistent-dir-19\/r\.txt: ENOENT/);
  });
});

describe('write errors: the same one line and exit code on every output and format', () => {
  for (const format of FORMATS) {
    it.skipIf(!existsSync('/dev/full'))(`${format}: -o /dev/full -> ENOSPC, exit 2`, () => {
      const r = run(['analyze', '--format', format, failed, '-o', '/dev/full']);
      expect(r.code).toBe(2);
      oneLineError(r.stderr, /^rdp-autopsy: cannot write \/dev\/full: ENOSPC \(no space left on device\)$/);
    });
    it.skipIf(!existsSync('/dev/full'))(`${format}: stdout on /dev/full -> ENOSPC, exit 2`, () => {
      const fd = openSync('/dev/full', 'w');
      try {
        const r = run(['analyze', '--format', format, failed], fd);
        expect(r.code).toBe(2);
        oneLineError(r.stderr, /^rdp-autopsy: cannot write stdout: ENOSPC \(no space left on device\)$/);
      } finally {
        closeSync(fd);
      }
    });
  }

  for (const format of ['text', 'ndjson']) {
    // A reader that quits early (`| head`) is Unix manners, not an error (issue 17): no word on
    // stderr, the run's own exit code (or 141, as a shell reports SIGPIPE, when the run was still going).
    it(`${format}: stdout a pipe closed by its reader -> quiet, the run's exit code`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'analyze', '--format', format, failed], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
      // The reader goes away before the command writes anything.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
      expect([1, 141]).toContain(code);
      expect(stderr).toBe('');
    });
  }

  it('streamSink: an error event becomes one OutputError at close, later writes dropped', async () => {
    let writes = 0;
    const w = new Writable({
      write(_c, _e, cb): void {
        writes++;
        const e = Object.assign(new Error('write ENOSPC'), { code: 'ENOSPC' });
        cb(e);
      },
    });
    const s = streamSink(w);
    s.write('a');
    await new Promise((r) => setImmediate(r));
    s.write('b');
    await expect(s.close()).rejects.toThrow(OutputError);
    await expect(Promise.resolve(s.close())).rejects.toThrow(/cannot write stdout: ENOSPC/);
    expect(writes).toBe(1);
  });

  it('streamSink: a closed pipe (EPIPE) closes quietly, later writes dropped', async () => {
    let writes = 0;
    const w = new Writable({
      write(_c, _e, cb): void {
        writes++;
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const s = streamSink(w);
    s.write('a');
    await new Promise((r) => setImmediate(r));
    s.write('b');
    await expect(s.close()).resolves.toBeUndefined();
    expect(writes).toBe(1);
  });
});
