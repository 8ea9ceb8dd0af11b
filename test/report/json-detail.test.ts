// `--detail` for JSON (issue 16): full up to JSON_FULL_LIMIT connections, summary (connections
// without `timeline` and `flow`) over it unless --detail says otherwise, and always stated in the
// report's `detail`. writeJson writes the same bytes as renderJson at either level; both validate.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { JSON_FULL_LIMIT, renderJson, writeJson } from '../../src/report/json.js';
import type { Report } from '../../src/report/types.js';
import { SchemaValidator } from './json-schema.js';
import { FIXTURES, fixtureReport, repoRoot } from './helpers.js';
import { isoTimesReplacer } from '../../src/report/time.js';

const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>;
const v = new SchemaValidator(schema);

type Json = Record<string, unknown> & { connections: Record<string, unknown>[]; detail: Record<string, unknown> };

function streamed(r: Report, detail?: 'summary' | 'full'): string {
  const pieces: string[] = [];
  writeJson(r, (p) => pieces.push(p), { detail });
  return pieces.join('');
}

/** The report with its first connection repeated n times (ids made distinct). */
function storm(r: Report, n: number): Report {
  const c = r.connections[0]!;
  return { ...r, connections: Array.from({ length: n }, (_, i) => ({ ...c, id: `${c.id}-${i}` })) };
}

describe('JSON detail', () => {
  it('a small report is written in full by default, and says so', async () => {
    const r = await fixtureReport('captures/nla_failed.pcap');
    const j = JSON.parse(renderJson(r)) as Json;
    expect(j.detail).toMatchObject({ level: 'full', by: 'threshold', fullLimit: JSON_FULL_LIMIT, omitted: [] });
    expect(j.connections.length).toBeGreaterThan(0);
    for (const c of j.connections) {
      expect(c).toHaveProperty('timeline');
      expect(c).toHaveProperty('flow');
    }
    // The report as is (with the ISO 8601 twins of its epoch times), plus its detail (last).
    const { detail: _d, ...rest } = j;
    expect(rest).toEqual(JSON.parse(JSON.stringify(r, isoTimesReplacer)));
    expect(Object.keys(j).at(-1)).toBe('detail');
    expect(v.validate(j)).toEqual([]);
    expect(streamed(r)).toBe(renderJson(r));
  });

  it('--detail summary leaves out each connection\'s timeline and flow, and nothing else', async () => {
    const r = await fixtureReport('captures/nla_failed.pcap');
    const full = JSON.parse(renderJson(r)) as Json;
    const text = renderJson(r, { detail: 'summary' });
    const j = JSON.parse(text) as Json;
    expect(j.detail).toMatchObject({ level: 'summary', by: 'option', omitted: ['timeline', 'flow'] });
    expect(j.connections.map((c) => c.id)).toEqual(full.connections.map((c) => c.id));
    for (let i = 0; i < j.connections.length; i++) {
      const { timeline: _t, flow: _f, ...rest } = full.connections[i]!;
      expect(j.connections[i]).toEqual(rest);
    }
    expect(v.validate(j)).toEqual([]);
    expect(streamed(r, 'summary')).toBe(text);
    expect(text.length).toBeLessThan(renderJson(r).length);
  });

  it(`over ${JSON_FULL_LIMIT} connections the default is summary; --detail full writes them all`, async () => {
    const base = await fixtureReport('captures/nla_failed.pcap');
    const atLimit = JSON.parse(renderJson(storm(base, JSON_FULL_LIMIT))) as Json;
    expect(atLimit.detail.level).toBe('full');
    const big = storm(base, JSON_FULL_LIMIT + 1);
    const text = renderJson(big);
    const j = JSON.parse(text) as Json;
    expect(j.detail).toMatchObject({ level: 'summary', by: 'threshold' });
    expect(String(j.detail.note)).toContain(`${JSON_FULL_LIMIT + 1} connections`);
    expect(j.connections).toHaveLength(JSON_FULL_LIMIT + 1);
    expect(j.connections.some((c) => 'timeline' in c || 'flow' in c)).toBe(false);
    expect(v.validate(j)).toEqual([]);
    expect(streamed(big)).toBe(text);
    const forced = JSON.parse(renderJson(big, { detail: 'full' })) as Json;
    expect(forced.detail).toMatchObject({ level: 'full', by: 'option' });
    expect(forced.connections.every((c) => 'timeline' in c && 'flow' in c)).toBe(true);
  });

  it('the schema wants timeline and flow at full detail', async () => {
    const r = await fixtureReport('captures/nla_failed.pcap');
    const j = JSON.parse(renderJson(r)) as Json;
    delete j.connections[0]!.timeline;
    expect(v.validate(j).length).toBeGreaterThan(0);
  });

  it('the CLI passes --detail to the JSON report', () => {
    const out = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'analyze', '--format', 'json', '--detail', 'summary', path.join(FIXTURES, 'captures/nla_failed.pcap')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const j = JSON.parse(out.stdout) as Json;
    expect(j.detail).toMatchObject({ level: 'summary', by: 'option' });
    expect(j.connections.every((c) => !('timeline' in c))).toBe(true);
  });
});
