// Times in reports (issue 17): --tz for text, Markdown and HTML (UTC by default, always labelled),
// and ISO 8601 UTC twins of every epoch time in the JSON report and the NDJSON lines.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { ndjsonStream } from '../../src/report/ndjson.js';
import { isoTime, isoTimesReplacer, resolveTimeZone, spanText, wallClock, zoneLabel } from '../../src/report/time.js';
import { repoRoot } from './helpers.js';

const T = Date.UTC(2026, 2, 10, 9, 0, 0) / 1000; // 2026-03-10 09:00:00 UTC

describe('zones', () => {
  it('resolveTimeZone: UTC by default, local, IANA names; RangeError for others', () => {
    expect(resolveTimeZone(undefined)).toBe('UTC');
    expect(resolveTimeZone('utc')).toBe('UTC');
    expect(resolveTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(resolveTimeZone('local')).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(() => resolveTimeZone('Mars/Olympus')).toThrow(RangeError);
  });

  it('wall clock and label, with the offset of the moment (daylight saving)', () => {
    expect(wallClock(T, 'UTC')).toBe('2026-03-10 09:00:00');
    expect(wallClock(T, 'Europe/Berlin')).toBe('2026-03-10 10:00:00');
    expect(zoneLabel(T, 'Europe/Berlin')).toBe('Europe/Berlin, UTC+01:00');
    // New York moved to daylight saving time on 2026-03-08.
    expect(zoneLabel(T, 'America/New_York')).toBe('America/New_York, UTC-04:00');
    expect(zoneLabel(T, 'Asia/Kolkata')).toBe('Asia/Kolkata, UTC+05:30');
    expect(zoneLabel(T, 'UTC')).toBe('UTC');
  });

  it('spanText: one label, the date once; both labels across an offset change', () => {
    expect(spanText(T, T + 847, 'UTC')).toBe('2026-03-10 09:00:00 .. 09:14:07 UTC');
    expect(spanText(T, T + 0.5, 'Europe/Berlin')).toBe('2026-03-10 10:00:00 Europe/Berlin, UTC+01:00');
    // Europe/Berlin changes to summer time at 01:00 UTC on 2026-03-29.
    const before = Date.UTC(2026, 2, 29, 0, 30) / 1000;
    expect(spanText(before, before + 3600, 'Europe/Berlin')).toBe('2026-03-29 01:30:00 Europe/Berlin, UTC+01:00 .. 2026-03-29 03:30:00 Europe/Berlin, UTC+02:00');
  });

  it('isoTime: microseconds, rounding into the next second, null out of range', () => {
    expect(isoTime(T + 0.0154)).toBe('2026-03-10T09:00:00.015400Z');
    expect(isoTime(T + 0.9999996)).toBe('2026-03-10T09:00:01.000000Z');
    expect(isoTime(1e15)).toBeNull();
    expect(isoTime(5)).toBeNull(); // 1970: a clock never set
  });

  it('isoTimesReplacer: a twin after each numeric start, end, time, responseTime; nothing else touched', () => {
    const text = JSON.stringify({ start: T, other: 1, inner: [{ time: T + 1, responseTime: null }], capture: { start: '2026-03-10T09:00:00.000Z' } }, isoTimesReplacer);
    expect(JSON.parse(text)).toEqual({
      start: T,
      startIso: '2026-03-10T09:00:00.000000Z',
      other: 1,
      inner: [{ time: T + 1, timeIso: '2026-03-10T09:00:01.000000Z', responseTime: null }],
      capture: { start: '2026-03-10T09:00:00.000Z' },
    });
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['start', 'startIso', 'other', 'inner', 'capture']);
  });
});

describe('reports', () => {
  const file = path.join(repoRoot, 'fixtures/captures/port_blocked_middlebox_rst.pcap');

  it('text, md and html print times in --tz, labelled; UTC by default', async () => {
    const r = await analyze([{ kind: 'file', path: file }]);
    expect(renderText(r, { color: false })).toContain('2026-03-10T09:00:00.000Z .. 2026-03-10T09:00:04.006Z)');
    const berlin = renderText(r, { color: false, tz: 'Europe/Berlin' });
    expect(berlin).toContain('ETHERNET 96, 2026-03-10 10:00:00 .. 10:00:04 Europe/Berlin, UTC+01:00)');
    // The repeated failures' span too.
    expect(berlin).toMatch(/(at|between) 2026-03-10 10:00:0\d[^\n]*Europe\/Berlin, UTC\+01:00/);
    expect(renderMarkdown(r, { tz: 'America/New_York' })).toContain('Time: 2026-03-10 05:00:00 .. 05:00:04 America/New\\_York, UTC-04:00');
    expect(renderHtml(r, { tz: 'Asia/Kolkata' })).toContain('<p>Time: 2026-03-10 14:30:00 .. 14:30:04 Asia/Kolkata, UTC+05:30</p>');
    expect(renderMarkdown(r)).toContain('(UTC)');
  });

  it('JSON and NDJSON: every epoch time has its ISO 8601 twin', async () => {
    const lines: string[] = [];
    const stream = ndjsonStream((l) => lines.push(l));
    const r = await analyze([{ kind: 'file', path: file }], { onConnection: stream.onConnection });
    stream.finish(r);
    const check = (o: unknown): number => {
      let n = 0;
      if (Array.isArray(o)) for (const x of o) n += check(x);
      else if (o !== null && typeof o === 'object') {
        const rec = o as Record<string, unknown>;
        for (const [k, v] of Object.entries(rec)) {
          if (['start', 'end', 'time', 'responseTime'].includes(k) && typeof v === 'number') {
            expect(rec[`${k}Iso`], k).toBe(isoTime(v));
            n++;
          }
          n += check(v);
        }
      }
      return n;
    };
    expect(check(JSON.parse(renderJson(r)))).toBeGreaterThan(50);
    let n = 0;
    for (const l of lines) n += check(JSON.parse(l));
    expect(n).toBeGreaterThan(20);
    expect(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')).toContain('"startIso"');
  });

  it('the command line: --tz Europe/Berlin; an unknown zone is one line, exit 2', () => {
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const ok = run(['analyze', file, '--tz', 'Europe/Berlin']);
    expect(ok.status).toBe(1);
    expect(ok.stdout).toContain('Europe/Berlin, UTC+01:00');
    const bad = run(['analyze', file, '--tz', 'Mars/Olympus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('rdp-autopsy: invalid time zone "Mars/Olympus" (expected UTC, local, or an IANA zone such as Europe/Berlin)\n');
  });
});
