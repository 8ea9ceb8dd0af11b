// The report formats through the command line (src/cli, in process; stdin through a child):
// every format with -o FILE and on stdout, every exit code (0 completed, 1 failed, 2 usage /
// unreadable, 3 damaged), --export-evidence (files, stdin spooled), colour rules.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { SchemaValidator } from './json-schema.js';
import { FIXTURES, repoRoot } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-report-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const schema = new SchemaValidator(JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>);

const FAILED = path.join(FIXTURES, 'captures/cert_expired.pcapng');
const COMPLETED = path.join(FIXTURES, 'captures/completed_tls13.pcapng');

class Sink extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[], opts: { tty?: boolean; env?: Record<string, string | undefined> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new Sink(opts.tty ?? false);
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += s.toString();
    return true;
  });
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await main(['node', 'rdp-autopsy', ...args], out);
    return { code, stdout: out.text, stderr };
  } finally {
    spy.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

afterEach(() => vi.restoreAllMocks());

/** What each format's output must look like. */
const SHAPE: Record<string, (s: string) => void> = {
  text: (s) => expect(s).toMatch(/^Capture: /),
  json: (s) => expect(schema.validate(JSON.parse(s))).toEqual([]),
  md: (s) => expect(s).toMatch(/^# RDP autopsy: /),
  html: (s) => {
    expect(s).toMatch(/^<!DOCTYPE html>/);
    expect(s.trimEnd()).toMatch(/<\/html>$/);
  },
  ndjson: (s) => {
    const lines = s.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.at(-1)!.type).toBe('summary');
    expect(lines.slice(0, -1).every((l) => l.type === 'connection')).toBe(true);
  },
};

describe('every format, with -o FILE and on stdout', () => {
  for (const format of Object.keys(SHAPE)) {
    it(`${format}: failed -> exit 1, completed -> exit 0`, async () => {
      const file = path.join(tmp, `report-failed.${format}`);
      const f = await cli(['analyze', '--format', format, '-o', file, FAILED]);
      expect([f.code, f.stdout, f.stderr]).toEqual([1, '', '']);
      SHAPE[format]!(readFileSync(file, 'utf8'));
      expect(readFileSync(file, 'utf8')).toContain('cert_expired');
      const c = await cli(['analyze', '--format', format, COMPLETED]);
      expect([c.code, c.stderr]).toEqual([0, '']);
      SHAPE[format]!(c.stdout);
    });
  }

  it('ndjson -o FILE: an existing file is replaced, not appended to', async () => {
    const file = path.join(tmp, 'again.ndjson');
    writeFileSync(file, 'old content\n');
    await cli(['analyze', '--format', 'ndjson', '-o', file, FAILED]);
    await cli(['analyze', '--format', 'ndjson', '-o', file, FAILED]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(2);
    expect(lines[0]!.startsWith('{"type":"connection"')).toBe(true);
  });
});

describe('exit codes 2 and 3', () => {
  it('2: a missing file, a file that is not a capture, an unknown format, an unwritable -o, an unwritable evidence directory', async () => {
    const garbage = path.join(tmp, 'garbage.pcap');
    writeFileSync(garbage, 'this is not a capture at all, just some text\n');
    const cases: string[][] = [
      ['analyze', path.join(tmp, 'nope.pcap')],
      ['analyze', garbage],
      ['analyze', '--format', 'xml', FAILED],
      ['analyze', '-o', path.join(tmp, 'no/such/dir/r.txt'), FAILED],
      ['analyze', '--export-evidence', path.join(garbage, 'sub'), FAILED],
    ];
    for (const args of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(/^rdp-autopsy: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('3: a damaged capture is reported in every format, the damage named with its byte offset', async () => {
    const whole = readFileSync(FAILED);
    const cut = path.join(tmp, 'cut.pcapng');
    writeFileSync(cut, whole.subarray(0, whole.length - 100));
    for (const format of Object.keys(SHAPE)) {
      const file = path.join(tmp, `damaged.${format}`);
      const r = await cli(['analyze', '--format', format, '-o', file, cut]);
      expect(r.code, format).toBe(3);
      const out = readFileSync(file, 'utf8');
      SHAPE[format]!(out);
      expect(out).toMatch(/byte offset \d+/);
    }
  });
});

describe('--export-evidence', () => {
  it('writes a pcap per failed connection and the report links it (json, md, html)', async () => {
    const dir = path.join(tmp, 'evidence');
    const r = await cli(['analyze', '--format', 'json', '--export-evidence', dir, FAILED]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { connections: { id: string; outcome: string; evidenceFile?: string }[] };
    expect(schema.validate(j)).toEqual([]);
    expect(j.connections[0]!.evidenceFile).toBe(path.join(dir, 'c1.pcapng'));
    expect(readdirSync(dir)).toEqual(['c1.pcapng']);
    // Each run into its own folder: evidence files are never overwritten (issue 19).
    const md = await cli(['analyze', '--format', 'md', '--export-evidence', `${dir}-md`, FAILED]);
    expect(md.stdout).toContain(`**Evidence:** [`);
    const html = await cli(['analyze', '--format', 'html', '--export-evidence', `${dir}-html`, FAILED]);
    expect(html.stdout).toContain(`<a href="${dir}-html/c1.pcapng">`);
    const nd = await cli(['analyze', '--format', 'ndjson', '--export-evidence', dir, FAILED]);
    const summary = JSON.parse(nd.stdout.trimEnd().split('\n').at(-1)!) as { evidence: { connection: string; file: string }[] };
    // The same folder again: the first file is kept, the new one takes the next free name.
    expect(summary.evidence).toEqual([{ connection: 'c1', file: path.join(dir, 'c1-1.pcapng') }]);
    expect(readdirSync(dir).sort()).toEqual(['c1-1.pcapng', 'c1.pcapng']);
  });

  it('stdin is spooled, read twice, and still named "-" (child process)', () => {
    const dir = path.join(tmp, 'evidence-stdin');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'analyze', '--format', 'json', '--export-evidence', dir, '-'], {
      cwd: repoRoot,
      input: readFileSync(FAILED),
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(r.status, r.stderr.toString()).toBe(1);
    const j = JSON.parse(r.stdout.toString()) as { capture: { files: { file: string }[] }; connections: { file: string; evidenceFile?: string }[] };
    expect(j.capture.files[0]!.file).toBe('-');
    expect(j.connections[0]!.file).toBe('-');
    expect(j.connections[0]!.evidenceFile).toBe(path.join(dir, 'c1.pcapng'));
    expect(readFileSync(path.join(dir, 'c1.pcapng')).length).toBeGreaterThan(24);
    expect(r.stdout.toString()).not.toContain('stdin.capture');
  });

  it('a completed capture writes no evidence', async () => {
    const dir = path.join(tmp, 'evidence-none');
    const r = await cli(['analyze', '--export-evidence', dir, COMPLETED]);
    expect(r.code).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('colour', () => {
  const ESC = '\x1b[';
  it('on a TTY with NO_COLOR unset: coloured', async () => {
    const r = await cli(['analyze', FAILED], { tty: true, env: { NO_COLOR: undefined } });
    expect(r.stdout).toContain(`${ESC}1;31mFAILED`);
  });
  it('not a TTY, NO_COLOR set, --no-color, or -o FILE: no escape sequence at all', async () => {
    expect((await cli(['analyze', FAILED], { tty: false, env: { NO_COLOR: undefined } })).stdout).not.toContain('\x1b');
    expect((await cli(['analyze', FAILED], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\x1b');
    expect((await cli(['analyze', '--no-color', FAILED], { tty: true, env: { NO_COLOR: undefined } })).stdout).not.toContain('\x1b');
    const file = path.join(tmp, 'tty.txt');
    await cli(['analyze', '-o', file, FAILED], { tty: true, env: { NO_COLOR: undefined } });
    expect(readFileSync(file, 'utf8')).not.toContain('\x1b');
  });
});
