// Unix manners (issue 17): colour from the terminal and FORCE_COLOR / NO_COLOR / TERM=dumb, and a
// reader that quits early (`| head`) ends every command quietly: no stack trace, no message.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_BROKEN_PIPE, colorWanted } from '../../src/cli/terminal.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(repoRoot, 'fixtures/sample.pcapng');

describe('colour', () => {
  it('a terminal gets colour, a pipe does not', () => {
    expect(colorWanted(true, {})).toBe(true);
    expect(colorWanted(false, {})).toBe(false);
  });
  it('NO_COLOR (non-empty) and TERM=dumb turn it off', () => {
    expect(colorWanted(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted(true, { NO_COLOR: '' })).toBe(true);
    expect(colorWanted(true, { TERM: 'dumb' })).toBe(false);
    expect(colorWanted(true, { TERM: 'xterm-256color' })).toBe(true);
  });
  it('FORCE_COLOR forces it, even into a pipe and over NO_COLOR / TERM=dumb; FORCE_COLOR=0 turns it off', () => {
    for (const v of ['', '1', '2', '3', 'true']) expect(colorWanted(false, { FORCE_COLOR: v, NO_COLOR: '1', TERM: 'dumb' }), v).toBe(true);
    for (const v of ['0', 'false']) expect(colorWanted(true, { FORCE_COLOR: v }), v).toBe(false);
  });
});

/** Runs the CLI with its stdout closed before it writes anything (a reader that has already quit). */
function closedPipe(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('a closed pipe ends every command quietly', () => {
  const cases: [string, string[], number[]][] = [
    ['help', ['help'], [0]],
    ['--help', ['--help'], [0]],
    ['analyze --help', ['analyze', '--help'], [0]],
    ['--version', ['--version'], [0]],
    ['analyze (text)', ['analyze', SAMPLE], [1]],
    ['analyze --format json', ['analyze', '--format', 'json', SAMPLE], [1]],
    ['analyze --format md', ['analyze', '--format', 'md', SAMPLE], [1]],
    ['analyze --format html', ['analyze', '--format', 'html', SAMPLE], [1]],
    // NDJSON writes while it analyses: the run stops at its first write.
    ['analyze --format ndjson', ['analyze', '--format', 'ndjson', SAMPLE], [1, EXIT_BROKEN_PIPE]],
  ];
  it.each(cases)('%s', async (_name, args, codes) => {
    const r = await closedPipe(args);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(codes).toContain(r.code);
  }, 120_000);
});
