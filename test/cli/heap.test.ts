// The command keeps V8's young generation at its initial size (src/cli/heap.ts): checked in a
// child process that keeps many objects alive through scavenges, with and without the setting.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const heapTs = path.join(repoRoot, 'src/cli/heap.ts');

/** The young generation's size before and after keeping 400,000 objects alive. */
function newSpace(keepSmall: boolean): [number, number] {
  const code = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { keepYoungGenerationSmall } from ${JSON.stringify(heapTs)};
    const size = () => getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size;
    ${keepSmall ? 'keepYoungGenerationSmall();' : ''}
    const before = size();
    const keep = [];
    for (let i = 0; i < 400000; i++) keep.push({ frame: i, time: i / 3, event: 'x' + i, list: [i, i + 1] });
    console.log(before, size(), keep.length);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const [before, after] = r.stdout.trim().split(' ').map(Number);
  return [before!, after!];
}

describe('keepYoungGenerationSmall', () => {
  it('the young generation does not grow under it, and does without it', () => {
    // (The tsx loader of this child grows it a little before the setting; the command sets it first.)
    const [before, after] = newSpace(true);
    expect(after).toBe(before);
    const [before2, after2] = newSpace(false);
    expect(after2).toBeGreaterThan(before2);
  });
});
