// docs/benchmarks.md is written by bench/run.ts; its hand-written "## Notes" section (figures taken
// outside a full run) is kept at its end when the file is written again (bench/report.ts keptNotes).
import { describe, expect, it } from 'vitest';
import { keptNotes } from '../../bench/report.js';

describe('keptNotes', () => {
  it('keeps the Notes section to the end of the file, after a blank line', () => {
    const old = '# Benchmarks\n\n## Targets\n\n| a |\n\n## Notes\n\nloaded machine: 1 -> 2\n\n### more\n\nx\n';
    expect(keptNotes(old)).toBe('\n## Notes\n\nloaded machine: 1 -> 2\n\n### more\n\nx\n');
    expect('# new\n' + keptNotes(old)).toContain('## Notes\n\nloaded machine');
  });

  it('nothing without a Notes section; a heading that only starts with Notes text elsewhere is not one', () => {
    expect(keptNotes('# Benchmarks\n\n## Targets\n\nsee ## Notes below? no\n')).toBe('');
    expect(keptNotes('')).toBe('');
  });

  it('a file that is only notes, without a final line break', () => {
    expect(keptNotes('## Notes\n\nx')).toBe('\n## Notes\n\nx\n');
  });
});
