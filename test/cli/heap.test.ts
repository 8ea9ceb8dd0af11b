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

/** The largest old-space size seen while 20 MB stay alive and ~2 GB of garbage is allocated around them. */
function oldSpacePeak(bound: boolean): number {
  const code = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { boundOldGenerationGrowth } from ${JSON.stringify(heapTs)};
    ${bound ? 'boundOldGenerationGrowth();' : ''}
    const size = () => getHeapSpaceStatistics().find((x) => x.space_name === 'old_space').space_size;
    const keep = [];
    let peak = 0;
    for (let i = 0; i < 200000; i++) keep.push({ frame: i, event: 'e' + i });
    for (let round = 0; round < 40; round++) {
      // Garbage that survives a scavenge or two (promoted, then dead): what a storm's per-connection work leaves.
      let batch = [];
      for (let i = 0; i < 100000; i++) batch.push({ frame: i, detail: 'd' + i, list: [i, i] });
      batch = null;
      peak = Math.max(peak, size());
    }
    console.log(peak, keep.length);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout.trim().split(' ')[0]);
}

describe('boundOldGenerationGrowth', () => {
  it('the old generation grows less between full collections under it', () => {
    const bounded = oldSpacePeak(true);
    const free = oldSpacePeak(false);
    expect(bounded).toBeLessThan(free * 0.75);
  });
});

describe('fullCollection', () => {
  it('gives a function that collects what is no longer reachable, in a process started without --expose-gc', () => {
    const code = `
      import { fullCollection } from ${JSON.stringify(heapTs)};
      const gc = fullCollection();
      let garbage = [];
      for (let i = 0; i < 200000; i++) garbage.push({ frame: i, event: 'e' + i });
      const kept = new WeakRef(garbage[0]);
      // A WeakRef's target stays alive to the end of the job that made it (or that read it).
      setTimeout(() => {
        garbage = null;
        gc();
        console.log(typeof gc, kept.deref() === undefined, typeof globalThis.gc);
      }, 0);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // Collected by the call alone (no other allocation after it); the main context gets no \`gc\`.
    expect(r.stdout.trim()).toBe('function true undefined');
  });
});
