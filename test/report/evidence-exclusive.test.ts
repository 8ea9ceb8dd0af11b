// Issue 19: evidence files are created exclusively. A file or a link planted under an evidence
// file's name is never followed nor overwritten: the evidence gets the next free name, and the
// report (evidenceFile, a warning) says which file was written.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/types.js';
import { analyze } from '../../src/pipeline.js';
import { MAX_NAME_TRIES, createExclusive, exportEvidence } from '../../src/report/evidence.js';
import { FIXTURES, repoRoot } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-evidence-x-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const src: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/port_not_listening.pcap') };
// Nanosecond pcap, little-endian (pcap-savefile(5)).
// pcapng Section Header Block type 0x0A0D0D0A (little-endian on disk as written here).
const PCAPNG_SHB = '0a0d0d0a';

describe('evidence files are created exclusively', () => {
  it('a planted link to another file is neither followed nor replaced; the evidence gets a new name', async () => {
    const dir = path.join(tmp, 'planted');
    mkdirSync(dir);
    const victim = path.join(tmp, 'victim.txt');
    writeFileSync(victim, 'precious');
    const report = await analyze([src]);
    const first = report.connections.find((c) => c.outcome === 'failed')!;
    symlinkSync(victim, path.join(dir, `${first.id}.pcapng`));
    symlinkSync(path.join(tmp, 'nowhere'), path.join(dir, `${first.id}-1.pcapng`));
    const res = await exportEvidence(report, [src], dir);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(existsSync(path.join(tmp, 'nowhere'))).toBe(false);
    expect(lstatSync(path.join(dir, `${first.id}.pcapng`)).isSymbolicLink()).toBe(true);
    const written = path.join(dir, `${first.id}-2.pcapng`);
    expect(first.evidenceFile).toBe(written);
    expect(res.files.find((f) => f.connection === first.id)!.file).toBe(written);
    expect(readFileSync(written).subarray(0, 4).toString('hex')).toBe(PCAPNG_SHB);
    expect(res.warnings).toContain(`evidence ${path.join(dir, `${first.id}.pcapng`)} already exists (not overwritten): written as ${written}`);
  });

  it('a second export into the same folder keeps the first files', async () => {
    const dir = path.join(tmp, 'twice');
    const one = await analyze([src]);
    const r1 = await exportEvidence(one, [src], dir);
    const before = new Map(r1.files.map((f) => [f.file, readFileSync(f.file)]));
    const two = await analyze([src]);
    const r2 = await exportEvidence(two, [src], dir);
    for (const [file, bytes] of before) expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(r2.files.map((f) => path.basename(f.file))).toEqual(r1.files.map((f) => path.basename(f.file).replace(/\.pcapng$/, '-1.pcapng')));
    expect(readdirSync(dir)).toHaveLength(2 * r1.files.length);
  });

  it('every name taken: a clear error, nothing overwritten', () => {
    const dir = path.join(tmp, 'full');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'c1.pcapng'), 'x');
    for (let i = 1; i <= MAX_NAME_TRIES; i++) writeFileSync(path.join(dir, `c1-${i}.pcapng`), 'x');
    expect(() => createExclusive(path.join(dir, 'c1.pcapng'))).toThrow(/already exist \(not overwritten\)/);
    expect(readFileSync(path.join(dir, 'c1.pcapng'), 'utf8')).toBe('x');
  });

  it('the CLI report names the file written', () => {
    const dir = path.join(tmp, 'cli');
    mkdirSync(dir);
    const victim = path.join(tmp, 'victim2.txt');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, path.join(dir, 'c1.pcapng'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'analyze', src.kind === 'file' ? src.path : '', '--export-evidence', dir], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(r.stdout).toContain(`evidence: ${path.join(dir, 'c1-1.pcapng')}`);
    expect(r.stdout).toContain('already exists (not overwritten)');
  });
});
