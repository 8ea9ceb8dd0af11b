// The README's first command (issue 17): its sample has failures, so the README says that exit
// code 1 means "failures found", and the command that puts rdp-autopsy on the PATH works from a clone.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runAnalysis } from '../../src/cli/run.js';
import { Writable } from 'node:stream';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

describe('README', () => {
  it('says, right after its first command, that the sample exits 1 because it holds failures', async () => {
    const first = readme.indexOf('```sh');
    const block = readme.slice(first, readme.indexOf('```', first + 5) + 400);
    expect(block).toContain('analyze fixtures/sample.pcapng');
    expect(block).toMatch(/1: failures found/);
    expect(block).toMatch(/exit code `1` means "failed attempts found", not a broken setup/);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    expect(await runAnalysis([{ kind: 'file', path: path.join(repoRoot, 'fixtures/sample.pcapng') }], { format: 'text', ports: [] }, sink)).toBe(1);
  });
  it('gives a global install command that builds first', () => {
    expect(readme).toContain('npm install && npm install -g .');
  });
});
