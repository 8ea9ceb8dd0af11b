// The command line end to end (`node --import tsx src/cli/main.ts`): help, version, every exit
// code, stdin, -o, JSON output, one-line errors. Uses the project's own fixture captures.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bpfFilter } from '../../src/cli/live.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repoRoot, 'fixtures/captures');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-cli-'));

function run(args: string[], input?: Buffer): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    input,
    encoding: 'buffer',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** One line on stderr, no stack trace. */
function oneLineError(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rdp-autopsy: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

const completed = path.join(FIX, 'completed_standard_rdp.pcap');
const failed = path.join(FIX, 'port_not_listening.pcap');

describe('rdp-autopsy CLI', () => {
  it('--help lists the commands, exit 0', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('analyze');
    expect(r.stdout).toContain('live');
  });

  it('analyze --help lists the options', () => {
    const r = run(['analyze', '--help']);
    expect(r.code).toBe(0);
    for (const o of ['--format', '--output', '--port', '--export-evidence', '--no-color']) expect(r.stdout).toContain(o);
  });

  it('--version prints package.json version, exit 0', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('no arguments: help and exit 2', () => {
    expect(run([]).code).toBe(2);
  });

  it.skipIf(!existsSync(completed))('a completed connection: exit 0 and one line for it in the text report', () => {
    const r = run(['analyze', completed]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}c1 tcp \S+ -> \S+:3389: completed \(reached active/m);
  });

  it.skipIf(!existsSync(failed))('a failed connection: exit 1', () => {
    const r = run(['analyze', failed]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED');
    expect(r.stdout).toContain('the server reset the connection during the TCP handshake');
  });

  it.skipIf(!existsSync(failed))('--format json parses and carries the connections', () => {
    const r = run(['analyze', '--format', 'json', failed]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { schemaVersion: string; connections: { outcome: string; died: { how: string } }[]; capture: { frames: number } };
    expect(j.schemaVersion).toBe('2.4');
    expect(j.connections[0]!.outcome).toBe('failed');
    expect(j.connections[0]!.died.how).toBe('rst');
    expect(j.capture.frames).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync(failed))('reads stdin with "-"', () => {
    const r = run(['analyze', '--format', 'json', '-'], readFileSync(failed));
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { capture: { files: { file: string }[] } }).capture.files[0]!.file).toBe('-');
  });

  it.skipIf(!existsSync(path.join(FIX, 'port_blocked_silent.pcap.gz')))('reads a gzipped capture', () => {
    const r = run(['analyze', '--format', 'json', path.join(FIX, 'port_blocked_silent.pcap.gz')]);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { capture: { files: { gzip: boolean }[] } }).capture.files[0]!.gzip).toBe(true);
  });

  it.skipIf(!existsSync(completed))('-o writes the report to a file and nothing to stdout', () => {
    const out = path.join(tmp, 'report.json');
    const r = run(['analyze', '--format', 'json', '-o', out, completed]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect((JSON.parse(readFileSync(out, 'utf8')) as { connections: unknown[] }).connections.length).toBe(1);
  });

  it.skipIf(!existsSync(completed))('--port takes a value and the capture still follows', () => {
    const r = run(['analyze', '--port', '13389', '--port', '3390,3391', completed]);
    expect(r.code).toBe(0);
  });

  it('a missing file: exit 2, one line', () => {
    const r = run(['analyze', path.join(tmp, 'nope.pcap')]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain('no such file');
  });

  it('--keylog: a missing key log is a usage error (exit 2, one line); a given one decrypts', () => {
    const cap = path.join(FIX, 'keylog_completed_logoff.pcapng');
    const r = run(['analyze', cap, '--keylog', path.join(tmp, 'nope.keylog')]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain('--keylog');
    expect(r.stderr).toContain('no such file');
    const ok = run(['analyze', cap, '--keylog', path.join(FIX, 'keylog_completed_logoff.keylog'), '--format', 'json']);
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.stdout) as { connections: { tls: { decryption: { status: string } } }[] };
    expect(j.connections[0]!.tls.decryption.status).toBe('decrypted');
  });

  it('a file that is not a capture: exit 2, one line', () => {
    const junk = path.join(tmp, 'junk.pcap');
    writeFileSync(junk, 'this is not a capture file at all\n'.repeat(10));
    const r = run(['analyze', junk]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
  });

  it('an unknown option: exit 2, one line', () => {
    const r = run(['analyze', '--bogus', 'x.pcap']);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
  });

  it('a bad --port: exit 2, one line', () => {
    const r = run(['analyze', '--port', '70000', 'x.pcap']);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain('invalid port "70000"');
  });

  it.skipIf(!existsSync(completed))('every format answers; an unknown format: exit 2', () => {
    const marks: Record<string, string> = { md: '| ', html: '<!DOCTYPE html>', ndjson: '"type":"connection"' };
    for (const [f, mark] of Object.entries(marks)) {
      const r = run(['analyze', '--format', f, completed]);
      expect(r.code, f).toBe(0);
      expect(r.stderr, f).toBe('');
      expect(r.stdout, f).toContain(mark);
    }
    const u = run(['analyze', '--format', 'xml', completed]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('unknown format "xml"');
  });

  it.skipIf(!existsSync(completed))('a truncated capture: exit 3, the report still printed, the damage named with offset and frame', () => {
    const whole = readFileSync(completed);
    const cut = path.join(tmp, 'truncated.pcap');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const r = run(['analyze', cut]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/Damaged input: .*truncated\.pcap: .* at byte offset \d+ \(frame \d+\)/);
    // What was read before the damage is still analysed: the connection is reported.
    expect(r.stdout).toMatch(/^ {2}c1 tcp \S+ -> \S+:3389: /m);
  });

  it('live without an interface: exit 2, one line', () => {
    const r = run(['live']);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
  });

  it('the live BPF filter covers RDP over TCP and UDP, ICMP and DNS, plus extra ports', () => {
    expect(bpfFilter([])).toBe('tcp port 3389 or udp port 3389 or tcp port 443 or udp port 3391 or icmp or icmp6 or udp port 53');
    expect(bpfFilter([3390])).toBe('tcp port 3389 or udp port 3389 or tcp port 3390 or udp port 3390 or tcp port 443 or udp port 3391 or icmp or icmp6 or udp port 53');
  });
});
